"""Speed of nnkit's conv and pool layers against PyTorch (CPU) and nnkit's own naive loops.

One run times forward + backward together, in float64, for

- nnkit fast (``conv2d_forward`` / ``conv2d_backward``, im2col + BLAS),
- torch on the CPU (``F.conv2d`` and ``.backward``; same threads as NumPy's BLAS get),
- nnkit naive (the loop versions), timed on a few samples of the batch and scaled up to the full batch,

and prints ``fast/torch`` (goal: <= 1.5 on every shape) and ``naive/fast``. Each timing is the best of several
rounds; the three contenders are interleaved round by round, so a busy machine slows all of them alike.

Run:  python benchmarks/bench_conv.py [--rounds 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from nnkit.layers.conv import conv2d_backward, conv2d_backward_naive, conv2d_forward, conv2d_forward_naive
from nnkit.layers.pool import (
    avgpool2d_backward,
    avgpool2d_backward_naive,
    avgpool2d_forward,
    avgpool2d_forward_naive,
    maxpool2d_backward,
    maxpool2d_backward_naive,
    maxpool2d_forward,
    maxpool2d_forward_naive,
)

CONV_SHAPES = [  # (N, C, H, W), (F, HH, WW), padding
    ((64, 1, 8, 8), (16, 3, 3), 1),
    ((64, 16, 16, 16), (32, 3, 3), 1),
    ((32, 3, 32, 32), (32, 3, 3), 1),
]
POOL_SHAPES = [  # (N, C, H, W), kernel, stride
    ((64, 16, 8, 8), 2, 2),
    ((64, 32, 16, 16), 2, 2),
    ((32, 32, 32, 32), 2, 2),
    ((64, 32, 16, 16), 3, 1),       # overlapping windows
]
NAIVE_SAMPLES = 2                   # the naive loops run on this many samples; the time is scaled to N


def best_times(contenders: dict, rounds: int) -> tuple[dict, float]:
    """Best-of-``rounds`` seconds per contender, interleaved round by round after one warm-up call each.

    Also returns the median over rounds of the paired ratio fast/torch (both measured in the same round),
    a second estimate that a burst of load from other processes cannot bias towards either side.
    """
    for fn in contenders.values():
        fn()
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    paired = float(np.median(np.array(times["fast"]) / np.array(times["torch"])))
    return {name: min(t) for name, t in times.items()}, paired


def conv_contenders(x, W, b, padding):
    xs = x[:NAIVE_SAMPLES]
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    dout = np.random.default_rng(1).normal(size=conv2d_forward(x, W, b, 1, padding)[0].shape)
    dout_t = torch.tensor(dout)

    def fast():
        conv2d_backward(dout, conv2d_forward(x, W, b, 1, padding)[1])

    def naive():
        conv2d_backward_naive(dout[:NAIVE_SAMPLES], conv2d_forward_naive(xs, W, b, 1, padding)[1])

    def torch_cpu():
        xt.grad = Wt.grad = bt.grad = None
        torch.nn.functional.conv2d(xt, Wt, bt, padding=padding).backward(dout_t)

    return {"fast": fast, "torch": torch_cpu, "naive": naive}


def pool_contenders(x, kernel, stride, kind):
    fwd, bwd, fwd_naive, bwd_naive, torch_fn = {
        "max": (maxpool2d_forward, maxpool2d_backward, maxpool2d_forward_naive, maxpool2d_backward_naive,
                torch.nn.functional.max_pool2d),
        "avg": (avgpool2d_forward, avgpool2d_backward, avgpool2d_forward_naive, avgpool2d_backward_naive,
                torch.nn.functional.avg_pool2d),
    }[kind]
    xt = torch.tensor(x, requires_grad=True)
    dout = np.random.default_rng(1).normal(size=fwd(x, kernel, stride)[0].shape)
    dout_t = torch.tensor(dout)

    def fast():
        bwd(dout, fwd(x, kernel, stride)[1])

    def naive():
        bwd_naive(dout[:NAIVE_SAMPLES], fwd_naive(x[:NAIVE_SAMPLES], kernel, stride)[1])

    def torch_cpu():
        xt.grad = None
        torch_fn(xt, kernel, stride).backward(dout_t)

    return {"fast": fast, "torch": torch_cpu, "naive": naive}


def report(label: str, N: int, t: dict, paired: float) -> float:
    naive_full = t["naive"] * N / NAIVE_SAMPLES
    ratio = t["fast"] / t["torch"]
    print(f"{label:<32} fast {t['fast'] * 1e3:7.2f} ms  torch {t['torch'] * 1e3:7.2f} ms  "
          f"naive {naive_full * 1e3:8.1f} ms*  fast/torch {ratio:4.2f} (paired median {paired:4.2f})  "
          f"naive/fast {naive_full / t['fast']:5.0f}")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timing rounds per contender (best is kept)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit torch and NumPy's BLAS to this many threads (default: their own defaults)")
    args = parser.parse_args()
    if args.threads is not None:
        from threadpoolctl import threadpool_limits   # installed with scikit-learn (the test extra)

        threadpool_limits(args.threads)
        torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(0)
    print(f"float64, forward+backward, best of {args.rounds} rounds; torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"* naive timed on {NAIVE_SAMPLES} samples of the batch and scaled linearly to the full batch N\n")
    ratios = []
    print("conv2d, stride 1, padding 1")
    for x_shape, (F, HH, WW), padding in CONV_SHAPES:
        x = rng.normal(size=x_shape)
        W = rng.normal(size=(F, x_shape[1], HH, WW)) * 0.1
        b = rng.normal(size=F)
        t, paired = best_times(conv_contenders(x, W, b, padding), args.rounds)
        ratios.append(report(f"N={x_shape[0]} C={x_shape[1]} {x_shape[2]}x{x_shape[3]} F={F} {HH}x{WW}",
                             x_shape[0], t, paired))
    for kind in ("max", "avg"):
        print(f"\n{kind}pool2d")
        for x_shape, kernel, stride in POOL_SHAPES:
            x = rng.normal(size=x_shape)
            t, paired = best_times(pool_contenders(x, kernel, stride, kind), args.rounds)
            ratios.append(report(f"N={x_shape[0]} C={x_shape[1]} {x_shape[2]}x{x_shape[3]} k={kernel} s={stride}",
                                 x_shape[0], t, paired))
    worst = max(ratios)
    print(f"\nworst fast/torch: {worst:.2f} (goal <= 1.5: {'met' if worst <= 1.5 else 'NOT met'}); "
          f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
