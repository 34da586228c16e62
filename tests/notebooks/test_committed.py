"""The committed notebooks are well-formed nbgrader notebooks, and ``exercises/`` is exactly what
``nbgrader generate_assignment`` makes from ``solutions/`` (run ``python scripts/release.py`` to refresh it).

Every unit found in ``solutions/<unit>/<unit>.ipynb`` is checked; nothing here is specific to a unit.
"""

import ast
import re
import subprocess
import sys

import pytest

from autograder.items import default_registry, is_allowed_module
from tests.notebooks import _kit

UNITS = _kit.nbtools.discover_units()
GRADED_REFERENCE = ("nnkit.perceptron", "nnkit.logic", "nnkit.autodiff", "nnkit.activations")


@pytest.fixture(scope="module", params=UNITS)
def unit(request):
    return request.param


def all_committed_notebooks():
    return [p for u in UNITS for p in sorted((_kit.REPO / "solutions" / u).glob("*.ipynb"))
            + sorted((_kit.REPO / "exercises" / u).glob("*.ipynb"))]


@pytest.mark.parametrize("path", all_committed_notebooks(), ids=lambda p: str(p.relative_to(_kit.REPO)))
def test_committed_notebook_has_no_outputs_or_execution_counts(path):
    nb = _kit.read_notebook(path)
    dirty = _kit.nbtools.cells_with_outputs(nb)
    assert not dirty, f"{path} has outputs in cells {dirty}; run `python scripts/release.py --strip`"


def test_solution_notebook_is_a_valid_nbgrader_source(unit):
    nb = _kit.read_notebook(_kit.solution_notebook_path(unit))
    assert nb.metadata.kernelspec.name == "python3" and nb.metadata.kernelspec.language == "python"
    prefix = "u" + re.sub(r"\D", "", unit) + "_"
    seen = []
    for i, cell in enumerate(nb.cells):
        meta = _kit.nbgrader_meta(cell)
        has_region = "BEGIN SOLUTION" in cell.source or "BEGIN HIDDEN TESTS" in cell.source
        if not meta:
            assert not has_region, f"cell {i} has nbgrader markers but no nbgrader metadata"
            continue
        gid = meta["grade_id"]
        seen.append(gid)
        assert meta["schema_version"] == 3 and gid.startswith(prefix), f"cell {i}: {meta}"
        if meta["grade"]:
            assert meta.get("points", 0) > 0, f"grade cell {gid} needs points"
        if meta["solution"]:
            assert "### BEGIN SOLUTION" in cell.source and not meta["locked"], gid
        if meta["grade"] and not meta["solution"]:
            assert meta["locked"] and cell.cell_type == "code", gid
            assert f'check("{gid}", globals())' in cell.source, f"test cell {gid} must call check on its own id"
            hidden = cell.source.split("### BEGIN HIDDEN TESTS", 1)
            assert len(hidden) == 2 and f'check("{gid}", globals(), hidden=True)' in hidden[1], gid
            assert cell.source.rstrip().endswith("### END HIDDEN TESTS"), f"{gid}: the hidden check must be last"
    assert len(seen) == len(set(seen)), f"duplicate grade_ids in {unit}: {seen}"
    assert _kit.manual_cells(nb), f"{unit} needs at least one hand-graded written answer"


def notebook_nnkit_imports(nb) -> set[str]:
    """Every ``nnkit`` module imported by a code cell (``from nnkit import plot`` counts as ``nnkit.plot``)."""
    found = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.split(".")[0] == "nnkit")
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "nnkit":
                found.update(f"nnkit.{a.name}" for a in node.names) if node.module == "nnkit" else \
                    found.add(node.module)
    return found


def test_notebook_imports_nothing_its_own_items_forbid(unit):
    # The notebook and the grader's integrity rules must agree: a module the notebook itself imports for the
    # students can never be one that costs them an item (and units 1-2 never hand out the graded reference).
    nb = _kit.read_notebook(_kit.solution_notebook_path(unit))
    prefix = "u" + re.sub(r"\D", "", unit) + "_"
    items = [item for item in default_registry() if item.grade_id.startswith(prefix)]
    for module in notebook_nnkit_imports(nb):
        forbidding = [item.grade_id for item in items if item.forbids(module)]
        assert not forbidding, f"{unit} imports {module}, which items {forbidding} forbid"
        if unit in ("unit1", "unit2"):
            assert is_allowed_module(module) and not module.startswith(GRADED_REFERENCE), module


def test_every_grade_cell_has_an_item_with_the_same_points_and_vice_versa(unit):
    nb = _kit.read_notebook(_kit.solution_notebook_path(unit))
    cells = _kit.autograded_cells(nb)
    prefix = "u" + re.sub(r"\D", "", unit) + "_"
    items = {item.grade_id: float(item.points) for item in default_registry() if item.grade_id.startswith(prefix)}
    assert cells == items, (f"{unit}: grade cells without an item: {sorted(set(cells) - set(items))}; items "
                            f"without a grade cell: {sorted(set(items) - set(cells))}; points: cells {cells}, "
                            f"items {items}")


def test_committed_exercises_equal_a_fresh_nbgrader_release(unit):
    # Through the instructor's own command, which prints a readable diff when exercises/ is stale.
    proc = subprocess.run([sys.executable, str(_kit.REPO / "scripts" / "release.py"), "--check", unit],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"exercises/ is up to date for {unit}" in proc.stdout


def test_released_stubs_keep_docstrings_and_raise_not_implemented(unit):
    release = _kit.read_notebook(_kit.REPO / "exercises" / unit / f"{unit}.ipynb")
    for cell in release.cells:
        meta = _kit.nbgrader_meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            assert "raise NotImplementedError()" in cell.source, meta["grade_id"]
            assert "SOLUTION" not in cell.source, meta["grade_id"]
        if meta.get("grade") and not meta.get("solution"):
            assert "hidden=True" not in cell.source and "HIDDEN" not in cell.source, meta["grade_id"]
        if meta.get("solution") and cell.cell_type == "code" and "def " in cell.source:
            tree = ast.parse(cell.source)
            for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")]:
                body = ast.get_source_segment(cell.source, fn)
                if "raise NotImplementedError()" in body:
                    assert ast.get_docstring(fn), f"{unit}: the stub {fn.name} has no docstring"
