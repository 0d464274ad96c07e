#!/usr/bin/env bash
# PostgreSQL without Docker: Debian's package (installed when missing), a private cluster,
# one database per service (plus the test databases).
#   scripts/postgres.sh install|start|stop|status|createdb NAME...
source "$(dirname "$0")/lib.sh"

PGDATA_DIR="${CRM_STATE_DIR}/pg/data"
PGSOCK_DIR="${CRM_STATE_DIR}/pg/run"
PGLOG="${CRM_STATE_DIR}/pg/postgres.log"

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return 0; }; done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

install() {
  if pg_bindir >/dev/null; then return 0; fi
  [ "$(id -u)" = "0" ] || die "PostgreSQL is not installed; run as root or: sudo apt-get install -y postgresql"
  log "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  # The package starts its own 'main' cluster on 5432; ours takes that port.
  if command -v pg_ctlcluster >/dev/null; then
    for c in $(pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}'); do
      pg_ctlcluster "${c%/*}" "${c#*/}" stop 2>/dev/null || true
    done
  fi
}

psql_admin() {
  "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PG_PORT}" -U postgres "$@"
}

start() {
  install
  local bin; bin="$(pg_bindir)"
  mkdir -p "${CRM_STATE_DIR}/pg" "${PGSOCK_DIR}"
  chmod 755 "${CRM_STATE_DIR}" "${CRM_STATE_DIR}/pg" 2>/dev/null || true
  if [ "$(id -u)" = "0" ]; then chown -R postgres: "${CRM_STATE_DIR}/pg"; fi
  if [ ! -f "${PGDATA_DIR}/PG_VERSION" ]; then
    log "initialising a PostgreSQL cluster in ${PGDATA_DIR}"
    run_as_pg "${bin}/initdb" -D "${PGDATA_DIR}" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "${PGDATA_DIR}/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = ${PG_PORT}
unix_socket_directories = '${PGSOCK_DIR}'
max_connections = 300
shared_buffers = 256MB
# Local and test clusters trade durability on power loss for speed; never in production.
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
CONF
  fi
  if run_as_pg "${bin}/pg_ctl" -D "${PGDATA_DIR}" status >/dev/null 2>&1; then
    log "postgres already running"
  else
    if port_open 127.0.0.1 "${PG_PORT}"; then
      die "port ${PG_PORT} is taken by another server; stop it or set PG_PORT"
    fi
    log "starting postgres on 127.0.0.1:${PG_PORT}"
    run_as_pg "${bin}/pg_ctl" -D "${PGDATA_DIR}" -l "${PGLOG}" -w -t 60 start >/dev/null
  fi
  ensure_role
}

ensure_role() {
  psql_admin -d postgres <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${PG_USER}') THEN
    CREATE ROLE ${PG_USER} LOGIN CREATEDB PASSWORD '${PG_PASSWORD}';
  END IF;
END \$\$;
SQL
}

createdb() {
  local name
  for name in "$@"; do
    if ! psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '${name}'" | grep -q 1; then
      log "creating database ${name}"
      psql_admin -d postgres -c "CREATE DATABASE \"${name}\" OWNER ${PG_USER}"
    fi
  done
}

stop() {
  local bin; bin="$(pg_bindir)" || return 0
  if [ -f "${PGDATA_DIR}/postmaster.pid" ]; then
    log "stopping postgres"
    run_as_pg "${bin}/pg_ctl" -D "${PGDATA_DIR}" -m fast -w stop >/dev/null || true
  fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if port_open 127.0.0.1 "${PG_PORT}"; then echo "postgres up on ${PG_PORT}"; else echo "postgres down"; exit 1; fi ;;
  createdb) shift; createdb "$@" ;;
  *) echo "usage: $0 install|start|stop|restart|status|createdb NAME..." >&2; exit 2 ;;
esac
