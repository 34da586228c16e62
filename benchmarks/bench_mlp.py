"""Digits MLP: nnkit against PyTorch (CPU) and scikit-learn, measured in the same run.

The same network and schedule for everyone: 64 -> 128 ReLU -> 10, softmax
cross-entropy, Adam (lr 1e-3, betas (0.9, 0.999), eps 1e-8, no weight decay),
mini-batches of 32 reshuffled every epoch, 20 epochs on the training split of
``nnkit.data.digits_splits()``; test accuracy on its test split. nnkit and
torch start from the same initial weights. Timings are training only (no
validation pass), the median of ``--repeats`` runs, in seconds per epoch.

Run:  python benchmarks/bench_mlp.py [--repeats 3] [--threads N] [--profile]

On a machine busy with other work, ``--threads 1`` gives steadier numbers: torch's
OpenMP threads spin-wait and slow down badly when the cores are oversubscribed.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
import warnings

import numpy as np

EPOCHS, BATCH, HIDDEN, LR = 20, 32, 128, 1e-3


def load():
    from nnkit.data import digits_splits

    s = digits_splits()
    return s["X_train"], s["y_train"], s["X_test"], s["y_test"]


def blas_threads() -> int:
    from threadpoolctl import threadpool_info

    counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(counts) if counts else 1


def run_nnkit(data, seed=0):
    from nnkit.examples.mlp import digits_mlp
    from nnkit.layers import SoftmaxCrossEntropy
    from nnkit.optim import Adam
    from nnkit.train import accuracy, fit

    X, y, Xt, yt = data
    model = digits_mlp(HIDDEN, seed=seed)
    start = time.perf_counter()
    fit(model, SoftmaxCrossEntropy(), Adam(model, lr=LR), (X, y), epochs=EPOCHS, batch_size=BATCH, seed=seed)
    seconds = (time.perf_counter() - start) / EPOCHS
    return seconds, accuracy(model.eval().forward(Xt), yt)


def run_torch(data, dtype_name, seed=0):
    import torch

    from nnkit.examples.mlp import digits_mlp

    dtype = getattr(torch, dtype_name)
    X, y, Xt, yt = data
    init = digits_mlp(HIDDEN, seed=seed)  # the same starting weights as nnkit
    model = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10)).to(dtype)
    with torch.no_grad():
        for ours, theirs in ((init[0], model[0]), (init[2], model[2])):
            theirs.weight.copy_(torch.from_numpy(ours.params["W"].T))
            theirs.bias.copy_(torch.from_numpy(ours.params["b"]))
    Xtr, ytr = torch.tensor(X, dtype=dtype), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        order = torch.from_numpy(rng.permutation(len(X)))
        for i in range(0, len(X), BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(Xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
    seconds = (time.perf_counter() - start) / EPOCHS
    with torch.no_grad():
        predicted = model(torch.tensor(Xt, dtype=dtype)).argmax(dim=1).numpy()
    return seconds, float(np.mean(predicted == yt))


def run_sklearn(data, seed=0):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X, y, Xt, yt = data
    clf = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,), activation="relu", solver="adam", alpha=0.0, batch_size=BATCH,
        learning_rate_init=LR, max_iter=EPOCHS, shuffle=True, random_state=seed, tol=0.0,
        n_iter_no_change=EPOCHS + 1,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    seconds = (time.perf_counter() - start) / EPOCHS
    return seconds, float(clf.score(Xt, yt))


def median_of(fn, repeats, *args):
    runs = [fn(*args) for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), runs[0][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="profile one nnkit run and print the top functions")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and for torch (default: what NumPy's BLAS uses now)")
    args = parser.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    data = load()
    threads = args.threads or blas_threads()
    threadpool_limits(threads, user_api="blas")  # nnkit and sklearn (NumPy's BLAS)
    torch.set_num_threads(threads)
    print(f"digits MLP 64-{HIDDEN}-10, Adam lr={LR}, batch {BATCH}, {EPOCHS} epochs, "
          f"{len(data[1])} train / {len(data[3])} test examples; BLAS and torch threads: {threads}")
    run_nnkit(data)  # warm up imports and caches
    run_torch(data, "float64")
    results = {
        "nnkit (float64)": median_of(run_nnkit, args.repeats, data),
        "torch (float64)": median_of(run_torch, args.repeats, data, "float64"),
        "torch (float32)": median_of(run_torch, args.repeats, data, "float32"),
        "sklearn MLPClassifier (float64)": median_of(run_sklearn, args.repeats, data),
    }
    print(f"{'':34s}{'ms/epoch':>10s}{'test acc':>10s}")
    for name, (seconds, acc) in results.items():
        print(f"{name:34s}{1000 * seconds:10.2f}{acc:10.4f}")
    ours = results["nnkit (float64)"][0]
    for name in ("torch (float64)", "torch (float32)", "sklearn MLPClassifier (float64)"):
        print(f"time ratio nnkit / {name:32s}{ours / results[name][0]:6.2f}")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run_nnkit, data)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
