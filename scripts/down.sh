#!/usr/bin/env bash
source "$(dirname "$0")/lib.sh"
bash "${REPO_ROOT}/scripts/services.sh" stop
bash "${REPO_ROOT}/scripts/kafka.sh" stop
bash "${REPO_ROOT}/scripts/postgres.sh" stop
