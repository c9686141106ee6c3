# Catalogue PDI. `make run` installs and serves on SQLite; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench constraints clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
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

# After changing dependencies in pyproject.toml: pin what the venv now holds.
constraints: install
	{ echo "# Versions the project is tested with (pip freeze of the dev venv); \`make constraints\` regenerates it."; \
	  echo "# make install and the Docker image install within these, so that a fresh clone gets what CI ran."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^catalogue'; } > constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
