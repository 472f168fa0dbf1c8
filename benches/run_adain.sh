#!/usr/bin/env bash
# Run the AdaIN benchmark in Rust (burn Flex, CPU) and in PyTorch (CPU) on this machine, one
# after the other, for a decoder shape (DEPTH, WIDTH; default relu4_1, 64) at SIZE, and print
# the ratio. Needs python3 with torch (PYTHON=/path/to/python to pick one).
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${ITERS:-3}
SIZE=${SIZE:-1024x768}
DEPTH=${DEPTH:-relu4_1}
WIDTH=${WIDTH:-64}
PY=${PYTHON:-python3}
rust=$(cargo bench --quiet --bench adain -- --depth "$DEPTH" --width "$WIDTH" --size "$SIZE" --iters "$ITERS" | grep adain_)
torch=$("$PY" benches/reference/adain.py --depth "$DEPTH" --width "$WIDTH" --size "$SIZE" --iters "$ITERS")
echo "$rust"
echo "$torch"
"$PY" - "$rust" "$torch" <<'PY'
import json, sys
r, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{r['bench']} ({r['depth']}, width {r['width']}, {r['gmacs']} GMAC): atelier / pytorch "
      f"time per image: {r['ms_per_image'] / t['ms_per_image']:.2f}x "
      f"({r['ms_per_image']} ms vs {t['ms_per_image']} ms; atelier {r['gflops_per_sec']} GFLOP/s)")
PY
