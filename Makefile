# METRO Meetups: `make run` starts the whole site, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export PORT

.PHONY: run test install install-test services vendor lint bench bench-feeds bench-digests bench-series clean migration screenshots

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (python3.11, python3.12 or python3.13)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

# One pip run for the app and its test extras (a second would resolve and build it all again).
$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## Start web, worker and scheduler on SQLite with no Redis or mail server (Ctrl-C stops all).
run: install
	FLASK_DEBUG=1 $(BIN)/flask --app webapp db upgrade
	FLASK_DEBUG=1 $(BIN)/flask --app webapp seed
	$(BIN)/python scripts/run_dev.py

## Install what the tests need (Chromium, PostgreSQL, Redis if missing) and run the whole suite:
## everything on PostgreSQL and, alongside it, everything but the browser tests and the tests that
## use no database again on SQLite (scripts/run_tests.sh).
## Most tests mostly wait (on Chromium, a live server, a worker, the database), so each pass runs in
## TEST_WORKERS processes at once (pytest-xdist), each with a PostgreSQL and a Redis of its own; the
## fault drills take turns in one of them. One process, and one pass after the other, when the run
## is pointed at servers of your choosing (TEST_POSTGRES_URL / TEST_REDIS_URL), which they would share.
TEST_WORKERS ?= 3
PARALLEL = $(if $(TEST_POSTGRES_URL)$(TEST_REDIS_URL),,-n $(TEST_WORKERS) --dist loadgroup)
test: install-test services
	$(BIN)/ruff check --quiet .
	bash scripts/run_tests.sh $(PARALLEL)

services:
	bash scripts/test_services.sh

## A migration from the models' changes, its revision id named by what it does (migrations/README):
## make migration NAME="outbox registration ids" -> revision outbox_registration_ids.
REV_ID = $(shell printf '%s' "$(NAME)" | tr 'A-Z' 'a-z' | sed -E 's/[^a-z0-9]+/_/g; s/^_+//; s/_+$$//' | cut -c1-32)
migration: install
	@test -n "$(REV_ID)" || { echo 'Say what it does: make migration NAME="outbox registration ids"'; exit 1; }
	@! ls migrations/versions/$(REV_ID)_*.py >/dev/null 2>&1 || { echo "A revision $(REV_ID) exists: pick another NAME"; exit 1; }
	FLASK_DEBUG=1 $(BIN)/flask --app webapp db upgrade
	FLASK_DEBUG=1 $(BIN)/flask --app webapp db revision --autogenerate -m "$(NAME)" --rev-id "$(REV_ID)"

vendor:
	bash scripts/vendor_static.sh

## Pictures of the main pages and two mails, desktop and phone, into docs/screenshots/ (seed data,
## a private SQLite database in a temp folder, Debian's Chromium; nothing is left running).
screenshots: install-test
	$(BIN)/python scripts/screenshots.py

lint: install-test
	$(BIN)/ruff check .

## Every benchmark on private services (a PostgreSQL and a Redis of its own), one Markdown table
## (docs/benchmarks.md). One part or a few: make bench ONLY=pages (pages,burst,reminders,feeds,digests,series).
bench: install-test
	bash scripts/bench_services.sh
	BENCH_COMMAND="make bench$(if $(ONLY), ONLY=$(ONLY))" $(BIN)/python bench/all.py $(if $(ONLY),--only $(ONLY))

## One part alone, as before (the same as make bench ONLY=feeds, and so on).
bench-feeds bench-digests bench-series: install-test
	bash scripts/bench_services.sh
	BENCH_COMMAND="make $@" $(BIN)/python bench/all.py --only $(subst bench-,,$@)

clean:
	rm -rf $(VENV) instance .pytest_cache
