# trainops: `make demo` runs the main job on the embedded local cloud; `make test` runs every suite.
# Both create (or reuse) the project's virtual environment by themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.12: the venv uses it too (a pyenv shim that is not active does not count).
PYTHON312 ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	  $$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The SAM CLI pins an older boto3, so it lives in its own tool environment.
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
SAM_VERSION := 1.170.0
# checkov pins boto3 1.35 (the project pins 1.44), so it too lives in a tool environment of its own.
CHECKOV_VENV := .tools/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_VERSION := 3.3.30
PYTEST := $(PY) -m pytest

$(STAMP): requirements-dev.txt requirements-sdk.txt pyproject.toml
	@test -n "$(PYTHON312)" || { echo "python3.12 is required (pyenv install 3.12, or apt-get install python3.12)"; exit 2; }
	@test -x $(PY) || $(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-sdk.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

$(SAM): 
	@test -x $(SAM_VENV)/bin/python || $(PYTHON312) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==$(SAM_VERSION)

$(CHECKOV):
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON312) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q checkov==$(CHECKOV_VERSION)

# The R example (examples/r) trains locally through its stand-in command, Rscript: Debian's R when missing.
R_PACKAGES := r-base-core r-cran-jsonlite
r-runtime:
	@command -v Rscript >/dev/null 2>&1 && Rscript -e 'library(jsonlite)' >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing $(R_PACKAGES) (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(R_PACKAGES) >/dev/null; \
	  else echo "the R example's test needs R: install $(R_PACKAGES)"; exit 2; fi; }

.PHONY: help venv demo test scan r-runtime image-uris test-unit test-statemachine test-integration test-local test-e2e test-template lint hooks typecheck schemas diagram build bench clean

help:
	@echo "make demo   - run the main job end to end on the embedded local cloud"
	@echo "make test   - run every test suite (unit, statemachine, integration, template, local, e2e, lint, scan)"
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/ -/'

venv: $(STAMP) ## create or reuse the virtual environment

demo: $(STAMP) ## the main job: S3 upload -> EventBridge -> Step Functions -> training -> registry, locally
	$(VENV)/bin/trainops local demo

test: $(STAMP) $(SAM) $(CHECKOV) r-runtime lint scan ## every suite
	$(PYTEST) tests

test-unit: $(STAMP) ## config, request builders, naming, approval
	$(PYTEST) tests/unit

test-statemachine: $(STAMP) ## the real ASL executed by moto's interpreter
	$(PYTEST) tests/statemachine

test-integration: $(STAMP) ## handlers against moto
	$(PYTEST) tests/integration

test-template: $(STAMP) $(SAM) $(CHECKOV) ## cfn-lint, sam validate --lint, ASL structure, the template's security
	$(PYTEST) tests/template

test-local: $(STAMP) ## the local cloud's parts and the moto behaviour it relies on
	$(PYTEST) tests/local

test-e2e: $(STAMP) r-runtime ## whole runs through the local cloud, real training scripts included
	$(PYTEST) tests/e2e

scan: $(STAMP) $(CHECKOV) ## checkov (SAM-translated template) and cfn-lint with serverless rules: 0 findings
	$(PY) -m trainops_local.scan

lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

hooks: $(STAMP) ## install the git hooks (.pre-commit-config.yaml: ruff, ruff format, mypy, as make lint)
	$(VENV)/bin/pre-commit install

image-uris: $(STAMP) ## regenerate the vendored image table from the SageMaker SDK's (sagemaker-core)
	$(PY) -m trainops_local.image_table

schemas: $(STAMP) ## export the config JSON Schema
	$(PY) -m trainops_local.schemas

diagram: $(STAMP) ## draw every statemachines/*.asl.json into docs/images/ (tests/template/test_diagram.py checks it)
	$(PY) -m trainops_local.diagram

build: $(SAM) ## sam build (needs python3.12 first on PATH)
	PATH=$(dir $(PYTHON312)):$$PATH $(SAM) build

bench: $(STAMP) ## every benchmark (prints ratios against an in-run baseline)
	$(PY) benchmarks/cold_start.py
	$(PY) benchmarks/local_e2e.py
	$(PY) benchmarks/early_stopping.py
	$(PY) benchmarks/warm_start.py
	$(PY) benchmarks/script_mode.py
	$(PY) benchmarks/burst.py
	$(PY) benchmarks/persistence.py

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .trainops
