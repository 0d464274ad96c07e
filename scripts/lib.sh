# Shared settings for the local (Docker-less) stack scripts. Source it; do not run it.
# Every value can be overridden from the environment.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# Downloaded artifacts (Kafka jars) survive between runs; state (data, logs, pids) is per machine.
CRM_CACHE_DIR="${CRM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/crm}"
if [ "$(id -u)" = "0" ]; then
  # PostgreSQL refuses to run as root; its data must be reachable by the postgres user,
  # which a clone inside a private temp dir may not be.
  CRM_STATE_DIR="${CRM_STATE_DIR:-/var/tmp/crm}"
else
  CRM_STATE_DIR="${CRM_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/crm}"
fi
export CRM_CACHE_DIR CRM_STATE_DIR

KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx768m}"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${KAFKA_PORT}}"

PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-crm}"
PG_PASSWORD="${PG_PASSWORD:-crm}"
export PG_PORT PG_USER PG_PASSWORD

# The bootstrap administrator key of a local stack (issue real keys with it; see README).
export CRM_ADMIN_API_KEY="${CRM_ADMIN_API_KEY:-crm-local-admin-key}"
# The key obligation-tracker encrypts webhook signing secrets with, a development one
# (base64 of "crm-local-webhook-key-not-secret"): set your own (docs/obligation-tracker.md).
export OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS="${OBLIGATION_TRACKER_WEBHOOK_SECRET_KEYS:-Y3JtLWxvY2FsLXdlYmhvb2sta2V5LW5vdC1zZWNyZXQ=}"

SERVICES=(contract-registry obligation-tracker sla-monitor billing-reconciler)

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_port HOST PORT SECONDS: true once a TCP connect succeeds.
wait_port() {
  local host="$1" port="$2" deadline=$((SECONDS + $3))
  while (( SECONDS < deadline )); do
    if (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null; then return 0; fi
    sleep 0.3
  done
  return 1
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# run_as_pg CMD...: PostgreSQL binaries must not run as root.
run_as_pg() {
  # From /: the postgres user may not be allowed into the current directory.
  if [ "$(id -u)" = "0" ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

service_port() {
  case "$1" in
    contract-registry) echo 8001 ;;
    obligation-tracker) echo 8002 ;;
    sla-monitor) echo 8003 ;;
    billing-reconciler) echo 8004 ;;
    *) die "unknown service $1" ;;
  esac
}

service_module() { echo "${1//-/_}"; }

# The database of a service: crm_contract_registry, ...
service_db() { echo "crm_$(service_module "$1")"; }
