"""Tampered submissions through real ``nbgrader autograde`` with a gradebook, then ``generate_feedback``.

One unit 1 course, graded once per session. Every student submits the same honest work (the scripted
``conventions`` submission: some items right, some wrong), and all but ``honest`` then tamper with the
notebook's nbgrader metadata, its test cells or their outputs. Each tampered notebook must earn no more than the
honest one on every item, the gradebook's maximum must stay the instructor's, the feedback must show the
grader's report and not the forged one, and ``nnkit grade`` must give the same file the same score (one grading
world: the trusted notebook decides, never the submission).
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_output

from tests.notebooks import _kit

UNIT = "unit1"
FORGED = "FORGED-BY-THE-STUDENT"
HONEST = "honest"

_GRADEBOOK = '''
import json, sys
from nbgrader.api import Gradebook
unit, students = sys.argv[1], sys.argv[2:]
out = {"assignment_max": Gradebook("sqlite:///gradebook.db", course_id="nnkit").find_assignment(unit).max_score,
       "students": {}}
with Gradebook("sqlite:///gradebook.db", course_id="nnkit") as gb:
    for s in students:
        try:
            nb = gb.find_submission_notebook(unit, unit, s)
        except Exception as exc:
            out["students"][s] = {"missing": repr(exc)}
            continue
        out["students"][s] = {"max": nb.max_score, "grades": {g.name: {"auto": g.auto_score, "max": g.max_score}
                                                              for g in nb.grades}}
print(json.dumps(out))
'''


def _index(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if _kit.nbgrader_meta(c).get("grade_id") == grade_id)


def _meta(nb, grade_id):
    return nb.cells[_index(nb, grade_id)].metadata["nbgrader"]


def _forged_outputs(grade_id, points):
    return [new_output("display_data", {"text/plain": f"{FORGED} {grade_id}: {points} / {points} points",
                                        "text/html": f"<b>{FORGED}</b> {grade_id}: {points} / {points} points"}),
            new_output("execute_result", {"text/plain": repr(float(points))}, execution_count=1)]


# Each tampering edits, in place, a copy of the honest notebook. Their targets are items the honest work does
# not fully earn (u1_heaviside: H(0) = 1; u1_delta_rule: an averaged update), so any extra credit shows.
def _raise_points(nb):
    _meta(nb, "u1_heaviside")["points"] = 50
    _meta(nb, "u1_delta_rule")["points"] = 100


def _rename_grade_id(nb):
    _meta(nb, "u1_delta_rule")["grade_id"] = "u1_delta_rule_renamed"


def _own_cell_graded(nb):
    meta = _meta(nb, "u1_heaviside_impl")
    meta.update(grade=True, solution=False, locked=True, points=10)


def _test_becomes_pass(nb):
    nb.cells[_index(nb, "u1_heaviside")].source = "pass"
    nb.cells[_index(nb, "u1_delta_rule")].source = f'print("{FORGED} u1_delta_rule: 3 / 3 points")\n3.0'


def _test_becomes_markdown(nb):
    i = _index(nb, "u1_tlu")
    nb.cells[i] = nbformat.v4.new_markdown_cell(nb.cells[i].source, metadata=nb.cells[i].metadata)


def _test_duplicated(nb):
    i = _index(nb, "u1_heaviside")
    copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[i])))
    copy.source = "pass"
    copy.id = "duplicate-of-u1-heaviside"
    nb.cells.insert(i + 1, copy)


def _checksums_changed(nb):
    for cell in nb.cells:
        if "checksum" in _kit.nbgrader_meta(cell):
            cell.metadata["nbgrader"]["checksum"] = "0" * 32


def _fake_outputs(nb):
    for gid, points in _kit.autograded_cells(nb).items():
        cell = nb.cells[_index(nb, gid)]
        cell.outputs, cell.execution_count = _forged_outputs(gid, points), 1


def _unknown_grade_id(nb):
    cell = new_code_cell('print("u1_bonus: 10 / 10 points")\n10.0')
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "u1_bonus",
                                 "points": 10, "schema_version": 3}
    cell.outputs = _forged_outputs("u1_bonus", 10)
    nb.cells.insert(_index(nb, "u1_heaviside") + 1, cell)


def _test_deleted(nb):
    del nb.cells[_index(nb, "u1_xor")]


def _graded_cell_without_grade_id(nb):
    cell = new_code_cell("10.0")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": False, "points": 10,
                                 "schema_version": 3}
    cell.outputs = _forged_outputs("u1_extra", 10)
    odd = new_code_cell("20.0")          # a grade id that is no string at all
    odd.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": ["u1_xor"],
                                "points": 20, "schema_version": 3}
    nb.cells += [cell, odd]


# Three tampered students, each the honest work with one class of tampering (grading a notebook is the slow
# part, so the tamperings that do not overlap share one).
TAMPERINGS = {"metadata": [_raise_points, _checksums_changed, _own_cell_graded],
              "test_cells": [_test_becomes_pass, _test_becomes_markdown, _fake_outputs],
              "grade_ids": [_rename_grade_id, _test_duplicated, _unknown_grade_id, _test_deleted,
                            _graded_cell_without_grade_id]}


def _submissions(course):
    release = _kit.read_notebook(course / "release" / UNIT / f"{UNIT}.ipynb")
    solution = _kit.read_notebook(_kit.solution_notebook_path(UNIT))
    honest = _kit.make_submission(release, solution, _kit.submission_specs(UNIT)["conventions"], f"{UNIT}/honest")
    notebooks = {HONEST: honest}
    for name, tamperings in TAMPERINGS.items():
        nb = nbformat.from_dict(json.loads(json.dumps(honest)))
        for tamper in tamperings:
            tamper(nb)
        notebooks[name] = nb
    return notebooks


def _nbgrader(step, course):
    """``nbgrader <step>`` on the whole class; a submission nbgrader cannot process makes it exit 1 after
    doing the others, so the exit code and the log are kept for the tests to show, not raised."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", step, UNIT, "--force", "--log-level=WARN"], cwd=course,
                          env=_kit.kernel_env(), capture_output=True, text=True)
    return {"exit": proc.returncode, "log": (proc.stdout + proc.stderr)[-6000:]}


def _build_and_grade(root):
    course = root / "tampered-course"
    _kit.released_course(UNIT, course)
    students = _submissions(course)
    _kit.submit(course, UNIT, students)
    start = time.perf_counter()
    logs = {step: _nbgrader(step, course) for step in ("autograde", "generate_feedback")}
    seconds = time.perf_counter() - start
    proc = subprocess.run([sys.executable, "-c", _GRADEBOOK, UNIT, *students], cwd=course,
                          env=_kit.nbtools.nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"reading the gradebook failed:\n{proc.stdout}\n{proc.stderr}")
    points = _kit.autograded_cells(_kit.read_notebook(_kit.solution_notebook_path(UNIT)))
    return {"course": str(course), "points": points, "nbgrader_seconds": seconds, "logs": logs,
            "gradebook": json.loads(proc.stdout.strip().splitlines()[-1]),
            "nnkit": _kit.nnkit_grade_scores(course, list(points))}


@pytest.fixture(scope="module")
def graded(notebooks_root):
    return _kit.shared_json(notebooks_root, "tampered-course", lambda: _build_and_grade(notebooks_root))


def _student(graded, student):
    row = graded["gradebook"]["students"][student]
    assert "missing" not in row, (f"{student}: nbgrader autograde left no submission in the gradebook: {row}\n"
                                  f"{graded['logs']['autograde']['log']}")
    return row


def _auto(graded, student):
    grades = _student(graded, student)["grades"]
    return {g: grades[g]["auto"] if g in grades else None for g in graded["points"]}


def _feedback(graded, student):
    return (Path(graded["course"]) / "feedback" / student / UNIT / f"{UNIT}.html").read_text(encoding="utf-8")


def test_the_honest_submission_earns_part_of_the_marks(graded):
    honest, points = _auto(graded, HONEST), graded["points"]
    assert 0 < sum(honest.values()) < sum(points.values()), honest
    for target in ("u1_heaviside", "u1_delta_rule"):     # the items the tamperings aim at
        assert honest[target] < points[target], (target, honest[target])


@pytest.mark.parametrize("student", sorted(TAMPERINGS))
def test_a_tampered_submission_earns_the_honest_score_on_every_item(graded, student):
    honest, tampered = _auto(graded, HONEST), _auto(graded, student)
    differs = {g: (honest[g], tampered[g]) for g in graded["points"]
               if tampered[g] is None or tampered[g] != pytest.approx(honest[g], abs=1e-9)}
    assert not differs, f"{student}: item -> (honest, tampered) in the gradebook: {differs}"


@pytest.mark.parametrize("student", [HONEST, *sorted(TAMPERINGS)])
def test_the_gradebook_keeps_the_instructors_maximum_and_items(graded, student):
    row = _student(graded, student)
    manual = _kit.manual_cells(_kit.read_notebook(_kit.solution_notebook_path(UNIT)))
    instructor = {**graded["points"], **manual}
    assert graded["gradebook"]["assignment_max"] == pytest.approx(sum(instructor.values()))
    assert row["max"] == pytest.approx(sum(instructor.values())), row
    assert {g: v["max"] for g, v in row["grades"].items()} == instructor


@pytest.mark.parametrize("student", [HONEST, *sorted(TAMPERINGS)])
def test_nnkit_grade_gives_the_tampered_file_the_gradebooks_score(graded, student):
    ours, theirs = graded["nnkit"].get(student), _auto(graded, student)
    assert ours is not None, f"nnkit grade has no row for {student}: {sorted(graded['nnkit'])}"
    differs = {g: (theirs[g], ours[g]) for g in graded["points"]
               if theirs[g] is None or ours[g] != pytest.approx(theirs[g], abs=1e-6)}
    assert not differs, f"{student}: item -> (gradebook, nnkit grade): {differs}"


@pytest.mark.parametrize("student", sorted(TAMPERINGS))
def test_the_feedback_shows_the_graders_report_not_the_forged_one(graded, student):
    page = _feedback(graded, student)
    assert FORGED not in page, f"{student}: the feedback shows the student's forged output"
    for gid, points in graded["points"].items():
        headlines = re.findall(rf"{gid} -- [^\n<]*?: ([0-9.]+) / {points:g} points", page)
        assert len(headlines) == 1, f"{student}/{gid}: {len(headlines)} grader reports in the feedback"
        assert float(headlines[0]) == pytest.approx(_auto(graded, HONEST)[gid], abs=0.006), (student, gid)


# -- the sanitizing step on its own ------------------------------------------------------------------------------

def _trusted_and_tampered():
    trusted = _kit.read_notebook(_kit.solution_notebook_path(UNIT))
    nb = nbformat.from_dict(json.loads(json.dumps(trusted)))
    for tamper in (_raise_points, _own_cell_graded, *TAMPERINGS["grade_ids"]):
        tamper(nb)
    return trusted, nb


def test_every_cell_gets_the_trusted_notebooks_metadata_and_lost_test_cells_come_back():
    from autograder.nbgrader_bridge import restore_trusted_cells

    trusted, nb = _trusted_and_tampered()
    restore_trusted_cells(nb, trusted)
    ids = [_kit.nbgrader_meta(c).get("grade_id") for c in nb.cells]
    expected = [_kit.nbgrader_meta(c).get("grade_id") for c in trusted.cells]
    assert [g for g in ids if g] == [g for g in expected if g], "each trusted grade id once, in the trusted order"
    for cell in nb.cells:
        gid = _kit.nbgrader_meta(cell).get("grade_id")
        if gid:
            assert cell.metadata["nbgrader"] == trusted.cells[expected.index(gid)].metadata["nbgrader"], gid
    restored = nb.cells[ids.index("u1_delta_rule")]
    for lost in ("u1_delta_rule", "u1_xor"):       # renamed, deleted: back where the trusted notebook has them
        assert ids.index(lost) == ids.index(f"{lost}_impl") + 1, ids
    assert restored.source == trusted.cells[expected.index("u1_delta_rule")].source and restored.outputs == []
    assert len({c.id for c in nb.cells}) == len(nb.cells), "a put-back cell needs an id of its own"
    plain = [c for c in nb.cells if "nbgrader" not in c.metadata and c.cell_type == "code"]
    assert {c.source for c in plain} >= {"pass", 'print("u1_bonus: 10 / 10 points")\n10.0', "10.0", "20.0"}, \
        "a repeated, invented or missing grade id makes an ordinary cell"
    nbformat.validate(nb)
