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
#   make grade VENV=/srv/...         the same with an environment already installed (a JupyterHub's)
# JupyterHub (root; see the README):
#   make test-hub                    the course on a real hub: three real users, one round trip
PYTHON ?= python3
# The environment: .venv, built here on first use; or one already installed, given on
# the command line (`make grade VENV=/srv/...`, on a JupyterHub), used as it is.
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

.PHONY: install lab workcopy test lint unit unit-fast bench bench-grading clean release grade selfgrade test-hub test-browser

install: $(STAMP)

# pip says nothing while it works, so say first what is coming.
ifeq ($(VENV),.venv)
$(STAMP): pyproject.toml
	@if test -x $(BIN)/python; then echo "pyproject.toml changed: updating .venv ..."; \
	else echo "First run: installing cnnlab, JupyterLab and nbgrader into .venv, a minute or two (pip prints nothing meanwhile) ..."; fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)
else
# Someone else's environment: make never installs into it, only checks it has the course.
$(STAMP):
	@test -x $(BIN)/nbgrader && $(BIN)/python -c "import cnnlab" || { echo \
		"VENV=$(VENV): no environment with cnnlab and nbgrader there (pip install '.[hub]')" >&2; exit 2; }
endif

# The student versions, checked to give nothing away (regenerated only when a lesson changed).
release: $(STAMP)
	$(BIN)/python -m cnnlab.grading release $(LESSON)

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

# The course on a real JupyterHub, as root: three real users, JupyterHub with its Python
# proxy, a lesson released, fetched, submitted, collected, graded (make grade) and its
# feedback returned through nbgrader's exchange, with who may read what checked from the
# learners' kernels (tests/hub/). Its environment lives outside this folder, which the
# users never need to reach, built from a Python every user can run (not one under /root).
HUB_PYTHON ?= /usr/bin/python3
HUB_ROOT   ?= /srv/cnnlab-hub-test
HUB_VENV   := $(HUB_ROOT)/venv

$(HUB_VENV)/.hub-stamp: pyproject.toml
	@echo "Setting up $(HUB_VENV): JupyterHub, its proxy, JupyterLab, nbgrader (a minute or two the first time) ..."
	@mkdir -p $(HUB_ROOT) && chmod 755 $(HUB_ROOT)
	@test -x $(HUB_VENV)/bin/python || $(HUB_PYTHON) -m venv $(HUB_VENV)
	$(HUB_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-compile '.[hub]'
	@# Compiled now, on both cores (pip compiles one file at a time): the users cannot write
	@# here, so every server and kernel would otherwise compile each module it imports anew.
	@# A file that does not compile (a test written for another Python) is merely left as is.
	-@$(HUB_VENV)/bin/python -m compileall -q -j 0 $(HUB_VENV)/lib >/dev/null
	@touch $@

test-hub: $(HUB_VENV)/.hub-stamp
	$(HUB_VENV)/bin/python tests/hub/round_trip.py --hub-root $(HUB_ROOT)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
