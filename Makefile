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

# The native (mypyc-compiled) routing core, rebuilt whenever a source of router/
# or sim/ changes; NATIVE=0 skips it and runs the pure-Python core everywhere.
NATIVE ?= 1
MANIFEST := build/native/manifest.json
ifeq ($(NATIVE),0)
export LINJE_NATIVE := 0
CORE :=
else
CORE := $(MANIFEST)
endif
# The core's own tests, run a second time on the pure-Python core (both builds tested).
PURE_TESTS := tests/test_core_*.py tests/test_escalations_core.py tests/test_replay.py \
	tests/test_report.py tests/test_sim_driver.py tests/test_sim_validation.py tests/test_native.py

.PHONY: venv native test lint types unit serve demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(MANIFEST): $(STAMP) $(wildcard router/*.py sim/*.py) adapters/native.py
	@mkdir -p build
	@echo "compiling the native routing core (mypyc; output in build/native.log)"
	@$(BIN)/linje native build >build/native.log 2>&1 || \
	  { tail -n 20 build/native.log; echo "native build failed; NATIVE=0 runs the pure-Python core"; exit 1; }

# Byte-compiled sources, so that a start never compiles them (even where the
# environment sets PYTHONDONTWRITEBYTECODE): about 0.15 s of `linje serve`'s start.
PYC := build/bytecode.stamp
$(PYC): $(STAMP) $(wildcard router/*.py adapters/*.py adapters/*/*.py sim/*.py)
	@mkdir -p build
	@$(BIN)/python -m compileall -q router adapters sim >/dev/null
	@touch $(PYC)

venv: $(STAMP) $(CORE) $(PYC)

native: $(MANIFEST)

lint: $(STAMP)
	$(BIN)/ruff check router adapters sim tests benchmarks
	$(BIN)/ruff format --check router adapters sim tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(CORE) $(PYC)
	$(BIN)/pytest
	LINJE_NATIVE=0 $(BIN)/pytest $(wildcard $(PURE_TESTS))

test: lint types unit

serve: $(STAMP) $(CORE) $(PYC)
	$(BIN)/linje serve --config $(CONFIG) --data $(DATA) --auth $(AUTH) --host $(HOST) --port $(PORT)

demo: $(STAMP) $(CORE) $(PYC)
	$(BIN)/linje serve --config $(CONFIG) --data $(DATA)/demo --auth $(AUTH) --host $(HOST) --port $(PORT) --demo

bench: $(STAMP) $(CORE) $(PYC)
	$(BIN)/pytest benchmarks -o python_files='bench_*.py' -o testpaths=benchmarks --benchmark-only

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build/native build/native.log $(PYC)
