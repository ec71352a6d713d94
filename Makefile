# Waypoint: the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# test processes for `make test` (pytest-xdist): one per core, at most 4; PYTEST_WORKERS=0 runs in this process
PYTEST_WORKERS ?= auto

.PHONY: run test install lint stress clean chromium slapd messages bench bench-quick conformance

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

# The French catalogue (web/translations/*/LC_MESSAGES/messages.po) compiled to .mo (git-ignored).
MO_FILES := $(patsubst %.po,%.mo,$(wildcard web/translations/*/LC_MESSAGES/messages.po))

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --statistics -f -i $< -o $@

NPM_STAMP := node_modules/.installed

# Front-end packages (bpmn-js) from the npm registry; without npm the pages work, minus the diagram.
# Some of them (@carbon/*, under form-js) run IBM's telemetry collector when installed, which reads
# the repository's git remote and commit and reports them to IBM: opted out.
$(NPM_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then IBM_TELEMETRY_DISABLED=true npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the BPMN diagram viewer will be missing"; fi

# Debian's Chromium for the browser tests (installed when missing and running as root).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
		else echo "Chromium missing and not root: browser tests will be skipped"; fi; fi

# OpenLDAP's slapd and ldap-utils for the directory tests (installed when missing and running as root). The tests
# run their own slapd on a loopback port with its configuration in a temporary folder; the system service the
# package sets up is stopped and kept from starting at boot, so nothing listens on 389.
slapd:
	@if [ ! -x /usr/sbin/slapd ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends slapd ldap-utils >/dev/null; \
			(service slapd stop; update-rc.d slapd disable) >/dev/null 2>&1 || true; \
		else echo "slapd missing and not root: directory tests will be skipped"; fi; fi

install: $(STAMP) $(NPM_STAMP) $(MO_FILES)

## make run: install, migrate the SQLite database, deploy bpmn/, seed demo users, serve on 127.0.0.1:5000
## with one `waypoint worker` running alongside (Ctrl-C stops both)
run: install
	@# a development data key for personal fields, kept in instance/data.key (production: WAYPOINT_DATA_KEY)
	@test -n "$$WAYPOINT_DATA_KEY" || $(BIN)/waypoint privacy new-key --write instance/data.key
	$(BIN)/waypoint db upgrade
	$(BIN)/waypoint deploy bpmn --as admin
	$(BIN)/waypoint seed-demo
	@# one worker process (timers, reminders, escalations, email) next to the web server; all stop together.
	@# With no WAYPOINT_SMTP_HOST/PORT, email goes to a local sink that admins read on /admin/mail.
	if [ -z "$$WAYPOINT_SMTP_HOST$$WAYPOINT_SMTP_PORT" ]; then export WAYPOINT_SMTP_PORT=1025; \
		echo "Mail: no WAYPOINT_SMTP_HOST set, so email is captured; admins read it at http://127.0.0.1:5000/admin/mail"; \
		$(BIN)/waypoint mail-sink --port 1025 & sink=$$!; fi; \
	$(BIN)/waypoint worker & worker=$$!; trap 'kill $$worker $$sink 2>/dev/null; wait' EXIT; \
	$(BIN)/waypoint serve --host 127.0.0.1 --port 5000

## make test: install (with test dependencies) and run the whole suite
test: install chromium slapd
	$(BIN)/ruff check engine workflows web cli tests
	$(BIN)/mypy engine web workflows cli
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --maxprocesses 4 --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check engine workflows web cli tests
	$(BIN)/mypy engine web workflows cli

stress: install
	$(BIN)/python -m pytest -m stress $(PYTEST_ARGS)

## make messages: extract every translatable string and merge it into the catalogues (then translate the new entries)
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-wrap --sort-by-file -o web/translations/messages.pot .
	$(BIN)/pybabel -q update --no-wrap --ignore-obsolete --no-fuzzy-matching -i web/translations/messages.pot -d web/translations

## make bench: install, then every benchmark figure against its target (docs/benchmarks.md): prints the table and
## writes bench/results.json; data sets are cached in bench/.cache/ and PostgreSQL schemas wp_bench* (under 10 minutes)
bench: install
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/python -m bench --quick

## make conformance: the DMN TCK (compliance level 2) through Waypoint's decision engine: passed/failed/skipped per case
conformance: install
	$(BIN)/python -m tests.conformance

clean:
	rm -rf $(VENV) instance .pytest_cache $(MO_FILES)
