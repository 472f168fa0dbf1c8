"""PyTorch reference for benches/dcgan_step.rs: the identical DCGAN 64 px networks and
training step (batch 16, one D step + one G step, Adam(2e-4, betas 0.5/0.999),
non-saturating loss, spectral norm in D with one power iteration, pixel norm in G).

    python3 benches/reference/dcgan_step.py [--steps N] [--threads T]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import spectral_norm


class PixelNorm(nn.Module):
    def forward(self, x):
        return x / torch.sqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def ch(width, i, n=4):
    return width * min(1 << (n - 1 - min(i, n - 1)), 8)


class Generator(nn.Module):
    def __init__(self, z=128, width=64, n=4):
        super().__init__()
        self.base = ch(width, 0)
        self.fc = nn.Linear(z, self.base * 16)
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(ch(width, i), ch(width, i + 1), 4, 2, 1) for i in range(n - 1)
        )
        self.to_rgb = nn.ConvTranspose2d(ch(width, n - 1), 3, 4, 2, 1)
        self.norm = PixelNorm()

    def forward(self, z):
        h = F.relu(self.norm(self.fc(z).view(-1, self.base, 4, 4)))
        for up in self.ups:
            h = F.relu(self.norm(up(h)))
        return torch.tanh(self.to_rgb(h))


class Discriminator(nn.Module):
    def __init__(self, width=64, n=4):
        super().__init__()
        chans = [ch(width, i) for i in reversed(range(n))]
        layers, cin = [], 3
        for cout in chans:
            layers.append(spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1)))
            cin = cout
        self.convs = nn.ModuleList(layers)
        self.head = spectral_norm(nn.Linear(cin * 16, 1))

    def forward(self, x):
        h = x
        for c in self.convs:
            h = F.leaky_relu(c(h), 0.2)
        return self.head(h.flatten(1)).view(-1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g, d = Generator(), Discriminator()
    og = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999), eps=1e-8)
    od = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999), eps=1e-8)
    real = torch.tanh(torch.randn(16, 3, 64, 64))

    def step():
        z = torch.randn(16, 128)
        fake = g(z).detach()
        ld = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
        od.zero_grad(set_to_none=True)
        ld.backward()
        od.step()
        z = torch.randn(16, 128)
        # D's weight gradients are not needed for G's update (Atelier skips them too).
        d.requires_grad_(False)
        lg = F.softplus(-d(g(z))).mean()
        og.zero_grad(set_to_none=True)
        lg.backward()
        og.step()
        d.requires_grad_(True)
        return ld.item(), lg.item()

    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    ms = (time.perf_counter() - t) * 1000 / a.steps
    print(json.dumps({"bench": "dcgan64_step", "framework": f"pytorch-{torch.__version__}", "batch": 16,
                      "steps": a.steps, "ms_per_step": round(ms, 1), "images_per_sec": round(16000 / ms, 1)}))


if __name__ == "__main__":
    main()
