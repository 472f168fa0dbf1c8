"""PyTorch reference for benches/conv_ops.rs: the same convolution shapes, the same ops
(forward; gradient for the input; gradient for the weight), timed the same way (median,
backward = (forward + backward) - forward with only one tensor tracked).

    python3 benches/reference/conv_ops.py [--iters N] [--only dcgan|cyclegan|style] [--threads T]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def conv(net, batch, cin, cout, hw, k, s, p, count, transposed=False):
    return dict(net=net, batch=batch, cin=cin, cout=cout, hw=hw, k=k, s=s, p=p,
                count=count, transposed=transposed)


SHAPES = [
    conv("dcgan", 16, 512, 256, (4, 4), 4, 2, 1, 1, True),
    conv("dcgan", 16, 256, 128, (8, 8), 4, 2, 1, 1, True),
    conv("dcgan", 16, 128, 64, (16, 16), 4, 2, 1, 1, True),
    conv("dcgan", 16, 64, 3, (32, 32), 4, 2, 1, 1, True),
    conv("dcgan", 16, 3, 64, (64, 64), 4, 2, 1, 2),
    conv("dcgan", 16, 64, 128, (32, 32), 4, 2, 1, 2),
    conv("dcgan", 16, 128, 256, (16, 16), 4, 2, 1, 2),
    conv("dcgan", 16, 256, 512, (8, 8), 4, 2, 1, 2),
    conv("cyclegan", 1, 3, 64, (134, 134), 7, 1, 0, 4),
    conv("cyclegan", 1, 64, 128, (128, 128), 3, 2, 1, 4),
    conv("cyclegan", 1, 128, 256, (64, 64), 3, 2, 1, 4),
    conv("cyclegan", 1, 256, 256, (34, 34), 3, 1, 0, 48),
    conv("cyclegan", 1, 256, 128, (66, 66), 3, 1, 0, 4),
    conv("cyclegan", 1, 128, 64, (130, 130), 3, 1, 0, 4),
    conv("cyclegan", 1, 64, 3, (134, 134), 7, 1, 0, 4),
    conv("cyclegan", 1, 3, 64, (128, 128), 4, 2, 1, 4),
    conv("cyclegan", 1, 64, 128, (64, 64), 4, 2, 1, 4),
    conv("cyclegan", 1, 128, 256, (32, 32), 4, 2, 1, 4),
    conv("cyclegan", 1, 256, 512, (16, 16), 4, 1, 1, 4),
    conv("cyclegan", 1, 512, 1, (15, 15), 4, 1, 1, 4),
    conv("style", 1, 3, 16, (776, 1032), 9, 1, 0, 1),
    conv("style", 1, 16, 32, (770, 1026), 3, 2, 0, 1),
    conv("style", 1, 32, 64, (386, 514), 3, 2, 0, 1),
    conv("style", 1, 64, 64, (194, 258), 3, 1, 0, 6),
    conv("style", 1, 64, 32, (386, 514), 3, 1, 0, 1),
    conv("style", 1, 32, 16, (770, 1026), 3, 1, 0, 1),
    conv("style", 1, 16, 3, (776, 1032), 9, 1, 0, 1),
]


def median(iters, run):
    run()
    times = sorted(run() for _ in range(max(iters, 1)))
    return times[len(times) // 2]


def time_op(s, op, iters):
    x = torch.randn(s["batch"], s["cin"], *s["hw"])
    if s["transposed"]:
        w = torch.randn(s["cin"], s["cout"], s["k"], s["k"])
        fwd = lambda x, w: F.conv_transpose2d(x, w, stride=s["s"], padding=s["p"],
                                              output_padding=s["s"] - 1)
    else:
        w = torch.randn(s["cout"], s["cin"], s["k"], s["k"])
        fwd = lambda x, w: F.conv2d(x, w, stride=s["s"], padding=s["p"])

    def run_forward():
        with torch.no_grad():
            t = time.perf_counter()
            fwd(x, w).sum().item()
            return time.perf_counter() - t

    if op == 0:
        return median(iters, run_forward)

    def run_backward():
        xt = x.clone().requires_grad_(op == 1)
        wt = w.clone().requires_grad_(op == 2)
        t = time.perf_counter()
        y = fwd(xt, wt)
        y.sum().backward()
        (xt if op == 1 else wt).grad.sum().item()
        return time.perf_counter() - t

    def run_tracked_forward():
        # The forward as the backward run does it (graph recorded), to subtract.
        xt = x.clone().requires_grad_(op == 1)
        wt = w.clone().requires_grad_(op == 2)
        t = time.perf_counter()
        fwd(xt, wt).sum().item()
        return time.perf_counter() - t

    return max(median(iters, run_backward) - median(iters, run_tracked_forward), 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--only")
    ap.add_argument("--threads", type=int)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    for s in SHAPES:
        if a.only and a.only != s["net"]:
            continue
        ops = [0] if s["net"] == "style" else [0, 1, 2]
        for op in ops:
            ms = time_op(s, op, a.iters) * 1000
            b, c, (h, w) = s["batch"], s["cin"], s["hw"]
            print(json.dumps({
                "net": s["net"], "op": ["forward", "backward_data", "backward_weight"][op],
                "transposed": s["transposed"],
                "shape": f"{b}x{c}x{h}x{w} -> {s['cout']} k{s['k']} s{s['s']} p{s['p']}",
                "count": s["count"], "ms": round(ms, 2), "threads": torch.get_num_threads(),
            }))


if __name__ == "__main__":
    main()
