# One-command entry points. Everything installs into .venv from pinned files.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test lint typecheck bench clean docs-cli

$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## make demo: generate the demo company, ingest it, build the promise ledger, print the summary,
## then serve the API and dashboard (make demo SERVE=0 stops after the summary)
demo: $(STAMP)
	$(BIN)/cxloop demo --workdir var/demo $(if $(filter 0 no,$(SERVE)),--no-serve,--serve)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	PYTHONPATH=src $(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy src

## make test: the gate (lint, types, tests), the same locally and in CI. The tests run on
## every core (pytest-xdist: one worker per CPU, at most 4); TEST_WORKERS=0 runs them in this process
## (docs/development.md)
TEST_WORKERS ?= logical
test: lint typecheck
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

## make bench: benchmarks; figures land in docs/benchmarks.md
bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
