#!/usr/bin/env bash
# Validate the compose file without a Docker engine.
#   scripts/check-compose.sh [COMPOSE_FILE]     (default: docker-compose.yml at the repo root)
#
# Uses `docker compose config -q` when the Compose v2 plugin is there, else the standalone
# `docker-compose config -q` (v1.29). When neither exists and we are root, installs Debian's
# docker-compose package (without recommends, so no Docker engine comes with it).
# Exits 0 when the file is valid, 1 when it is not, 2 when no validator can be had.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"

COMPOSE_FILE_PATH="${1:-docker-compose.yml}"

log() { printf 'check-compose: %s\n' "$*" >&2; }

if [ ! -f "${COMPOSE_FILE_PATH}" ]; then
  log "no such file: ${COMPOSE_FILE_PATH}"
  exit 1
fi

# Files the compose file builds from or mounts; `config` does not open them.
for f in deploy/Dockerfile deploy/postgres/init-databases.sql; do
  if [ ! -f "${f}" ]; then
    log "missing ${f}"
    exit 1
  fi
done

# Variables in the environment would change what is validated; check the file as written.
unset COMPOSE_FILE COMPOSE_PROJECT_NAME COMPOSE_PROFILES

have_compose_plugin() {
  command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1
}

have_compose_v1() {
  command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1
}

install_compose_v1() {
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    return 1
  fi
  log "neither 'docker compose' nor 'docker-compose' found; installing Debian's docker-compose"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
}

if have_compose_plugin; then
  validator=(docker compose)
elif have_compose_v1; then
  validator=(docker-compose)
elif install_compose_v1 && have_compose_v1; then
  validator=(docker-compose)
else
  log "no compose validator: install the Docker Compose plugin or docker-compose" \
      "(apt-get install docker-compose), or run as root to have it installed"
  exit 2
fi

log "${validator[*]} -f ${COMPOSE_FILE_PATH} config -q"
if "${validator[@]}" -f "${COMPOSE_FILE_PATH}" config -q; then
  log "OK: ${COMPOSE_FILE_PATH} is valid"
else
  log "INVALID: ${COMPOSE_FILE_PATH}"
  exit 1
fi
