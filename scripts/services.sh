#!/usr/bin/env bash
# The four services as local processes (uvicorn), on fixed ports.
#   scripts/services.sh start|stop|status [service...]
source "$(dirname "$0")/lib.sh"

RUN_DIR="${CRM_STATE_DIR}/services"
PY="${REPO_ROOT}/.venv/bin/python"

http_get() {
  "$PY" -c 'import sys, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())
except Exception:
    sys.exit(1)' "$1" 2>/dev/null
}
http_ok() { http_get "$1" >/dev/null; }
mkdir -p "${RUN_DIR}"

start_one() {
  local name="$1" port module pidfile
  port="$(service_port "$name")"; module="$(service_module "$name")"
  pidfile="${RUN_DIR}/${name}.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    log "${name} already running (pid $(cat "$pidfile"))"; return 0
  fi
  local prefix; prefix="$(echo "${module}" | tr '[:lower:]' '[:upper:]')_"
  local url_var="${prefix}DATABASE_URL"
  export "${url_var}=${!url_var:-postgresql+asyncpg://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/$(service_db "$name")}"
  if port_open 127.0.0.1 "$port"; then
    die "port ${port} for ${name} is already taken by another process"
  fi
  log "starting ${name} on 127.0.0.1:${port} (log: ${RUN_DIR}/${name}.log)"
  # nohup on its own (not after `cd &&`), so $! is the service's pid and not a subshell's.
  cd "${REPO_ROOT}"
  nohup "$PY" -m "${module}" serve --host "${CRM_BIND_HOST:-127.0.0.1}" --port "${port}" \
    >"${RUN_DIR}/${name}.log" 2>&1 &
  echo $! > "$pidfile"
}

wait_ready() {
  local name="$1" port deadline
  port="$(service_port "$name")"; deadline=$((SECONDS + 120))
  while (( SECONDS < deadline )); do
    if http_ok "http://127.0.0.1:${port}/readyz"; then
      log "${name} ready"; return 0
    fi
    if ! kill -0 "$(cat "${RUN_DIR}/${name}.pid")" 2>/dev/null; then
      tail -n 30 "${RUN_DIR}/${name}.log" >&2; die "${name} exited during start-up"
    fi
    sleep 0.5
  done
  tail -n 30 "${RUN_DIR}/${name}.log" >&2
  die "${name} not ready within 120 s"
}

stop_one() {
  local name="$1" pidfile="${RUN_DIR}/$1.pid"
  [ -f "$pidfile" ] || return 0
  local pid; pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping ${name} (pid ${pid})"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

cmd="${1:-}"; shift || true
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=("${SERVICES[@]}")
case "$cmd" in
  start) for s in "${targets[@]}"; do start_one "$s"; done
         for s in "${targets[@]}"; do wait_ready "$s"; done ;;
  stop) for s in "${targets[@]}"; do stop_one "$s"; done ;;
  status) for s in "${targets[@]}"; do
            p="$(service_port "$s")"
            printf '%-20s %s\n' "$s" "$(http_get "http://127.0.0.1:${p}/readyz" || echo down)"
          done ;;
  *) echo "usage: $0 start|stop|status [service...]" >&2; exit 2 ;;
esac
