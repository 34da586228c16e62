"""Grader benchmark: protocol overhead, seconds per submission, and nbgrader autograde on the same notebooks.

Run: ``python benchmarks/bench_grader.py [--submissions 8] [--jobs 2]``

1. Per-check protocol overhead: one handle call round trip into the sandboxed
   worker (small and (100, 100) arrays), against the same call through an
   in-process ``LocalHandle``. Goal: < 5 ms per call.
2. The fixture assignment (tests/autograder/fixture_assignment.py), honest and
   buggy submissions, graded by ``nnkit grade``'s batch code with ``--jobs``.
3. The same submissions through real ``nbgrader autograde`` (a temporary course
   directory built with nbgrader's CLI; the test cells run ``autograder.check``
   in the kernel). Prints the throughput ratio (goal: >= 2x on 2 cores) and checks
   that honest submissions get identical scores from both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.batch import Submission, grade_batch  # noqa: E402
from autograder.handle import LocalHandle, RemoteHandle  # noqa: E402
from autograder.sandbox import Limits, Sandbox  # noqa: E402
from tests.autograder import fixture_assignment as fx  # noqa: E402

BUGS = [
    {},                                                                       # honest
    {"relu": "def relu(z):\n    return z * 1.0\n"},                         # wrong relu
    {"softmax": "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)\n"},
    {"mse": "def mse(pred, target):\n    d = pred - target\n    return float(np.mean(d ** 2)), 2 * d\n"},
]


def protocol_overhead(n_calls: int = 2000) -> None:
    source = "import numpy as np\ndef ident(x):\n    return x\n"
    sandbox = Sandbox([("cell 1", source)], Limits())
    sandbox.boot()
    remote = RemoteHandle(sandbox)
    namespace = {}
    exec(source, namespace)
    local = LocalHandle(namespace)
    for label, x in (("small (5, 4) array", np.ones((5, 4))), ("(100, 100) array", np.ones((100, 100)))):
        timings = {}
        for name, handle in (("sandboxed worker", remote), ("in-process LocalHandle", local)):
            handle.call("ident", x)
            start = time.perf_counter()
            for _ in range(n_calls):
                handle.call("ident", x)
            timings[name] = (time.perf_counter() - start) / n_calls * 1e3
        print(f"  one call with a {label}: worker {timings['sandboxed worker']:.3f} ms, in-process "
              f"{timings['in-process LocalHandle']:.3f} ms, protocol overhead "
              f"{timings['sandboxed worker'] - timings['in-process LocalHandle']:.3f} ms per call")
    sandbox.close()


def make_submissions(root: Path, count: int) -> list[tuple[str, dict]]:
    test_cells = {item.grade_id: (
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from tests.autograder.fixture_assignment import REGISTRY\nfrom autograder import check\n"
        f'check("{item.grade_id}", globals(), registry=REGISTRY)\n'
        f'### BEGIN HIDDEN TESTS\ncheck("{item.grade_id}", globals(), hidden=True, registry=REGISTRY)\n'
        "### END HIDDEN TESTS\n") for item in fx.ITEMS}
    fx.write(fx.notebook(test_cells=test_cells), root / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    students = []
    for n in range(count):
        code = BUGS[n % len(BUGS)]
        student = f"student{n:02d}"
        fx.write(fx.notebook(code, test_cells=test_cells), root / "submitted" / student / fx.ASSIGNMENT / "fixture.ipynb")
        students.append((student, code))
    return students


def ours(root: Path, students, jobs: int) -> tuple[float, dict]:
    subs = [Submission(root / "submitted" / s / fx.ASSIGNMENT / "fixture.ipynb", s, fx.ASSIGNMENT)
            for s, _ in students]
    start = time.perf_counter()
    results = grade_batch(subs, jobs=jobs, progress=False, source=root / "source", registry=fx.REGISTRY)
    seconds = time.perf_counter() - start
    errors = [r.error for r in results if r.error]
    if errors:
        raise SystemExit(f"grading errors: {errors}")
    return seconds, {s: {i.grade_id: i.score for i in r.items} for (s, _), r in zip(students, results)}


def nbgrader(root: Path, students) -> tuple[float, dict]:
    course = root / "course"
    (course / "source").mkdir(parents=True)
    shutil.copytree(root / "source" / fx.ASSIGNMENT, course / "source" / fx.ASSIGNMENT)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = %r\nc.CourseDirectory.course_id = 'bench'\n"
        "c.Execute.timeout = 120\n" % str(course))
    nbgrader_bin = [sys.executable, "-m", "nbgrader"]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run(nbgrader_bin + ["generate_assignment", fx.ASSIGNMENT, "--force"], cwd=course, env=env,
                   check=True, capture_output=True)
    for student, _ in students:
        shutil.copytree(root / "submitted" / student, course / "submitted" / student)
    start = time.perf_counter()
    done = subprocess.run(nbgrader_bin + ["autograde", fx.ASSIGNMENT, "--create", "--force"], cwd=course,
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"nbgrader autograde failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    from nbgrader.api import Gradebook
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student, _ in students:
            scores[student] = {item.grade_id: float(gb.find_grade(item.grade_id, "fixture", fx.ASSIGNMENT,
                                                                  student).score) for item in fx.ITEMS}
    return seconds, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, jobs: {args.jobs}, submissions: {args.submissions}")
    print("1. protocol overhead per handle call")
    protocol_overhead()
    root = Path(tempfile.mkdtemp(prefix="nnkit-bench-"))
    try:
        students = make_submissions(root, args.submissions)
        print("2. nnkit grade (sandboxed, trusted) on the fixture assignment")
        t_ours, s_ours = ours(root, students, args.jobs)
        print(f"  {t_ours:.2f} s for {len(students)} submissions: {t_ours / len(students):.3f} s per submission")
        print("3. nbgrader autograde on the same submissions")
        t_nbg, s_nbg = nbgrader(root, students)
        print(f"  {t_nbg:.2f} s for {len(students)} submissions: {t_nbg / len(students):.3f} s per submission")
        print(f"throughput ratio nnkit/nbgrader: {t_nbg / t_ours:.2f}x (goal >= 2x)")
        honest = [s for s, code in students if not code]
        same = all(s_ours[s] == s_nbg[s] for s in honest)
        print(f"honest submissions: identical per-item scores in both graders: {same} ({len(honest)} checked)")
        differ = {s: (s_ours[s], s_nbg[s]) for s, _ in students if s_ours[s] != s_nbg[s]}
        print(f"buggy submissions with different scores: {len(differ)}" +
              "".join(f"\n  {s}: nnkit {a} nbgrader {b}" for s, (a, b) in differ.items()))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
