# Catalogue PDI. `make run` installs and serves on SQLite; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install validata run test test-fast lint bench constraints clean env image-base image image-smoke

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# validata-table (the SCDL validator data.gouv.fr uses) for tests/exports/test_scdl_subventions.py:
# a venv of its own, its python-stdnum<2 and pydantic pins conflicting with the project's.
VALIDATA_VENV := .venv-validata
VALIDATA_STAMP := $(VALIDATA_VENV)/.installed
$(VALIDATA_STAMP):
	$(PYTHON) -m venv $(VALIDATA_VENV)
	$(VALIDATA_VENV)/bin/python -m pip install --quiet validata-table==0.12.5
	touch $(VALIDATA_STAMP)

validata: $(VALIDATA_STAMP)

# First start: migrate the SQLite file var/pdi.db, load the seed catalogue and the demo data
# once, create a local admin key (printed, kept in var/admin.key); then serve on :$(PORT)
# (`make run PORT=8080` when 8000 is taken).
PORT ?= 8000
run: install
	$(BIN)/pdi bootstrap --port $(PORT)
	$(BIN)/pdi serve --port $(PORT)

# The suite runs in TEST_WORKERS processes (pytest-xdist), each with a database of its own
# (tests/conftest.py). More workers than cores: many tests wait on servers, subprocesses and
# databases. worksteal: each worker starts on a contiguous part of the suite (a module's tests and
# its module-scoped fixtures stay together) and one that runs out takes half of another's rest.
# The compiled modules are cached (__pycache__) even where PYTHONDONTWRITEBYTECODE is set: every
# worker imports the application and the tests anew.
TEST_WORKERS ?= 4
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

# The suite on SQLite, then on PostgreSQL when TEST_POSTGRES_URL names a database to use
# (.ci/run creates a fresh one; each worker uses that name with its own suffix, `<name>_gw0`…).
# Under CI=true the PostgreSQL pass is never skipped.
test: install validata
	$(PYTEST)
	@if [ -n "$$TEST_POSTGRES_URL" ]; then \
		echo "== PostgreSQL pass"; \
		TEST_DATABASE_URL="$$TEST_POSTGRES_URL" $(PYTEST); \
	elif [ "$$CI" = "true" ]; then \
		echo "CI=true but TEST_POSTGRES_URL is not set: the PostgreSQL pass cannot be skipped" >&2; exit 1; \
	else \
		echo "TEST_POSTGRES_URL is not set: PostgreSQL pass skipped (bash .ci/run runs both)"; \
	fi

# The fast tier, while working on a change: every test not marked `slow` (servers, subprocesses,
# browsers, schemathesis, private databases; tests/conftest.py), on SQLite, in parallel.
test-fast: install
	$(PYTEST) -m "not slow"

lint: install
	$(BIN)/ruff check app seed tests bench migrations/env.py
	$(BIN)/ruff format --check app seed tests bench migrations/env.py
	$(BIN)/lint-imports --no-cache

# SPEC C5's figures and the goals of issues 21, 32 and 37 beside their references (python -m bench.run,
# docs/PERFORMANCE.md): PostgreSQL on 127.0.0.1 as user postgres, BENCH_SCALE=100 by default (30-60
# minutes: the mix takes eight, the feed's three catch-ups of ~1M entries as long as the feed is slow;
# BENCH_SCALE=1 for a quick run), wrk as the load
# generator and for the mix's Lua scripts (the Debian package, installed here when missing).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

bench: install
	@command -v wrk >/dev/null 2>&1 || { echo "installing wrk (Debian package)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends wrk; }
	$(BIN)/python -m bench.run

# After changing dependencies in pyproject.toml: pin what the venv now holds.
constraints: install
	{ echo "# Versions the project is tested with (pip freeze of the dev venv); \`make constraints\` regenerates it."; \
	  echo "# make install and the Docker image install within these, so that a fresh clone gets what CI ran."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^catalogue'; } > constraints.txt

# Docker Compose's .env: a generated PDI_SECRET_KEY and POSTGRES_PASSWORD, each written once and
# never replaced (the secret key pseudonymises beneficiaries; the password is set in the volume).
env:
	@touch .env && chmod 600 .env
	@grep -q '^PDI_SECRET_KEY=.' .env || { \
		echo "PDI_SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))')" >> .env; \
		echo "PDI_SECRET_KEY written to .env: keep it, and back it up with the database"; }
	@grep -q '^POSTGRES_PASSWORD=.' .env || { \
		echo "POSTGRES_PASSWORD=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(16))')" >> .env; \
		echo "POSTGRES_PASSWORD written to .env"; }
	@echo ".env holds PDI_SECRET_KEY and POSTGRES_PASSWORD (existing values are never replaced)"

# The image, with docker when its daemon answers, else podman (CONTAINER_ENGINE= forces one).
# Where no image registry is reachable: `make image-base`, then `make image PYTHON_IMAGE=$(BASE_IMAGE)`.
PYTHON_IMAGE ?= python:3.11-slim-bookworm
BASE_IMAGE ?= localhost/pdi-python-base:3.11-bookworm
IMAGE ?= catalogue-pdi

# A stand-in for the Python base from Debian's packages (debootstrap; root); kept once built.
image-base:
	BASE_IMAGE='$(BASE_IMAGE)' bash docker/image-base.sh

image:
	IMAGE='$(IMAGE)' PYTHON_IMAGE='$(PYTHON_IMAGE)' bash docker/image.sh

# Build (on the stand-in base unless PYTHON_IMAGE is given) and run the image against a fresh
# database on the local PostgreSQL, checking migrations, keys, user, healthcheck and stop.
image-smoke:
	IMAGE='$(IMAGE)' BASE_IMAGE='$(BASE_IMAGE)' \
	PYTHON_IMAGE='$(if $(filter command line environment,$(origin PYTHON_IMAGE)),$(PYTHON_IMAGE),$(BASE_IMAGE))' \
	bash docker/smoke.sh

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
