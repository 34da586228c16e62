"""Grader throughput on the real units: ``nnkit grade`` against ``nbgrader autograde`` on the same class.

Run: ``python benchmarks/bench_grader.py [--units unit1 unit3] [--submissions 20] [--graders jobs1 jobs2 kernel]``
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

Then ``--profile`` (default unit3) splits one correct submission's CPU: interpreter and numpy start-up, the
worker's start, each cell, the items (worker side and grader side), with the grader's top functions.
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


def env() -> dict:
    e = _kit.kernel_env()
    e["NNKIT_GRADER_SECRET"] = SECRET
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
def timed(argv, cwd) -> tuple[float, float, subprocess.CompletedProcess]:
    meter, start = CpuMeter(), time.perf_counter()
    try:
        done = subprocess.run(argv, cwd=cwd, env=env(), capture_output=True, text=True, preexec_fn=meter.preexec)
        return time.perf_counter() - start, meter.seconds(), done
    finally:
        meter.close()


def nnkit_grade(course: Path, jobs: int, grade_ids) -> tuple[float, float, dict]:
    out = course / f"nnkit-jobs{jobs}"
    shutil.rmtree(out, ignore_errors=True)
    wall, cpu, done = timed([sys.executable, "-m", "autograder.cli", "grade", str(course / "submitted"), "--source",
                             str(course / "source"), "--out", str(out), "--quiet", "--jobs", str(jobs)], course)
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


def bench_unit(unit: str, root: Path, count: int, bridge: bool, graders=GRADERS) -> list[dict]:
    course = root / f"course-{unit}"
    students = build_class(unit, course, count)
    grade_ids = list(_kit.autograded_cells(_kit.read_notebook(_kit.solution_notebook_path(unit))))
    rows, reference = [], None
    runs = [("jobs1", "nnkit grade --jobs 1", lambda: nnkit_grade(course, 1, grade_ids)),
            ("jobs2", "nnkit grade --jobs 2", lambda: nnkit_grade(course, 2, grade_ids)),
            ("kernel", "nbgrader autograde (kernel)", lambda: nbgrader(
                course, unit, students, grade_ids, KERNEL_CONFIG.format(config=REPO / "nbgrader_config.py"))),
            ("bridge", "nbgrader autograde (kit config)", lambda: nbgrader(
                course, unit, students, grade_ids, _kit.COURSE_CONFIG.format(config=REPO / "nbgrader_config.py")))]
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


def profile(unit: str) -> None:
    """One correct submission of ``unit`` graded in this process, its CPU split by phase."""
    import cProfile
    import pstats

    from autograder import grader, sandbox

    costs: dict[str, float] = {}
    real_request, real_start = sandbox.Worker.request, sandbox.Worker.start

    def request(self, op, args, budget):
        before = self.cpu_seconds()
        try:
            return real_request(self, op, args, budget)
        finally:
            key = f"cell {args[1]}" if op == "exec" and len(args) > 1 else f"items: {op}"
            costs[key] = costs.get(key, 0.0) + max(0.0, self.cpu_seconds() - before)

    def start(self):
        real_start(self)
        costs["worker start (interpreter, numpy, preloads)"] = costs.get(
            "worker start (interpreter, numpy, preloads)", 0.0) + self.cpu_seconds()

    sandbox.Worker.request, sandbox.Worker.start = request, start
    os.environ["NNKIT_GRADER_SECRET"] = SECRET
    try:
        path = _kit.solution_notebook_path(unit)
        meter = CpuMeter()
        meter.preexec()   # this process joins the group: the grader and its workers are counted
        self_before, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        prof = cProfile.Profile()
        prof.enable()
        result = grader.grade_submission(path)
        prof.disable()
        self_after = resource.getrusage(resource.RUSAGE_SELF)
        grader_cpu = (self_after.ru_utime + self_after.ru_stime) - (self_before.ru_utime + self_before.ru_stime)
        wall = time.perf_counter() - wall
        worker_cpu = meter.seconds() - grader_cpu
        if meter.path is not None:
            (CPUACCT / "cgroup.procs").write_text(str(os.getpid()))
        meter.close()
    finally:
        sandbox.Worker.request, sandbox.Worker.start = real_request, real_start
    print(f"  {unit} solution: {result.score:g}/{result.max_score:g}, wall {wall:.2f} s, grader process "
          f"{grader_cpu:.2f} CPU-s (profiled, so a little high), workers and bwrap {worker_cpu:.2f} CPU-s, load {load()}")
    for item in result.items:
        if not item.manual and item.score < item.points:
            print(f"    (lost points: {item.grade_id} {item.score:g}/{item.points:g}: "
                  f"{[s.what for s in item.subchecks if s.credit < 1][:2]})")
    cells = sum(v for k, v in costs.items() if k.startswith("cell "))
    for key in sorted(costs, key=costs.get, reverse=True)[:12]:
        print(f"    worker {key[:60]:60s} {costs[key]:.3f} CPU-s")
    print(f"    worker: all cells {cells:.3f} CPU-s; all item requests "
          f"{sum(v for k, v in costs.items() if k.startswith('items')):.3f} CPU-s")
    stats = pstats.Stats(prof)
    stats.sort_stats("cumulative")
    print("  grader process, top functions by cumulative time (cProfile):")
    for (file, line, name), (_, _, _, cum, _) in sorted(stats.stats.items(), key=lambda kv: -kv[1][3])[:40]:
        where = file.replace(str(REPO) + "/", "")
        if "site-packages" in where or where.startswith("<") or "/lib/python3" in where:
            continue
        print(f"    {cum:7.3f} s  {where}:{line} {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", nargs="+", default=[f"unit{k}" for k in range(1, 6)])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--no-bridge", action="store_true", help="skip nbgrader through the kit's config")
    parser.add_argument("--profile", default="unit3", help="the unit whose CPU is split by phase ('' to skip)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary courses")
    parser.add_argument("--graders", nargs="+", default=list(GRADERS), choices=GRADERS,
                        help="which graders to run (default: all; jobs1 is the reference for agreement)")
    args = parser.parse_args()
    bridge = not args.no_bridge and "GradeInSandbox" in (REPO / "nbgrader_config.py").read_text()
    print(f"cores: {os.cpu_count()}, load average: {Path('/proc/loadavg').read_text().strip()}")
    root = Path(tempfile.mkdtemp(prefix="nnkit-bench-grader-"))
    try:
        rows = []
        for unit in args.units:
            rows += bench_unit(unit, root, args.submissions, bridge, args.graders)
        report(rows)
        if args.profile:
            print("\nwhere the CPU goes (interpreter start-up, 5 runs each):")
            startup_costs()
            profile(args.profile)
    finally:
        if args.keep:
            print(f"courses kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
