"""What isolation costs per submission: starting a worker with and without namespaces, in one run.

Run: ``python benchmarks/bench_isolation.py [--repeats 15]``

For each mode (``process``: a plain worker process; ``namespace``: the same worker under bubblewrap in its own
namespaces; ``user``: as another user, when the grader is root and that user can run this Python), a worker is
started, runs one cell that imports numpy and defines a function, answers one call, and is closed -- what every
submission pays once, before its own cells. The staged view and matplotlib's font cache are built once per
grading process, so the first start of each mode is left out of the medians.

Printed: median wall milliseconds and the worker's own CPU milliseconds per start, the namespace/process ratio,
the milliseconds namespaces add (the goal: under 100 ms), and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from autograder.handle import RemoteHandle  # noqa: E402
from autograder.isolation import namespace_problem, user_problem  # noqa: E402
from autograder.sandbox import Limits, Policy, Sandbox  # noqa: E402

CELLS = [("cell 1", "import numpy as np\ndef double(x):\n    return 2 * x\n")]


def one_start(mode: str) -> tuple[float, float]:
    start = time.perf_counter()
    sandbox = Sandbox(CELLS, Limits(isolation=mode), Policy(), mode=mode)
    sandbox.boot()
    RemoteHandle(sandbox).call("double", np.arange(3.0))
    cpu = sandbox.worker.cpu_seconds()
    sandbox.close()
    return time.perf_counter() - start, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    modes = ["process"]
    if namespace_problem() is None:
        modes.append("namespace")
    else:
        print(f"namespace isolation unavailable: {namespace_problem()}")
    if os.getuid() == 0 and user_problem("nobody") is None:
        modes.append("user")
    rows = {}
    for mode in modes:
        one_start(mode)                                   # stages the view and the font cache
        samples = [one_start(mode) for _ in range(args.repeats)]
        rows[mode] = (statistics.median(s[0] for s in samples) * 1000, statistics.median(s[1] for s in samples) * 1000)
    print(f"load average {os.getloadavg()[0]:.2f}, {args.repeats} starts per mode (median)")
    print(f"{'mode':10s} {'wall ms':>9s} {'worker CPU ms':>14s}")
    for mode, (wall, cpu) in rows.items():
        print(f"{mode:10s} {wall:9.0f} {cpu:14.0f}")
    if "namespace" in rows:
        wall_ns, wall_p = rows["namespace"][0], rows["process"][0]
        print(f"namespace / process: {wall_ns / wall_p:.2f}x wall; namespaces add {wall_ns - wall_p:.0f} ms "
              f"per submission (goal: under 100 ms)")


if __name__ == "__main__":
    main()
