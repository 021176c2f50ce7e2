#!/usr/bin/env bash
# pipelines/image-inference under `sluice run` (release build) on one core, at two sizes, for
# the rate each batch's task reports and the process's peak RSS:
#
#   worker/integrations/benches/image-inference.sh [COPIES...]    (default: 10 100)
#
# Each size is the 12 turned photos of prepare.sh (the broken file and the two photos without
# a true label left out) copied COPIES times, so 10 and 100 give 120 and 1,200 images. The Map
# runs one batch at a time (MaxConcurrency 1) so the rate is per core, as in
# `cargo bench --bench infer`'s plain loop.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
target="${CARGO_TARGET_DIR:-$root/../.sluice-target}"
bin="$target/release/sluice"
[ -x "$bin" ] || { echo "build it first: cargo build --release --locked" >&2; exit 2; }
[ $# -gt 0 ] || set -- 10 100

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$root/pipelines/image-inference/prepare.sh" "$work/base" 2>/dev/null
python3 - "$root/pipelines/image-inference/image-inference.asl.json" "$work/one-at-a-time.asl.json" <<'PY'
import json, sys
definition = json.load(open(sys.argv[1]))
definition["States"]["Classify"]["MaxConcurrency"] = 1
json.dump(definition, open(sys.argv[2], "w"))
PY

for copies in "$@"; do
  s3="$work/s3-$copies"
  mkdir -p "$s3/ml-demo/images"
  cp -r "$work/base/ml-demo/models" "$s3/ml-demo/"
  for i in $(seq "$copies"); do
    for f in "$work"/base/ml-demo/images/{astronaut,camera,rocket}-*; do
      cp "$f" "$s3/ml-demo/images/$i-$(basename "$f")"
    done
  done
  images=$(ls "$s3/ml-demo/images" | wc -l)
  start=$(date +%s.%N)
  SLUICE_S3_DIR="$s3" /usr/bin/time -f '%M' -o "$work/rss" taskset -c 0 "$bin" run \
    "$work/one-at-a-time.asl.json" --input "$root/pipelines/image-inference/input.json" \
    --json > "$work/out.json"
  end=$(date +%s.%N)
  python3 - "$work/out.json" "$s3/ml-demo" "$images" "$(cat "$work/rss")" "$start" "$end" <<'PY'
import json, sys
from pathlib import Path
out = json.load(open(sys.argv[1]))
assert out["status"] == "SUCCEEDED", out
bucket, images, rss_kib = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
wall = float(sys.argv[6]) - float(sys.argv[5])
manifest = json.load(open(bucket / out["output"]["batches"]["Key"]))
results = []
for f in manifest["ResultFiles"]["SUCCEEDED"]:
    results += json.load(open(bucket / f["Key"]))
done = sum(r["succeeded"] for r in results)
# Each batch's reported rate is images / its compute seconds: weight by images.
seconds = sum(r["succeeded"] / r["imagesPerSecond"] for r in results if r["imagesPerSecond"])
loads = sorted({r["modelLoads"] for r in results})
print(f"{images} images, {len(results)} batches: the task reports {done / seconds:.1f} images/s; "
      f"whole run {wall:.1f} s ({images / wall:.1f} images/s end to end); "
      f"model loads seen by the batches: {loads}; peak RSS {rss_kib / 1024:.0f} MiB")
PY
  rm -rf "$s3"
done
