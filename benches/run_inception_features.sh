#!/usr/bin/env bash
# Run the InceptionV3 FID feature-extraction benchmark in Rust (burn Flex, CPU) and in
# PyTorch (CPU) on this machine and print the ratio. Needs python3 with torch
# (PYTHON=/path/to/python) and the shared weights/spec (or INCEPTION=FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
BATCHES=${BATCHES:-3}
PY=${PYTHON:-python3}
W=${INCEPTION:-../shared/data/weights/inception-v3-fid.safetensors}
rust=$(cargo bench --quiet --bench inception_features -- --batches "$BATCHES" --inception "$W" | grep inception_fid)
torch=$("$PY" benches/reference/inception_features.py --batches "$BATCHES" --spec "$(dirname "$W")/inception-v3-fid.spec.json")
echo "$rust"
echo "$torch"
"$PY" - "$rust" "$torch" <<'PY'
import json, sys
r, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"atelier / pytorch throughput: {r['images_per_sec'] / t['images_per_sec']:.2f}x "
      f"({r['images_per_sec']} vs {t['images_per_sec']} images/s)")
PY
