#!/usr/bin/env bash
# Time every convolution of the DCGAN step, the CycleGAN step, the shipped style network and a
# Gatys iteration, op by op, in Rust (burn Flex, CPU) and in PyTorch (CPU) on this machine,
# one after the other, and print a table with the ratio and each op's share of its network's conv time.
# Needs python3 with torch (PYTHON=/path/to/python to pick one). ONLY=dcgan|cyclegan|style|gatys.
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${ITERS:-5}
PY=${PYTHON:-python3}
only=()
[ -n "${ONLY:-}" ] && only=(--only "$ONLY")
rust=$(cargo bench --quiet --bench conv_ops -- --iters "$ITERS" "${only[@]}" | grep '"net"')
torch=$(cargo bench --quiet --bench conv_ops -- --list "${only[@]}" | grep '"net"' |
  "$PY" benches/reference/conv_ops.py --iters "$ITERS" 2>/dev/null)
"$PY" - "$rust" "$torch" <<'PY'
import json, sys
rust = [json.loads(l) for l in sys.argv[1].splitlines()]
torch = [json.loads(l) for l in sys.argv[2].splitlines()]
print(f"threads: atelier {rust[0]['threads']}, pytorch {torch[0]['threads']}")
print("| net | shape | op | count | atelier ms | pytorch ms | ratio |")
print("|---|---|---|---|---|---|---|")
totals = {}
for r, t in zip(rust, torch):
    assert (r["label"], r["op"]) == (t["label"], t["op"]), (r, t)
    kind = ("transposed " if r["transposed"] else "") + r["op"]
    ratio = r["ms"] / t["ms"] if t["ms"] > 0 else float("nan")
    print(f"| {r['net']} | {r['label']} | {kind} | {r['count']} | {r['ms']:.2f} | {t['ms']:.2f} | {ratio:.2f}x |")
    tot = totals.setdefault((r["net"], kind), [0.0, 0.0])
    tot[0] += r["ms"] * r["count"]
    tot[1] += t["ms"] * t["count"]
print()
print("| net | op | atelier ms (x count) | pytorch ms (x count) | ratio |")
print("|---|---|---|---|---|")
for (net, kind), (a, b) in totals.items():
    print(f"| {net} | {kind} | {a:.1f} | {b:.1f} | {a / b:.2f}x |")
for net in dict.fromkeys(n for n, _ in totals):
    a = sum(v[0] for (n, _), v in totals.items() if n == net)
    b = sum(v[1] for (n, _), v in totals.items() if n == net)
    print(f"| {net} | all convs | {a:.1f} | {b:.1f} | {a / b:.2f}x |")
PY
