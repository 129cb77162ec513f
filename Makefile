# Written Answers Archive. `make help` lists the targets.
SOURCES ?= content
BUILD ?= build
# Member reference data: the shared corpus's where it is beside this folder, otherwise the
# extract kept in the repository for the sample in content/ (`make extract` remakes it).
SHARED_MEMBERS := $(wildcard ../shared/corpus/members ../shared/corpus/parlparse-members)
MEMBERS ?= $(if $(SHARED_MEMBERS),$(SHARED_MEMBERS),reference/members)
# Unset: the defaults of `answers serve` and `answers site` (scripts/answers/settings.py).
SITE_PORT ?=
DATASETTE_PORT ?=
BASE_URL ?=
# make bench-scale: the largest size asked for, and the minutes it may spend measuring.
N ?= 1000000
SCALE_MINUTES ?= 40
# The interpreter .venv is made from: the system's /usr/bin/python3 where it is 3.11 or later and
# can make a virtual environment, else the first python3 on the PATH; `make setup PYTHON=…`
# chooses. A distribution's build (Debian's) is compiled with profile-guided optimization and
# its interpreter is not a shared library, where a plain source build (pyenv's by default) is
# neither: on this project's site stage, cold over the whole corpus, Debian's 3.11 took 6-13%
# less CPU than pyenv's 3.11 (templates and Markdown 10-13% quicker; the same site, byte for byte).
# Expanded only when the environment is made.
SYSTEM_PYTHON = $(shell /usr/bin/python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo /usr/bin/python3)
PYTHON ?= $(or $(SYSTEM_PYTHON),python3)
VENV := .venv
BIN := $(VENV)/bin
ANSWERS := $(BIN)/answers

.PHONY: help setup db pages site build verify serve lint test test-fast related-statistics bench bench-scale soak fetch extract clean
.DELETE_ON_ERROR:

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(VENV)/.installed ## Create the virtual environment with the pinned dependencies

db: $(VENV)/.installed ## Read SOURCES into $(BUILD)/answers.db (incremental)
	$(ANSWERS) db $(SOURCES) --db $(BUILD)/answers.db $(foreach folder,$(MEMBERS),--members $(folder)) $(if $(filter 1,$(STRICT)),--strict)

pages: db ## Write one Markdown page per question into $(BUILD)/pages (only changed files)
	$(ANSWERS) pages --db $(BUILD)/answers.db --out $(BUILD)/pages

site: pages ## Render $(BUILD)/site from the pages and the database, with search (BASE_URL=)
	$(ANSWERS) site --db $(BUILD)/answers.db --pages $(BUILD)/pages --out $(BUILD)/site $(if $(BASE_URL),--base-url $(BASE_URL)) $(if $(filter 1,$(STRICT)),--strict)

build: $(VENV)/.installed ## db, pages and site in one process, each making only what changed
	$(ANSWERS) build $(SOURCES) --db $(BUILD)/answers.db $(foreach folder,$(MEMBERS),--members $(folder)) $(if $(filter 1,$(STRICT)),--strict) --pages $(BUILD)/pages --out $(BUILD)/site $(if $(BASE_URL),--base-url $(BASE_URL))

verify: $(VENV)/.installed ## Re-hash every page and site file against the manifests; repair any edited or missing
	$(ANSWERS) verify --db $(BUILD)/answers.db --pages $(BUILD)/pages --out $(BUILD)/site $(if $(BASE_URL),--base-url $(BASE_URL))

serve: build ## Build, then serve the archive and Datasette beside it (SITE_PORT=, DATASETTE_PORT=)
	$(ANSWERS) serve --build $(BUILD) $(if $(SITE_PORT),--site-port $(SITE_PORT)) $(if $(DATASETTE_PORT),--datasette-port $(DATASETTE_PORT))

fetch: $(VENV)/.installed ## New and changed questions from the official API into content/api (SINCE=, UNTIL=, API_URL=)
	$(ANSWERS) fetch --content content $(if $(SINCE),--since $(SINCE)) $(if $(UNTIL),--until $(UNTIL)) $(if $(API_URL),--api-url $(API_URL))

extract: $(VENV)/.installed ## Remake reference/members: the member rows content/ needs, from ../shared/corpus/members
	$(ANSWERS) extract-members content --members ../shared/corpus/members --out reference

related-statistics: $(VENV)/.installed ## Remake reference/related ("Asked before" weights) from $(BUILD)/answers.db: build the whole corpus first
	$(ANSWERS) related-statistics --db $(BUILD)/answers.db --out reference/related

bench: $(VENV)/.installed ## Whole corpus: make build's cases, site stage vs Hugo, Datasette under load; writes docs/BENCHMARKS.md
	$(BIN)/python bench/run.py

bench-scale: $(VENV)/.installed ## Whole pipeline at growing sizes up to N questions (synthetic copies; SCALE_MINUTES=40)
	N=$(N) SCALE_MINUTES=$(SCALE_MINUTES) $(BIN)/python bench/scale.py

soak: $(VENV)/.installed ## Kill each stage part way and rebuild, compare with a clean build; then serve under load
	$(BIN)/python bench/soak.py

lint: $(VENV)/.installed ## Check the code with ruff (rules in pyproject.toml)
	$(BIN)/ruff check .

test: lint ## Lint, then run the whole test suite (corpus tests skipped without ../shared/corpus)
	$(BIN)/pytest

test-fast: $(VENV)/.installed ## Unit tests only: no corpus, no browser
	$(BIN)/pytest -m "not corpus and not browser"

clean: ## Remove the build outputs
	rm -rf $(BUILD)
