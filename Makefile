# Two commands for a newcomer: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
export FLASK_APP := wsgi.py

.PHONY: run test setup setup-dev db lint typecheck test-sqlite test-postgres bench clean \
	translations-update
VENDOR := app/static/vendor
CATALOGS := $(patsubst %.po,%.mo,$(wildcard app/translations/*/LC_MESSAGES/messages.po))

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/activate

## Front-end assets from the npm registry (package-lock.json), served from app/static/vendor.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

$(VENDOR)/.installed: node_modules/.package-lock.json
	mkdir -p $(VENDOR)/bootstrap $(VENDOR)/bpmn-js
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/js/bootstrap.bundle.min.js $(VENDOR)/bootstrap/
	cp node_modules/bpmn-js/dist/bpmn-viewer.production.min.js node_modules/bpmn-js/dist/assets/diagram-js.css node_modules/bpmn-js/dist/assets/bpmn-js.css $(VENDOR)/bpmn-js/
	touch $@

## UI translations: compile the .po catalogues (English) into .mo.
app/translations/%/LC_MESSAGES/messages.mo: app/translations/%/LC_MESSAGES/messages.po $(BIN)/activate
	$(BIN)/pybabel compile --use-fuzzy -d app/translations -l $*

## The process designer's modeler (bpmn-js) with its palette font.
$(VENDOR)/bpmn-js/bpmn-modeler.production.min.js: node_modules/.package-lock.json $(VENDOR)/.installed
	cp node_modules/bpmn-js/dist/bpmn-modeler.production.min.js node_modules/bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css $(VENDOR)/bpmn-js/

setup: $(BIN)/activate $(VENDOR)/.installed $(VENDOR)/bpmn-js/bpmn-modeler.production.min.js $(CATALOGS)

## Re-extract UI strings after changing templates or views (then translate app/translations/en).
translations-update: setup
	$(BIN)/pybabel extract -F babel.cfg -k _l -o app/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching

## Apply migrations, deploy processes/, seed demo data on an empty database.
db: setup
	$(BIN)/flask db upgrade
	$(BIN)/flask processes deploy
	$(BIN)/flask demo seed

## Set up and serve the product on http://$(HOST):$(PORT) (SQLite by default).
## The job runner (timers, reminders, e-mail) runs beside gunicorn and stops with it, unless
## JOBS_EMBEDDED=false (then `flask jobs run` or Celery workers run elsewhere).
run: db
	@echo "Сервер: http://$(HOST):$(PORT)  (демо-пользователи: $(BIN)/flask demo users)"
	@case "$$(echo "$${JOBS_EMBEDDED:-true}" | tr A-Z a-z)" in \
	  1|true|yes|on) $(BIN)/flask jobs run & jobs_pid=$$!; \
	    trap 'kill $$jobs_pid 2>/dev/null; wait $$jobs_pid 2>/dev/null' EXIT; \
	    trap 'exit 130' INT TERM ;; \
	  *) echo "JOBS_EMBEDDED=$${JOBS_EMBEDDED}: обработчик заданий здесь не запускается." ;; \
	esac; \
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --access-logfile - wsgi:app

lint: setup
	$(BIN)/ruff check app tests migrations
	$(BIN)/ruff format --check app tests
	$(BIN)/mypy app

test-sqlite: setup
	TEST_DB=sqlite $(BIN)/python -m pytest -q -p no:cacheprovider tests

test-postgres: setup
	@pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 || { \
	  echo "PostgreSQL на 127.0.0.1:5432 недоступен: тесты на PostgreSQL не запущены."; exit 1; }
	TEST_DB=postgres $(BIN)/python -m pytest -q -p no:cacheprovider tests

## Set up and run the whole suite: lint, types, tests on SQLite and on PostgreSQL.
test: lint test-sqlite test-postgres

bench: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/perf -m perf -s

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache node_modules $(VENDOR)
