#!/usr/bin/env bash
# Make sure a PostgreSQL server for the tests is running, and print its URL on stdout
# (the only thing printed on stdout; notes go to stderr).
#
#   - FIELDSYNC_TEST_PG_URL set: nothing to do, print it.
#   - otherwise: a throwaway cluster in var/pgtest, owned by the `postgres` system user when run
#     as root (postgres refuses to run as root), trust auth, listening on 127.0.0.1:54329 only
#     (FIELDSYNC_TEST_PG_PORT overrides the port), with database fieldsync_test.
# Idempotent: if the server is already up it only prints the URL. Stop it with
#   scripts/pg.sh stop
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${FIELDSYNC_TEST_PG_PORT:-54329}"
DBNAME=fieldsync_test
URL="postgresql+asyncpg://postgres@127.0.0.1:${PORT}/${DBNAME}"

if [[ -n "${FIELDSYNC_TEST_PG_URL:-}" && "${1:-}" != stop ]]; then
    echo "$FIELDSYNC_TEST_PG_URL"
    exit 0
fi

note() { echo "pg.sh: $*" >&2; }
die() { note "$*"; exit 1; }

# Debian's server binaries; the highest installed major version wins.
BIN=""
for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/postgres" ]] || continue
    v="$(basename "$(dirname "$d")")"
    if [[ -z "$BIN" || "$v" -gt "$(basename "$(dirname "$BIN")")" ]]; then BIN="$d"; fi
done
[[ -n "$BIN" ]] || die "no PostgreSQL server under /usr/lib/postgresql/*/bin (run scripts/install.sh)"
MAJOR="$(basename "$(dirname "$BIN")")"

# Run a command as the cluster's owner: `postgres` when we are root, else ourselves.
if [[ "$(id -u)" == 0 ]]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' system user (install the postgresql package)"
    # From /, since the owner may not be allowed into the current folder (all paths are absolute).
    as_owner() { (cd / && runuser -u postgres -- "$@"); }
    OWNER=postgres
else
    as_owner() { "$@"; }
    OWNER="$(id -un)"
fi

mkdir -p "$ROOT/var"
exec 9>"$ROOT/var/pgtest.lock"
flock 9  # one pg.sh at a time (several test runs may start together)

# The cluster's owner must be able to reach var/pgtest; a clone under a private folder
# (e.g. mode 700 in root's home) may not allow that, so fall back to a folder it can use.
PGDIR="$ROOT/var/pgtest"
mkdir -p "$PGDIR"
[[ "$(id -u)" == 0 ]] && chown "$OWNER": "$PGDIR"
if ! as_owner test -w "$PGDIR" -a -x "$PGDIR"; then
    PGDIR="/tmp/fieldsync-pgtest-$(echo "$ROOT" | sha256sum | cut -c1-12)"
    [[ "${1:-}" == stop ]] || note "postgres cannot reach $ROOT/var/pgtest; using $PGDIR"
    mkdir -p "$PGDIR"
    [[ "$(id -u)" == 0 ]] && chown "$OWNER": "$PGDIR"
fi
chmod 700 "$PGDIR"

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U postgres; }
psql_() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }

if [[ "${1:-}" == stop ]]; then
    if [[ -f "$PGDIR/postmaster.pid" ]]; then
        as_owner "$BIN/pg_ctl" -D "$PGDIR" -m fast -w stop >/dev/null 2>&1 || true
    fi
    exit 0
fi

if ! ready; then
    # (Re)create the cluster if missing, half-made, or made by another major version.
    if [[ "$(cat "$PGDIR/PG_VERSION" 2>/dev/null || true)" != "$MAJOR" ]]; then
        if [[ -f "$PGDIR/postmaster.pid" ]]; then
            as_owner "$BIN/pg_ctl" -D "$PGDIR" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        find "$PGDIR" -mindepth 1 -delete
        note "initdb (PostgreSQL $MAJOR) in $PGDIR"
        locale=C
        locale -a 2>/dev/null | grep -qix 'c.utf-\?8' && locale=C.UTF-8
        log="$(mktemp)"
        if ! as_owner "$BIN/initdb" -D "$PGDIR" -U postgres -E UTF8 --locale="$locale" \
            --auth=trust >"$log" 2>&1; then
            cat "$log" >&2; rm -f "$log"; die "initdb failed"
        fi
        rm -f "$log"
        cat >"$PGDIR/pg_hba.conf" <<'EOF'
# fieldsync test cluster: trust, loopback only.
local   all   all                 trust
host    all   all   127.0.0.1/32  trust
host    all   all   ::1/128       trust
EOF
        echo "include_if_exists = 'fieldsync.conf'" >>"$PGDIR/postgresql.conf"
        chown "$OWNER": "$PGDIR/pg_hba.conf"
    fi

    # Settings are rewritten on every start, so changes here reach existing clusters.
    sockdir="$PGDIR"
    # A unix socket path is limited to 107 bytes; skip the socket if the folder is too deep.
    ((${#sockdir} + 20 < 107)) || sockdir=""
    cat >"$PGDIR/fieldsync.conf" <<EOF
# Written by scripts/pg.sh on each start.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$sockdir'
max_connections = 200
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_min_messages = warning
log_checkpoints = off
# Throwaway test data: durability across an OS crash is not needed, speed is.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    chown "$OWNER": "$PGDIR/fieldsync.conf"

    # A postmaster.pid left by a machine restart can name a pid now used by something else.
    if [[ -f "$PGDIR/postmaster.pid" ]]; then
        pid="$(head -n1 "$PGDIR/postmaster.pid")"
        if ! [[ "$pid" =~ ^[0-9]+$ ]] || [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" != postgres ]]; then
            rm -f "$PGDIR/postmaster.pid"
        else
            # Our server is running but not answering on this port: restart it.
            as_owner "$BIN/pg_ctl" -D "$PGDIR" -m fast -w stop >/dev/null 2>&1 || true
        fi
    fi

    note "starting PostgreSQL $MAJOR on 127.0.0.1:$PORT"
    # 9>&-: the server must not inherit the lock's descriptor, or it would hold the lock forever.
    if ! as_owner "$BIN/pg_ctl" -D "$PGDIR" -l "$PGDIR/server.log" -w -t 60 start >/dev/null 9>&-; then
        tail -n 20 "$PGDIR/server.log" >&2 || true
        die "PostgreSQL did not start (log: $PGDIR/server.log)"
    fi
    for _ in $(seq 1 100); do ready && break; sleep 0.1; done
    ready || die "PostgreSQL started but does not accept connections on 127.0.0.1:$PORT"
fi

if [[ "$(psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'")" != 1 ]]; then
    psql_ -d postgres -c "CREATE DATABASE $DBNAME TEMPLATE template0" >/dev/null
fi

echo "$URL"
