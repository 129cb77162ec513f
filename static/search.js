// The search page: a results list of our own over Pagefind's JavaScript API.
//
// Nothing that comes out of the index is ever parsed as HTML: titles, filter values and
// metadata are set as text, and excerpts are built here from the indexed words, as text nodes
// and <mark> elements of our own. A value in the index can therefore never become markup,
// whatever it holds.
//
// The index is split into bundles (cut by the question's date: a year, a month, a day or part
// of a day, newest first in bundles.json); each is an instance of one Pagefind module, all
// sharing its WebAssembly on this page, searched in parallel, and the results merged: by
// score for relevance, or bundle by bundle when sorted by date (bundles do not overlap in time,
// except the parts of one day).
(function () {
  "use strict";

  var PAGE_SIZE = 10;
  var FILTER_LABELS = { house: "House", body: "Answering body", year: "Year",
                        status: "Answered or not", member: "Asked by" };
  var root = document.getElementById("search");
  if (!root || !window.fetch) {
    return;
  }
  var form = document.getElementById("search-form");
  var input = document.getElementById("search-q");
  var sortSelect = document.getElementById("search-sort");
  var filterBox = document.getElementById("search-filters");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var more = document.getElementById("search-more");
  var siteRoot = new URL(root.getAttribute("data-site-root"), window.location.href);
  var chosen = {};  // filter name -> list of chosen values
  var bundles = null;
  var filtersWanted = false;
  var filtersLoaded = null;
  var shown = [];
  var searchNumber = 0;

  function loadBundles() {
    if (!bundles) {
      var listing = new URL(root.getAttribute("data-bundles"), window.location.href);
      bundles = fetch(listing).then(function (response) {
        if (!response.ok) {
          throw new Error("the search index is missing");
        }
        return response.json();
      }).then(function (names) {
        if (!names.length) {
          return [];
        }
        var first = new URL(names[0], listing);
        return import(new URL("pagefind.js", first).href).then(function (pagefind) {
          return openBundles(pagefind, names.map(function (name) {
            return new URL(name, listing).pathname;
          }));
        });
      });
    }
    return bundles;
  }

  // Every bundle holds the same Pagefind code and WebAssembly, so one module (the first
  // bundle's) serves them all: each bundle is an instance of it, and the instances share one
  // compiled WebAssembly. An instance loads the WebAssembly only if none is loaded yet, so the
  // first must have finished loading it before the others start: instances loading it at the
  // same time would each replace it, leaving the others pointing into memory that is no longer
  // theirs. An empty search returns once an instance is ready. All of them run on this page,
  // not in Pagefind's web worker: an instance whose worker is slow to start falls back to the
  // page on its own, and the instances would then load the WebAssembly in two places at once.
  function openBundles(pagefind, paths) {
    unpackForPagefind();
    function open(path) {
      return pagefind.createInstance({ basePath: path, baseUrl: siteRoot.pathname, noWorker: true });
    }
    var first = open(paths[0]);
    return first.search("").then(function () {
      return [first].concat(paths.slice(1).map(open));
    });
  }

  // Pagefind's packed files (gzip around its own signature) are unpacked by its JavaScript,
  // a file at a time, and every bundle holds the same WebAssembly, which each instance fetches
  // and unpacks though the module keeps only the first it loaded. So the page answers
  // Pagefind's requests for them itself: a packed file is unpacked by the browser's own
  // DecompressionStream (Pagefind takes a file that starts with its signature as unpacked),
  // and the WebAssembly is fetched and unpacked once for every bundle (it was 72 of the
  // 98 kB a bundle cost a search). Any other request, or a browser without
  // DecompressionStream, goes out as it was.
  var PACKED = /\.(pf_meta|pf_index|pf_filter|pf_fragment|pagefind)$/;
  function unpackForPagefind() {
    if (typeof DecompressionStream !== "function") {
      return;
    }
    var pageFetch = window.fetch.bind(window);
    var folder = new URL(".", new URL(root.getAttribute("data-bundles"), window.location.href));
    var shared = {};  // a WebAssembly file's name -> promise of its unpacked bytes
    window.fetch = function (input, init) {
      var url = new URL(input instanceof Request ? input.url : String(input), window.location.href);
      if (url.origin !== folder.origin || url.pathname.indexOf(folder.pathname) !== 0
          || !PACKED.test(url.pathname)) {
        return pageFetch(input, init);
      }
      var name = url.pathname.split("/").pop();
      var bytes = /\.pagefind$/.test(name) ? shared[name] : null;
      if (!bytes) {
        bytes = pageFetch(input, init).then(unpacked);
        if (/\.pagefind$/.test(name)) {
          shared[name] = bytes.catch(function (error) {
            delete shared[name];  // the next bundle asks again
            throw error;
          });
        }
      }
      return bytes.then(function (data) { return new Response(data.slice(0)); });
    };
  }

  // A packed file's bytes unpacked: gzip's, as Pagefind writes them; bytes that are not
  // gzip (a server that already undid it) are passed on as they came.
  function unpacked(response) {
    if (!response.ok) {
      throw new Error("a file of the search index is missing");
    }
    return response.arrayBuffer().then(function (data) {
      var head = new Uint8Array(data, 0, Math.min(2, data.byteLength));
      if (head.length < 2 || head[0] !== 0x1f || head[1] !== 0x8b) {
        return data;
      }
      var stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("gzip"));
      return new Response(stream).arrayBuffer();
    });
  }

  // A bundle reports filter counts only once its filters are loaded: five requests a bundle,
  // about half of what it costs before the first results. So they are loaded only when the
  // reader first opens a filter, and that search is run again to count them.
  function loadFilters() {
    if (!filtersLoaded) {
      filtersLoaded = loadBundles().then(function (pagefinds) {
        return Promise.all(pagefinds.map(function (pagefind) { return pagefind.filters(); }))
          .then(function () { return pagefinds; });
      });
    }
    return filtersLoaded;
  }

  function wantFilters() {
    if (!filtersWanted) {
      filtersWanted = true;
      search();
    }
  }

  // Pagefind's text is HTML-escaped; turn its entities back into characters, as text.
  var ENTITIES = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00a0" };
  function decode(text) {
    return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, function (whole, name) {
      if (name[0] === "#") {
        var code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16)
                                                      : parseInt(name.slice(1), 10);
        return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
      }
      return Object.prototype.hasOwnProperty.call(ENTITIES, name.toLowerCase())
        ? ENTITIES[name.toLowerCase()] : whole;
    });
  }

  function element(name, text, className) {
    var node = document.createElement(name);
    if (text) {
      node.textContent = text;
    }
    if (className) {
      node.className = className;
    }
    return node;
  }

  // An excerpt of the question and answer, as text nodes with <mark> elements of our own on
  // the words that matched. The searched text opens with the heading and the UIN (the
  // record's "lead" words); the excerpt is taken from the words after them.
  var EXCERPT_WORDS = 36;
  function excerptElement(data) {
    var words = decode(data.content || "").split(/[\r\n\s]+/g);
    var lead = parseInt(data.meta.lead, 10) || 0;
    var hits = (data.locations || []).filter(function (at) { return at >= lead; });
    var start = bestWindow(hits, lead);
    var end = Math.min(words.length, start + EXCERPT_WORDS);
    var paragraph = element("p", start > lead ? "… " : "", "item-snippet");
    for (var at = start; at < end; at++) {
      var word = words[at] + (at + 1 < end ? " " : "");
      if (hits.indexOf(at) >= 0) {
        paragraph.appendChild(element("mark", words[at]));
        word = word.slice(words[at].length);
      }
      paragraph.appendChild(document.createTextNode(word));
    }
    if (end < words.length) {
      paragraph.appendChild(document.createTextNode(" …"));
    }
    return paragraph;
  }

  // Where an excerpt starts: a little before the matched word that has the most matches
  // within an excerpt's length after it.
  function bestWindow(hits, lead) {
    var best = lead;
    var most = 0;
    hits.forEach(function (hit) {
      var from = Math.max(lead, hit - 4);
      var count = hits.filter(function (at) {
        return at >= from && at < from + EXCERPT_WORDS;
      }).length;
      if (count > most) {
        most = count;
        best = from;
      }
    });
    return best;
  }

  function resultElement(data) {
    var item = element("li");
    var heading = element("h3");
    // The page's own URL is the record's metadata: Pagefind's own URL for it is its record's file.
    var url = decode(data.meta.url || "");
    var link = element("a", decode(data.meta.title || "") || url);
    link.href = safeHref(url);
    heading.appendChild(link);
    item.appendChild(heading);
    var facts = [data.meta.uin ? "UIN " + data.meta.uin : "", data.meta.house, data.meta.body,
                 data.meta.date, data.meta.member].filter(Boolean).map(decode);
    item.appendChild(element("p", facts.join(" · "), "item-meta"));
    item.appendChild(excerptElement(data));
    return item;
  }

  // Only a link within the archive: anything else in the index is not followed.
  function safeHref(url) {
    var target = new URL(url, siteRoot);
    return target.origin === siteRoot.origin ? target.href : siteRoot.href;
  }

  function mergeFilters(responses) {
    var merged = {};
    responses.forEach(function (response) {
      Object.keys(response.filters || {}).forEach(function (name) {
        merged[name] = merged[name] || {};
        Object.keys(response.filters[name]).forEach(function (value) {
          merged[name][value] = (merged[name][value] || 0) + response.filters[name][value];
        });
      });
    });
    return merged;
  }

  function mergeResults(responses, byDate) {
    var results = [];
    responses.forEach(function (response) {
      results = results.concat(response.results);
    });
    if (!byDate) {
      // Stable: equal scores keep the order of the bundles.
      results = results.map(function (result, index) { return [result, index]; })
        .sort(function (a, b) { return b[0].score - a[0].score || a[1] - b[1]; })
        .map(function (pair) { return pair[0]; });
    }
    return results;
  }

  function renderFilters(filters) {
    var open = {};
    filterBox.querySelectorAll("details[open]").forEach(function (details) {
      open[details.getAttribute("data-filter")] = true;
    });
    filterBox.replaceChildren();
    Object.keys(FILTER_LABELS).filter(function (name) { return filters[name] || !filtersWanted; })
      .forEach(function (name) {
        filterBox.appendChild(filterGroup(name, filters[name] || {}, open[name]));
      });
  }

  function filterGroup(name, counts, isOpen) {
    var details = element("details", "", "filter");
    details.setAttribute("data-filter", name);
    details.open = Boolean(isOpen);
    details.appendChild(element("summary", FILTER_LABELS[name]));
    details.addEventListener("toggle", function () {
      if (details.open) {
        wantFilters();
      }
    });
    if (!filtersWanted) {
      details.appendChild(element("p", "Counting…", "filter-loading"));
      return details;
    }
    var fieldset = element("fieldset");
    fieldset.appendChild(element("legend", FILTER_LABELS[name], "visually-hidden"));
    var values = Object.keys(counts).filter(function (value) {
      return counts[value] > 0 || (chosen[name] || []).indexOf(value) >= 0;
    });
    values.sort(function (a, b) {
      return name === "year" ? b.localeCompare(a) : counts[b] - counts[a] || a.localeCompare(b);
    });
    values.forEach(function (value) {
      var label = element("label");
      var box = element("input");
      box.type = "checkbox";
      box.value = value;
      box.checked = (chosen[name] || []).indexOf(value) >= 0;
      box.addEventListener("change", function () {
        var current = (chosen[name] || []).filter(function (v) { return v !== value; });
        chosen[name] = box.checked ? current.concat([value]) : current;
        search();
      });
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + decode(value) + " (" + counts[value] + ")"));
      fieldset.appendChild(label);
    });
    details.appendChild(fieldset);
    return details;
  }

  function chosenFilters() {
    var filters = {};
    Object.keys(chosen).forEach(function (name) {
      if (chosen[name].length) {
        filters[name] = { any: chosen[name] };
      }
    });
    return filters;
  }

  function showMore() {
    var next = shown.results.slice(shown.count, shown.count + PAGE_SIZE);
    shown.count += next.length;
    more.hidden = shown.count >= shown.results.length;
    return Promise.all(next.map(function (result) { return result.data(); }))
      .then(function (pages) {
        pages.forEach(function (data) { list.appendChild(resultElement(data)); });
      });
  }

  // Pagefind answers a word that a bundle lacks with the words of that bundle that begin like
  // it ("hedgehog" finds "hedge"). One bundle alone does so only when the whole archive lacks
  // the word; with many, a bundle that lacks it would add such stand-ins to the real results.
  // So each word is also looked up as written ("word" in quotes, which Pagefind never
  // shortens), and a bundle's results are dropped when it lacks a word that another holds.
  function separateWords(term) {
    if (/^\s*".+"\s*$/.test(term)) {
      return [];  // already an exact search
    }
    return term.replace(/"/g, " ").split(/\s+/).filter(Boolean);
  }

  function holdsWord(pagefind, word) {
    return pagefind.search("\"" + word + "\"").then(function (response) {
      return Boolean(response && response.results.length);
    });
  }

  // [[response, holds first word, holds second word…] per bundle] -> responses, a bundle's
  // left out (null) where it lacks a word that some bundle holds.
  function withoutStandIns(answers, wordCount) {
    var heldSomewhere = [];
    for (var word = 1; word <= wordCount; word++) {
      heldSomewhere[word] = answers.some(function (answer) { return answer[word]; });
    }
    return answers.map(function (answer) {
      for (var word = 1; word <= wordCount; word++) {
        if (heldSomewhere[word] && !answer[word]) {
          return null;
        }
      }
      return answer[0];
    });
  }

  function search() {
    var number = ++searchNumber;
    var term = input.value.trim();
    var filters = chosenFilters();
    var byDate = sortSelect.value === "date";
    if (!term && !Object.keys(filters).length) {
      list.replaceChildren();
      more.hidden = true;
      status.textContent = "";
      return Promise.resolve();
    }
    status.textContent = "Searching…";
    var options = { filters: filters };
    if (byDate) {
      options.sort = { date: "desc" };
    }
    return (filtersWanted ? loadFilters() : loadBundles()).then(function (pagefinds) {
      return Promise.all(pagefinds.map(function (pagefind) {
        return Promise.all([pagefind.search(term || null, options)].concat(
          separateWords(term).map(function (word) { return holdsWord(pagefind, word); })));
      }));
    }).then(function (answers) {
      return withoutStandIns(answers, separateWords(term).length);
    }).then(function (responses) {
      if (number !== searchNumber) {
        return;  // a newer search has started
      }
      var results = mergeResults(responses.filter(Boolean), byDate);
      renderFilters(mergeFilters(responses.filter(Boolean)));
      status.textContent = results.length === 1 ? "1 result" : results.length + " results";
      list.replaceChildren();
      shown = { results: results, count: 0 };
      return showMore();
    }).catch(function (error) {
      status.textContent = "Search failed: " + error.message;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var address = new URL(window.location.href);
    address.searchParams.set("q", input.value);
    address.searchParams.set("sort", sortSelect.value);
    window.history.replaceState(null, "", address);
    search();
  });
  sortSelect.addEventListener("change", function () { search(); });
  more.addEventListener("click", function () { showMore(); });

  var params = new URLSearchParams(window.location.search);
  input.value = params.get("q") || "";
  if (params.get("sort") === "date") {
    sortSelect.value = "date";
  }
  search();
}());
