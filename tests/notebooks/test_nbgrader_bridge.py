"""``nbgrader autograde`` through the trusted grader (``autograder/nbgrader_bridge.py``).

End to end, once per session: a course directory whose ``nbgrader_config.py`` only loads the kit's config,
``nbgrader generate_assignment unit1``, and three students in ``submitted/``:

* ``correct``: every task solved, the written answer filled in;
* ``partial``: the scripted ``conventions`` submission (H(0) = 1, a delta rule that averages), answer filled in;
* ``intruder``: solved by importing the reference, with a cell that prints the whole environment (the grading
  secret included, if it could see it) and one that reads the course's trusted notebook.

Then ``nbgrader autograde``, ``nnkit grade`` on the same ``submitted/``, and ``nbgrader generate_feedback``, all
with a fresh ``NNKIT_GRADER_SECRET``. The fast tests at the end check the output writer on its own.
"""

import json
import re
import secrets
import subprocess
import sys

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.nbgrader_bridge import autograded_test_cells, write_outputs
from autograder.results import ItemResult, SubCheck
from tests.notebooks import _kit

UNIT = "unit1"
ANSWER = "XOR is not linearly separable: no single line splits its four points, so one TLU cannot compute it."

_GRADEBOOK = '''
import json, sys
from nbgrader.api import Gradebook
unit, students = sys.argv[1], sys.argv[2:]
with Gradebook("sqlite:///gradebook.db", course_id="nnkit") as gb:
    print(json.dumps({s: {g.name: {"auto": g.auto_score, "manual": g.manual_score, "needs_manual": g.needs_manual_grade,
                                   "max": g.max_score}
                          for g in gb.find_submission_notebook(unit, unit, s).grades} for s in students}))
'''


def _intruder_cells(course):
    trusted = course / "source" / UNIT / f"{UNIT}.ipynb"
    return [
        new_code_cell("import os\nprint(dict(os.environ))\nprint('secret:', os.environ.get('NNKIT_GRADER_SECRET'))"),
        new_code_cell(f"try:\n    print(open({str(trusted)!r}).read())\nexcept OSError as exc:\n    print(exc)"),
        new_code_cell("from nnkit.activations import heaviside, sigmoid   # the reference, not my own code"),
    ]


def _students(course):
    release = _kit.read_notebook(course / "release" / UNIT / f"{UNIT}.ipynb")
    solution = _kit.read_notebook(_kit.solution_notebook_path(UNIT))
    solved = {gid: _kit.SOLVED for gid in _kit.solution_sources(UNIT)}
    written = {gid: ANSWER for gid in _kit.manual_cells(solution)}
    partial = {**_kit.submission_specs(UNIT)["conventions"], **written}
    intruder = _kit.make_submission(release, solution, solved, f"{UNIT}/intruder")
    setup = next(i for i, c in enumerate(intruder.cells) if _kit.nbgrader_meta(c).get("grade_id") == "u1_setup")
    intruder.cells[setup + 1:setup + 1] = _intruder_cells(course)
    return {"correct": _kit.make_submission(release, solution, {**solved, **written}, f"{UNIT}/correct"),
            "partial": _kit.make_submission(release, solution, partial, f"{UNIT}/partial"),
            "intruder": intruder}


def _build_and_grade(root):
    course = root / "bridge-course"
    _kit.released_course(UNIT, course)
    students = _students(course)
    _kit.submit(course, UNIT, students)
    secret = secrets.token_hex(16)
    env = {**_kit.kernel_env(), "NNKIT_GRADER_SECRET": secret}
    _kit.nbtools.run_nbgrader(["autograde", UNIT, "--force", "--log-level=WARN"], course, env=env)
    _kit.nbtools.run_nbgrader(["generate_feedback", UNIT, "--force", "--log-level=WARN"], course, env=env)
    proc = subprocess.run([sys.executable, "-c", _GRADEBOOK, UNIT, *students], cwd=course,
                          env=_kit.nbtools.nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"reading the gradebook failed:\n{proc.stdout}\n{proc.stderr}")
    solution = _kit.read_notebook(_kit.solution_notebook_path(UNIT))
    points = _kit.autograded_cells(solution)
    return {"course": str(course), "secret": secret, "points": points, "manual": _kit.manual_cells(solution),
            "gradebook": json.loads(proc.stdout.strip().splitlines()[-1]),
            "nnkit": _kit.nnkit_grade_scores(course, list(points), env=env)}


@pytest.fixture(scope="session")
def graded(notebooks_root):
    return _kit.shared_json(notebooks_root, "bridge-course", lambda: _build_and_grade(notebooks_root))


def _feedback(graded, student):
    from pathlib import Path

    return (Path(graded["course"]) / "feedback" / student / UNIT / f"{UNIT}.html").read_text(encoding="utf-8")


def _auto(graded, student):
    return {g: graded["gradebook"][student][g]["auto"] for g in graded["points"]}


def test_the_gradebook_gets_nnkit_grades_score_for_every_item(graded):
    for student in ("correct", "partial", "intruder"):
        ours, theirs = graded["nnkit"][student], _auto(graded, student)
        mismatched = {g: (theirs[g], ours[g]) for g in graded["points"]
                      if ours[g] != pytest.approx(theirs[g], abs=1e-6)}
        assert not mismatched, f"{student}: item -> (gradebook, nnkit grade): {mismatched}"


def test_full_marks_partial_credit_and_no_credit_for_the_reference(graded):
    points = graded["points"]
    assert _auto(graded, "correct") == points
    partial = _auto(graded, "partial")
    assert 0 < sum(partial.values()) < sum(points.values())
    assert 0 < partial["u1_perceptron_step"] < points["u1_perceptron_step"], "per-item partial credit was lost"
    assert _auto(graded, "intruder") == {g: 0.0 for g in points}
    assert "imports nnkit.activations" in _feedback(graded, "intruder")


def test_the_secret_appears_nowhere_in_autograded_or_feedback(graded):
    from pathlib import Path

    course = Path(graded["course"])
    files = [p for d in ("autograded", "feedback") for p in (course / d).rglob("*") if p.is_file()]
    assert len(files) >= 6, files     # a notebook and a feedback page per student, at least
    leaked = [str(p) for p in files if graded["secret"].encode() in p.read_bytes()]
    assert not leaked, f"NNKIT_GRADER_SECRET leaked into {leaked}"


def test_the_feedback_shows_one_score_per_item_the_gradebooks(graded):
    for student in ("correct", "partial"):
        page = _feedback(graded, student)
        for gid, points in graded["points"].items():
            headlines = re.findall(rf"{gid} -- [^\n<]*?: ([0-9.]+) / {points:g} points", page)
            assert len(headlines) == 1, f"{student}/{gid}: {len(headlines)} reports in the feedback"
            assert float(headlines[0]) == pytest.approx(graded["gradebook"][student][gid]["auto"], abs=0.006)


def test_written_answers_are_in_the_gradebook_waiting_for_a_person(graded):
    assert graded["manual"], "unit 1 has no written answer to check"
    for student in ("correct", "partial"):
        for gid, points in graded["manual"].items():
            grade = graded["gradebook"][student][gid]
            assert grade == {"auto": None, "manual": None, "needs_manual": True, "max": points}, (student, gid)


# -- the output writer on its own ---------------------------------------------------------------------------------

def _cell(gid, *, grade, solution, points=2, cell_type="code"):
    meta = {"grade": grade, "solution": solution, "grade_id": gid, "locked": not solution, "schema_version": 3}
    if grade:
        meta["points"] = points
    make = new_code_cell if cell_type == "code" else new_markdown_cell
    cell = make(f"# {gid}")
    cell.metadata["nbgrader"] = meta
    return cell


def _result(**fields):
    from autograder.results import SubmissionResult

    items = [ItemResult("t_a", "a(x)", 2.0, 1.5, [SubCheck("a on a (3,) array", 1.0, False, ["visible detail"]),
                                                 SubCheck("a on a secret array", 0.5, True, ["hidden input 42"])],
                        True),
             ItemResult("t_b", "b(x)", 2.0, 0.0, [SubCheck("b", 0.0, False, ["wrong"])], True)]
    return SubmissionResult("nb.ipynb", items=items, score=1.5, max_score=4.0, **fields)


def _notebook():
    return new_notebook(cells=[_cell("t_a_impl", grade=False, solution=True), _cell("t_a", grade=True, solution=False),
                               _cell("t_written", grade=True, solution=True, cell_type="markdown"),
                               _cell("t_b", grade=True, solution=False)])


def test_each_test_cell_gets_its_items_report_and_points_and_nothing_else_changes():
    nb = _notebook()
    before = [json.dumps(c, sort_keys=True) for c in nb.cells]
    write_outputs(nb, _result())
    assert [c.metadata["nbgrader"]["grade_id"] for c in autograded_test_cells(nb)] == ["t_a", "t_b"]
    a, b = nb.cells[1].outputs, nb.cells[3].outputs
    assert [o.output_type for o in a] == ["display_data", "execute_result"]
    assert a[1].data == {"text/plain": "1.5"} and b[1].data == {"text/plain": "0.0"}
    text, page = a[0].data["text/plain"], a[0].data["text/html"]   # the text report, and the table for feedback
    assert text == _result().items[0].render() and page.startswith("<div class='nnkit-feedback'><table")
    assert "t_a -- a(x): 1.50 / 2 points" in page and "visible detail" in text and "visible detail" in page
    assert "hidden input 42" not in text + page and "t_b -- b(x): 0 / 2 points" in b[0].data["text/plain"]
    assert [json.dumps(nb.cells[i], sort_keys=True) for i in (0, 2)] == [before[0], before[2]]


def test_notebook_wide_flags_are_written_once_to_the_first_test_cell():
    nb = _notebook()
    write_outputs(nb, _result(flags=["cell 3 imports nnkit.activations"],
                              cells=[{"name": "cell 2", "status": "error", "message": "NameError: x"}]))
    for mime in ("text/plain", "text/html"):
        first, second = nb.cells[1].outputs[0].data[mime], nb.cells[3].outputs[0].data[mime]
        assert "FLAG: cell 3 imports nnkit.activations" in first and "cell 2: error: NameError: x" in first
        assert "FLAG" not in second and "cell 2" not in second


def test_a_notebook_that_could_not_be_graded_gets_zero_and_the_reason_in_every_test_cell():
    nb = _notebook()
    write_outputs(nb, _result(error="this notebook is not unit1"))
    for cell in autograded_test_cells(nb):
        assert cell.outputs[1].data == {"text/plain": "0.0"}
        for mime in ("text/plain", "text/html"):
            assert "nnkit could not grade this notebook: this notebook is not unit1" in cell.outputs[0].data[mime]


def test_a_score_above_the_cells_points_is_capped_so_nbgrader_accepts_it():
    nb = _notebook()
    nb.cells[1].metadata["nbgrader"]["points"] = 1
    write_outputs(nb, _result())
    assert nb.cells[1].outputs[1].data == {"text/plain": "1.0"}
