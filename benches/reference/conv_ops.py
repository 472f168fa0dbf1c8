"""PyTorch reference for benches/conv_ops.rs: the same convolution shapes (read from the
Rust bench's --list on standard input), the same ops (forward; gradient for the input;
gradient for the weight), timed the same way (median, backward = (forward + backward) -
forward with only one tensor tracked).

    cargo bench --quiet --bench conv_ops -- --list [--only NET] |
        python3 benches/reference/conv_ops.py [--iters N] [--threads T]
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F


def median(iters, run):
    run()
    times = sorted(run() for _ in range(max(iters, 1)))
    return times[len(times) // 2]


def time_op(s, op, iters):
    x = torch.randn(s["batch"], s["cin"], *s["hw"])
    k, st, p = s["kernel"], s["stride"], s["padding"]
    if s["transposed"]:
        w = torch.randn(s["cin"], s["cout"], k, k)
        fwd = lambda x, w: F.conv_transpose2d(x, w, stride=st, padding=p, output_padding=st - 1)
    else:
        w = torch.randn(s["cout"], s["cin"], k, k)
        fwd = lambda x, w: F.conv2d(x, w, stride=st, padding=p)

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
    ap.add_argument("--threads", type=int)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    for line in sys.stdin:
        s = json.loads(line)
        ops = {"style": [0], "gatys": [0, 1]}.get(s["net"], [0, 1, 2])
        for op in ops:
            ms = time_op(s, op, a.iters) * 1000
            print(json.dumps({**s, "op": ["forward", "backward_data", "backward_weight"][op],
                              "ms": round(ms, 2), "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
