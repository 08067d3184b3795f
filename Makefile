# Foresight: two commands, `make run` and `make test`.
# Database: data/foresight.db (SQLite) unless FORESIGHT_DATABASE_URL is set.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp-requirements
DEV_STAMP := $(VENV)/.stamp-requirements-dev
PORT ?= 8501
ACCOUNTS ?= 5000
MONTHS ?= 36
SEED ?= 0
AS_OF ?=          # YYYY-MM-DD the demo runs to; empty: the last month-end before today
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup setup-dev db run test bench lint

help:
	@echo "make run    set up, seed the demo company if the database is empty, train, serve on :$(PORT)"
	@echo "make test   set up and run the whole test suite"
	@echo "make setup | setup-dev | db | bench | lint"

$(PY):
	@echo "==> Creating virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	@echo "==> Installing pinned requirements (first time takes a few minutes)"
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -r requirements.txt
	@touch $(STAMP)
	@echo "==> Requirements installed"

$(DEV_STAMP): requirements-dev.txt requirements.txt | $(STAMP)
	@echo "==> Installing the test and lint tools (requirements-dev.txt)"
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -r requirements-dev.txt
	@touch $(DEV_STAMP)

setup: $(STAMP)
	@echo "==> Environment ready ($(VENV))"

setup-dev: $(DEV_STAMP)

db: setup
	@mkdir -p data
	@$(PY) -m services.bootstrap needs-seed; rc=$$?; \
	if [ $$rc -eq 0 ]; then \
		echo "==> Database is empty: seeding the demo company ($(ACCOUNTS) accounts, $(MONTHS) months, seed $(SEED))"; \
		$(PY) -m services.cli seed --accounts $(ACCOUNTS) --months $(MONTHS) --seed $(SEED) \
			$(if $(strip $(AS_OF)),--as-of $(strip $(AS_OF))) || exit 1; \
		echo "==> Demo company seeded"; \
	elif [ $$rc -eq 1 ]; then echo "==> Database already has accounts: not seeding"; \
	else exit $$rc; fi
	@$(PY) -m services.bootstrap needs-train; rc=$$?; \
	if [ $$rc -eq 0 ]; then \
		echo "==> Training models (python -m services.cli train; a few minutes)"; \
		if $(PY) -m services.cli train > data/last-train.json; then ok=1; else ok=0; fi; \
		echo "==> Training summary"; $(PY) -m services.train_summary data/last-train.json; \
		if [ $$ok = 1 ]; then echo "==> Training done"; \
		else echo "==> WARNING: training failed (see above); the app starts without those models." \
			"Retry with: $(PY) -m services.cli train"; fi; \
	elif [ $$rc -eq 1 ]; then echo "==> Models already trained: not training"; \
	else exit $$rc; fi

run: db
	@echo "==> Serving Foresight on http://localhost:$(PORT) (demo mode, 127.0.0.1 only, unless [auth] is configured in .streamlit/secrets.toml)"
	$(PY) -m ui.serve --server.port $(PORT) --server.headless true   # = streamlit run app.py

test: setup-dev
	@echo "==> Running the test suite"
	$(PY) -m pytest -q tests --timeout=600 $(PYTEST_ARGS)   # a hung test fails after 10 minutes

bench: setup
	@set -e; for f in bench/bench_*.py; do \
		[ -e "$$f" ] || { echo "no benchmarks in bench/"; break; }; \
		echo "==> $$f"; $(PY) "$$f"; \
	done

lint: setup-dev
	$(PY) -m ruff check .
