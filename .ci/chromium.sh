#!/usr/bin/env bash
# Headless Chromium, ChromeDriver and Selenium for the console's browser test
# (tests/console/browser.py). Idempotent: installs only what is missing.
set -euo pipefail
log() { printf 'chromium.sh: %s\n' "$*" >&2; }
sudo=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  log "installing chromium and chromium-driver with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
fi
if ! python3 -c 'import selenium' >/dev/null 2>&1; then
  log "installing selenium from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore selenium >&2
fi
log "$(/usr/bin/chromium --version 2>/dev/null)"
