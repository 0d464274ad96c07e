#!/usr/bin/env bash
# Python side of a fresh machine: uv (from PyPI) and the locked workspace environment.
source "$(dirname "$0")/lib.sh"

if ! command -v uv >/dev/null 2>&1; then
  log "installing uv from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check uv \
    || python3 -m pip install --quiet --disable-pip-version-check --user uv
  export PATH="$HOME/.local/bin:$PATH"
  hash -r
fi
command -v uv >/dev/null || die "uv is not on PATH after installing it"
# jq: the README's chain (and tests/e2e/test_readme_chain.py, which runs it) reads ids with it.
if ! command -v jq >/dev/null 2>&1; then
  [ "$(id -u)" = "0" ] || die "jq is needed: sudo apt-get install -y jq"
  log "installing jq from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
fi
log "syncing the Python workspace (uv.lock)"
(cd "${REPO_ROOT}" && uv sync --frozen --quiet)
# The headless browser of the docs/page tests (Debian's chromium, when missing).
bash "$(dirname "$0")/chromium.sh"
# promtool, helm, kubeconform and the Kubernetes schemas for the deploy/ checks (cached).
bash "${REPO_ROOT}/scripts/ops-tools.sh"
