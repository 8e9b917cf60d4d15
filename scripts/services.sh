# Sourced by scripts/test and scripts/bench (after bootstrap.sh): a throwaway PostgreSQL and Redis
# in a temporary folder on free local ports, removed again when the script exits.
#
#   services_require [apt packages…]   install PostgreSQL, Redis (and the extras) when missing
#   services_start [what]              start both; prints "==> <what> against <version> on port …",
#                                      sets WORK, exports DATABASE_URL and CELERY_BROKER_URL, and
#                                      stops everything on exit (trap); creates the database roles
#                                      (below) and exports STEWARD_DB_APP_ROLE, STEWARD_DB_OWNER_URL
#                                      and STEWARD_DB_APP_URL
#   services_stop                      stop both and delete the folder (the trap calls it)

services_require() {
    local need_apt=()
    pg_bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
    [ -n "$pg_bindir" ] && [ -x "$pg_bindir/initdb" ] || need_apt+=(postgresql)
    command -v redis-server >/dev/null || need_apt+=(redis-server)
    local extra
    for extra in "$@"; do
        command -v "$extra" >/dev/null || need_apt+=("$extra")
    done
    [ ${#need_apt[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
        echo "==> installing ${need_apt[*]} with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
        pg_bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    else
        echo "missing: ${need_apt[*]} — install them (Debian: apt-get install ${need_apt[*]})" >&2
        exit 2
    fi
}

_free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# PostgreSQL refuses to run as root: run it as the unprivileged postgres (or nobody) user.
_db_user=""
as_db_user() { if [ -n "$_db_user" ]; then runuser -u "$_db_user" -- "$@"; else "$@"; fi; }

services_stop() {
    as_db_user "$pg_bindir/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$WORK"
}

services_start() {
    local what="${1:-testing}"
    [ -n "${pg_bindir:-}" ] || services_require
    WORK="$(mktemp -d /tmp/steward-test.XXXXXX)"
    PG_PORT="$(_free_port)"
    REDIS_PORT="$(_free_port)"
    if [ "$(id -u)" = "0" ]; then
        _db_user="postgres"; id "$_db_user" >/dev/null 2>&1 || _db_user="nobody"
        chown "$_db_user" "$WORK"; chmod 755 "$WORK"
    fi
    trap services_stop EXIT

    as_db_user "$pg_bindir/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 >/dev/null
    as_db_user "$pg_bindir/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
        -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK" --save "" --appendonly no --daemonize yes \
        --logfile "$WORK/redis.log" >/dev/null

    echo "==> $what against $("$pg_bindir/postgres" --version) on port $PG_PORT"
    echo "==> $what against $(redis-server --version | cut -d' ' -f1-3) on port $REDIS_PORT"

    # The two roles of docs/operations.md ("Database roles"): the owner runs migrations and owns
    # the tables; the app may read and insert on the audit table, nothing more (granted by
    # `migrate`, see audit/dbroles.py). The test suite itself connects as the superuser: Django's
    # test runner creates the test database and, between transactional tests, empties every table
    # with TRUNCATE, which the audit table refuses to any other role. Tests of the roles connect
    # (or SET ROLE) as steward_app / steward_owner.
    "$pg_bindir/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE ROLE steward_owner LOGIN CREATEDB;
CREATE ROLE steward_app LOGIN;
SQL

    export DATABASE_URL="postgres://postgres@127.0.0.1:${PG_PORT}/steward"
    export STEWARD_DB_OWNER_URL="postgres://steward_owner@127.0.0.1:${PG_PORT}/steward"
    export STEWARD_DB_APP_URL="postgres://steward_app@127.0.0.1:${PG_PORT}/steward"
    export STEWARD_DB_APP_ROLE="steward_app"
    export CELERY_BROKER_URL="redis://127.0.0.1:${REDIS_PORT}/0"
}
