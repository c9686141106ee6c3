#!/usr/bin/env bash
# `make image-smoke`: build the image and run it as production would, against a fresh database
# on the local PostgreSQL, then check what only a running container shows. One "ok: ..." line
# per check; the first failure stops the script with its reason (and the container's log).
#
#   PYTHON_IMAGE  the base (default: the stand-in of `make image-base`, built when missing)
#   PG_HOST, PG_PORT, PG_USER   the PostgreSQL server (127.0.0.1, 5432, postgres; trust auth)
#   CONTAINER_ENGINE            docker or podman (default: docker if its daemon answers)
#
# The container shares the host's network but listens on 127.0.0.1 only, on a free port; the
# database is dropped and the container removed at the end, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=docker/engine.sh
source docker/engine.sh
container_engine_detect

BASE_IMAGE=${BASE_IMAGE:-localhost/pdi-python-base:3.11-bookworm}
PYTHON_IMAGE=${PYTHON_IMAGE:-$BASE_IMAGE}
IMAGE=${IMAGE:-catalogue-pdi}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
READY_TIMEOUT=${READY_TIMEOUT:-90}
STOP_LIMIT=10

started=$(date +%s)
run_id="$(date +%s)_$$"
db="pdi_smoke_$run_id"
container="pdi-smoke-$run_id"
engine() { "${ENGINE[@]}" "$@"; }
# Podman schedules healthchecks with systemd timers and says so on every run and stop where no
# systemd runs; the check below runs the image's HEALTHCHECK command itself, so that is noise.
engine_filtered() { "${ENGINE[@]}" "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
psql_admin() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -v ON_ERROR_STOP=1 -qAtc "$1"; }
psql_db() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$db" -v ON_ERROR_STOP=1 -qAtc "$1"; }
ok() { echo "ok: $*"; }
fail() {
    echo "FAIL: $*" >&2
    if [ -n "${container_started:-}" ]; then
        echo "--- last lines of the container's log:" >&2
        engine logs --tail 40 "$container" >&2 2>&1 || true
    fi
    exit 1
}
http_status() { curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }

build_log=$(mktemp "${TMPDIR:-/tmp}/pdi-smoke-build.XXXXXX")
cleanup() {
    rm -f "$build_log"
    engine rm --force "$container" >/dev/null 2>&1 || true
    psql_admin "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT

for tool in psql curl python3; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing"
done

# --- the image ---------------------------------------------------------------------------
if [ "$PYTHON_IMAGE" = "$BASE_IMAGE" ]; then
    BASE_IMAGE=$BASE_IMAGE bash docker/image-base.sh
fi
IMAGE=$IMAGE PYTHON_IMAGE=$PYTHON_IMAGE bash docker/image.sh >"$build_log" 2>&1 || {
    tail -n 40 "$build_log" >&2
    fail "the image did not build (log above)"
}
ok "image $IMAGE built on $PYTHON_IMAGE with $ENGINE_NAME ($(($(date +%s) - started)) s so far)"

# --- a fresh database and a free loopback port ---------------------------------------------
psql_admin "CREATE DATABASE $db" || fail "cannot create a database on $PG_HOST:$PG_PORT as $PG_USER"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
base_url="http://127.0.0.1:$port"

# The image's ENTRYPOINT (migrations) and its CMD, bound to loopback on the free port.
engine_filtered run --detach --name "$container" "${ENGINE_FLAGS[@]}" \
    --env PDI_ENV=production \
    --env PDI_SECRET_KEY="$secret" \
    --env DATABASE_URL="postgresql+psycopg://$PG_USER@$PG_HOST:$PG_PORT/$db" \
    "$IMAGE" uvicorn app.main:app --host 127.0.0.1 --port "$port" --proxy-headers >/dev/null ||
    fail "the container did not start"
container_started=1

deadline=$(($(date +%s) + READY_TIMEOUT))
until [ "$(http_status "$base_url/readyz")" = 200 ]; do
    [ "$(engine inspect --format '{{.State.Running}}' "$container")" = true ] ||
        fail "the container exited (code $(engine inspect --format '{{.State.ExitCode}}' "$container")) before /readyz answered"
    [ "$(date +%s)" -lt "$deadline" ] || fail "/readyz not 200 after ${READY_TIMEOUT} s"
    sleep 0.5
done

# --- the checks ----------------------------------------------------------------------------
revision=$(psql_db "SELECT version_num FROM alembic_version" 2>/dev/null) || fail "no alembic_version table: the entrypoint did not migrate"
[ -n "$revision" ] || fail "alembic_version is empty: the entrypoint did not migrate"
# (The log is read whole: `grep -q` stops reading at its match, which pipefail calls a failure.)
grep -q "migrate: database schema is up to date" <<<"$(engine logs "$container" 2>&1)" ||
    fail "the entrypoint's migration did not report"
ok "the entrypoint migrated the database (revision $revision)"

ok "/readyz answers 200"

listening=$(ss -Hltn "sport = :$port" | awk '{print $4}' | sort -u | tr '\n' ' ')
[ "$listening" = "127.0.0.1:$port " ] || fail "expected to listen on 127.0.0.1:$port only, found: $listening"
ok "listening on 127.0.0.1:$port only"

[ "$(http_status "$base_url/api/v1/conventions")" = 401 ] || fail "/api/v1/conventions without a key is not a 401"
created=$(engine exec "$container" pdi keys create --role admin --name smoke) || fail "pdi keys create failed in the container"
key=$(printf '%s\n' "$created" | tail -n 1)
[ -n "$key" ] || fail "pdi keys create printed no key"
status=$(http_status -H "Authorization: Bearer $key" "$base_url/api/v1/conventions")
[ "$status" = 200 ] || fail "/api/v1/conventions with the new key: $status, not 200"
ok "a key made by \`pdi keys create\` in the container opens /api/v1/conventions (200; 401 without)"

exec_uid=$(engine exec "$container" id -u)
[ "$exec_uid" = 10001 ] || fail "commands in the container run as uid $exec_uid, not 10001"
# shellcheck disable=SC2016  # awk's fields, not the shell's
server_uids=$(engine exec "$container" awk '/^Uid:/ {print $2, $3, $4, $5}' /proc/1/status)
[ "$server_uids" = "10001 10001 10001 10001" ] || fail "the server (PID 1) runs as uids $server_uids, not 10001"
ok "the server and \`exec\` run as uid 10001"

for path in /srv/pdi/app/smoke /srv/pdi/migrations/smoke /srv/pdi/docker/smoke /srv/pdi/smoke /usr/local/smoke; do
    if engine exec "$container" touch "$path" 2>/dev/null; then
        fail "the process could write $path: only /srv/pdi/var should be writable"
    fi
done
engine exec "$container" touch /srv/pdi/var/smoke || fail "the process cannot write /srv/pdi/var"
ok "writes outside /srv/pdi/var are refused; /srv/pdi/var is writable"

# The image's HEALTHCHECK, as the image declares it; it names the default port 8000, so the
# command is run with this container's port (the only change).
healthcheck=$(engine image inspect --format '{{json .Config.Healthcheck.Test}}' "$IMAGE")
health_lines=$(HEALTHCHECK="$healthcheck" PORT="$port" python3 -c '
import json, os, sys
test = json.loads(os.environ["HEALTHCHECK"] or "null")
if not test or test[0] != "CMD" or not any("127.0.0.1:8000" in part for part in test):
    sys.exit(f"unexpected HEALTHCHECK: {test}")
for part in test[1:]:
    print(part.replace("127.0.0.1:8000", "127.0.0.1:" + os.environ["PORT"]))
') || fail "the image declares no usable HEALTHCHECK ($healthcheck)"
mapfile -t health_command <<<"$health_lines"
engine exec "$container" "${health_command[@]}" || fail "the image's HEALTHCHECK command failed: ${health_command[*]}"
ok "the image's HEALTHCHECK command succeeds (${health_command[0]} ... /readyz)"

stop_started=$(python3 -c 'import time; print(time.monotonic())')
engine_filtered stop --time 30 "$container" >/dev/null || fail "stop failed"
stop_seconds=$(python3 -c "import time; print(f'{time.monotonic() - $stop_started:.1f}')")
exit_code=$(engine inspect --format '{{.State.ExitCode}}' "$container")
python3 -c "import sys; sys.exit(0 if $stop_seconds < $STOP_LIMIT else 1)" ||
    fail "stop took ${stop_seconds} s (limit ${STOP_LIMIT} s)"
[ "$exit_code" != 137 ] || fail "the server did not stop on SIGTERM: it was killed (exit code 137)"
grep -q "Finished server process" <<<"$(engine logs "$container" 2>&1)" ||
    fail "uvicorn did not report a clean shutdown"
ok "stop ends the container in ${stop_seconds} s (exit code $exit_code, uvicorn shut down cleanly)"

echo "image-smoke: all checks passed in $(($(date +%s) - started)) s"
