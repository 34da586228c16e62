"""Helpers for the course notebooks: discovery, output stripping, release generation and comparison.

Used by ``scripts/release.py`` (the instructor's command) and by ``tests/notebooks/`` (which check that the
committed ``exercises/`` are exactly what ``nbgrader generate_assignment`` makes from ``solutions/``).

The instructor notebooks ``solutions/<unit>/<unit>.ipynb`` are the source of truth. Everything under
``exercises/`` is generated; never edit it by hand.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "nbgrader_config.py"


def nbgrader_env() -> dict[str, str]:
    """The environment for an nbgrader subprocess.

    nbgrader's gradebook shells out to the ``alembic`` executable, so this interpreter's script directory must
    be on ``PATH`` even when the virtual environment was never activated (as in ``.venv/bin/python -m pytest``).
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_nbgrader(args: list[str], cwd: Path, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``nbgrader <args>`` with this interpreter in ``cwd``; raises ``RuntimeError`` with its output on failure.

    ``env`` is the subprocess's whole environment (default ``nbgrader_env()``); the kernels that ``nbgrader
    autograde`` starts inherit it.
    """
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd,
                          env=nbgrader_env() if env is None else env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed (exit {proc.returncode}) in {cwd}:\n"
                           f"{proc.stdout}\n{proc.stderr}")
    return proc


def discover_units(root: Path = REPO) -> list[str]:
    """Names of the units that have a solutions notebook, e.g. ``["unit1", "unit2"]``, sorted."""
    solutions = Path(root) / "solutions"
    if not solutions.is_dir():
        return []
    return sorted(p.name for p in solutions.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def solution_notebooks(root: Path = REPO) -> list[Path]:
    """Every instructor notebook ``solutions/<unit>/*.ipynb``, sorted."""
    return sorted(nb for unit in discover_units(root) for nb in (Path(root) / "solutions" / unit).glob("*.ipynb"))


def cells_with_outputs(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of code cells that carry outputs or an execution count (committed notebooks must have none)."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]


def strip_outputs(nb: nbformat.NotebookNode) -> bool:
    """Remove outputs, execution counts and per-cell execution timings in place; return whether anything changed."""
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            cell.outputs = []
            cell.execution_count = None
            changed = True
        if "execution" in cell.metadata:
            del cell.metadata["execution"]
            changed = True
    return changed


def generate_release(units: list[str], dest: Path, *, root: Path = REPO, course_dir: Path | None = None) -> Path:
    """Run ``nbgrader generate_assignment`` for ``units`` and put the student versions in ``dest/<unit>/``.

    nbgrader runs in a temporary course directory holding a copy of ``root/nbgrader_config.py`` and of
    ``root/solutions/<unit>/``, so its gradebook never touches the repository. ``dest/<unit>`` is replaced.
    Raises ``RuntimeError`` with nbgrader's output when it fails.
    """
    dest = Path(dest)
    with tempfile.TemporaryDirectory(prefix="nnkit-release-") as tmp:
        course = Path(course_dir) if course_dir is not None else Path(tmp)
        shutil.copy2(Path(root) / "nbgrader_config.py", course / "nbgrader_config.py")
        for unit in units:
            src = Path(root) / "solutions" / unit
            if not src.is_dir():
                raise ValueError(f"generate_release: unknown unit {unit!r}; expected one of {discover_units(root)}")
            shutil.copytree(src, course / "solutions" / unit, ignore=shutil.ignore_patterns(
                ".ipynb_checkpoints", "__pycache__", "*.pyc"))
            run_nbgrader(["generate_assignment", unit, "--force", "--log-level=WARN"], course)
            released = course / "exercises" / unit
            if not released.is_dir():
                raise RuntimeError(f"nbgrader generate_assignment {unit} wrote nothing to {released}")
            if (dest / unit).exists():
                shutil.rmtree(dest / unit)
            shutil.copytree(released, dest / unit)
    return dest


def normalised_json(path: Path) -> list[str]:
    """A notebook as sorted, indented JSON lines, so that two notebooks compare field by field."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False).splitlines()


def diff_trees(expected: Path, actual: Path, *, context: int = 2, max_lines: int = 80, ignore=frozenset()) -> str:
    """A readable description of how directory ``actual`` differs from ``expected`` ("" when they agree).

    Notebooks are compared as normalised JSON (a unified diff of at most ``max_lines`` lines per file); other
    files byte for byte. Files of ``actual`` listed in ``ignore`` (paths) do not count.
    """
    expected, actual = Path(expected), Path(actual)
    ignore = {Path(p) for p in ignore}
    exp_files = {p.relative_to(expected) for p in expected.rglob("*") if p.is_file()} if expected.is_dir() else set()
    act_files = {p.relative_to(actual) for p in actual.rglob("*")
                 if p.is_file() and p not in ignore} if actual.is_dir() else set()
    problems = [f"missing: {actual / rel}" for rel in sorted(exp_files - act_files)]
    problems += [f"unexpected: {actual / rel}" for rel in sorted(act_files - exp_files)]
    for rel in sorted(exp_files & act_files):
        a, b = expected / rel, actual / rel
        if rel.suffix == ".ipynb":
            la, lb = normalised_json(a), normalised_json(b)
            if la != lb:
                lines = list(difflib.unified_diff(la, lb, str(a), str(b), n=context, lineterm=""))
                more = f"\n... ({len(lines) - max_lines} more diff lines)" if len(lines) > max_lines else ""
                problems.append("\n".join(lines[:max_lines]) + more)
        elif a.read_bytes() != b.read_bytes():
            problems.append(f"differs: {b} (expected the same bytes as {a})")
    return "\n".join(problems)
