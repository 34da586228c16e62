"""The committed notebooks are well-formed nbgrader notebooks, and ``exercises/`` is exactly what
``nbgrader generate_assignment`` makes from ``solutions/`` with the kit's ``nbgrader_config.py`` (run
``python scripts/release.py`` to refresh it).

Every unit found in ``solutions/<unit>/<unit>.ipynb`` is checked; nothing here is specific to a unit.
"""

import ast
import re
from pathlib import Path

import pytest

import nnkit
from autograder.items import default_registry
from autograder.notebook import scan_source
from tests.notebooks import _kit

UNITS = _kit.nbtools.discover_units()


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


def unit_items(unit: str) -> list:
    """The registered items of ``unit`` (its grade_ids start with ``u<N>_``)."""
    prefix = "u" + re.sub(r"\D", "", unit) + "_"
    return [item for item in default_registry() if item.grade_id.startswith(prefix)]


def forbidden_imports(nb, items) -> list[str]:
    """``"<module> (cell <i>): forbidden by <grade_ids>"`` for each nnkit module that a code cell of ``nb`` names
    (import, ``from nnkit import x``, ``importlib.import_module("...")``, exec'd strings) and an item forbids.

    Every code cell counts, solution regions included: the trusted grader scans the cells a student submits with
    the same scanner, so a reference import in the instructor's solution is one a student who writes the same
    code loses the item for. The rule is each item's own ``forbid`` list (``Item.forbids``), not the grader's
    exemption for modules the trusted notebook imports, which would make any such import look allowed.
    """
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for module in sorted(scan_source(cell.source, ["nnkit"])):
            forbidding = [item.grade_id for item in items if item.forbids(module)]
            if forbidding:
                problems.append(f"{module} (cell {i}, {_kit.nbgrader_meta(cell).get('grade_id', 'no grade_id')}): "
                                f"forbidden by {forbidding}")
    return problems


def test_notebook_imports_no_nnkit_module_that_an_item_of_its_unit_forbids(unit):
    nb = _kit.read_notebook(_kit.solution_notebook_path(unit))
    items = unit_items(unit)
    assert items, f"{unit} has no registered items"
    problems = forbidden_imports(nb, items)
    assert not problems, f"{unit} imports modules its own items forbid:\n  " + "\n  ".join(problems)


def test_forbidden_imports_catches_a_reference_import_inside_a_solution_region():
    # The rule above must be able to fail: the same notebook with one reference import in a solution region.
    unit = UNITS[0]
    nb = _kit.read_notebook(_kit.solution_notebook_path(unit))
    items = unit_items(unit)
    forbidden = sorted({p for item in items for p in item.forbid if item.forbids(p)})
    assert forbidden, f"no item of {unit} forbids any nnkit module"
    cell = next(c for c in nb.cells if _kit.nbgrader_meta(c).get("solution") and c.cell_type == "code")
    original = cell.source
    marker = next(line for line in original.split("\n") if line.strip() == "### BEGIN SOLUTION")
    indent = marker[: len(marker) - len(marker.lstrip())]
    for statement in (f"import {forbidden[0]}", f"from {forbidden[0]} import something",
                      f"import importlib\nimportlib.import_module({forbidden[0]!r})"):
        inserted = "\n".join(indent + line for line in statement.split("\n"))
        cell.source = original.replace(marker, f"{marker}\n{inserted}", 1)
        problems = forbidden_imports(nb, items)
        assert problems and problems[0].startswith(forbidden[0] + " "), (statement, problems)
    cell.source = original
    assert not forbidden_imports(nb, items)


def test_every_forbid_prefix_names_an_existing_nnkit_module():
    # A misspelt prefix ("nnkit.activation") would forbid nothing and let the rule above pass vacuously.
    root = Path(nnkit.__file__).resolve().parent
    modules = {"nnkit"} | {".".join(("nnkit",) + p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
                           for p in root.rglob("*.py")}
    for item in default_registry():
        unknown = [p for p in item.forbid if not any(m == p or m.startswith(p + ".") for m in modules)]
        assert not unknown, f"{item.grade_id} forbids {unknown}, which are not nnkit modules"


def test_every_grade_cell_has_an_item_with_the_same_points_and_vice_versa(unit):
    nb = _kit.read_notebook(_kit.solution_notebook_path(unit))
    cells = _kit.autograded_cells(nb)
    prefix = "u" + re.sub(r"\D", "", unit) + "_"
    items = {item.grade_id: float(item.points) for item in default_registry() if item.grade_id.startswith(prefix)}
    assert cells == items, (f"{unit}: grade cells without an item: {sorted(set(cells) - set(items))}; items "
                            f"without a grade cell: {sorted(set(items) - set(cells))}; points: cells {cells}, "
                            f"items {items}")


def test_committed_exercises_equal_a_fresh_nbgrader_release(unit, notebooks_root):
    # The release is the one the end-to-end grading tests build their course from (made once per session);
    # ``python scripts/release.py --check`` itself is tested in test_release_tools.py.
    course, _ = _kit.shared_course(notebooks_root, unit)
    report = _kit.nbtools.diff_trees(course / "release" / unit, _kit.REPO / "exercises" / unit)
    assert not report, f"exercises/{unit} is stale; run `python scripts/release.py {unit}`:\n{report}"


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
