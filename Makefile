# Catalogue PDI. `make run` installs and serves on SQLite; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# First start: migrate the SQLite file var/pdi.db, load the seed catalogue and the demo data
# once, create a local admin key (printed, kept in var/admin.key); then serve on :8000.
run: install
	$(BIN)/pdi bootstrap
	$(BIN)/pdi serve

# The suite on SQLite, then on PostgreSQL when TEST_POSTGRES_URL names a database to use
# (.ci/run creates a fresh one). Under CI=true the PostgreSQL pass is never skipped.
test: install
	$(BIN)/python -m pytest
	@if [ -n "$$TEST_POSTGRES_URL" ]; then \
		echo "== PostgreSQL pass"; \
		TEST_DATABASE_URL="$$TEST_POSTGRES_URL" $(BIN)/python -m pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "CI=true but TEST_POSTGRES_URL is not set: the PostgreSQL pass cannot be skipped" >&2; exit 1; \
	else \
		echo "TEST_POSTGRES_URL is not set: PostgreSQL pass skipped (bash .ci/run runs both)"; \
	fi

lint: install
	$(BIN)/ruff check app seed tests bench migrations/env.py
	$(BIN)/ruff format --check app seed tests bench migrations/env.py

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
