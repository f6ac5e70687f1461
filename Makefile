# Two commands for a newcomer: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
HOST ?= 127.0.0.1
export FLASK_APP := wsgi.py

.PHONY: run test setup setup-dev db lint typecheck test-sqlite test-postgres bench clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/activate

setup: $(BIN)/activate

## Apply migrations, deploy processes/, seed demo data on an empty database.
db: setup
	$(BIN)/flask db upgrade
	$(BIN)/flask processes deploy
	$(BIN)/flask demo seed

## Set up and serve the product on http://$(HOST):$(PORT) (SQLite by default).
run: db
	@echo "Сервер: http://$(HOST):$(PORT)  (демо-пользователи: $(BIN)/flask demo users)"
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
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
