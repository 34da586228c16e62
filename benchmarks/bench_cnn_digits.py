"""Time training the digits CNN (nnkit.examples.cnn) to >= 98% held-out test accuracy; save its figures.

For each seed: wall-clock and CPU seconds of ``train_digits_cnn(seed)`` (the full default configuration,
the one tests/nnkit/test_cnn_digits.py checks for seed 0), the epochs run, the test accuracy, and the time
until the validation accuracy first reached 98%. Goal: >= 98% test accuracy in under 60 s on 2 cores.

Nothing is written to disk unless asked: with ``--save-figures DIR`` the first seed's model's first-layer
filters and feature maps are written to DIR/cnn_filters.png and DIR/cnn_feature_maps.png (the README's
figures were made with ``--save-figures docs/img``).

For the same network trained by nnkit and by PyTorch side by side, see bench_cnn_torch.py.

Run:  python benchmarks/bench_cnn_digits.py [--seeds 0 1 2] [--save-figures DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from nnkit.data import digits_splits
from nnkit.examples.cnn import as_images, cnn_figures, train_digits_cnn

GOAL_ACCURACY, GOAL_SECONDS = 0.98, 60.0


def save_figures(model, directory: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    split = digits_splits()
    image = as_images(split["X_test"])[:1]
    filters, maps = cnn_figures(model, image, label=int(split["y_test"][0]))
    for fig, name in ((filters, "cnn_filters.png"), (maps, "cnn_feature_maps.png")):
        fig.savefig(directory / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        print(f"wrote {directory / name}")
    print(f"(feature maps of the first test digit, label {split['y_test'][0]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--save-figures", metavar="DIR", default=None,
                        help="write the first seed's filter and feature-map PNGs to DIR (default: write nothing)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    results = []
    for seed in args.seeds:
        wall, cpu = time.perf_counter(), time.process_time()
        model, history, test_accuracy = train_digits_cnn(seed)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        reached = next((e for e, a in enumerate(history.val_accuracy) if a >= GOAL_ACCURACY), None)
        to_98 = "never" if reached is None else f"{sum(history.epoch_seconds[:reached + 1]):.1f} s (epoch {reached + 1})"
        print(f"seed {seed}: test accuracy {test_accuracy:.4f}  epochs {history.epochs}  wall {wall:.1f} s  "
              f"cpu {cpu:.1f} s  validation >= 98% after {to_98}")
        results.append((test_accuracy, wall))
        if seed == args.seeds[0] and args.save_figures:
            save_figures(model, Path(args.save_figures))
    accuracies, walls = np.array(results).T
    met = bool(np.all(accuracies >= GOAL_ACCURACY) and np.all(walls < GOAL_SECONDS))
    print(f"min test accuracy {accuracies.min():.4f}, max wall {walls.max():.1f} s "
          f"(goal >= {GOAL_ACCURACY:.0%} in < {GOAL_SECONDS:.0f} s: {'met' if met else 'NOT met'}); "
          f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
