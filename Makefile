# cnnlab: two commands do everything on a fresh machine with Python 3.11+ and make.
#   make lab    set up .venv, then open JupyterLab on the lessons
#   make test   set up .venv, then run everything CI checks
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# JupyterLab refuses to start as root unless told it may.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# Parallel test workers: one per core.
WORKERS ?= auto

.PHONY: install lab test lint unit bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_FLAG)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -n $(WORKERS) tests

test: lint unit

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_conv.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
