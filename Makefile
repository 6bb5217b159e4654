# Every command a developer or CI needs. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: help venv test lint typecheck crd check-crd bench sandbox e2e validate clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(BIN)/activate

venv: $(BIN)/activate  ## create .venv with the project and its dev tools

test: venv  ## run every test (unit, component, service, CLI, validation); e2e is opt-in
	$(BIN)/pytest -q -p no:cacheprovider --junitxml=junit.xml

lint: venv  ## ruff, mypy --strict and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy operator service
	$(BIN)/lint-imports

crd: venv  ## regenerate the CRD from the models (manifests and chart)
	$(PY) -m greenlight.crd > manifests/crds/releases.greenlight.dev.yaml
	@if [ -d charts/greenlight/templates/crds ]; then \
	  $(PY) -m greenlight.crd --helm > charts/greenlight/templates/crds/releases.greenlight.dev.yaml; fi

bench: venv  ## print the benchmark figures (not a test)
	$(PY) -m tests.bench

e2e: venv  ## the end-to-end suite against the current kube context (kind)
	$(BIN)/pytest -q -m e2e tests/e2e

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache junit.xml coverage.xml
