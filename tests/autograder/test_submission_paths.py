"""Where a submission sits must not change its score: the worker sees none of its surroundings."""

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


def test_the_same_notebook_scores_the_same_wherever_it_sits(tmp_path, source, namespaces):
    # A student's folder with a helper package, a data file and a classmate's notebook next to it, the nbgrader
    # layout, and a bare folder: the worker sees none of their surroundings, so all three grade the same.
    flat = tmp_path / "work"
    (flat / "helpers").mkdir(parents=True)
    (flat / "helpers" / "__init__.py").write_text("SCALE = 1.0\n")
    (flat / "data.txt").write_text("3.5\n")
    fx.write(fx.notebook(), flat / "bob.ipynb")
    nb = fx.notebook()
    places = [flat / "mine.ipynb", tmp_path / "submitted" / "alice" / fx.ASSIGNMENT / "fixture.ipynb",
              tmp_path / "bare" / "x.ipynb"]
    outcomes = []
    for place in places:
        result, scores = _grade(fx.write(nb, place), source)
        outcomes.append((scores, [c["status"] for c in result.cells], result.flags))
    assert outcomes[0] == outcomes[1] == outcomes[2] and outcomes[0][0] == FULL


def test_nothing_beside_a_flat_submission_is_in_the_workers_view(tmp_path, source, namespaces):
    flat = tmp_path / "class"
    other = fx.write(fx.notebook(), flat / "bob.ipynb")
    (flat / "data.txt").write_text("3.5\n")
    probe = (f"import os\nseen = []\nfor p in ({str(other)!r}, {str(flat / 'data.txt')!r}, {str(flat)!r}):\n"
             "    try:\n        seen.append(open(p).read() if os.path.isfile(p) else os.listdir(p))\n"
             "    except OSError:\n        pass\n")
    path = fx.write(fx.notebook(extra_cells=[probe, "assert not seen\n"]), flat / "alice.ipynb")
    result, scores = _grade(path, source)
    assert scores == FULL and all(c["status"] == "ok" for c in result.cells), result.cells


def test_a_path_relative_to_the_working_folder_finds_its_trusted_notebook(tmp_path, source, monkeypatch):
    # `nnkit check unit1.ipynb` in the folder holding it: the path has no folder part, and the lookup must use
    # the working folder's name (an empty name sent it to the source's top folder, which holds no notebooks).
    from pathlib import Path

    from autograder.grader import find_trusted

    here = tmp_path / "anywhere"
    nb = fx.notebook()
    fx.write(nb, here / "mine.ipynb")
    monkeypatch.chdir(here)
    trusted = source / fx.ASSIGNMENT / "fixture.ipynb"
    from autograder import notebook
    assert find_trusted(Path("mine.ipynb"), source, notebook.read_notebook(here / "mine.ipynb")) == trusted
    (here / fx.ASSIGNMENT).mkdir()                       # inside a folder named like the assignment, by name
    fx.write(nb, here / fx.ASSIGNMENT / "fixture.ipynb")
    monkeypatch.chdir(here / fx.ASSIGNMENT)
    assert find_trusted(Path("fixture.ipynb"), source) == trusted
