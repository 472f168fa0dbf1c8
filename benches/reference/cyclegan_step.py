"""PyTorch reference for benches/cyclegan_step.rs: the identical CycleGAN 128 px networks
and training step, as the original CycleGAN code runs it (batch 1; G step with D frozen,
then D step on pooled fakes; LSGAN; cycle x10, identity x5; Adam(2e-4, betas 0.5/0.999)).
Generators: ResNet, width 64, 6 blocks, instance norm, reflection padding, nearest x2 +
3x3 conv up-sampling (our resize-conv default). Discriminators: 70x70 PatchGAN.

    python3 benches/reference/cyclegan_step.py [--steps N] [--threads T]
"""
import argparse
import json
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_norm(cin, cout, k, s, p, pad_mode="zeros"):
    return [nn.Conv2d(cin, cout, k, s, p, padding_mode=pad_mode), nn.InstanceNorm2d(cout, affine=True)]


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a = nn.Sequential(nn.ReflectionPad2d(1), *conv_norm(c, c, 3, 1, 0), nn.ReLU(True))
        self.b = nn.Sequential(nn.ReflectionPad2d(1), *conv_norm(c, c, 3, 1, 0))

    def forward(self, x):
        return x + self.b(self.a(x))


def up(cin, cout):
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
            *conv_norm(cin, cout, 3, 1, 0), nn.ReLU(True)]


def generator(w=64, blocks=6):
    return nn.Sequential(
        nn.ReflectionPad2d(3), *conv_norm(3, w, 7, 1, 0), nn.ReLU(True),
        *conv_norm(w, 2 * w, 3, 2, 1), nn.ReLU(True),
        *conv_norm(2 * w, 4 * w, 3, 2, 1), nn.ReLU(True),
        *[Block(4 * w) for _ in range(blocks)],
        *up(4 * w, 2 * w), *up(2 * w, w),
        nn.ReflectionPad2d(3), nn.Conv2d(w, 3, 7), nn.Tanh())


def patchgan(w=64, layers=3):
    ch = lambda i: w * min(1 << i, 8)
    seq = [nn.Conv2d(3, ch(0), 4, 2, 1), nn.LeakyReLU(0.2, True)]
    for i in range(1, layers + 1):
        s = 1 if i == layers else 2
        seq += [nn.Conv2d(ch(i - 1), ch(i), 4, s, 1), nn.InstanceNorm2d(ch(i), affine=True),
                nn.LeakyReLU(0.2, True)]
    seq.append(nn.Conv2d(ch(layers), 1, 4, 1, 1))
    return nn.Sequential(*seq)


class Pool:
    def __init__(self, size=50):
        self.size, self.images = size, []

    def query(self, x):
        out = []
        for img in x.detach():
            img = img.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(img)
                out.append(img)
            elif random.random() < 0.5:
                k = random.randrange(self.size)
                out.append(self.images[k])
                self.images[k] = img
            else:
                out.append(img)
        return torch.cat(out, 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    g_ab, g_ba, d_a, d_b = generator(), generator(), patchgan(), patchgan()
    opt_g = torch.optim.Adam(list(g_ab.parameters()) + list(g_ba.parameters()), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(list(d_a.parameters()) + list(d_b.parameters()), 2e-4, betas=(0.5, 0.999))
    pool_a, pool_b = Pool(), Pool()
    a = torch.tanh(torch.randn(1, 3, 128, 128))
    b = torch.tanh(torch.randn(1, 3, 128, 128))
    mse, l1 = nn.MSELoss(), nn.L1Loss()

    def step():
        for p in list(d_a.parameters()) + list(d_b.parameters()):
            p.requires_grad_(False)
        fake_b, fake_a = g_ab(a), g_ba(b)
        rec_a, rec_b = g_ba(fake_b), g_ab(fake_a)
        sa, sb = d_a(fake_a), d_b(fake_b)
        loss_g = (mse(sb, torch.ones_like(sb)) + mse(sa, torch.ones_like(sa))
                  + 10 * (l1(rec_a, a) + l1(rec_b, b)) + 5 * (l1(g_ab(b), b) + l1(g_ba(a), a)))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        for p in list(d_a.parameters()) + list(d_b.parameters()):
            p.requires_grad_(True)
        loss_d = 0
        for d, real, fake, pool in ((d_a, a, fake_a, pool_a), (d_b, b, fake_b, pool_b)):
            sr, sf = d(real), d(pool.query(fake))
            loss_d = loss_d + 0.5 * (mse(sr, torch.ones_like(sr)) + mse(sf, torch.zeros_like(sf)))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        return loss_g.item(), loss_d.item()

    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(args.steps):
        step()
    ms = (time.perf_counter() - t) * 1000 / args.steps
    print(json.dumps({"bench": "cyclegan128_step", "framework": f"pytorch-{torch.__version__}-cpu",
                      "threads": torch.get_num_threads(), "batch": 1, "steps": args.steps,
                      "ms_per_step": round(ms, 1)}))


if __name__ == "__main__":
    main()
