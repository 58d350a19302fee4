# The two commands a newcomer needs are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install system-deps run test lint format migrate bench clean

help:
	@echo "make run    start the whole portal on the embedded stack and seed a demo"
	@echo "make test   install everything and run lint, migration checks and the test suite"
	@echo "make bench  run the benchmark scripts (figures are ratios to a baseline)"

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $@

system-deps:
	@bash devtools/system_deps.sh $(SYSTEM_DEPS)

run: install
	$(PY) -m devtools.run

test: SYSTEM_DEPS = chromium libharfbuzz-subset0 poppler-utils
test: system-deps install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) \
	  -W "ignore:Got an error checking a consistent migration history" \
	  manage.py makemigrations --check --dry-run
	$(PY) -m pytest

bench: SYSTEM_DEPS = wrk libharfbuzz-subset0
bench: system-deps install
	$(PY) -m devtools.bench

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var/run
