# papersift: the two commands a fresh machine needs are `make run` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= $(CURDIR)/data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv dev lint bench clean screenshots

$(BIN)/papersift: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[embed]'
	touch $@

venv: $(BIN)/papersift

$(VENV)/.dev: pyproject.toml $(BIN)/papersift
	$(BIN)/pip install -q -e '.[dev,embed]'
	touch $@

dev: $(VENV)/.dev

## make run: set up, migrate, load the demo corpus into ./data if empty, then serve on
## http://127.0.0.1:8000 with a background worker (it embeds the corpus, then keeps the indexes
## current). One command; Ctrl-C stops both.
run: venv
	$(BIN)/papersift --data-dir $(DATA) db upgrade
	$(BIN)/papersift --data-dir $(DATA) demo
	$(BIN)/papersift --data-dir $(DATA) serve --host $(HOST) --port $(PORT) --worker

## make test: set up with the dev extras and run the whole test suite
test: dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: venv
	$(BIN)/python benchmarks/ingest_and_search.py --n 100000

## make screenshots: regenerate docs/img/*.png on purpose (headless /usr/bin/chromium); `make test`
## writes its screenshots to pytest's tmp dir and never touches docs/img
screenshots: dev
	@test -x /usr/bin/chromium || { echo "make screenshots needs Debian chromium at /usr/bin/chromium"; exit 1; }
	PAPERSIFT_SCREENSHOTS_DIR=$(CURDIR)/docs/img $(BIN)/python -m pytest -q \
		tests/e2e/test_browser.py::test_screenshots

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
