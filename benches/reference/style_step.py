"""One style-transfer iteration in PyTorch, identical to benches/style_step.rs: VGG19
conv1_1..conv3_2 (ReLU, 2x2 max pool), style Gram losses at relu1_1/relu2_1/relu3_1 (Gram
normalised by C*H*W, squared Frobenius distance), content MSE at relu3_2, TV loss, backward
to the image, gradient copied to the host. Weights are random: timing does not depend on
them.

python benches/reference/style_step.py [--iters N] [--threads T]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def vgg_to_relu3_2():
    cfg = [(3, 64), (64, 64), "M", (64, 128), (128, 128), "M", (128, 256), (256, 256)]
    layers = []
    for c in cfg:
        if c == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c[0], c[1], 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers).eval().requires_grad_(False)


# Indices into the Sequential above: relu1_1, relu2_1, relu3_1, relu3_2.
STYLE = [1, 6, 11]
CONTENT = 13
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def features(net, x):
    out = {}
    h = (x - MEAN) / STD
    for i, layer in enumerate(net):
        h = layer(h)
        if i in STYLE or i == CONTENT:
            out[i] = h
        if i == CONTENT:
            break
    return out


def gram(f):
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = vgg_to_relu3_2()
    for size in (256, 512):
        style = torch.rand(1, 3, size, size)
        content = torch.rand(1, 3, size, size)
        with torch.no_grad():
            fs = features(net, style)
            grams = {i: gram(fs[i]) for i in STYLE}
            target_c = features(net, content)[CONTENT]
        x0 = torch.rand(1, 3, size, size).numpy()

        def step():
            x = torch.from_numpy(x0).requires_grad_(True)
            f = features(net, x)
            ls = sum(((gram(f[i]) - grams[i]) ** 2).sum() for i in STYLE)
            lc = ((f[CONTENT] - target_c) ** 2).mean()
            dy = x[:, :, 1:, :] - x[:, :, :-1, :]
            dx = x[:, :, :, 1:] - x[:, :, :, :-1]
            tv = (dy ** 2).mean() + (dx ** 2).mean()
            loss = lc + 1e4 * ls + 10 * tv
            loss.backward()
            return loss.item(), x.grad.numpy().copy()

        step()
        t = time.perf_counter()
        for _ in range(a.iters):
            step()
        ms = (time.perf_counter() - t) * 1000 / a.iters
        print(json.dumps({"bench": f"style_iter_{size}", "framework": f"pytorch-{torch.__version__}",
                          "iters": a.iters, "ms_per_iter": round(ms, 1)}))


if __name__ == "__main__":
    main()
