"""``nbgrader generate_feedback`` shows nnkit's HTML feedback: the course of ``test_nbgrader_bridge.py`` (graded
through the sandbox by ``nbgrader autograde``, then ``generate_feedback``), read as the student gets it."""

import base64
import re

from tests.notebooks.test_nbgrader_bridge import _feedback, graded  # noqa: F401 - graded: the shared course

TABLE = re.compile(r"<div class=[\"']nnkit-feedback[\"']>")
PICTURE = re.compile(r"<img [^>]*src=[\"']data:image/png;base64,([A-Za-z0-9+/=]+)[\"']")


def test_the_feedback_page_has_one_table_per_autograded_item(graded):
    for student in ("correct", "partial", "intruder"):
        page = _feedback(graded, student)
        assert len(TABLE.findall(page)) == len(graded["points"]), student
        for gid in graded["points"]:
            assert re.search(rf"<th [^>]*>{gid} -- ", page), f"{student}/{gid}: no table headline"


def test_a_wrong_array_shows_its_marked_grid_and_hint_a_hidden_one_no_map_and_a_correct_one_none(graded):
    from autograder.feedback_figure import MAX_PNG_BYTES

    partial = _feedback(graded, "partial")
    pictures = [base64.b64decode(p) for p in PICTURE.findall(partial)]
    assert all(p.startswith(b"\x89PNG") and len(p) <= MAX_PNG_BYTES for p in pictures)
    assert "got (differing entries marked)" in partial, "a visible failed array shows no marked grid"
    assert "hint: " in partial and ">FAIL</td>" in partial
    rows = re.split(r"<tr style=[\"']background:", partial)[1:]
    hidden_failures = [row for row in rows if "(hidden) " in row and ">FAIL</td>" in row]
    assert hidden_failures and not any(PICTURE.search(row) for row in hidden_failures)   # where it differs: withheld
    correct = _feedback(graded, "correct")
    assert not PICTURE.search(correct) and ">FAIL</td>" not in correct and ">ok</td>" in correct


def test_hidden_checks_show_no_details_in_the_feedback(graded):
    rows = re.split(r"<tr style=[\"']background:", _feedback(graded, "partial"))[1:]   # one per sub-check
    hidden_failures = [row for row in rows if "(hidden) " in row and ">FAIL</td>" in row]
    assert hidden_failures, "the partial submission fails no hidden check: nothing to look at"
    for row in hidden_failures:
        assert "details of hidden checks are not shown" in row, row[:400]
        assert "first mismatch" not in row and "values differ" not in row and "expected" not in row, row[:400]
