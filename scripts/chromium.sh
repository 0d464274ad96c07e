#!/usr/bin/env bash
# Debian's `chromium`, the headless browser the docs and page tests drive through Playwright
# (crm_testing.browser). Playwright's own browser downloads are never used: the pinned PyPI
# `playwright` launches this binary. Idempotent; installs only when missing.
source "$(dirname "$0")/lib.sh"

CHROMIUM="${CRM_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}"
if [ -x "${CHROMIUM}" ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  die "Chromium is needed by the browser tests and is not installed: run as root to have it" \
    "installed, or: sudo apt-get install -y chromium (or set CRM_CHROMIUM to a Chromium binary)"
fi
log "installing Debian's chromium (for the headless browser tests)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
[ -x /usr/bin/chromium ] || die "apt-get installed chromium but /usr/bin/chromium is missing"
log "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo installed)"
