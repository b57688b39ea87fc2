# Every target creates .venv on first use; only python3 and make are needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
STORAGE ?= ./var

.DEFAULT_GOAL := help

help: ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --isolated --quiet --upgrade pip
	$(BIN)/python -m pip install --isolated --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv and install the package with dev dependencies

run: $(STAMP) ## serve the index on http://127.0.0.1:8000 with a local store under ./var
	$(BIN)/registry-index serve --host $(HOST) --port $(PORT) --storage $(STORAGE)

test: $(STAMP) ## run the whole test suite (unit, contract, functional with real pip/uv/twine)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint + format check, mypy strict
	$(BIN)/ruff check registry_index tests docs/examples
	$(BIN)/ruff format --check registry_index tests docs/examples
	$(BIN)/mypy

format: $(STAMP) ## apply ruff formatting and safe fixes
	$(BIN)/ruff check --fix registry_index tests
	$(BIN)/ruff format registry_index tests

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

.PHONY: help venv run test lint format clean
