#!/usr/bin/env bash
# Video stylisation speed on this machine: Atelier's whole pipeline (decode, fast style
# network, blend, encode) in frames/s on the shared Big Buck Bunny clip at 640x360, and the
# same network alone per frame in Atelier and in PyTorch (CPU). Needs python3 with torch
# (PYTHON=/path/to/python to pick one).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
rust=$(cargo bench --quiet --bench video -- "$@" | grep video_fast)
torch=$("$PY" benches/reference/fast_style.py --width 16 --blocks 3 --outer-kernel 9 --size 640x360 --iters 5)
echo "$rust"
echo "$torch"
"$PY" - "$rust" "$torch" <<'PY'
import json, sys
r, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{r['bench']}: pipeline {r['pipeline_fps']} frames/s; network alone "
      f"{r['stylize_ms_per_frame']} ms (atelier) vs {t['ms_per_image']} ms (pytorch), "
      f"{r['stylize_ms_per_frame'] / t['ms_per_image']:.2f}x; pytorch's network alone would "
      f"give at most {1000 / t['ms_per_image']:.2f} frames/s")
PY
