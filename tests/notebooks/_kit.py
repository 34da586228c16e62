"""Helpers shared by the notebook tests and the suite tests: reading the course notebooks, building student
namespaces and submissions from scripted edits, and running nbgrader / ``nnkit grade`` on a temporary course.

Submissions are described as edits of the instructor notebook, by the grade_id of a solution cell::

    SOLVED                       the instructor's code with the solution markers removed
    [("z > 0", "z >= 0"), ...]   the instructor's code with these replacements (a plausible student bug);
                                 each ``old`` must occur in the cell, so an edit can never silently do nothing
    "def heaviside(z): ..."      any other source, verbatim

A solution cell that is not listed keeps the released stub (``raise NotImplementedError()``).
Each unit's partially correct submissions live in ``tests/notebooks/submissions/<unit>.py`` as a dict
``SUBMISSIONS = {name: {solution grade_id: edit}}``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
SUBMISSIONS_DIR = Path(__file__).resolve().parent / "submissions"
SOLVED = "SOLVED"
STUB = "STUB"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return sys.modules[name]


nbtools = _load("nnkit_scripts_nbtools", REPO / "scripts" / "nbtools.py")


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_notebook_path(unit: str) -> Path:
    return REPO / "solutions" / unit / f"{unit}.ipynb"


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def autograded_cells(nb) -> dict[str, float]:
    """grade_id -> points of every autograded test cell (grade, not solution, code)."""
    return {m["grade_id"]: float(m["points"]) for c in nb.cells if (m := nbgrader_meta(c))
            and m.get("grade") and not m.get("solution") and c.cell_type == "code"}


def manual_cells(nb) -> dict[str, float]:
    """grade_id -> points of every hand-graded answer cell (grade and solution)."""
    return {m["grade_id"]: float(m["points"]) for c in nb.cells if (m := nbgrader_meta(c))
            and m.get("grade") and m.get("solution")}


_MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")


def strip_markers(source: str) -> str:
    """The instructor's code as a student who solved the task would have it."""
    return "\n".join(line for line in source.split("\n") if not _MARKER.match(line))


def stub_source(source: str) -> str:
    """What ``nbgrader generate_assignment`` leaves of a solution cell: each region becomes the code stub."""
    out, inside = [], False
    for line in source.split("\n"):
        if "### BEGIN SOLUTION" in line:
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + "# YOUR CODE HERE", indent + "raise NotImplementedError()"]
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def apply_edit(source: str, edit, where: str) -> str:
    """``source`` (an instructor solution cell) after ``edit`` (see the module docstring)."""
    if edit == SOLVED:
        return strip_markers(source)
    if edit == STUB:
        return stub_source(source)
    if isinstance(edit, list):
        code = strip_markers(source)
        for old, new in edit:
            if old not in code:
                raise ValueError(f"{where}: the edit's text {old!r} does not occur in the solution cell")
            code = code.replace(old, new)
        return code
    if isinstance(edit, str):
        return edit
    raise TypeError(f"{where}: an edit is SOLVED, a list of (old, new) pairs or a source string, got {edit!r}")


def solution_sources(unit: str) -> dict[str, str]:
    """grade_id -> source of every solution code cell of the unit's instructor notebook, in order."""
    nb = read_notebook(solution_notebook_path(unit))
    return {m["grade_id"]: c.source for c in nb.cells
            if (m := nbgrader_meta(c)) and m.get("solution") and c.cell_type == "code"}


def student_namespace(unit: str, edits: dict | None = None, *, base: str = SOLVED) -> dict:
    """Execute the unit's solution cells (``base`` applied to each, then ``edits``) in a fresh namespace.

    With the default ``base=SOLVED`` this is a fully correct student; ``edits`` swap in mistakes; ``base=STUB``
    is the untouched exercise. A cell that raises is skipped, as in a notebook run with errors allowed. The
    namespace starts with ``np`` and ``math``, as the notebooks' setup cells provide.
    """
    import math

    import numpy as np

    edits = dict(edits or {})
    sources = solution_sources(unit)
    unknown = set(edits) - set(sources)
    if unknown:
        raise ValueError(f"student_namespace: {sorted(unknown)} are not solution cells of {unit}; "
                         f"known: {sorted(sources)}")
    ns: dict = {"np": np, "math": math, "__name__": "__main__"}
    for gid, source in sources.items():
        code = apply_edit(source, edits.get(gid, base), f"{unit}:{gid}")
        try:
            exec(compile(code, f"<{unit}:{gid}>", "exec"), ns)
        except Exception:  # noqa: BLE001 - a stub cell raises NotImplementedError, like in the notebook
            pass
    return ns


def submission_specs(unit: str) -> dict[str, dict]:
    """The partially correct submissions scripted for ``unit`` ({} when there are none yet)."""
    path = SUBMISSIONS_DIR / f"{unit}.py"
    if not path.exists():
        return {}
    return dict(_load(f"nnkit_submissions_{unit}", path).SUBMISSIONS)


def make_submission(release_nb, solution_nb, edits: dict, where: str):
    """A student notebook: the released one with the edited solution cells put in (matched by grade_id)."""
    sources = {nbgrader_meta(c)["grade_id"]: c.source for c in solution_nb.cells
               if nbgrader_meta(c).get("solution")}
    nb = nbformat.from_dict(json.loads(json.dumps(release_nb)))
    seen = set()
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in edits:
            cell.source = apply_edit(sources[gid], edits[gid], f"{where}:{gid}")
            seen.add(gid)
    if set(edits) - seen:
        raise ValueError(f"{where}: no released cells with grade_ids {sorted(set(edits) - seen)}")
    return nb


def _try_lock(path: Path):
    """An open, exclusively locked handle on ``path``, or None when another process holds the lock (where fcntl
    does not exist, as on Windows, the lock always succeeds: run without pytest-xdist there)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "w")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _unlock(handle) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        handle.close()
        return
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


def _compute_and_store(result_path: Path, compute) -> None:
    """Run ``compute()`` and write its JSON result atomically; a failure is stored as ``{"__error__": text}`` so
    that every test that needs the result reports it without computing it again."""
    import traceback

    try:
        result = compute()
    except Exception:  # noqa: BLE001 - stored, then raised by shared_json in every test that needs it
        result = {"__error__": traceback.format_exc()}
    partial = result_path.with_suffix(".partial")
    partial.write_text(json.dumps(result))
    partial.replace(result_path)


def shared_json(root: Path, name: str, compute, *, meanwhile=()):
    """``compute()`` once per test session across pytest-xdist workers; the JSON result is cached under ``root``.

    ``meanwhile`` is a sequence of ``(name, compute)`` pairs of other shared results: while another worker is
    computing ``name``, this one computes those that nobody has started, instead of waiting for the lock. An
    exception in ``compute`` is re-raised (as RuntimeError with its traceback) wherever ``name`` is asked for.
    """
    result_path = root / f"{name}.json"
    while not result_path.exists():
        handle = _try_lock(root / f"{name}.lock")
        if handle is not None:
            try:
                if not result_path.exists():
                    _compute_and_store(result_path, compute)
            finally:
                _unlock(handle)
            break
        for other, other_compute in meanwhile:      # busy elsewhere: take on work nobody has started
            other_path = root / f"{other}.json"
            if other == name or other_path.exists():
                continue
            other_handle = _try_lock(root / f"{other}.lock")
            if other_handle is None:
                continue
            try:
                if not other_path.exists():
                    _compute_and_store(other_path, other_compute)
            finally:
                _unlock(other_handle)
            break
        else:                                       # nothing left to take on: wait for the worker on ``name``
            import fcntl

            with open(root / f"{name}.lock", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                fcntl.flock(handle, fcntl.LOCK_UN)
    result = json.loads(result_path.read_text())
    if isinstance(result, dict) and "__error__" in result:
        raise RuntimeError(f"computing the shared result {name!r} failed:\n{result['__error__']}")
    return result


def session_root(tmp_path_factory) -> Path:
    """A directory shared by all xdist workers of this pytest run."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "nnkit-notebooks"
    root.mkdir(parents=True, exist_ok=True)
    return root


# -- kernels --------------------------------------------------------------------------------------------------
# One BLAS/OpenMP thread per kernel. The tests run several kernels at once (pytest-xdist workers, nbgrader,
# ``nnkit grade --jobs 2``) on a 2-core CI box; multi-threaded BLAS in each made the unit 4 notebook take 38 s
# instead of 7 s there. ``nnkit grade``'s sandboxed worker sets the same variables itself.
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def kernel_env() -> dict[str, str]:
    """The environment of every process in these tests that starts a notebook kernel, and of the kernel itself:
    ``nbtools.nbgrader_env()`` plus ``SINGLE_THREADED``. This process's own environment is left as it is."""
    env = nbtools.nbgrader_env()
    env.update(SINGLE_THREADED)
    return env


THREADS_PROBE = ("import json, os\n"
                 "print('nnkit-threads ' + json.dumps({k: os.environ.get(k) for k in %r}))" % sorted(SINGLE_THREADED))


def probed_threads(outputs) -> dict | None:
    """The environment variables that a ``THREADS_PROBE`` cell printed (None when it printed nothing)."""
    for out in outputs:
        if out.get("output_type") == "stream" and "nnkit-threads " in out.get("text", ""):
            return json.loads(out["text"].split("nnkit-threads ", 1)[1].splitlines()[0])
    return None


# -- a temporary nbgrader course built from the kit -------------------------------------------------------------
COURSE_CONFIG = '''c = get_config()
load_subconfig(r"{config}")
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
'''

_GRADEBOOK_DUMP = '''
import json, sys
from nbgrader.api import Gradebook
unit, students = sys.argv[1], sys.argv[2:]
with Gradebook("sqlite:///gradebook.db", course_id="nnkit") as gb:
    print(json.dumps({s: {g.name: g.auto_score for g in gb.find_submission_notebook(unit, unit, s).grades}
                      for s in students}))
'''


def released_course(unit: str, course: Path) -> None:
    """A fresh instructor's course directory ``course`` for ``unit``: the kit's ``nbgrader_config.py``, ``source/``
    from the kit's solutions, and ``release/`` from ``nbgrader generate_assignment``."""
    import shutil

    if course.exists():
        shutil.rmtree(course)
    (course / "source").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(COURSE_CONFIG.format(config=REPO / "nbgrader_config.py"))
    shutil.copytree(REPO / "solutions" / unit, course / "source" / unit,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc"))
    nbtools.run_nbgrader(["generate_assignment", unit, "--force", "--log-level=WARN"], course)


def submit(course: Path, unit: str, notebooks: dict) -> dict[str, Path]:
    """Each of ``notebooks`` (by student id) as ``submitted/<student>/<unit>/<unit>.ipynb``; their paths."""
    paths = {}
    for student, nb in notebooks.items():
        path = course / "submitted" / student / unit / f"{unit}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, str(path))
        paths[student] = path
    return paths


def build_course(unit: str, course: Path) -> dict[str, Path]:
    """An instructor's course directory for ``unit`` (``released_course``) with ``submitted/`` holding the
    solution itself, the untouched release and every scripted submission. Returns the submissions by student id.
    """
    released_course(unit, course)
    release_nb = read_notebook(course / "release" / unit / f"{unit}.ipynb")
    solution_nb = read_notebook(solution_notebook_path(unit))
    # The solution ends with one student-added cell showing the kernel's thread settings (it earns nothing and
    # costs nothing: both graders run added cells as submitted).
    probed = nbformat.from_dict(json.loads(json.dumps(solution_nb)))
    probed.cells.append(nbformat.v4.new_code_cell(THREADS_PROBE))
    notebooks = {"solution": probed, "untouched": release_nb}
    for name, edits in submission_specs(unit).items():
        notebooks[name] = make_submission(release_nb, solution_nb, edits, f"{unit}/{name}")
    return submit(course, unit, notebooks)


def shared_course(root: Path, unit: str) -> tuple[Path, list[str]]:
    """``build_course(unit, root / f"course-{unit}")`` once per test session across pytest-xdist workers: the
    course directory and its student ids. Its ``release/<unit>`` is a fresh ``nbgrader generate_assignment``
    with the kit's ``nbgrader_config.py``, which the committed ``exercises/<unit>`` must equal."""
    course = root / f"course-{unit}"
    students = shared_json(root, f"course-{unit}", lambda: list(build_course(unit, course)))
    return course, students


def nbgrader_autograde_scores(unit: str, course: Path, students: list[str]) -> dict[str, dict[str, float]]:
    """Run ``nbgrader autograde`` on every submission and read each grade cell's automatic score."""
    import subprocess

    nbtools.run_nbgrader(["autograde", unit, "--force", "--log-level=WARN"], course, env=kernel_env())
    proc = subprocess.run([sys.executable, "-c", _GRADEBOOK_DUMP, unit, *students], cwd=course,
                          env=nbtools.nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"reading the gradebook failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def nnkit_grade_scores(course: Path, grade_ids: list[str], env: dict[str, str] | None = None
                       ) -> dict[str, dict[str, float]]:
    """Run ``nnkit grade`` on the course's ``submitted/`` against its ``source/`` and read grades.csv.

    ``env`` is the whole environment of ``nnkit grade`` (default ``kernel_env()``)."""
    import csv
    import subprocess

    out = course / "nnkit-grades"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(course / "submitted"),
                           "--source", str(course / "source"), "--out", str(out), "--quiet", "--jobs", "2"],
                          cwd=course, env=kernel_env() if env is None else env, capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not (out / "grades.csv").exists():
        raise RuntimeError(f"nnkit grade failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {row["student"]: {g: float(row[g]) if row.get(g) not in (None, "") else None for g in grade_ids}
            for row in rows}
