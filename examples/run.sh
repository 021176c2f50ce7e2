#!/usr/bin/env bash
# Runs every Python example against a fresh `sluice serve` with an in-memory store.
#   examples/run.sh                      # uses the debug build
#   SLUICE_BIN=target/release/sluice examples/run.sh
set -euo pipefail

# Paths below (and a relative CARGO_TARGET_DIR) are relative to the repo root, as for cargo.
cd "$(dirname "$0")/.."
SLUICE_BIN=${SLUICE_BIN:-${CARGO_TARGET_DIR:-../.sluice-target}/debug/sluice}
if [ ! -x "$SLUICE_BIN" ]; then
  echo "examples: no sluice binary at $SLUICE_BIN (build it, or set SLUICE_BIN)" >&2
  exit 1
fi

# The Rust example, built next to the binary by `cargo test` (or `cargo build --examples`).
EMBED=$(dirname "$SLUICE_BIN")/examples/embed
if [ -x "$EMBED" ]; then
  echo "== examples/embed.rs"
  "$EMBED"
else
  echo "examples: no embed example at $EMBED (cargo build --examples)" >&2
  exit 1
fi

python3 -c 'import boto3' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check boto3

# Port 0 lets the OS pick a free port, so parallel CI jobs do not collide.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ENDPOINT=http://127.0.0.1:$PORT

"$SLUICE_BIN" serve --store sqlite::memory: --listen "127.0.0.1:$PORT" &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT

# The server needs a moment to open its store and bind; fail fast if it died instead.
# Python, not curl: a fresh Debian has python3 (CI needs it anyway) but not always curl.
healthy() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$ENDPOINT/healthz" >/dev/null 2>&1; }
for _ in $(seq 1 50); do
  healthy && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "examples: sluice serve exited" >&2; exit 1; }
  sleep 0.2
done
healthy || { echo "examples: sluice serve not ready after 10 s" >&2; exit 1; }

for example in examples/*.py; do
  echo "== $example"
  python3 "$example" --endpoint "$ENDPOINT"
done

echo "examples: ok"
