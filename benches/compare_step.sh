#!/usr/bin/env bash
# Run a training-step benchmark in Rust (burn Flex, CPU) and its PyTorch twin
# (benches/reference/BENCH.py, CPU) on this machine, one after the other, and print the
# time ratio. Needs python3 with torch installed (PYTHON=/path/to/python to pick one).
#   benches/compare_step.sh BENCH TAG STEPS
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=$1 TAG=$2 STEPS=$3
PY=${PYTHON:-python3}
rust=$(cargo bench --quiet --bench "$BENCH" -- --steps "$STEPS" | grep "$TAG")
torch=$("$PY" "benches/reference/$BENCH.py" --steps "$STEPS")
echo "$rust"
echo "$torch"
"$PY" - "$rust" "$torch" <<'PY'
import json, sys
r, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"atelier / pytorch time per step: {r['ms_per_step'] / t['ms_per_step']:.2f}x "
      f"({r['ms_per_step']} ms vs {t['ms_per_step']} ms, {r['framework']} vs {t['framework']})")
PY
