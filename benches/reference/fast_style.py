"""Feed-forward stylisation of one image in PyTorch, identical to benches/fast_style.rs: the
Johnson transform network of models/style_net.rs (reflection padding, k x k conv, two stride-2
convs, residual blocks, nearest x2 + 3x3 conv twice, k x k conv, sigmoid) with conditional
instance norm (instance norm without affine, then one style's gamma/beta), forward only,
image from and back to 8-bit pixels on the host. Weights are random: timing does not depend
on them.

python benches/reference/fast_style.py [--width 16 --blocks 3 --outer-kernel 9]
    [--size 1024x768] [--iters N] [--threads T]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvCin(nn.Module):
    def __init__(self, cin, cout, k, stride, styles):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride)
        self.pad = k // 2
        self.gamma = nn.Parameter(torch.ones(styles, cout))
        self.beta = nn.Parameter(torch.zeros(styles, cout))

    def forward(self, x, mix):
        h = self.conv(F.pad(x, [self.pad] * 4, mode="reflect"))
        h = F.instance_norm(h, eps=1e-5)
        n, c = h.shape[:2]
        return h * (mix @ self.gamma).view(n, c, 1, 1) + (mix @ self.beta).view(n, c, 1, 1)


class StyleNet(nn.Module):
    def __init__(self, styles, w, blocks, k):
        super().__init__()
        self.stem = ConvCin(3, w, k, 1, styles)
        self.down = nn.ModuleList([ConvCin(w, 2 * w, 3, 2, styles), ConvCin(2 * w, 4 * w, 3, 2, styles)])
        self.blocks = nn.ModuleList(
            [nn.ModuleList([ConvCin(4 * w, 4 * w, 3, 1, styles), ConvCin(4 * w, 4 * w, 3, 1, styles)]) for _ in range(blocks)]
        )
        self.up = nn.ModuleList([ConvCin(4 * w, 2 * w, 3, 1, styles), ConvCin(2 * w, w, 3, 1, styles)])
        self.to_rgb = nn.Conv2d(w, 3, k)
        self.k = k

    def forward(self, x, mix):
        h = F.relu(self.stem(x * 2 - 1, mix))
        for d in self.down:
            h = F.relu(d(h, mix))
        for a, b in self.blocks:
            h = h + b(F.relu(a(h, mix)), mix)
        for u in self.up:
            h = F.relu(u(F.interpolate(h, scale_factor=2, mode="nearest"), mix))
        return torch.sigmoid(self.to_rgb(F.pad(h, [self.k // 2] * 4, mode="reflect")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--outer-kernel", type=int, default=9)
    ap.add_argument("--styles", type=int, default=6)
    ap.add_argument("--size", default="1024x768")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    w, h = map(int, a.size.split("x"))
    net = StyleNet(a.styles, a.width, a.blocks, a.outer_kernel).eval()
    mix = torch.zeros(1, a.styles)
    mix[0, 0] = 1
    pixels = (torch.arange(h * w * 3) % 256).to(torch.uint8).view(h, w, 3)

    def run():
        t = time.perf_counter()
        with torch.no_grad():
            x = pixels.permute(2, 0, 1).unsqueeze(0).float() / 255
            y = net(x, mix)
            out = (y[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).contiguous()
        assert out.shape == (h, w, 3)
        return time.perf_counter() - t

    run()
    times = sorted(run() for _ in range(a.iters))
    print(json.dumps({
        "bench": f"fast_style_{w}x{h}",
        "width": a.width, "blocks": a.blocks, "outer_kernel": a.outer_kernel,
        "ms_per_image": round(times[len(times) // 2] * 1000, 1),
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
