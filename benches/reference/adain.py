"""AdaIN stylisation of one photo in PyTorch, identical to benches/adain.rs: a VGG16 encoder
(torchvision's features, 3x3 convs with zero padding, max pools, ImageNet normalisation) to
relu4_1 (or --depth), AdaIN (biased variance, eps 1e-5), and the mirrored decoder of
models/adain.rs (reflection padding, nearest x2 up-sampling, ReLU after every conv but the
last); the painting (512x512) and the photo both encoded, pixels from and back to 8 bits on
the host. Weights are random: timing does not depend on them.

python benches/reference/adain.py [--depth relu4_1] [--width 64] [--size 1024x768]
    [--iters N] [--threads T]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]


def encoder_convs(depth_block):
    """(cin, cout, block) of VGG16's convs up to the first conv of block `depth_block`."""
    convs, cin, block = [], 3, 0
    for v in VGG16:
        if v == "M":
            block += 1
            continue
        convs.append((cin, v, block))
        cin = v
        if block == depth_block:
            break
    return convs


class AdaIN(nn.Module):
    def __init__(self, depth_block, width):
        super().__init__()
        enc = encoder_convs(depth_block)
        self.enc = nn.ModuleList([nn.Conv2d(i, o, 3, padding=1) for i, o, _ in enc])
        self.enc_blocks = [b for _, _, b in enc]
        scale = lambda c: 3 if c == 3 else max(1, c * width // 64)
        dec = []
        for k, (i, o, b) in enumerate(reversed(enc)):
            dec.append((o if k == 0 else scale(o), scale(i), b))
        self.dec = nn.ModuleList([nn.Conv2d(i, o, 3) for i, o, _ in dec])
        self.dec_blocks = [b for _, _, b in dec]
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.factor = 2 ** depth_block

    def encode(self, x):
        h, block = (x - self.mean) / self.std, 0
        for conv, b in zip(self.enc, self.enc_blocks):
            if b != block:
                h, block = F.max_pool2d(h, 2), b
            h = F.relu(conv(h))
        return h

    def decode(self, t):
        h = t
        n = len(self.dec)
        for k, conv in enumerate(self.dec):
            h = conv(F.pad(h, [1] * 4, mode="reflect"))
            if k + 1 < n:
                h = F.relu(h)
                if self.dec_blocks[k + 1] != self.dec_blocks[k]:
                    h = F.interpolate(h, scale_factor=2, mode="nearest")
        return h

    @staticmethod
    def stats(f):
        m = f.mean(dim=(2, 3), keepdim=True)
        return m, (f.var(dim=(2, 3), keepdim=True, unbiased=False) + 1e-5).sqrt()

    def forward(self, x, style):
        f = self.encode(x)
        sm, ss = self.stats(self.encode(style))
        cm, cs = self.stats(f)
        return self.decode((f - cm) / cs * ss + sm).clamp(0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", default="relu4_1")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--size", default="1024x768")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    w, h = map(int, a.size.split("x"))
    depth_block = int(a.depth[len("relu"):].split("_")[0]) - 1
    net = AdaIN(depth_block, a.width).eval()
    pixels = (torch.arange(h * w * 3) % 256).to(torch.uint8).view(h, w, 3)
    style_pixels = (torch.arange(512 * 512 * 3) % 253).to(torch.uint8).view(512, 512, 3)

    def run():
        t = time.perf_counter()
        with torch.inference_mode():
            x = pixels.permute(2, 0, 1).unsqueeze(0).float() / 255
            s = style_pixels.permute(2, 0, 1).unsqueeze(0).float() / 255
            # Pad to the encoder's factor, as the Rust side does.
            ph, pw = (-h) % net.factor, (-w) % net.factor
            if ph or pw:
                x = F.pad(x, [0, pw, 0, ph], mode="reflect")
            y = net(x, s)[:, :, :h, :w]
            out = (y * 255).round().to(torch.uint8).squeeze(0).permute(1, 2, 0).contiguous()
        assert out.shape == (h, w, 3)
        return time.perf_counter() - t

    run()
    times = sorted(run() for _ in range(a.iters))
    median = times[len(times) // 2]
    print(json.dumps({
        "bench": f"adain_{w}x{h}_pytorch",
        "depth": a.depth,
        "width": a.width,
        "ms_per_image": round(median * 1000, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
