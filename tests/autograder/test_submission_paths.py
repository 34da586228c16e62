"""Where a submission sits must not change its score: only other notebooks are off limits."""

import pytest

from autograder.grader import grade_submission
from autograder.sandbox import Limits
from tests.autograder import fixture_assignment as fx

LIMITS = Limits(cell_timeout=5.0, call_timeout=5.0)
FULL = {"fx_relu": 2.0, "fx_relu_grad": 2.0, "fx_softmax": 2.0, "fx_linear": 3.0, "fx_mse": 1.0}


@pytest.fixture()
def source(tmp_path):
    return fx.write(fx.notebook(), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb").parent.parent


def _grade(path, source):
    result = grade_submission(path, source=source, registry=fx.REGISTRY, limits=LIMITS)
    assert result.error is None, result.error
    return result, {i.grade_id: i.score for i in result.items}


def test_flat_submission_can_import_and_read_files_beside_it(tmp_path, source):
    # A student's folder: their notebook, a helper package and a data file next to it (like a .venv).
    flat = tmp_path / "work"
    (flat / "helpers").mkdir(parents=True)
    (flat / "helpers" / "__init__.py").write_text("SCALE = 1.0\n")
    (flat / "data.txt").write_text("3.5\n")
    reads = (f"import sys\nsys.path.insert(0, {str(flat)!r})\nimport helpers\n"
             f"value = float(open({str(flat / 'data.txt')!r}).read())\n")
    path = fx.write(fx.notebook(extra_cells=[reads]), flat / "mine.ipynb")
    result, scores = _grade(path, source)
    assert scores == FULL and result.flags == []
    assert all(c["status"] != "error" for c in result.cells), result.cells


def test_flat_submission_cannot_read_the_notebook_beside_it(tmp_path, source):
    flat = tmp_path / "class"
    other = fx.write(fx.notebook(), flat / "bob.ipynb")
    leak = f"try:\n    open({str(other)!r}).read()\n    leaked = True\nexcept OSError:\n    leaked = False\n"
    path = fx.write(fx.notebook(extra_cells=[leak, "assert not leaked\n"]), flat / "alice.ipynb")
    result, scores = _grade(path, source)
    assert scores == FULL
    assert any("bob.ipynb" in f for f in result.flags), result.flags
