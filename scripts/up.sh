#!/usr/bin/env bash
# The whole system on this machine, without Docker: PostgreSQL, Kafka, the four services.
source "$(dirname "$0")/lib.sh"
t0=$SECONDS
bash "${REPO_ROOT}/scripts/bootstrap.sh"
bash "${REPO_ROOT}/scripts/postgres.sh" start
dbs=(); for s in "${SERVICES[@]}"; do dbs+=("$(service_db "$s")"); done
bash "${REPO_ROOT}/scripts/postgres.sh" createdb "${dbs[@]}"
bash "${REPO_ROOT}/scripts/kafka.sh" start
(cd "${REPO_ROOT}" && uv run --frozen crm-events topics create >/dev/null)
bash "${REPO_ROOT}/scripts/services.sh" start
log "system up in $((SECONDS - t0)) s; administrator key: \$CRM_ADMIN_API_KEY (${CRM_ADMIN_API_KEY})"
for s in "${SERVICES[@]}"; do
  printf '  %-20s http://127.0.0.1:%s/docs\n' "$s" "$(service_port "$s")"
done
