# The two commands that matter: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run` installs what the service needs; `make test` adds the dev tools. Each has its own
# stamp, so either may come first and switching between them installs only what is missing.
SERVICE_STAMP := $(VENV)/.installed-service
DEV_STAMP := $(VENV)/.installed-dev
# Byte-compiling every installed module (most of which the service never imports) is the
# slowest part of an install; Python compiles what it imports on first use instead.
PIP_INSTALL := $(BIN)/pip install --quiet --no-compile --disable-pip-version-check -c constraints.txt

.PHONY: install install-dev run test lint typecheck schema schema-check migrate bench graphiql clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(SERVICE_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) -e .
	touch $@

$(DEV_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(PIP_INSTALL) -e '.[dev]'
	touch $@ $(SERVICE_STAMP)

install: $(SERVICE_STAMP)

install-dev: $(DEV_STAMP)

migrate: $(SERVICE_STAMP)
	mkdir -p var
	$(BIN)/alembic upgrade head

run: migrate
	$(BIN)/python server.py

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(DEV_STAMP)
	$(BIN)/mypy .

schema: $(DEV_STAMP)
	$(BIN)/python -m schema.export > schema.graphql

schema-check: $(DEV_STAMP)
	$(BIN)/python -m schema.export --check schema.graphql

test: lint typecheck schema-check
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(DEV_STAMP)
	$(BIN)/python -m bench.contacts
	$(BIN)/python -m bench.sign_in_flood
	$(BIN)/python -m bench.mail
	$(BIN)/python -m bench.activity
	$(BIN)/python -m bench.files
	$(BIN)/python -m bench.rooms
	$(BIN)/python -m bench.reports
	$(BIN)/python -m bench.exports
	$(BIN)/python -m bench.imports
	$(BIN)/python -m bench.live

# Rebuild GraphiQL's committed assets from graphiql/package-lock.json (needs Node 20+).
graphiql:
	graphiql/build.sh

clean:
	rm -rf $(VENV) var/*.db*
