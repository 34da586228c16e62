"""The instructor's notebook tools (``scripts/nbtools.py``, ``scripts/release.py``, ``scripts/nbbuild.py``)."""

import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tests.notebooks import _kit

nbtools = _kit.nbtools


def write(path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def test_strip_outputs_clears_outputs_counts_and_timings_only():
    cell = new_code_cell("1 + 1", execution_count=3, outputs=[new_output("execute_result", {"text/plain": "2"},
                                                                         execution_count=3)])
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    cell.metadata["nbgrader"] = {"grade": False}
    nb = new_notebook(cells=[cell, new_code_cell("x = 1")])
    assert nbtools.cells_with_outputs(nb) == [0]
    assert nbtools.strip_outputs(nb) is True
    assert nb.cells[0].outputs == [] and nb.cells[0].execution_count is None
    assert "execution" not in nb.cells[0].metadata and nb.cells[0].metadata["nbgrader"] == {"grade": False}
    assert nbtools.strip_outputs(nb) is False and nbtools.cells_with_outputs(nb) == []


def test_diff_trees_names_missing_extra_and_changed_notebooks(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write(a / "u.ipynb", new_notebook(cells=[new_code_cell("x = 1\ny = 2")]))
    write(b / "u.ipynb", new_notebook(cells=[new_code_cell("x = 1\ny = 3")]))
    write(a / "only_a.ipynb", new_notebook())
    (b / "data.txt").write_text("extra")
    report = nbtools.diff_trees(a, b)
    assert "missing: " in report and "only_a.ipynb" in report
    assert "unexpected: " in report and "data.txt" in report
    assert '-    "y = 2"' in report and '+    "y = 3"' in report
    assert nbtools.diff_trees(a, a) == ""


def test_generate_release_rejects_an_unknown_unit(tmp_path):
    with pytest.raises(ValueError, match="unknown unit 'unit99'"):
        nbtools.generate_release(["unit99"], tmp_path)


def test_nbbuild_makes_valid_nbgrader_cells(tmp_path):
    sys.path.insert(0, str(_kit.REPO / "scripts"))
    try:
        from nbbuild import Notebook
    finally:
        sys.path.remove(str(_kit.REPO / "scripts"))
    nb = Notebook("u9")
    nb.setup("import numpy as np")
    nb.solution("f", "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION")
    nb.test("f", points=2)
    nb.written("why", points=1, answer="Because.")
    with pytest.raises(ValueError, match="used twice"):
        nb.test("f", points=1)
    built = _kit.read_notebook(nb.write(tmp_path / "u9.ipynb"))
    assert _kit.autograded_cells(built) == {"u9_f": 2.0} and _kit.manual_cells(built) == {"u9_why": 1.0}
    test_cell = built.cells[2].source
    assert test_cell.endswith('check("u9_f", globals(), hidden=True)\n### END HIDDEN TESTS')
    assert [c.id for c in built.cells] == ["u9-setup", "u9-f-impl", "u9-f", "u9-why"]


def test_release_check_passes_an_up_to_date_unit_and_names_the_stale_one(tmp_path):
    # The instructor's command, run on a copy of the repository in which one unit's exercises/ is stale.
    import shutil
    import subprocess

    fresh, stale = nbtools.discover_units()[:2]
    repo = tmp_path / "repo"
    shutil.copytree(_kit.REPO / "scripts", repo / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(_kit.REPO / "nbgrader_config.py", repo / "nbgrader_config.py")
    for unit in (fresh, stale):
        for tree in ("solutions", "exercises"):
            shutil.copytree(_kit.REPO / tree / unit, repo / tree / unit,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    path = repo / "exercises" / stale / f"{stale}.ipynb"
    nb = _kit.read_notebook(path)
    cell = next(c for c in nb.cells if _kit.nbgrader_meta(c).get("solution") and c.cell_type == "code")
    cell.source += "\n# edited by hand"
    nbformat.write(nb, str(path))

    proc = subprocess.run([sys.executable, str(repo / "scripts" / "release.py"), "--check"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "exercises/ is stale" in proc.stderr and "# edited by hand" in proc.stderr, proc.stderr
    assert f"exercises/{stale}/" in proc.stderr and f"exercises/{fresh}/" not in proc.stderr, proc.stderr

    proc = subprocess.run([sys.executable, str(repo / "scripts" / "release.py"), "--check", fresh], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and f"exercises/ is up to date for {fresh}" in proc.stdout, proc.stdout + proc.stderr


def test_release_check_ignores_files_git_ignores_but_not_other_strays(tmp_path):
    # A Jupyter checkpoint in exercises/ (git-ignored) is not staleness; an untracked file git does not ignore is.
    import shutil
    import subprocess

    unit = nbtools.discover_units()[0]
    repo = tmp_path / "repo"
    shutil.copytree(_kit.REPO / "scripts", repo / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("nbgrader_config.py", ".gitignore"):
        shutil.copy2(_kit.REPO / name, repo / name)
    for tree in ("solutions", "exercises"):
        shutil.copytree(_kit.REPO / tree / unit, repo / tree / unit,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    checkpoint = repo / "exercises" / unit / ".ipynb_checkpoints" / f"{unit}-checkpoint.ipynb"
    checkpoint.parent.mkdir()
    checkpoint.write_text("{}")
    release = [sys.executable, str(repo / "scripts" / "release.py"), "--check", unit]
    proc = subprocess.run(release, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0 and f"exercises/ is up to date for {unit}" in proc.stdout, proc.stdout + proc.stderr

    (repo / "exercises" / unit / "notes.txt").write_text("stray")
    proc = subprocess.run(release, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and "unexpected: " in proc.stderr and "notes.txt" in proc.stderr, proc.stderr
    assert "checkpoint" not in proc.stderr, proc.stderr
