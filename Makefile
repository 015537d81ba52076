# cnnlab: two commands do everything on a fresh machine with Python 3.11+ and make.
#   make lab    set up .venv, then open JupyterLab on your working copy of the lessons
#   make test   set up .venv, then run everything CI checks
#   make unit-fast                   the quick package tests only (no lessons, grading, training)
#   make test-browser                a learner's session in headless chromium (after make test in CI)
# Learning alone (see the README):
#   make lab [PORT=8888] [TOKEN=...] JupyterLab on work/, on that port, with that token
#                                    (WORK=DIR: the working copy in DIR instead of work/)
#   make workcopy                    copy the lessons work/ lacks, without opening JupyterLab
#   make selfgrade LESSON=02         grade your own work/02-.../ and say where to look
# Grading (see the README):
#   make release                     student versions of every lesson into release/
#   make grade [LESSON=02]           autograde submitted/<student>/<lesson>/ in parallel,
#                                    feedback/, a score table and grades.csv
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

# make grade: worker processes (0: one per core), seconds per submission, and
# LESSON to grade (or self-grade) one lesson only.
JOBS ?= 0
TIME_LIMIT ?= 600
LESSON ?=

# make lab: the port JupyterLab listens on, and its token (empty: a new random one,
# printed in the URL). WORK: the learner's working copy (make lab, workcopy, selfgrade).
PORT ?= 8888
TOKEN ?=
WORK ?= work

.PHONY: install lab workcopy test lint unit unit-fast bench bench-grading clean release grade selfgrade test-browser

install: $(STAMP)

# pip says nothing while it works, so say first what is coming.
$(STAMP): pyproject.toml
	@echo "Setting up .venv: installing cnnlab, JupyterLab and nbgrader (a minute or two the first time) ..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# The student versions, checked to give nothing away (regenerated only when a lesson changed).
release: $(STAMP)
	$(BIN)/python -m cnnlab.grading release

# A learner's working copy: work/ gets each released lesson it lacks, once; a later
# release never overwrites what is there.
workcopy: release
	$(BIN)/python -m cnnlab.grading workcopy --to $(WORK)

# What a learner sees: JupyterLab without nbgrader's instructor tools (its menu,
# Create Assignment, Validate, the formgrader) and without the news prompt. The
# settings in jupyter-learner/ come first (JUPYTER_CONFIG_PATH) for `make lab` only;
# `.venv/bin/jupyter lab`, as an instructor starts it, keeps them all.
lab: workcopy
	JUPYTER_CONFIG_PATH=$(abspath jupyter-learner) $(BIN)/jupyter lab --notebook-dir=$(WORK) \
		--port=$(PORT) $(if $(TOKEN),--IdentityProvider.token=$(TOKEN)) $(ROOT_FLAG)

grade: release
	$(BIN)/python -m cnnlab.grading grade --workers $(JOBS) --time-limit $(TIME_LIMIT) $(LESSON)

selfgrade: release
	@test -n "$(LESSON)" || { echo "usage: make selfgrade LESSON=02 (or LESSON=02-convolution)"; exit 2; }
	$(BIN)/python -m cnnlab.grading selfgrade $(LESSON) --work $(WORK) --time-limit $(TIME_LIMIT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Package tests and every lesson executed by nbval, in one run over both cores
# (--dist loadfile keeps the cells of a notebook together in one kernel); the
# slowest tests are listed at the end, to keep an eye on the 10-minute budget.
# One BLAS thread per test worker: two workers that each spin two OpenBLAS
# threads on two cores slow each other down several times over.
unit unit-fast: export MPLBACKEND = Agg
unit unit-fast: export OPENBLAS_NUM_THREADS = 1
unit unit-fast: export OMP_NUM_THREADS = 1
unit unit-fast: export MKL_NUM_THREADS = 1
unit: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile --durations=12 $(NBVAL) tests notebooks

# The package tests without the slow ones (lessons, kernels, grading, training,
# the other CPUs' BLAS kernels): seconds, for checking a change to ops.py.
unit-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS) -m "not slow" tests

test: lint unit

# The learner's flow in a real browser (tests/browser/): `make lab` on a scratch working
# copy, Run All, the explorers, an exercise, `make selfgrade`. Needs chromium
# (apt-get install chromium; CHROMIUM=... for another); screenshots in browser-screenshots/.
test-browser: $(VENV)/.browser-stamp
	$(BIN)/python -m pytest tests/browser

$(VENV)/.browser-stamp: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,browser]'
	@touch $@

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_conv.py
	$(BIN)/python benchmarks/bench_train.py

bench-grading: $(STAMP)
	$(BIN)/python benchmarks/bench_grading.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
