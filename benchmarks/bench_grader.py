"""Grader throughput on the real units: ``nnkit grade`` against ``nbgrader autograde`` on the same class.

Run: ``python benchmarks/bench_grader.py [--units unit1 unit3] [--submissions 20] [--graders jobs1 jobs2 kernel]``
(``--submissions 0`` runs only the CPU split below)
(the test setup must be installed: it builds the classes with ``tests/notebooks/_kit.py``).

For each unit, a class of ``--submissions`` notebooks (default 20) is built from the kit's own notebooks in an
nbgrader course (``_kit.build_course``): the solution (correct), the released exercise (stubbed), the unit's
scripted buggy submissions (``tests/notebooks/submissions/<unit>.py``), the solution with one solution region
put back to the stub (partial, a different region each time) and the solution with one solution cell broken
(a syntax error, or an exception at the top of the cell). The class is graded by:

1. ``nnkit grade --jobs 1`` and 2. ``--jobs 2`` (trusted, sandboxed, with the isolation ``auto`` picks);
3. ``nbgrader autograde`` as nbgrader ships it: every notebook executed in a Jupyter kernel, the test cells
   calling ``autograder.check`` in the kernel (the kit's ``nbgrader_config.py`` with nbgrader's own Execute
   step put back). This is the peer for the throughput goal;
4. ``nbgrader autograde`` through the kit's ``nbgrader_config.py`` as committed (when it routes autograding
   through the trusted grader; skipped with ``--no-bridge`` or when it does not).

Printed for each: wall seconds and CPU seconds (this process's children: graders, kernels, workers) per
submission, the load average, and whether every item's score agrees with ``nnkit grade --jobs 1``. Goals
(issue 12): nnkit ``--jobs 2`` >= 4x the throughput of 3. on 2 cores; <= 1.5 CPU-s per unit-3 submission.

The graders run a frozen copy of this tree's ``autograder/`` and ``nnkit/`` (copied to the temporary folder at
the start), so that edits made to the working tree while a benchmark runs cannot change what it measures
midway. ``--baseline DIR`` also grades each class with the ``nnkit grade`` of another source tree (``DIR``,
e.g. a ``git archive`` of an earlier commit), in the same run, so before and after are compared at the same
load.

Then, for every unit benchmarked (``--profile`` to choose, ``--profile ''`` to skip), one correct submission's
CPU is split: the interpreter's start and numpy's import in the sandbox, the worker's start, the notebook's
cells, the items (worker side) and the grader process, after a first grading that warms the grading
process's caches (as in a batch, where each process grades many submissions). The cells are the floor: the
notebook's own code, which any grader that runs the notebook pays (nbgrader runs the same cells in a kernel).
``--top N`` prints the grader's N top functions (cProfile) for the first profiled unit.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.notebooks import _kit  # noqa: E402

SECRET = "bench-secret"
KERNEL_CONFIG = """c = get_config()
load_subconfig(r"{config}")
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
from nbgrader.converters import Autograde
c.Autograde.autograde_preprocessors = list(Autograde.class_traits()["autograde_preprocessors"].default())
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


class CpuMeter:
    """CPU seconds of a process and all its descendants, from a cgroup-v1 ``cpuacct`` group of its own.

    ``RUSAGE_CHILDREN`` misses workers that run in bubblewrap's pid namespace (they are reaped inside it, so
    their CPU never reaches this process); a cgroup counts every descendant. Falls back to ``RUSAGE_CHILDREN``
    (and says so) where no writable cpuacct hierarchy exists.
    """

    count = 0

    def __init__(self):
        CpuMeter.count += 1
        self.path = CPUACCT / f"nnkit-bench-{os.getpid()}-{CpuMeter.count}"
        try:
            self.path.mkdir()
        except OSError:
            self.path = None
        self.start = children_cpu()

    def preexec(self) -> None:
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> float:
        if self.path is None:
            return children_cpu() - self.start
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        """Remove the group; processes that outlived the grader (being reaped) may delay that a little."""
        for _ in range(50) if self.path is not None else ():
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)
        if self.path is not None:
            print(f"  (could not remove {self.path}: processes still in it)", file=sys.stderr)


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


FROZEN = REPO      # main() points this at a frozen copy of autograder/ and nnkit/ (see freeze)


def freeze(root: Path) -> Path:
    """Copy this tree's ``autograder/`` and ``nnkit/`` to ``root/tree``: the graders measure that copy."""
    tree = root / "tree"
    for package in ("autograder", "nnkit"):
        shutil.copytree(REPO / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return tree


def env(tree: Path | None = None) -> dict:
    """The graders' environment: ``tree``'s autograder and nnkit first on the path (not the installed ones),
    so that a benchmark measures the frozen copy of the tree it is run from, or the ``--baseline`` tree."""
    tree = FROZEN if tree is None else tree
    e = _kit.kernel_env()
    e["NNKIT_GRADER_SECRET"] = SECRET
    e["PYTHONPATH"] = os.pathsep.join([str(tree)] + ([e["PYTHONPATH"]] if e.get("PYTHONPATH") else []))
    return e


# -- the class --------------------------------------------------------------------------------------------------
def _solution_cells(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source
            and _kit.nbgrader_meta(c).get("solution")]


def partial(solution, k: int):
    nb = nbformat.from_dict(json.loads(json.dumps(solution)))
    cells = _solution_cells(nb)
    cell = nb.cells[cells[k % len(cells)]]
    cell.source = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "raise NotImplementedError()", cell.source,
                         count=1, flags=re.S)
    return nb


def broken(solution, k: int):
    nb = nbformat.from_dict(json.loads(json.dumps(solution)))
    cells = _solution_cells(nb)
    cell = nb.cells[cells[(2 * k + 1) % len(cells)]]
    cell.source = ("def oops(:\n" if k % 2 == 0 else "raise RuntimeError('half-finished edit')\n") + cell.source
    return nb


def build_class(unit: str, course: Path, count: int) -> list[str]:
    """A course with ``count`` submitted notebooks of ``unit``; returns the student ids."""
    base = _kit.build_course(unit, course)          # solution, untouched (stubbed), the scripted buggy ones
    solution = _kit.read_notebook(_kit.solution_notebook_path(unit))
    kinds = list(base)
    made = {s: _kit.read_notebook(p) for s, p in base.items()}
    k = 0
    while len(made) < count:
        made[f"partial{k:02d}"] = partial(solution, k)
        if len(made) < count:
            made[f"broken{k:02d}"] = broken(solution, k)
        if len(made) < count:
            name = kinds[k % len(kinds)]
            made[f"{name}-copy{k:02d}"] = made[name]
        k += 1
    students = sorted(made)[:count] if len(made) > count else sorted(made)
    for student in students:
        path = course / "submitted" / student / unit / f"{unit}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(made[student], str(path))
    for extra in set(made) - set(students):
        shutil.rmtree(course / "submitted" / extra, ignore_errors=True)
    return students


# -- the graders --------------------------------------------------------------------------------------------------
def timed(argv, cwd, tree: Path | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    meter, start = CpuMeter(), time.perf_counter()
    try:
        done = subprocess.run(argv, cwd=cwd, env=env(tree), capture_output=True, text=True,
                              preexec_fn=meter.preexec)
        return time.perf_counter() - start, meter.seconds(), done
    finally:
        meter.close()


def nnkit_grade(course: Path, jobs: int, grade_ids, tree: Path | None = None) -> tuple[float, float, dict]:
    out = course / f"nnkit-jobs{jobs}{'' if tree is None else '-baseline'}"
    shutil.rmtree(out, ignore_errors=True)
    wall, cpu, done = timed([sys.executable, "-m", "autograder.cli", "grade", str(course / "submitted"), "--source",
                             str(course / "source"), "--out", str(out), "--quiet", "--jobs", str(jobs)], course, tree)
    if done.returncode not in (0, 1):
        raise SystemExit(f"nnkit grade failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return wall, cpu, {r["student"]: {g: float(r[g]) if r.get(g) else 0.0 for g in grade_ids} for r in rows}


def nbgrader(course: Path, unit: str, students, grade_ids, config: str | None) -> tuple[float, float, dict]:
    if config is not None:
        (course / "nbgrader_config.py").write_text(config)
    shutil.rmtree(course / "autograded", ignore_errors=True)
    wall, cpu, done = timed([sys.executable, "-m", "nbgrader", "autograde", unit, "--force", "--create",
                             "--log-level=WARN"], course)
    if done.returncode != 0:
        raise SystemExit(f"nbgrader autograde failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    scores = json.loads(subprocess.run([sys.executable, "-c", _kit._GRADEBOOK_DUMP, unit, *students], cwd=course,
                                       env=env(), capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    return wall, cpu, {s: {g: float(scores[s].get(g) or 0.0) for g in grade_ids} for s in students}


def disagreements(reference: dict, other: dict) -> list[str]:
    return [f"{s}/{g}: {reference[s][g]:g} vs {other[s][g]:g}" for s in reference for g in reference[s]
            if abs(reference[s][g] - other[s][g]) > 1e-6]


GRADERS = ("jobs1", "jobs2", "kernel", "bridge")


def bench_unit(unit: str, root: Path, count: int, bridge: bool, graders=GRADERS,
               baseline: Path | None = None) -> list[dict]:
    course = root / f"course-{unit}"
    students = build_class(unit, course, count)
    grade_ids = list(_kit.autograded_cells(_kit.read_notebook(_kit.solution_notebook_path(unit))))
    rows, reference = [], None
    runs = [("jobs1", "nnkit grade --jobs 1", lambda: nnkit_grade(course, 1, grade_ids)),
            ("jobs1", "baseline nnkit grade --jobs 1", lambda: nnkit_grade(course, 1, grade_ids, baseline)),
            ("jobs2", "nnkit grade --jobs 2", lambda: nnkit_grade(course, 2, grade_ids)),
            ("jobs2", "baseline nnkit grade --jobs 2", lambda: nnkit_grade(course, 2, grade_ids, baseline)),
            ("kernel", "nbgrader autograde (kernel)", lambda: nbgrader(
                course, unit, students, grade_ids, KERNEL_CONFIG.format(config=REPO / "nbgrader_config.py"))),
            ("bridge", "nbgrader autograde (kit config)", lambda: nbgrader(
                course, unit, students, grade_ids, _kit.COURSE_CONFIG.format(config=REPO / "nbgrader_config.py")))]
    runs = [r for r in runs if baseline is not None or not r[1].startswith("baseline")]
    for key, name, run in runs:
        if key not in graders or (key == "bridge" and not bridge):
            continue
        before = load()
        wall, cpu, scores = run()
        reference = reference or scores
        differ = disagreements(reference, scores)
        rows.append({"unit": unit, "grader": name, "n": len(students), "wall": wall / len(students),
                     "cpu": cpu / len(students), "load": f"{before}->{load()}", "differ": differ})
        print(f"  {unit} {name:32s} {wall / len(students):6.2f} s/sub  {cpu / len(students):6.2f} CPU-s/sub  "
              f"load {before}->{load()}  items disagreeing with jobs 1: {len(differ)}", flush=True)
    return rows


def report(rows: list[dict]) -> None:
    print("\n| unit | grader | s per submission | CPU-s per submission | load | nbgrader(kernel) wall / this | items agree |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        peer = next((r for r in rows if r["unit"] == row["unit"] and r["grader"] == "nbgrader autograde (kernel)"),
                    {"wall": float("nan")})
        agree = "all" if not row["differ"] else f"{len(row['differ'])} differ: {'; '.join(row['differ'][:3])}"
        print(f"| {row['unit']} | {row['grader']} ({row['n']} nb) | {row['wall']:.2f} | {row['cpu']:.2f} | "
              f"{row['load']} | {peer['wall'] / row['wall']:.2f}x | {agree} |")


# -- where one submission's CPU goes ---------------------------------------------------------------------------
def startup_costs() -> None:
    for label, code in (("python -c pass", "pass"), ("python -c 'import numpy'", "import numpy"),
                        ("python -c 'import numpy, matplotlib.pyplot'", "import numpy, matplotlib.pyplot"),
                        ("python -c 'import autograder.cli, nbformat'", "import autograder.cli, nbformat")):
        cpu = children_cpu()
        for _ in range(5):
            subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env(), check=True)
        print(f"  {label:48s} {(children_cpu() - cpu) / 5:.3f} CPU-s")


def sandboxed_start_costs(mode: str, runs: int = 5) -> dict[str, float]:
    """CPU of ``python -c pass`` and of ``import numpy`` as a worker runs them (bubblewrap included in namespace
    mode; the cgroup counts it), each the mean of ``runs``."""
    from autograder import isolation, policy, sandbox

    view = policy.stage_view(policy.BASE_PROVIDED, sandbox.temp_root())
    if mode == "namespace":
        prefix, paths = isolation.bwrap_argv(view, info_fd=None, home_bytes=64 * 1024 ** 2), [isolation.SITE]
    else:
        prefix, paths = [], isolation.host_sys_path(view)
    costs = {}
    for label, code in (("python start", "pass"), ("python start + numpy", "import numpy")):
        argv = prefix + [isolation.interpreter(), "-I", "-S", "-B", "-c", f"import sys; sys.path[:0] = {paths!r}; {code}"]
        meter = CpuMeter()
        try:
            for _ in range(runs):
                subprocess.run(argv, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, cwd="/", check=True,
                               preexec_fn=meter.preexec, stdin=subprocess.DEVNULL, capture_output=True)
            costs[label] = meter.seconds() / runs
        finally:
            meter.close()
    return costs


def missing_bytecode() -> tuple[int, int]:
    """(modules without up-to-date bytecode, modules) in the packages the worker may import: the worker cannot
    write bytecode (read-only view, ``-B``), so it compiles each of those on every start."""
    import importlib.util

    from autograder import isolation

    missing = total = 0
    for top in isolation.allowed_package_paths():
        sources = [Path(top)] if top.endswith(".py") else list(Path(top).rglob("*.py"))
        for source in sources:
            total += 1
            cached = Path(importlib.util.cache_from_source(str(source)))
            try:
                missing += cached.stat().st_mtime < source.stat().st_mtime
            except OSError:
                missing += 1
    return missing, total


class Split:
    """Counts one grading's worker CPU by phase: each worker's start, each cell, and what is left (items)."""

    def __init__(self):
        from autograder import sandbox

        self.sandbox = sandbox
        self.start = self.cells = self.total = 0.0
        self.per_cell: dict[str, float] = {}
        self.requests = 0
        self.real = sandbox.Worker.request, sandbox.Worker.start, sandbox.Worker.close

    def __enter__(self):
        real_request, real_start, real_close = self.real
        split = self

        def request(worker, op, args, budget):
            split.requests += 1
            before = worker.cpu_seconds()
            try:
                return real_request(worker, op, args, budget)
            finally:
                if op == "exec" and len(args) > 1:
                    used = max(0.0, worker.cpu_seconds() - before)
                    split.cells += used
                    split.per_cell[args[1]] = split.per_cell.get(args[1], 0.0) + used

        def start(worker):
            real_start(worker)
            split.start += worker.cpu_seconds()

        def close(worker):
            split.total += worker.cpu_seconds()     # before the close: the worker's whole life
            real_close(worker)

        self.sandbox.Worker.request, self.sandbox.Worker.start, self.sandbox.Worker.close = request, start, close
        return self

    def __exit__(self, *exc):
        self.sandbox.Worker.request, self.sandbox.Worker.start, self.sandbox.Worker.close = self.real

    @property
    def items(self) -> float:
        return max(0.0, self.total - self.start - self.cells)


def profile_unit(unit: str, top: int = 0) -> dict:
    """One correct submission of ``unit`` graded in this process, after a first grading that warms the
    process's caches (staged view, font cache, package paths), its CPU split by phase."""
    from autograder import grader, sandbox

    os.environ["NNKIT_GRADER_SECRET"] = SECRET
    path = _kit.solution_notebook_path(unit)
    grader.grade_submission(path)                   # warm-up: once per grading process in a batch
    meter = CpuMeter()
    meter.preexec()   # this process joins the group: the grader, bubblewrap and the workers are counted
    try:
        with Split() as split:
            self_before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            result = grader.grade_submission(path)
            self_after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
        total = meter.seconds()
    finally:
        if meter.path is not None:
            (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
        meter.close()
    grader_cpu = (self_after.ru_utime + self_after.ru_stime) - (self_before.ru_utime + self_before.ru_stime)
    row = {"unit": unit, "score": f"{result.score:g}/{result.max_score:g}", "wall": wall, "total": total,
           "grader": grader_cpu, "start": split.start, "cells": split.cells, "items": split.items,
           "other": max(0.0, total - grader_cpu - split.total), "requests": split.requests,
           "per_cell": split.per_cell, "mode": sandbox.resolve_isolation("auto", allow_process=True)}
    for item in result.items:
        if not item.manual and item.score < item.points:
            print(f"    ({unit} solution lost points: {item.grade_id} {item.score:g}/{item.points:g}: "
                  f"{[s.what for s in item.subchecks if s.credit < 1][:2]})")
    if top:
        top_functions(path, top)
    return row


def top_functions(path, count: int) -> None:
    """The grader process's top functions by CPU (cProfile with a CPU clock) for one more grading."""
    import cProfile
    import pstats

    from autograder import grader

    prof = cProfile.Profile(time.process_time)
    prof.enable()
    grader.grade_submission(path)
    prof.disable()
    print(f"  grader process, top functions by cumulative CPU (cProfile, so inflated), {path.parent.name}:")
    shown = 0
    for (file, line, name), (_, _, _, cum, _) in sorted(pstats.Stats(prof).stats.items(), key=lambda kv: -kv[1][3]):
        where = file.replace(str(REPO) + "/", "")
        if "site-packages" in where or where.startswith("<") or "/lib/python3" in where:
            continue
        print(f"    {cum:7.3f} s  {where}:{line} {name}")
        shown += 1
        if shown >= count:
            break


def report_profile(rows: list[dict], starts: dict[str, float]) -> None:
    print(f"\nWhere one correct submission's CPU goes (CPU-s; warm grading process; load {load()}). In the sandbox "
          f"({rows[0]['mode']}), `python -c pass` costs {starts['python start']:.3f} and `import numpy` "
          f"{starts['python start + numpy'] - starts['python start']:.3f} more (bubblewrap included); the worker's "
          "start includes both, its own modules and its set-up. The cells are the floor: the notebook's own code, "
          "which nbgrader runs too (in a kernel).\n")
    missing, total = missing_bytecode()
    print(f"Bytecode missing for {missing} of the {total} modules of the packages the worker may import "
          "(the worker compiles those on every start; `python -m compileall` on site-packages fixes it).\n")
    print("| unit | score | worker start | cells (floor) | items, worker side | grader process | bwrap and rest "
          "| total | floor share | requests | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['unit']} | {r['score']} | {r['start']:.2f} | {r['cells']:.2f} | {r['items']:.2f} | "
              f"{r['grader']:.2f} | {r['other']:.2f} | {r['total']:.2f} | {r['cells'] / r['total']:.0%} | "
              f"{r['requests']} | {r['wall']:.2f} |")
    for r in rows:
        heavy = sorted(r["per_cell"].items(), key=lambda kv: -kv[1])[:4]
        print(f"  {r['unit']} heaviest cells: " + ", ".join(f"{name} {cpu:.2f}" for name, cpu in heavy))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", nargs="+", default=[f"unit{k}" for k in range(1, 6)])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--no-bridge", action="store_true", help="skip nbgrader through the kit's config")
    parser.add_argument("--profile", nargs="*", default=None,
                        help="units whose CPU is split by phase (default: those benchmarked; none: skip)")
    parser.add_argument("--top", type=int, default=0, help="print the grader's top N functions (first unit)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="also grade with the nnkit of this source tree, in the same run (before/after)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary courses")
    parser.add_argument("--graders", nargs="+", default=list(GRADERS), choices=GRADERS,
                        help="which graders to run (default: all; jobs1 is the reference for agreement)")
    args = parser.parse_args()
    bridge = not args.no_bridge and "GradeInSandbox" in (REPO / "nbgrader_config.py").read_text()
    print(f"cores: {os.cpu_count()}, load average: {Path('/proc/loadavg').read_text().strip()}")
    root = Path(tempfile.mkdtemp(prefix="nnkit-bench-grader-"))
    global FROZEN
    FROZEN = freeze(root)
    try:
        rows = []
        for unit in args.units if args.submissions > 0 else []:
            rows += bench_unit(unit, root, args.submissions, bridge, args.graders, args.baseline)
        if rows:
            report(rows)
        units = [unit for unit in (args.units if args.profile is None else args.profile) if unit]
        if units:
            print("\nwhere the CPU goes (interpreter start-up on the host, 5 runs each):")
            startup_costs()
            from autograder import sandbox
            starts = sandboxed_start_costs(sandbox.resolve_isolation("auto", allow_process=True))
            report_profile([profile_unit(unit, args.top if n == 0 else 0) for n, unit in enumerate(units)], starts)
    finally:
        if args.keep:
            print(f"courses kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
