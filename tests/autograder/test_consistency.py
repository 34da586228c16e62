"""Every autograded cell in solutions/ has checks, and every registered item has its cell, with equal points."""

from pathlib import Path

import pytest

from autograder import notebook
from autograder.items import default_registry

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"
NOTEBOOKS = sorted(SOLUTIONS.glob("*/*.ipynb"))


def grade_cells() -> dict[str, tuple[Path, float | None]]:
    cells = {}
    for path in NOTEBOOKS:
        for grade_id, points in notebook.test_cells(notebook.read_notebook(path)).items():
            assert grade_id not in cells, f"grade id {grade_id} appears in {cells[grade_id][0]} and {path}"
            cells[grade_id] = (path, points)
    return cells


@pytest.mark.skipif(not NOTEBOOKS, reason="solutions/ has no notebooks yet")
def test_every_grade_cell_has_checks_with_the_same_points():
    registry = default_registry()
    for grade_id, (path, points) in grade_cells().items():
        assert grade_id in registry, f"{path.name}: test cell {grade_id} has no checks in autograder/suites"
        assert registry.get(grade_id).points == points, (
            f"{grade_id}: the cell in {path.name} is worth {points} points, its Item {registry.get(grade_id).points}")


@pytest.mark.skipif(not NOTEBOOKS, reason="solutions/ has no notebooks yet")
def test_every_registered_item_has_a_grade_cell():
    cells = grade_cells()
    missing = [item.grade_id for item in default_registry() if item.grade_id not in cells]
    assert not missing, f"items without a test cell in solutions/: {missing}"
