"""InceptionV3 FID feature extraction in PyTorch, built from the same spec file as
Atelier's (`inception-v3-fid.spec.json`), with batch norm folded into each conv as Atelier
does at load time. Weights are random: timing does not depend on them.

python benches/reference/inception_features.py --spec PATH [--batch 16] [--batches 3]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--spec", required=True)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--batches", type=int, default=3)
    a = p.parse_args()
    spec = json.load(open(a.spec))
    torch.manual_seed(0)
    convs = {}
    for name, c in spec["convs"].items():
        pad = c["padding"]
        pad = (pad, pad) if isinstance(pad, int) else tuple(pad)
        w = torch.randn(*c["weight_shape"]) * 0.05
        convs[name] = (w, torch.zeros(c["weight_shape"][0]), c["stride"], pad)

    def layer(name, x):
        if name in convs:
            w, b, s, pad = convs[name]
            return F.relu(F.conv2d(x, w, b, stride=s, padding=pad))
        pl = spec["pools"][name]
        if pl["kind"] == "max":
            return F.max_pool2d(x, pl["kernel"], pl["stride"], pl["padding"])
        return F.avg_pool2d(x, pl["kernel"], pl["stride"], pl["padding"],
                            count_include_pad=pl.get("count_include_pad", False))

    def features(x):
        h = x
        for stage in spec["stages"]:
            kind = spec["block_types"].get(stage)
            if kind is None:
                h = layer(stage, h)
                continue
            cache, outs = {}, []
            for branch in spec["branches"][kind]:
                y, key = h, ""
                for l in branch:
                    key += "/" + l
                    if key not in cache:
                        cache[key] = layer(f"{stage}.{l}", y)
                    y = cache[key]
                outs.append(y)
            h = torch.cat(outs, 1)
        return h.flatten(1)

    x = torch.rand(a.batch, 3, 299, 299) * 2 - 1
    with torch.no_grad():
        assert features(x[:1]).shape[1] == 2048
        features(x)
        t = time.perf_counter()
        for _ in range(a.batches):
            features(x)
        secs = time.perf_counter() - t
    n = a.batch * a.batches
    print(json.dumps({"bench": "inception_fid_features", "framework": f"pytorch-{torch.__version__}",
                      "images": n, "images_per_sec": round(n / secs, 2)}))


if __name__ == "__main__":
    main()
