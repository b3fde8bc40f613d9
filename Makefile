# The two commands that matter: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck schema schema-check migrate bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	mkdir -p var
	$(BIN)/alembic upgrade head

run: migrate
	$(BIN)/python server.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

schema: $(STAMP)
	$(BIN)/python -m schema.export > schema.graphql

schema-check: $(STAMP)
	$(BIN)/python -m schema.export --check schema.graphql

test: lint typecheck schema-check
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.contacts
	$(BIN)/python -m bench.sign_in_flood

clean:
	rm -rf $(VENV) var/*.db*
