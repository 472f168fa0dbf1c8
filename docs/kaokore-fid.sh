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
# Reference = 1000 of half A, floor = 500 of half B; both also downscaled to 64 px.
# shellcheck source=docs/fid-protocol.sh
source "$ROOT/docs/fid-protocol.sh"
split_reference --floor --small
# The shipped architecture after one Adam step from initialisation, no EMA.
$A train gan --data "$D" --conditional --size 64 --width 64 --loss hinge --batch-size 64 \
    --ema 0 --seed 1 --steps 1 --quiet --out random_run
# 500 samples per generator, classes in the training set's proportions.
for m in shipped random; do
  model=$ROOT/models/kaokore-dcgan-64.safetensors
  [ $m = random ] && model=random_run/generator.safetensors
  sample_like_train "$model" "fake_$m"
done
for ref in ref_1000 ref_1000_64; do
  floor=floor_500; [ $ref = ref_1000_64 ] && floor=floor_500_64
  for f in $floor fake_shipped fake_random; do
    echo "reference $ref, candidate $f"
    $A eval fid --real $ref --fake $f --json
    $A eval kid --real $ref --fake $f --subsets 100 --subset-size 250 --json
  done
done
