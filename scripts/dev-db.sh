#!/usr/bin/env bash
# Make sure a PostgreSQL server answers at DATABASE_URL and that its database exists.
#
#   scripts/dev-db.sh          ensure server + database (idempotent)
#   scripts/dev-db.sh stop     stop the project-local cluster (if this script started one)
#   scripts/dev-db.sh status   tell what answers where
#
# DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/xyt.
#
# If something already answers on the URL's host/port (e.g. the machine's system
# PostgreSQL), only the database is created when missing. Otherwise, for a local
# host, a project-local cluster is initialised in .data/pg (trust auth, UTF8,
# locale C) and started on that host/port, logging to .data/pg.log, with its unix
# socket in .data/sock. As root, initdb/pg_ctl run as the `postgres` system user
# (override with XYT_PG_OS_USER), which then owns .data/pg.
#
# Overrides: XYT_DEV_DATA_DIR (default <repo>/.data), PG_BINDIR (server binaries).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEFAULT_URL="postgres://postgres@127.0.0.1:5432/xyt"
URL="${DATABASE_URL:-$DEFAULT_URL}"
CMD="${1:-start}"

log() { printf 'dev-db: %s\n' "$*" >&2; }
die() { printf 'dev-db: error: %s\n' "$*" >&2; exit 1; }

# --- parse DATABASE_URL: postgres[ql]://[user[:password]@]host[:port][/db][?params]
url_re='^postgres(ql)?://(([^:@/]*)(:([^@/]*))?@)?(\[[^]]+\]|[^:/?]*)(:([0-9]+))?(/([^?]*))?(\?.*)?$'
[[ "$URL" =~ $url_re ]] || die "cannot parse DATABASE_URL '$URL' (expected postgres://user[:pass]@host[:port]/db)"
DB_USER="${BASH_REMATCH[3]:-postgres}"
DB_PASS="${BASH_REMATCH[5]:-}"
DB_HOST="${BASH_REMATCH[6]:-127.0.0.1}"
DB_PORT="${BASH_REMATCH[8]:-5432}"
DB_NAME="${BASH_REMATCH[10]:-$DB_USER}"
DB_HOST="${DB_HOST#[}"; DB_HOST="${DB_HOST%]}"
[[ -n "$DB_HOST" ]] || DB_HOST=127.0.0.1
[[ -n "$DB_NAME" ]] || DB_NAME="$DB_USER"
if [[ -n "$DB_PASS" ]]; then export PGPASSWORD="$DB_PASS"; fi
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-5}"

# --- where the local cluster lives and who runs it
DATA_DIR="${XYT_DEV_DATA_DIR:-$ROOT/.data}"
PGDATA_DIR="$DATA_DIR/pg"
SOCK_DIR="$DATA_DIR/sock"
LOG_FILE="$DATA_DIR/pg.log"
PG_OS_USER=""
if [[ "$(id -u)" == 0 ]]; then
  PG_OS_USER="${XYT_PG_OS_USER:-postgres}"
fi

# As root, the cluster owner must be able to reach the repo. If a parent directory
# is closed to it (e.g. a checkout under /root), keep the cluster under /var/tmp.
if [[ -n "$PG_OS_USER" && -z "${XYT_DEV_DATA_DIR:-}" ]] && id "$PG_OS_USER" >/dev/null 2>&1 \
   && ! runuser -u "$PG_OS_USER" -- test -x "$ROOT" 2>/dev/null; then
  DATA_DIR="/var/tmp/xyt-dev-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
  PGDATA_DIR="$DATA_DIR/pg"; SOCK_DIR="$DATA_DIR/sock"; LOG_FILE="$DATA_DIR/pg.log"
  printf 'dev-db: note: user %s cannot reach %s; using %s for the local cluster\n' "$PG_OS_USER" "$ROOT" "$DATA_DIR" >&2
fi

# Run a PostgreSQL server command as the cluster owner (initdb refuses root).
as_pg() {
  if [[ -n "$PG_OS_USER" ]]; then
    # From /, since the cwd may be closed to that user; all paths here are absolute.
    if command -v runuser >/dev/null 2>&1; then
      (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
      local q; printf -v q '%q ' "$@"
      (cd / && su -s /bin/sh "$PG_OS_USER" -c "$q")
    fi
  else
    "$@"
  fi
}

is_local_host() {
  case "$1" in 127.*|localhost|::1|0.0.0.0) return 0 ;; *) return 1 ;; esac
}

answers() { pg_isready -q -h "$DB_HOST" -p "$DB_PORT" -t 3 >/dev/null 2>&1; }

psql_admin() {
  psql -X -v ON_ERROR_STOP=1 -q -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d postgres "$@"
}

find_bindir() {
  local d
  if [[ -n "${PG_BINDIR:-}" ]]; then
    [[ -x "$PG_BINDIR/initdb" ]] || die "PG_BINDIR=$PG_BINDIR has no initdb"
    echo "$PG_BINDIR"; return
  fi
  if command -v pg_config >/dev/null 2>&1; then
    d="$(pg_config --bindir 2>/dev/null || true)"
    if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; return; fi
  fi
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; return; fi
  die "no PostgreSQL server binaries found (pg_config --bindir, /usr/lib/postgresql/*/bin); install e.g. 'apt-get install -y postgresql' or set PG_BINDIR"
}

cluster_running() {
  [[ -f "$PGDATA_DIR/PG_VERSION" ]] || return 1
  local bindir; bindir="$(find_bindir)"
  as_pg "$bindir/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1
}

ensure_database() {
  local exists
  exists="$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME//\'/\'\'}'")" \
    || die "cannot connect to postgres://$DB_USER@$DB_HOST:$DB_PORT/postgres"
  if [[ "$exists" == 1 ]]; then
    log "database '$DB_NAME' exists on $DB_HOST:$DB_PORT"
  else
    log "creating database '$DB_NAME' on $DB_HOST:$DB_PORT"
    # Tolerate a concurrent creator: re-check after a failure.
    local err
    if ! err="$(psql_admin -c "CREATE DATABASE \"${DB_NAME//\"/\"\"}\"" 2>&1)"; then
      exists="$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME//\'/\'\'}'" || true)"
      [[ "$exists" == 1 ]] || die "could not create database '$DB_NAME': $err"
    fi
  fi
}

prepare_dirs() {
  mkdir -p "$DATA_DIR" "$PGDATA_DIR" "$SOCK_DIR"
  touch "$LOG_FILE"
  chmod 700 "$PGDATA_DIR"
  if [[ -n "$PG_OS_USER" ]]; then
    id "$PG_OS_USER" >/dev/null 2>&1 \
      || die "running as root but OS user '$PG_OS_USER' does not exist (initdb refuses root); create it or set XYT_PG_OS_USER"
    chown -R "$PG_OS_USER:" "$PGDATA_DIR" "$SOCK_DIR" "$LOG_FILE"
    as_pg test -w "$PGDATA_DIR" \
      || die "user '$PG_OS_USER' cannot reach $PGDATA_DIR (a parent directory is not traversable); set XYT_DEV_DATA_DIR to a directory it can use"
  fi
}

start_local() {
  is_local_host "$DB_HOST" \
    || die "nothing answers at $DB_HOST:$DB_PORT and it is not a local address: start that server yourself"

  local bindir; bindir="$(find_bindir)"
  local major; major="$("$bindir/postgres" --version | awk '{print $3}' | sed -E 's/^([0-9]+).*/\1/')"
  prepare_dirs

  if [[ -f "$PGDATA_DIR/PG_VERSION" ]]; then
    local have; have="$(cat "$PGDATA_DIR/PG_VERSION")"
    [[ "$have" == "$major" ]] \
      || die "$PGDATA_DIR was initialised by PostgreSQL $have but the binaries in $bindir are $major; remove $PGDATA_DIR (its data is lost) or set PG_BINDIR"
  else
    if [[ -n "$(ls -A "$PGDATA_DIR")" ]]; then
      die "$PGDATA_DIR is not empty but holds no cluster; remove it and retry"
    fi
    log "initialising local PostgreSQL $major cluster in $PGDATA_DIR (superuser '$DB_USER', trust auth)"
    as_pg "$bindir/initdb" -D "$PGDATA_DIR" -U "$DB_USER" --auth=trust -E UTF8 --locale=C \
      >>"$LOG_FILE" 2>&1 || { tail -n 20 "$LOG_FILE" >&2; die "initdb failed (log: $LOG_FILE)"; }
  fi

  if as_pg "$bindir/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    die "the local cluster in $PGDATA_DIR is running but does not answer at $DB_HOST:$DB_PORT (started with another DATABASE_URL?); run '$0 stop' first"
  fi

  local listen="$DB_HOST"
  log "starting local PostgreSQL on $DB_HOST:$DB_PORT (log: $LOG_FILE)"
  # fsync off: a throw-away dev/test cluster, speed over durability.
  as_pg "$bindir/pg_ctl" -D "$PGDATA_DIR" -l "$LOG_FILE" -w -t 60 \
    -o "-c listen_addresses='$listen' -p $DB_PORT -k '$SOCK_DIR' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { tail -n 20 "$LOG_FILE" >&2; die "pg_ctl start failed (log: $LOG_FILE)"; }

  for _ in $(seq 1 60); do
    answers && return 0
    sleep 0.5
  done
  tail -n 20 "$LOG_FILE" >&2
  die "local PostgreSQL started but does not answer at $DB_HOST:$DB_PORT (log: $LOG_FILE)"
}

case "$CMD" in
  start|"")
    if answers; then
      log "a PostgreSQL server answers at $DB_HOST:$DB_PORT"
    else
      # pg_isready exit 1 = server is starting up: give it a moment first.
      for _ in $(seq 1 10); do
        rc=0; pg_isready -q -h "$DB_HOST" -p "$DB_PORT" -t 2 >/dev/null 2>&1 || rc=$?
        [[ $rc == 1 ]] || break
        sleep 1
      done
      answers || start_local
    fi
    ensure_database
    log "ready: postgres://$DB_USER@$DB_HOST:$DB_PORT/$DB_NAME"
    ;;
  stop)
    if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
      log "no local cluster in $PGDATA_DIR: nothing to stop"
    elif cluster_running; then
      log "stopping local PostgreSQL in $PGDATA_DIR"
      as_pg "$(find_bindir)/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
      log "stopped"
    else
      log "local cluster in $PGDATA_DIR is not running"
    fi
    ;;
  status)
    if answers; then log "a PostgreSQL server answers at $DB_HOST:$DB_PORT"; else log "nothing answers at $DB_HOST:$DB_PORT"; fi
    if cluster_running; then log "local cluster in $PGDATA_DIR is running"; else log "local cluster in $PGDATA_DIR is not running"; fi
    ;;
  *)
    die "usage: $0 [start|stop|status]"
    ;;
esac
