#!/usr/bin/env bash
# Apache Kafka (KRaft, one broker) without Docker: jars from Maven Central, the installed JDK.
#   scripts/kafka.sh fetch|start|stop|status
source "$(dirname "$0")/lib.sh"

KAFKA_HOME="${CRM_CACHE_DIR}/kafka-${KAFKA_VERSION}"
KAFKA_DATA="${CRM_STATE_DIR}/kafka"
PIDFILE="${CRM_STATE_DIR}/kafka.pid"

fetch() {
  if [ -f "${KAFKA_HOME}/.complete" ]; then return 0; fi
  if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    [ "$(id -u)" = "0" ] || die "a JDK 17+ and Maven are needed: sudo apt-get install -y openjdk-17-jre-headless maven"
    log "installing a JDK and Maven from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null
  fi
  log "fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central into ${KAFKA_HOME}/libs"
  rm -rf "${KAFKA_HOME}"
  mvn -q -B -Dstyle.color=never -f "${REPO_ROOT}/deploy/kafka/pom.xml" \
    -Dkafka.version="${KAFKA_VERSION}" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="${KAFKA_HOME}/libs"
  touch "${KAFKA_HOME}/.complete"
}

java_cmd() {
  java ${KAFKA_HEAP} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="${REPO_ROOT}/deploy/kafka/log4j2.properties" \
    -cp "${KAFKA_HOME}/libs/*" "$@"
}

write_config() {
  mkdir -p "${KAFKA_DATA}/logs"
  sed -e "s#@DATA@#${KAFKA_DATA}/data#" -e "s#@PORT@#${KAFKA_PORT}#g" \
      -e "s#@CONTROLLER_PORT@#${KAFKA_CONTROLLER_PORT}#g" \
      "${REPO_ROOT}/deploy/kafka/server.properties" > "${KAFKA_DATA}/server.properties"
}

start() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    log "kafka already running (pid $(cat "$PIDFILE"))"; return 0
  fi
  if port_open 127.0.0.1 "${KAFKA_PORT}"; then
    log "something already listens on ${KAFKA_PORT}; using it as the broker"; return 0
  fi
  fetch
  write_config
  if [ ! -f "${KAFKA_DATA}/data/meta.properties" ]; then
    local cluster_id
    cluster_id="$(java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    log "formatting KRaft storage (cluster ${cluster_id})"
    java_cmd kafka.tools.StorageTool format -t "${cluster_id}" -c "${KAFKA_DATA}/server.properties" --standalone >/dev/null
  fi
  log "starting kafka ${KAFKA_VERSION} on 127.0.0.1:${KAFKA_PORT}"
  nohup java ${KAFKA_HEAP} -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="${REPO_ROOT}/deploy/kafka/log4j2.properties" \
    -cp "${KAFKA_HOME}/libs/*" kafka.Kafka "${KAFKA_DATA}/server.properties" \
    >"${KAFKA_DATA}/logs/stdout.log" 2>&1 &
  echo $! > "$PIDFILE"
  # A broker restarted on a busy machine takes its time (JVM start, log recovery).
  local timeout="${KAFKA_START_TIMEOUT_SECONDS:-90}"
  if ! wait_port 127.0.0.1 "${KAFKA_PORT}" "${timeout}"; then
    tail -n 40 "${KAFKA_DATA}/logs/stdout.log" >&2 || true
    die "kafka did not open port ${KAFKA_PORT} within ${timeout} s"
  fi
  log "kafka is up (pid $(cat "$PIDFILE"))"
}

stop() {
  if [ -f "$PIDFILE" ]; then
    local pid; pid="$(cat "$PIDFILE")"
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping kafka (pid $pid)"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) if port_open 127.0.0.1 "${KAFKA_PORT}"; then echo "kafka up on ${KAFKA_PORT}"; else echo "kafka down"; exit 1; fi ;;
  reset) stop; rm -rf "${KAFKA_DATA}" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset" >&2; exit 2 ;;
esac
