#!/usr/bin/env bash
# DCGAN against StyleGAN2 at equal training time on KaoKore 64 px, as in the README.
# Usage: docs/gan-compare.sh WORK_DIR [MINUTES]   (default 60 minutes of training each)
# Both runs go side by side, one thread each, so they share the machine alike. `--minutes`
# counts training steps only (FID measurements, samples and checkpoints are not counted).
# The README's FID protocol follows: 500 samples per model, classes in the training set's
# proportions, against 1,000 real images from one half of train/ (split by alternating
# files, seed 1), at the reference's 128 px.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
W=${1:?work dir}
MIN=${2:-60}
A=${ATELIER:-atelier}
D=${ATELIER_DATA:-$ROOT/../shared/data}/paintings/kaokore/train
export ATELIER_CACHE=$W/cache
mkdir -p "$W" && cd "$W"
# shellcheck source=docs/fid-protocol.sh
source "$ROOT/docs/fid-protocol.sh"
split_reference
COMMON="--data $D --conditional --size 64 --batch-size 16 --ema 0.999 --seed 1 --workers 1
  --steps 100000 --minutes $MIN --checkpoint-every 200 --sample-every 200 --fid-every 400
  --fid-samples 250 --fid-real ref_1000 --quiet"
# shellcheck disable=SC2086
$A --threads 1 train gan $COMMON --arch dcgan --width 64 --loss hinge --lr-g 1e-4 --lr-d 4e-4 \
    --betas-g 0.0,0.9 --betas-d 0.0,0.9 --out runs/dcgan &
# shellcheck disable=SC2086
$A --threads 1 train gan $COMMON --arch stylegan2 --width 16 --out runs/stylegan2 &
wait
$A eval fid-curve --run runs/dcgan --run runs/stylegan2 -o fid-vs-time.png
for arch in dcgan stylegan2; do
  sample_like_train "runs/$arch/generator.safetensors" "fake_$arch"
  echo "$arch"
  $A eval fid --real ref_1000 --fake "fake_$arch" --json
  $A generate --model "runs/$arch/generator.safetensors" --n 64 --seed 3 --grid "$arch-grid.png"
done
