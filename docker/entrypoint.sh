#!/bin/sh
# Container start: bring the database schema to head (Alembic), load the seed catalogue when
# PDI_SEED_ON_START=true, then hand the process over to the command (uvicorn by default), so
# that it runs as PID 1 and receives the stop signal itself.
set -eu

# The project root (the directory holding app/, alembic.ini and migrations/), wherever we start.
cd "$(dirname "$0")/.."

pdi_command() {
    if command -v pdi >/dev/null 2>&1; then
        pdi "$@"
    else
        python -m app.cli "$@"
    fi
}

is_true() {
    case "$1" in
        true | True | TRUE | 1 | yes) return 0 ;;
        *) return 1 ;;
    esac
}

# `alembic upgrade head` under a PostgreSQL advisory lock (docker/migrate.py): several replicas
# starting at once migrate once, the others wait for it. PDI_MIGRATE_ON_START=false leaves the
# migrations to a release job (`pdi migrate`).
if is_true "${PDI_MIGRATE_ON_START:-true}"; then
    python docker/migrate.py
fi
if is_true "${PDI_SEED_ON_START:-false}"; then
    pdi_command seed
fi

exec "$@"
