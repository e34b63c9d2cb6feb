# Two commands do all setup on a fresh clone: `make serve` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= config/vo-linjen.toml
DATA   ?= data
HOST   ?= 127.0.0.1
PORT   ?= 8080
# Development tokens, accepted on loopback only; set AUTH to your own file in production.
AUTH   ?= config/auth.dev.toml

.PHONY: venv test lint types unit serve demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check router adapters sim tests benchmarks
	$(BIN)/ruff format --check router adapters sim tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint types unit

serve: $(STAMP)
	$(BIN)/linje serve --config $(CONFIG) --data $(DATA) --auth $(AUTH) --host $(HOST) --port $(PORT)

demo: $(STAMP)
	$(BIN)/linje serve --config $(CONFIG) --data $(DATA)/demo --auth $(AUTH) --host $(HOST) --port $(PORT) --demo

bench: $(STAMP)
	$(BIN)/pytest benchmarks -o python_files='bench_*.py' -o testpaths=benchmarks --benchmark-only

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
