# Waypoint: the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test install lint stress clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

install: $(STAMP)

## make run: install, migrate the SQLite database, deploy bpmn/, seed demo users, serve on 127.0.0.1:5000
run: install
	$(BIN)/waypoint db upgrade
	$(BIN)/waypoint deploy bpmn --as admin
	$(BIN)/waypoint seed-demo
	$(BIN)/waypoint serve --host 127.0.0.1 --port 5000

## make test: install (with test dependencies) and run the whole suite
test: install
	$(BIN)/ruff check engine workflows web tests
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check engine workflows web tests

stress: install
	$(BIN)/python -m pytest -m stress $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
