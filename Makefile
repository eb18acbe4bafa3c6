# Two entry points for a fresh machine: `make run` and `make test`.
# Both create .venv/ in this checkout and install everything into it.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test venv lint bench clean-index

run: venv
	$(VENV)/bin/firstmate run

test: venv
	$(PY) -m pytest -q

venv: $(STAMP)

# torch is installed first and pinned to the local CPU wheel, so that nothing pulls a CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -e ".[dev]"
	$(PY) -c "import torch, sys; v = torch.__version__; sys.exit(0 if v.startswith('2.13.0') and not torch.cuda.is_available() and '+cu' not in v else 'unexpected torch build: ' + v)"
	touch $(STAMP)

lint: venv
	$(VENV)/bin/ruff check bot retrieval tests bench
	$(VENV)/bin/mypy

bench: venv
	$(PY) bench/repair.py
	$(PY) bench/retrieval.py

clean-index:
	rm -rf index/build
