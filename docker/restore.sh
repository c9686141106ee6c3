#!/usr/bin/env bash
# Restore a backup (a `pg_dump -Fc` file, docker/backup.sh) into a fresh database, gather its
# statistics, and check it: README, "Backups and restore". The database must not exist yet
# (pg_restore into a used one would mix two states); serve it once `pdi check` passes.
#   docker/restore.sh BACKUP_FILE DATABASE
# The connection comes from libpq's variables (PGHOST, PGPORT, PGUSER, PGPASSWORD); `pdi check`
# runs when PDI_CHECK_URL names the restored database as DATABASE_URL would (skipped if empty).
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 BACKUP_FILE DATABASE" >&2
    exit 2
fi
backup=$1 database=$2

echo "== createdb $database"
createdb "$database"
echo "== pg_restore $backup"
# One transaction: a restore that fails leaves an empty database, not half of one.
pg_restore --exit-on-error --single-transaction --no-owner --dbname "$database" "$backup"
# A restored database has no planner statistics (pg_dump carries none): without them the first
# queries are planned blind, and autovacuum may take a while to get to every table.
echo "== ANALYZE"
psql -v ON_ERROR_STOP=1 -qd "$database" -c ANALYZE
if [ -n "${PDI_CHECK_URL:-}" ]; then
    echo "== pdi check"
    DATABASE_URL=$PDI_CHECK_URL "${PDI:-pdi}" check
fi
echo "restored into $database"
