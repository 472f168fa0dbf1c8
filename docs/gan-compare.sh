#!/usr/bin/env bash
# Generator families at equal training time on KaoKore 64 px, as in the README.
# Usage: docs/gan-compare.sh WORK_DIR [MINUTES] [RUN...]
#   RUN: dcgan, dcgan-div, fastgan, fastgan-nodiv, fastgan-noaug, stylegan2
#   (default: dcgan fastgan); 60 minutes each.
# The runs go side by side, one thread each, so they share the machine alike (run as many
# as there are cores). `--minutes` counts training steps only (FID measurements, samples and
# checkpoints are not counted). The README's FID protocol follows: 500 samples per model,
# classes in the training set's proportions, against 1,000 real images from one half of
# train/ (split by alternating files, seed 1), at the reference's 128 px.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
W=${1:?work dir}
MIN=${2:-60}
shift $(($# < 2 ? $# : 2))
RUNS=("$@")
[ ${#RUNS[@]} -gt 0 ] || RUNS=(dcgan fastgan)
A=${ATELIER:-atelier}
D=${ATELIER_DATA:-$ROOT/../shared/data}/paintings/kaokore/train
export ATELIER_CACHE=$W/cache
mkdir -p "$W" && cd "$W"
# shellcheck source=docs/fid-protocol.sh
source "$ROOT/docs/fid-protocol.sh"
[ -d ref_1000 ] || split_reference
COMMON="--data $D --conditional --size 64 --batch-size 16 --ema 0.999 --seed 1 --workers 1
  --steps 100000 --minutes $MIN --checkpoint-every 200 --sample-every 200 --fid-every 400
  --fid-samples 250 --fid-real ref_1000 --quiet"
# The shipped model's recipe: width 64, hinge, two time-scale learning rates.
DCGAN="--width 64 --loss hinge --lr-g 1e-4 --lr-d 4e-4 --betas-g 0.0,0.9 --betas-d 0.0,0.9"
flags() {
  case $1 in
    dcgan) echo "--arch dcgan $DCGAN" ;;
    # The same with FastGAN's default diversity term.
    dcgan-div) echo "--arch dcgan $DCGAN --diversity 4" ;;
    # Width 8: a step costs about what DCGAN's does on this CPU.
    fastgan) echo "--arch fastgan --width 8" ;;
    fastgan-nodiv) echo "--arch fastgan --width 8 --diversity 0" ;;
    fastgan-noaug) echo "--arch fastgan --width 8 --augment none" ;;
    stylegan2) echo "--arch stylegan2 --width 16" ;;
    *) echo "unknown run $1" >&2; exit 2 ;;
  esac
}
for run in "${RUNS[@]}"; do
  # shellcheck disable=SC2086,SC2046
  $A --threads 1 train gan $COMMON $(flags "$run") --out "runs/$run" &
done
wait
curve=()
for run in "${RUNS[@]}"; do curve+=(--run "runs/$run"); done
$A eval fid-curve "${curve[@]}" -o fid-vs-time.png
for run in "${RUNS[@]}"; do
  for model in generator best-fid; do
    sample_like_train "runs/$run/$model.safetensors" "fake_$run"
    echo "$run $model"
    $A eval fid --real ref_1000 --fake "fake_$run" --json
  done
  $A generate --model "runs/$run/generator.safetensors" --n 64 --seed 3 --grid "$run-grid.png"
done
