#!/usr/bin/env bash
# Run the style-transfer iteration benchmark in Rust (burn Flex, CPU) and in PyTorch (CPU)
# on this machine, one after the other, and print the ratios. Needs python3 with torch
# (PYTHON=/path/to/python to pick one) and the VGG19 weights (shared data or --vgg).
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${ITERS:-5}
PY=${PYTHON:-python3}
rust=$(cargo bench --quiet --bench style_step -- --iters "$ITERS" | grep style_iter)
torch=$("$PY" benches/reference/style_step.py --iters "$ITERS")
echo "$rust"
echo "$torch"
"$PY" - "$rust" "$torch" <<'PY'
import json, sys
r = [json.loads(l) for l in sys.argv[1].splitlines()]
t = {d["bench"]: d for d in map(json.loads, sys.argv[2].splitlines())}
for d in r:
    ref = t[d["bench"]]
    print(f"{d['bench']}: atelier / pytorch time per iteration: {d['ms_per_iter'] / ref['ms_per_iter']:.2f}x "
          f"({d['ms_per_iter']} ms vs {ref['ms_per_iter']} ms)")
PY
