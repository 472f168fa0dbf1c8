#!/usr/bin/env bash
# Run the DCGAN step benchmark in Rust (burn Flex, CPU) and in PyTorch (CPU) on this
# machine, one after the other, and print the ratio. Needs python3 with torch installed
# (PYTHON=/path/to/python to pick one).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-10}
PY=${PYTHON:-python3}
rust=$(cargo bench --quiet --bench dcgan_step -- --steps "$STEPS" | grep dcgan64_step)
torch=$("$PY" benches/reference/dcgan_step.py --steps "$STEPS")
echo "$rust"
echo "$torch"
"$PY" - "$rust" "$torch" <<'PY'
import json, sys
r, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"atelier / pytorch time per step: {r['ms_per_step'] / t['ms_per_step']:.2f}x "
      f"({r['ms_per_step']} ms vs {t['ms_per_step']} ms, {r['framework']} vs {t['framework']})")
PY
