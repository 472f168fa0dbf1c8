#!/usr/bin/env bash
# Reproduce the README's FID/KID table for the shipped KaoKore generator.
# Usage: docs/kaokore-fid.sh WORK_DIR   (needs python3 with Pillow, and ../shared/data)
# About 15 minutes on 2 CPU cores (InceptionV3 runs at ~5 images/s there).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
W=${1:?work dir}
A=${ATELIER:-atelier}
D=${ATELIER_DATA:-$ROOT/../shared/data}/paintings/kaokore/train
export ATELIER_CACHE=$W/cache
mkdir -p "$W" && cd "$W"
# Split train/ into halves by alternating files; reference = 1000 of half A, floor = 500 of
# half B; both also downscaled to 64 px.
python3 - "$D" <<'PY'
import os, random, shutil, sys
from PIL import Image
root = sys.argv[1]
files = sorted(os.path.join(c, f) for c in os.listdir(root) for f in os.listdir(os.path.join(root, c)))
halves = files[0::2], files[1::2]
for name, half, n in [("ref_1000", halves[0], 1000), ("floor_500", halves[1], 500)]:
    random.seed(1)
    os.makedirs(name, exist_ok=True); os.makedirs(name + "_64", exist_ok=True)
    for f in random.sample(half, n):
        flat = f.replace("/", "_")
        shutil.copy(os.path.join(root, f), os.path.join(name, flat))
        Image.open(os.path.join(root, f)).convert("RGB").resize((64, 64), Image.LANCZOS) \
            .save(os.path.join(name + "_64", flat.replace(".jpg", ".png")))
PY
# The shipped architecture after one Adam step from initialisation, no EMA.
$A train gan --data "$D" --conditional --size 64 --width 64 --loss hinge --batch-size 64 \
    --ema 0 --seed 1 --steps 1 --quiet --out random_run
# 500 samples per generator, classes in the training set's proportions.
for m in shipped random; do
  model=$ROOT/models/kaokore-dcgan-64.safetensors
  [ $m = random ] && model=random_run/generator.safetensors
  rm -rf fake_$m
  for c in $(ls "$D"); do
    n=$(python3 -c "import os; print(round(500*len(os.listdir('$D/$c'))/5848))")
    [ "$n" -gt 0 ] && $A generate --model "$model" --class "$c" --n "$n" --seed 11 --out-dir fake_$m/$c
  done
done
for ref in ref_1000 ref_1000_64; do
  floor=floor_500; [ $ref = ref_1000_64 ] && floor=floor_500_64
  for f in $floor fake_shipped fake_random; do
    echo "reference $ref, candidate $f"
    $A eval fid --real $ref --fake $f --json
    $A eval kid --real $ref --fake $f --subsets 100 --subset-size 250 --json
  done
done
