// Pagefind's search box, started from the page's own address: search/?q=word searches at once,
// so the search forms elsewhere in the archive work as plain links.
window.addEventListener("DOMContentLoaded", function () {
  var ui = new PagefindUI({ element: "#search", showSubResults: false, showImages: false });
  // Pagefind's input carries only a title; give it an accessible name of its own.
  var input = document.querySelector("#search input");
  if (input) {
    input.setAttribute("aria-label", "Search the answers");
  }
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) {
    ui.triggerSearch(query);
  }
});
