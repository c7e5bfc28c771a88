# poisonguard — `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PG := $(VENV)/bin/poisonguard
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := False
export DVC_NO_ANALYTICS := 1

.PHONY: install constraints demo test test-fast bench mlflow-ui clean help

help:
	@echo "make demo   - create .venv, install, run the reference DVC pipeline (dvc repro), print the verdict"
	@echo "make demo ATTACK=backdoor - the same as a DVC experiment with an attack (flips, backdoor, new_source)"
	@echo "make test   - create .venv, install with the dev extra, run the test suite"
	@echo "make test-fast - the suite without the slow tests (DVC pipelines, notebooks, MLflow, S3, Chromium)"
	@echo "make bench  - run the benchmarks by hand (slow; results in benchmarks/RESULTS.md)"
	@echo "make constraints - rewrite constraints.txt from .venv (see the comment above CONSTRAINTS)"
	@echo "make mlflow-ui - serve the MLflow UI of ./mlflow.db on 127.0.0.1:5000"

# constraints.txt pins every package that poisonguard and its dev extra need, at the versions last
# tested, so a fresh install is reproducible and pip does not backtrack. To refresh it (after a
# dependency change in pyproject.toml, or to move to newer releases):
#   rm -rf .venv && make install CONSTRAINTS=   # unpinned: pip takes the newest releases that fit
#   make test                                   # they pass
#   make constraints                            # constraints.txt := what .venv has (pip freeze)
CONSTRAINTS ?= constraints.txt

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

constraints: install  ## rewrite constraints.txt from .venv: run in a fresh .venv that `make test` passed in
	@{ sed -n '/^#/p' constraints.txt; $(PY) -m pip freeze --exclude-editable; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt
	@echo "constraints.txt: $$(grep -c '==' constraints.txt) pins"

demo: install  ## ATTACK=backdoor|flips|new_source runs the pipeline as a DVC experiment with that attack
	$(PY) pipelines/demo.py $(if $(ATTACK),--attack $(ATTACK))

test: install  ## .ci/test-deps: Debian's chromium for the HTML test (installed as root, else a one-line hint)
	bash .ci/test-deps
	$(PY) -m pytest -q -p no:cacheprovider --durations=25 tests notebooks --nbmake --nbmake-timeout=300

# The inner loop: everything but the tests marked `slow` (DVC pipelines and repositories, MLflow,
# moto's S3 server, headless Chromium, the large-file scans, the slowest detection-quality floors) and the
# notebooks; `make test` runs them all.
test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider --durations=10 -n auto -m "not slow" tests

bench: install
	$(PY) benchmarks/bench_label_flip.py --seeds 0 1 2

mlflow-ui: install  ## the MLflow UI for the project's store, on http://127.0.0.1:5000 only
	$(VENV)/bin/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow.db}" \
	  --default-artifact-root "$(CURDIR)/mlartifacts" --host 127.0.0.1 --port $${MLFLOW_UI_PORT:-5000} --workers 1

clean:
	rm -rf demo-out .pytest_cache
