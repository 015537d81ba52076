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
# nbgrader runs `alembic` and nbval starts kernels: both must come from .venv.
export PATH := $(abspath $(BIN)):$(PATH)
# nbval: pin the outputs tagged nbval-check-output, stop any cell after 120 s.
NBVAL := --nbval-lax --nbval-cell-timeout=120 --nbval-sanitize-with tests/nbval_sanitize.cfg

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

# Package tests and every lesson executed by nbval, in one run over both cores
# (--dist loadfile keeps the cells of a notebook together in one kernel).
unit: export MPLBACKEND = Agg
# One BLAS thread per test worker: two workers that each spin two OpenBLAS
# threads on two cores slow each other down several times over.
unit: export OPENBLAS_NUM_THREADS = 1
unit: export OMP_NUM_THREADS = 1
unit: export MKL_NUM_THREADS = 1
unit: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile $(NBVAL) tests notebooks

test: lint unit

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_conv.py
	$(BIN)/python benchmarks/bench_train.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
