# The README's FID protocol on KaoKore, shared by docs/kaokore-fid.sh and docs/gan-compare.sh
# (sourced, not run). Needs A (the atelier command) and D (kaokore/train) set, and runs in
# the work dir.

# split_reference [--floor] [--small]: train/ split into halves by alternating files;
# ref_1000 = 1,000 images of half A (seed 1); --floor adds floor_500 = 500 of half B;
# --small adds 64 px copies of each set (*_64, needs Pillow).
split_reference() {
  python3 - "$D" "$@" <<'PY'
import os, random, shutil, sys
root, opts = sys.argv[1], sys.argv[2:]
files = sorted(os.path.join(c, f) for c in os.listdir(root) for f in os.listdir(os.path.join(root, c)))
halves = files[0::2], files[1::2]
sets = [("ref_1000", halves[0], 1000)] + ([("floor_500", halves[1], 500)] if "--floor" in opts else [])
for name, half, n in sets:
    random.seed(1)
    os.makedirs(name, exist_ok=True)
    for f in random.sample(half, n):
        flat = f.replace("/", "_")
        shutil.copy(os.path.join(root, f), os.path.join(name, flat))
        if "--small" in opts:
            from PIL import Image
            os.makedirs(name + "_64", exist_ok=True)
            Image.open(os.path.join(root, f)).convert("RGB").resize((64, 64), Image.LANCZOS) \
                .save(os.path.join(name + "_64", flat.replace(".jpg", ".png")))
PY
}

# sample_like_train MODEL OUT_DIR: 500 samples of MODEL (seed 11), classes in the training
# set's proportions, one folder per class.
sample_like_train() {
  rm -rf "$2"
  local c n
  for c in $(ls "$D"); do
    n=$(python3 -c "import os; print(round(500*len(os.listdir('$D/$c'))/5848))")
    if [ "$n" -gt 0 ]; then
      $A generate --model "$1" --class "$c" --n "$n" --seed 11 --out-dir "$2/$c"
    fi
  done
}
