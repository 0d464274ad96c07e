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
log "syncing the Python workspace (uv.lock)"
(cd "${REPO_ROOT}" && uv sync --frozen --quiet)
# The headless browser of the docs/page tests (Debian's chromium, when missing).
bash "$(dirname "$0")/chromium.sh"
