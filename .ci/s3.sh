#!/usr/bin/env bash
# A throwaway S3-compatible server for the tests: moto's server from PyPI, on 127.0.0.1.
# Installs it if missing and starts it if it is not already answering. Idempotent.
#
#   export SLUICE_TEST_S3_ENDPOINT="$(.ci/s3.sh)"
#
# The endpoint URL is the only line on stdout; progress goes to stderr. Tests create their own
# uniquely named buckets, so one server serves every test.
set -euo pipefail

port="${SLUICE_S3_PORT:-55433}"
log_file="${SLUICE_S3_LOG:-/tmp/sluice-s3.log}"
endpoint="http://127.0.0.1:$port"

exec 3>&1 1>&2

log() { printf 's3.sh: %s\n' "$*"; }

answers() { python3 - "$endpoint" <<'EOF'
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=2)
except Exception:
    sys.exit(1)
EOF
}

if ! answers; then
  if ! python3 -c 'import moto.server, flask' >/dev/null 2>&1; then
    log "installing moto[server] with pip"
    python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
  fi
  log "starting moto's server on $endpoint (log: $log_file)"
  # `python3 -m` needs no console script on PATH (pyenv shims appear only after a rehash).
  # setsid: the server outlives this script; `3>&-` keeps it off the captured stdout.
  setsid python3 -m moto.server -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 3>&- < /dev/null &
  for _ in $(seq 1 100); do
    answers && break
    sleep 0.2
  done
  if ! answers; then
    log "moto's server does not answer on $endpoint (see $log_file)"
    exit 1
  fi
fi

printf '%s\n' "$endpoint" >&3
