#!/bin/sh
# Scheduled backups (the `backup` service of docker-compose.yml): a `pg_dump -Fc` of the database
# every BACKUP_EVERY_SECONDS into BACKUP_DIR, named by its UTC time, the newest BACKUP_KEEP kept.
# The connection comes from libpq's variables (PGHOST, PGUSER, PGDATABASE, PGPASSWORD).
# BACKUP_ONCE=true takes one dump and exits (the restore drill, a manual backup before an upgrade).
# A dump is written under a temporary name and renamed once complete: an interrupted one is never
# taken for a backup, nor counted in the retention.
set -eu

dir=${BACKUP_DIR:-/backups}
every=${BACKUP_EVERY_SECONDS:-86400}
keep=${BACKUP_KEEP:-14}
case "$keep" in '' | *[!0-9]* | 0) echo "BACKUP_KEEP must be a positive whole number" >&2; exit 2 ;; esac
case "$every" in '' | *[!0-9]* | 0) echo "BACKUP_EVERY_SECONDS must be a positive whole number" >&2; exit 2 ;; esac

backup() {
    name="$dir/${PGDATABASE:-pdi}-$(date -u +%Y%m%dT%H%M%SZ).dump"
    pg_dump -Fc --no-owner --file "$name.partial"
    mv "$name.partial" "$name"
    echo "backup: $name ($(wc -c < "$name") bytes)"
    # The oldest beyond the count go (names sort by time).
    ls -1 "$dir"/*.dump 2>/dev/null | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
        rm -f -- "$old"
        echo "backup: removed $old"
    done
}

mkdir -p "$dir"
rm -f "$dir"/*.partial
if [ "${BACKUP_ONCE:-false}" = true ]; then
    backup
    exit 0
fi
while :; do
    # A failed dump (database restarting) is reported and tried again at the next turn.
    backup || echo "backup: pg_dump failed; next attempt in $every s" >&2
    sleep "$every" &
    wait $!  # so that `docker compose stop` (SIGTERM) ends the wait at once
done
