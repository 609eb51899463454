# papersift: the two commands a fresh machine needs are `make run` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= $(CURDIR)/data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv dev lint bench clean

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

## make run: set up, load the demo corpus into ./data if empty, serve on http://127.0.0.1:8000
run: venv
	$(BIN)/papersift --data-dir $(DATA) demo
	$(BIN)/papersift --data-dir $(DATA) embed
	$(BIN)/papersift --data-dir $(DATA) serve --host $(HOST) --port $(PORT)

## make test: set up with the dev extras and run the whole test suite
test: dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: dev
	$(BIN)/ruff check src tests benchmarks

bench: venv
	$(BIN)/python benchmarks/ingest_and_search.py --n 100000

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
