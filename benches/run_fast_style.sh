#!/usr/bin/env bash
# Run the fast-stylisation benchmark in Rust (burn Flex, CPU) and in PyTorch (CPU) on this
# machine, one after the other, for the shipped network's shape (or WIDTH/BLOCKS/KERNEL),
# and print the ratio. Needs python3 with torch (PYTHON=/path/to/python to pick one).
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${ITERS:-5}
SIZE=${SIZE:-1024x768}
PY=${PYTHON:-python3}
if [ -n "${WIDTH:-}" ]; then
  shape=(--width "$WIDTH" --blocks "${BLOCKS:-5}" --outer-kernel "${KERNEL:-9}")
  rust=$(cargo bench --quiet --bench fast_style -- "${shape[@]}" --size "$SIZE" --iters "$ITERS" | grep fast_style)
else
  rust=$(cargo bench --quiet --bench fast_style -- --model models/styles-fast.safetensors --size "$SIZE" --iters "$ITERS" | grep fast_style)
  shape=($("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print("--width",d["width"],"--blocks",d["blocks"],"--outer-kernel",d["outer_kernel"])' "$rust"))
fi
torch=$("$PY" benches/reference/fast_style.py "${shape[@]}" --size "$SIZE" --iters "$ITERS")
echo "$rust"
echo "$torch"
"$PY" - "$rust" "$torch" <<'PY'
import json, sys
r, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{r['bench']} (width {r['width']}, blocks {r['blocks']}, kernel {r['outer_kernel']}): "
      f"atelier / pytorch time per image: {r['ms_per_image'] / t['ms_per_image']:.2f}x "
      f"({r['ms_per_image']} ms vs {t['ms_per_image']} ms)")
PY
