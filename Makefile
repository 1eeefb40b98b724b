# Basir L3 — every target creates what it needs on a fresh machine.
#   make run    start the server with the example workflows
#   make test   lint + the whole test suite with branch coverage (fails under 85 %)
# GNU make; recipes run in bash with -e and pipefail so any failing step fails the target.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV := .venv
BIN := $(VENV)/bin
# The machine's Python 3.11; uv must never download an interpreter.
PYTHON_SYS := $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
# Recursive on purpose: re-evaluated after `env` may have installed uv with pip.
UV = $(shell command -v uv 2>/dev/null || echo "$(PYTHON_SYS) -m uv")
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

PYTEST_WORKERS ?= 2
CHROMIUM := /usr/bin/chromium
FONT_PACKAGES := fonts-noto-core fonts-dejavu-core
PG_HOST := 127.0.0.1

.PHONY: help env deps-machine postgres assets run test lint format bench \
        i18n-extract i18n-check i18n-missing clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

env: ## create/refresh .venv from uv.lock with the machine's python3.11 (idempotent)
	@if ! command -v uv >/dev/null 2>&1 && ! $(PYTHON_SYS) -m uv --version >/dev/null 2>&1; then \
	  echo "installing uv with pip" >&2; \
	  $(PYTHON_SYS) -m pip install --quiet uv \
	    || $(PYTHON_SYS) -m pip install --quiet --user uv \
	    || $(PYTHON_SYS) -m pip install --quiet --user --break-system-packages uv \
	    || { echo "error: could not install uv with pip; install pip (apt-get install python3-pip) or uv" >&2; exit 1; }; \
	fi
	@# Bytecode compiled now, not by each command: where PYTHONDONTWRITEBYTECODE=1 is set (CI,
	@# containers) Python still reads .pyc files but never writes them. The project itself is
	@# installed editable, so its src/ is compiled too.
	@$(UV) sync --frozen --all-extras --quiet --compile-bytecode --python "$(PYTHON_SYS)"
	@$(BIN)/python -m compileall -q -j 0 src
	@$(MAKE) assets

assets: ## install the dashboard's pinned front-end packages (only once package-lock.json exists)
	@if [ -f package-lock.json ]; then \
	  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then \
	    if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent && touch node_modules; \
	    else echo "hint: npm is missing; install nodejs and npm for the dashboard assets" >&2; fi; \
	  fi; \
	fi

deps-machine: postgres ## apt packages for browser tests (chromium, fonts, npm) and a running PostgreSQL
	@# Only what is missing: a machine with Node.js from elsewhere (whose nodejs ships npm)
	@# must not be asked for Debian's npm, which conflicts with it.
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="$$missing chromium"; \
	for pkg in $(FONT_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && apt-get install -y $$missing; \
	  else \
	    echo "hint: missing$$missing; as root run: apt-get update && apt-get install -y$$missing" >&2; \
	  fi; \
	fi

postgres: ## start the local PostgreSQL cluster when nothing answers on 127.0.0.1
	@if ! pg_isready -q -h $(PG_HOST) 2>/dev/null; then \
	  if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null 2>&1; then \
	    pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -V | tail -n 1) main start \
	      || echo "hint: could not start PostgreSQL; the postgres tests will fail" >&2; \
	  else \
	    echo "hint: PostgreSQL is not installed; as root run: apt-get install -y postgresql" >&2; \
	  fi; \
	fi

run: env ## start `basir server` with the workflows of examples/ applied
	@$(BIN)/basir server --load-examples examples

test: deps-machine env lint ## lint, then pytest on 2 workers with branch coverage (fail under 85 %)
	@$(BIN)/pytest -n $(PYTEST_WORKERS) --cov --cov-report=term-missing:skip-covered

lint: env ## ruff check, ruff format --check, mypy --strict on src/, no src/ module over 500 lines
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python scripts/module_size.py src

format: env ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: env ## engine workloads W1-W4, the API and the command line (see docs/performance.md)
	@if ! command -v wrk >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; fi
	@$(BIN)/python bench/run.py
	@$(BIN)/python bench/shapes_bench.py
	@$(BIN)/python bench/api_bench.py
	@$(BIN)/python bench/cli_bench.py
	@$(BIN)/python bench/monitoring_bench.py
	@$(BIN)/python bench/schedules_bench.py
	@$(BIN)/python bench/resources_bench.py
	@$(BIN)/python bench/queues_bench.py
	@$(BIN)/python bench/export_bench.py
	@$(BIN)/python bench/audit_bench.py
	@$(BIN)/python bench/policies_bench.py
	@$(BIN)/python bench/scheduling_bench.py
	@$(BIN)/python bench/dashboard_bench.py

i18n-extract: env ## collect messages into basir.pot and merge them into the Arabic catalog
	@$(BIN)/python scripts/i18n.py extract

i18n-check: env ## fail listing messages without an Arabic translation or with wrong placeholders
	@$(BIN)/python scripts/i18n.py check

i18n-missing: env ## print the msgids still untranslated, one per line
	@$(BIN)/python scripts/i18n.py missing

clean: ## remove caches and coverage output (keeps .venv; `rm -rf .venv` for a full reset)
	rm -rf .pytest_cache .mypy_cache .ruff_cache htmlcov coverage.xml .coverage .coverage.* build dist
	find . -path ./.venv -prune -o -path ./node_modules -prune -o -name __pycache__ -type d -print0 \
	  | xargs -0 rm -rf
