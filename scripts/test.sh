#!/usr/bin/env bash
# The full test suite on a real PostgreSQL and a real Kafka broker.
# Starts what is not running (and stops only what it started), then runs pytest.
#   scripts/test.sh [pytest args...]
source "$(dirname "$0")/lib.sh"

bash "${REPO_ROOT}/scripts/bootstrap.sh"

started=()
cleanup() {
  local rc=$?
  for what in "${started[@]}"; do bash "${REPO_ROOT}/scripts/${what}.sh" stop || true; done
  exit $rc
}
trap cleanup EXIT

if ! port_open 127.0.0.1 "${PG_PORT}"; then
  bash "${REPO_ROOT}/scripts/postgres.sh" start; started+=(postgres)
fi
if ! port_open 127.0.0.1 "${KAFKA_PORT}"; then
  bash "${REPO_ROOT}/scripts/kafka.sh" start; started+=(kafka)
fi

export DATABASE_URL="${DATABASE_URL:-postgresql://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/postgres}"
export KAFKA_BOOTSTRAP_SERVERS
log "running the test suite (PostgreSQL on ${PG_PORT}, Kafka on ${KAFKA_BOOTSTRAP_SERVERS})"
cd "${REPO_ROOT}"
t0=$SECONDS
set +e
uv run --frozen pytest "$@"
rc=$?
set -e
log "test suite finished in $((SECONDS - t0)) s (exit ${rc})"
exit $rc
