#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Manages a private PostgreSQL cluster kept in one folder: the data under
# DIR/data, the unix socket in DIR itself (no TCP port), the server log in
# DIR/postgres.log. Used by the tests, and meant for `weir up` (.weir/).
#
#   pg.sh start DIR              create the cluster if DIR has none, start
#                                it, create the database "weir" if missing,
#                                print the connection string on stdout
#   pg.sh stop DIR [fast|immediate]   stop it (fast by default)
#   pg.sh url DIR                print the connection string
#   pg.sh psql DIR [ARGS...]     run psql on the database "weir"
#
# As root, PostgreSQL runs as the "postgres" system user (it refuses root):
# DIR is given to that user, and every folder above DIR must let it pass.
# WEIR_PG_NOSYNC=1 skips fsync (initdb --no-sync, fsync=off): for tests only.
set -euo pipefail

WAIT_S=30 # longest wait for PostgreSQL to start or stop
PORT=5432 # only names the socket file; nothing listens on TCP

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '6,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

find_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        echo "$d"
        return
    fi
    d=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
    [ -x "$d/initdb" ] || die "no PostgreSQL server found (looked in /usr/lib/postgresql/*/bin and PATH; scripts/setup.sh installs it)"
    echo "$d"
}

# as_pg CMD...: runs CMD as the cluster's owner.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

db_user() {
    if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

url() {
    echo "host=$dir port=$PORT dbname=weir user=$(db_user)"
}

is_running() {
    [ -f "$dir/data/PG_VERSION" ] &&
        as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

check_name() {
    case "$dir" in *[\'\"\\\ ]*) die "$dir: the path may not hold quotes, backslashes or spaces" ;; esac
}

check_dir() {
    # The socket path must fit in sun_path (107 bytes).
    [ ${#dir} -le 90 ] || die "$dir: path too long for a unix socket (keep it under 90 characters)"
    check_name
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user (installed with the postgresql package)"
        chown postgres: "$dir"
        runuser -u postgres -- test -w "$dir" ||
            die "the postgres user cannot reach $dir: every folder above it must be traversable (chmod o+x)"
    fi
}

init_cluster() {
    local opts=(-D "$dir/data" -A trust -U "$(db_user)" -E UTF8 --locale=C)
    [ "${WEIR_PG_NOSYNC:-0}" = 1 ] && opts+=(--no-sync)
    as_pg "$bin/initdb" "${opts[@]}" >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        die "initdb failed in $dir/data"
    }
    echo "include_if_exists = 'weir.conf'" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
}

# Settings rewritten at every start, so that a moved folder still works.
write_conf() {
    {
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$dir'"
        echo "port = $PORT"
        if [ "${WEIR_PG_NOSYNC:-0}" = 1 ]; then
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } | as_pg tee "$dir/data/weir.conf" >/dev/null
}

psql_run() {
    as_pg "$bin/psql" -X -v ON_ERROR_STOP=1 -h "$dir" -p "$PORT" -U "$(db_user)" "$@"
}

cmd_start() {
    check_name
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    check_dir
    [ -f "$dir/data/PG_VERSION" ] || init_cluster
    if ! is_running; then
        write_conf
        as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t "$WAIT_S" start >/dev/null || {
            tail -n 20 "$dir/postgres.log" >&2 || true
            die "PostgreSQL did not start in $dir (log: $dir/postgres.log)"
        }
    fi
    if [ "$(psql_run -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'weir'")" != 1 ]; then
        psql_run -d postgres -qc 'CREATE DATABASE weir' >/dev/null ||
            die "cannot create the database weir"
    fi
    url
}

cmd_stop() {
    local mode=${1:-fast}
    case "$mode" in fast | immediate) ;; *) die "stop mode must be fast or immediate, got '$mode'" ;; esac
    [ -d "$dir" ] || die "$dir: no such folder"
    dir=$(cd "$dir" && pwd)
    if ! is_running; then
        echo "pg.sh: PostgreSQL in $dir is not running" >&2
        return 0
    fi
    as_pg "$bin/pg_ctl" -D "$dir/data" -m "$mode" -w -t "$WAIT_S" stop >/dev/null ||
        die "PostgreSQL in $dir did not stop within ${WAIT_S}s"
}

[ $# -ge 2 ] || usage
action=$1
dir=$2
shift 2
bin=$(find_bindir)
case "$action" in
start) [ $# -eq 0 ] || usage; cmd_start ;;
stop) cmd_stop "$@" ;;
url)
    dir=$(cd "$dir" 2>/dev/null && pwd) || die "$2: no such folder"
    url
    ;;
psql)
    dir=$(cd "$dir" 2>/dev/null && pwd) || die "$2: no such folder"
    psql_run -d weir "$@"
    ;;
*) usage ;;
esac
