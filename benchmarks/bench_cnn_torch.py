"""The digits CNN trained by nnkit and by PyTorch: same network, same initial weights, same batches, same epochs.

The network is :func:`nnkit.examples.cnn.digits_cnn` (conv 3x3 -> batch norm -> ReLU -> max-pool 2x2, twice,
then flatten and linear). Its torch twin is built from ``torch.nn`` layers and given nnkit's initial weights
(``Linear.W`` transposed: nnkit stores it (in, out)). Both train with AdamW (lr 2e-3, weight decay 0.05 on the
conv and linear weights only, nnkit's default ``decay="weights"``) and softmax cross-entropy, on the kit's
digits training split, in the same shuffled mini-batches of 32 (one ``np.random.default_rng(seed)``
permutation per epoch, shared), for a fixed number of epochs (no early stopping, so both do the same work).

Printed for nnkit (float64) and torch in float64 and float32: the training time (forward, backward and the
optimizer step; data indexing included for both), the ratio nnkit/torch, the final training loss and the
held-out test accuracy in eval mode. The first batch's loss is printed for both as a check that the two
start from the same network. Each configuration runs ``--repeats`` times, interleaved, and the best time is
kept. nnkit and torch run with their default threads (``--threads 1`` puts NumPy's BLAS, torch and nnkit's
batch chunks on one thread). The load average is printed before and after.

Run:  python benchmarks/bench_cnn_torch.py [--epochs 10] [--repeats 2] [--seed 0] [--threads 1]
Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from torch import nn

from nnkit.data import digits_splits
from nnkit.examples.cnn import as_images, digits_cnn
from nnkit.layers import conv as nnconv
from nnkit.layers.loss import SoftmaxCrossEntropy
from nnkit.optim import AdamW

LR, WEIGHT_DECAY, BATCH = 2e-3, 0.05, 32


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def set_mode(model, training: bool) -> None:
    """Training or eval mode for an nnkit model, with ``.train()``/``.eval()`` where the layers have them."""
    if callable(getattr(model, "train", None)):
        model.train(training)


def nn_forward(model, x: np.ndarray, training: bool) -> np.ndarray:
    set_mode(model, training)
    try:
        return model.forward(x, training=training)
    except TypeError:                      # layers that follow .train()/.eval() take no training= keyword
        return model.forward(x)


def torch_twin(model, dtype: torch.dtype) -> nn.Sequential:
    """The torch network with the nnkit model's current weights, in ``dtype``."""
    layers = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind.startswith("Conv2"):
            F, C, HH, WW = layer.params["W"].shape
            t = nn.Conv2d(C, F, (HH, WW), stride=layer.stride, padding=layer.padding)
            t.weight.data = torch.tensor(layer.params["W"])
            t.bias.data = torch.tensor(layer.params["b"])
        elif kind == "BatchNorm2d":
            t = nn.BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.momentum)
            t.weight.data = torch.tensor(layer.params["gamma"])
            t.bias.data = torch.tensor(layer.params["beta"])
        elif kind == "ReLU":
            t = nn.ReLU()
        elif kind.startswith("MaxPool2"):
            t = nn.MaxPool2d(layer.kernel_size, layer.stride)
        elif kind == "Flatten":
            t = nn.Flatten()
        elif kind == "Linear":
            t = nn.Linear(*layer.params["W"].shape)
            t.weight.data = torch.tensor(layer.params["W"].T.copy())
            t.bias.data = torch.tensor(layer.params["b"])
        else:
            raise TypeError(f"torch_twin: no torch twin for {kind}")
        layers.append(t)
    return nn.Sequential(*layers).to(dtype)


def epoch_orders(n: int, epochs: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


def train_nnkit(model, X, y, orders) -> tuple[float, float, float]:
    """Train in place; returns (seconds, first batch loss, last epoch's mean loss)."""
    loss_fn, optimizer = SoftmaxCrossEntropy(), AdamW(model, lr=LR, weight_decay=WEIGHT_DECAY)
    first, start = None, time.perf_counter()
    for order in orders:
        total = 0.0
        for b in range(0, len(order), BATCH):
            idx = order[b:b + BATCH]
            value = loss_fn.forward(nn_forward(model, X[idx], True), y[idx])
            model.backward(loss_fn.backward())
            optimizer.step()
            first = value if first is None else first
            total += value * len(idx)
    return time.perf_counter() - start, first, total / len(orders[-1])


def train_torch(net: nn.Sequential, X, y, orders, dtype) -> tuple[float, float, float]:
    weights = [p for name, p in net.named_parameters() if name.endswith("weight") and p.dim() > 1]
    others = [p for name, p in net.named_parameters() if not (name.endswith("weight") and p.dim() > 1)]
    optimizer = torch.optim.AdamW([{"params": weights, "weight_decay": WEIGHT_DECAY},
                                   {"params": others, "weight_decay": 0.0}], lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    Xt, yt = torch.tensor(X, dtype=dtype), torch.tensor(y, dtype=torch.long)
    net.train()
    first, start = None, time.perf_counter()
    for order in orders:
        total = 0.0
        order_t = torch.from_numpy(order)
        for b in range(0, len(order), BATCH):
            idx = order_t[b:b + BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(Xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            value = loss.item()
            first = value if first is None else first
            total += value * len(idx)
    return time.perf_counter() - start, first, total / len(orders[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2, help="runs per configuration; the best time is kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--channels", type=int, nargs=2, default=(32, 32))
    parser.add_argument("--threads", type=int, default=None, help="put every library on this many threads")
    args = parser.parse_args()
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        torch.set_num_threads(args.threads)
        nnconv.set_num_threads(args.threads)
    split = digits_splits()
    X, y = as_images(split["X_train"]), split["y_train"]
    X_test, y_test = as_images(split["X_test"]), split["y_test"]
    orders = epoch_orders(len(y), args.epochs, args.seed)
    print(f"digits CNN {tuple(args.channels)}, {len(y)} training images, batch {BATCH}, {args.epochs} epochs, "
          f"AdamW lr {LR} wd {WEIGHT_DECAY}; torch {torch.__version__} on {torch.get_num_threads()} threads, "
          f"nnkit batch chunks on {nnconv.get_num_threads()}; best of {args.repeats}; {load()}", flush=True)
    results: dict[str, list] = {"nnkit float64": [], "torch float64": [], "torch float32": []}
    for _ in range(args.repeats):
        for name in results:
            model = digits_cnn(tuple(args.channels), seed=args.seed)
            if name == "nnkit float64":
                seconds, first, last = train_nnkit(model, X, y, orders)
                scores = nn_forward(model, X_test, False)
            else:
                dtype = torch.float64 if name.endswith("64") else torch.float32
                net = torch_twin(model, dtype)
                seconds, first, last = train_torch(net, X, y, orders, dtype)
                net.eval()
                with torch.no_grad():
                    scores = net(torch.tensor(X_test, dtype=dtype)).numpy()
            results[name].append((seconds, first, last, float(np.mean(scores.argmax(axis=1) == y_test))))
    base = min(r[0] for r in results["nnkit float64"])
    print(f"{'':<14} {'train s':>8} {'nnkit/this':>10} {'first loss':>12} {'last loss':>10} {'test acc':>9}")
    for name, runs in results.items():
        seconds, first, last, acc = min(runs)
        print(f"{name:<14} {seconds:8.2f} {base / seconds:10.2f} {first:12.8f} {last:10.5f} {acc:9.4f}")
    print(f"(nnkit/this is nnkit's time over this row's: <= 1 means nnkit is at least as fast); {load()}")


if __name__ == "__main__":
    main()
