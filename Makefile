# Forensis — the commands of README.md. Needs only Python 3.11+; installs what else it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_URL ?= postgres://postgres@127.0.0.1:5432/forensis

export FORENSIS_DATA_DIR ?= $(CURDIR)/var
# The suite's temporary files live in this checkout, not in /tmp/pytest-of-USER: pytest keeps only
# the three newest sessions there, so another pytest run on the same machine could delete a
# directory a running test still uses.
PYTEST := FORENSIS_DATA_DIR=$(CURDIR)/var/test $(BIN)/pytest --basetemp=$(CURDIR)/var/pytest

.PHONY: run test test-postgres test-e2e lint bench bench-quick chromium mdbtools install install-dev clean messages security

## make run: set up, migrate, load demo data when empty, serve on http://127.0.0.1:8000
run: install
	$(BIN)/forensis compilemessages
	$(BIN)/forensis migrate --noinput
	$(BIN)/forensis signing-key --self-signed --if-missing
	$(BIN)/forensis seed-demo
	FORENSIS_DEFER_MFA_ENROLMENT=$${FORENSIS_DEFER_MFA_ENROLMENT:-1} $(BIN)/forensis serve

## make test: the whole suite on SQLite (lint, migrations check, unit, API and browser tests)
test: install-dev chromium mdbtools
	$(BIN)/forensis compilemessages
	$(BIN)/ruff check src tests bench
	$(BIN)/forensis makemigrations --check --dry-run
	$(PYTEST) $(PYTEST_ARGS)

## make test-postgres: the same suite on PostgreSQL (DATABASE_URL, default $(PG_URL))
test-postgres: install-dev chromium mdbtools
	$(BIN)/forensis compilemessages
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} $(PYTEST) $(PYTEST_ARGS)

## make test-e2e: only the browser tests (headless chromium)
test-e2e: install-dev chromium mdbtools
	$(BIN)/forensis compilemessages
	$(PYTEST) tests/e2e $(PYTEST_ARGS)

## make bench: the performance harness (prints a table, writes bench/results.json)
bench: install-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: install-dev
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

lint: install-dev
	$(BIN)/ruff check src tests bench

## make messages: re-extract translatable strings into the catalogues (needs GNU gettext)
messages: install-dev
	@command -v xgettext >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq gettext)
	cd src/forensis && ../../$(BIN)/django-admin makemessages -l es --no-obsolete --settings=forensis.settings

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || (echo "Forensis needs Python 3.11 or newer" && exit 1)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

## make security: sqlmap against a live server on every API list filter and the web search boxes (SQLite, and
## PostgreSQL too when DATABASE_URL is set); fails on any finding or on anything it could not test. ~5-10 minutes.
security: install-dev
	@command -v sqlmap >/dev/null || ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq sqlmap)
	$(BIN)/python tests/security/sqlmap_scan.py $(SECURITY_ARGS)

## Debian's chromium for the browser tests (Playwright cannot download its own browsers here)
chromium:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium)

## Debian's mdbtools: mdb-export reads Access files for the legacy import
mdbtools:
	@command -v mdb-export >/dev/null || ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq mdbtools)

clean:
	rm -rf $(VENV) var .pytest_cache
