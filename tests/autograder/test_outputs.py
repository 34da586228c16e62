"""Reports (text, JSON, CSV, Gradescope), batch grading (parallel, resumable, error rows) and the CLI."""

import csv
import io
import json
import os
import re
from pathlib import Path

import pytest

from autograder import batch, cli, report
from autograder.results import ItemResult, SubmissionResult
from autograder.sandbox import Limits
from tests.autograder import fixture_assignment as fx

REGISTRY_SPEC = "tests.autograder.fixture_assignment:REGISTRY"
# Published Gradescope results.json fields
# (https://gradescope-autograders.readthedocs.io/en/latest/specs/#output-format).
GS_TOP = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
          "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
GS_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
           "visibility", "extra_data"}
GS_VISIBILITY = {"visible", "hidden", "after_due_date", "after_published"}


@pytest.fixture()
def course(tmp_path):
    fx.write(fx.notebook(), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    sub = tmp_path / "submitted"
    fx.write(fx.notebook(), sub / "alice" / fx.ASSIGNMENT / "fixture.ipynb")
    fx.write(fx.notebook({"relu": "def relu(z):\n    return z\n"}), sub / "bob" / fx.ASSIGNMENT / "fixture.ipynb")
    broken = sub / "carol" / fx.ASSIGNMENT / "fixture.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\x89PNG not a notebook")
    return tmp_path


def options(course):
    return dict(source=course / "source", registry=fx.REGISTRY, limits=Limits(cell_timeout=5, call_timeout=5))


def test_discover_reads_the_nbgrader_layout_and_flat_files(course, tmp_path):
    flat = fx.write(fx.notebook(), tmp_path / "flat" / "dave.ipynb")
    subs = batch.discover([course / "submitted", flat])
    assert [(s.student, s.assignment) for s in subs[:3]] == [("alice", "fixture"), ("bob", "fixture"),
                                                            ("carol", "fixture")]
    assert subs[3].student == "" and re.fullmatch(r"flat/dave-[0-9a-f]{10}", subs[3].key)
    assert batch.discover([flat])[0].key == subs[3].key                  # stable: the same path, the same key
    with pytest.raises(FileNotFoundError):
        batch.discover([tmp_path / "nope"])


def test_batch_grades_in_parallel_writes_outputs_and_keeps_going_after_a_broken_file(course):
    out = course / "out"
    results = batch.grade_batch(batch.discover([course / "submitted"]), out=out, jobs=2, progress=False,
                                **options(course))
    assert [r.score for r in results] == [10.0, 7.0, 0.0]
    assert results[2].error and "not UTF-8" in results[2].error
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["student"], r["score"], r["max_score"], r["fx_relu"]) for r in rows] == [
        ("alice", "10.0", "10.0", "2.0"), ("bob", "7.0", "10.0", "0.0"), ("carol", "0.0", "10.0", "")]
    assert results[2].max_score == 10.0          # an error row carries the assignment's max, from the trusted copy
    saved = report.read_json(out / "results" / "bob" / "fixture" / "fixture.json")
    assert saved.to_dict() == results[1].to_dict()
    for who in ("alice", "bob", "carol"):
        doc = json.loads((out / "gradescope" / who / "fixture" / "fixture" / "results.json").read_text())
        assert set(doc) <= GS_TOP and doc["visibility"] in GS_VISIBILITY
        for test in doc["tests"]:
            assert set(test) <= GS_TEST and test["status"] in ("passed", "failed")
            assert test["visibility"] in GS_VISIBILITY and 0 <= test["score"] <= test["max_score"]
            assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert sum(t["score"] for t in doc["tests"]) == pytest.approx(doc["score"])


def test_gradescope_splits_visible_and_hidden_checks():
    ns_result = SubmissionResult.from_dict(json.loads(json.dumps(_fake_result())))
    doc = report.gradescope(ns_result)
    names = [(t["name"], t["visibility"], t["score"], t["max_score"]) for t in doc["tests"]]
    assert names == [("g1: item (visible checks)", "visible", 1.0, 2.0),
                     ("g1: item (hidden checks)", "after_published", 0.0, 1.0)]
    assert "secret input" not in json.dumps(doc)


def _fake_result():
    sub = lambda what, credit, hidden, details=(): {"what": what, "credit": credit, "hidden": hidden,  # noqa: E731
                                                    "details": list(details), "diagnosis": []}
    return {"path": "p", "assignment": "a", "notebook": "n", "student": "s", "score": 1.0, "max_score": 3.0,
            "error": None, "flags": [], "notes": [], "cells": [], "seconds": 0.1,
            "items": [{"grade_id": "g1", "title": "item", "points": 3.0, "score": 1.0, "hidden_included": True,
                       "flag": None, "subchecks": [sub("a", 1.0, False), sub("b", 0.0, False),
                                                   sub("c", 0.0, True, ["secret input [1, 2]"])]}]}


def test_rerun_resumes_and_force_regrades(course):
    out = course / "out"
    subs = batch.discover([course / "submitted" / "alice"])
    first = batch.grade_batch(subs, out=out, jobs=1, progress=False, **options(course))
    path = out / "results" / "alice" / "fixture" / "fixture.json"
    doc = json.loads(path.read_text())
    doc["score"] = 123.0                     # a marker: a resumed run must reuse this file
    path.write_text(json.dumps(doc))
    resumed = batch.grade_batch(subs, out=out, jobs=1, progress=False, **options(course))
    assert resumed[0].score == 123.0
    forced = batch.grade_batch(subs, out=out, jobs=1, progress=False, force=True, **options(course))
    assert forced[0].score == first[0].score == 10.0
    assert json.loads((out / "results.json").read_text())["score"] == 10.0   # single submission: Gradescope path


def test_text_report_is_readable(course):
    results = batch.grade_batch(batch.discover([course / "submitted" / "bob"]), jobs=1, progress=False,
                                **options(course))
    text = report.render_text(results[0])
    assert text.startswith("== bob/fixture/fixture.ipynb: 7 / 10 points")
    assert "[FAIL] relu on a (5, 4) array with a 0" in text and "first mismatch at index" in text


def test_cli_grade_exit_codes_and_outputs(course, capsys, monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    out = course / "out"
    args = ["grade", str(course / "submitted"), "--source", str(course / "source"), "--out", str(out),
            "--registry", REGISTRY_SPEC, "--jobs", "1"]
    assert cli.main(args) == cli.EXIT_SUBMISSION_ERRORS          # carol's file is broken
    printed = capsys.readouterr().out
    assert "3 submissions: 3 graded now; 1 could not be graded" in printed
    assert "== alice/fixture/fixture.ipynb: 10 / 10" in printed
    assert f"Results in {out}/: grades.csv" in printed
    assert (out / "grades.csv").is_file()
    assert cli.main(["grade", str(course / "submitted" / "alice"), "--source", str(course / "source"),
                     "--out", f"{out}/", "--registry", REGISTRY_SPEC, "--quiet"]) == cli.EXIT_OK
    printed = capsys.readouterr().out      # a rerun says what it skipped; a trailing / is not doubled
    assert printed == (f"1 submission: 0 graded now, 1 skipped (graded by an earlier run; --force regrades them). "
                       f"Results in {out}/: grades.csv, results/, gradescope/\n")
    assert cli.main(["grade", str(course / "empty-dir-does-not-exist")]) == cli.EXIT_USAGE
    assert cli.main(["grade", str(course / "submitted"), "--source", str(course / "nope")]) == cli.EXIT_USAGE
    assert cli.main(["grade", str(course / "submitted"), "--jobs", "0"]) == cli.EXIT_USAGE


def test_cli_check_prints_hidden_results_without_inputs(course, capsys, monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    nb = fx.write(fx.notebook({"softmax": "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(-1, keepdims=True)\n"}),
                  course / "mine.ipynb")
    assert cli.main(["check", str(nb), "--source", str(course / "source"), "--registry", REGISTRY_SPEC]) == 0
    text = capsys.readouterr().out
    assert "(hidden) softmax of large inputs" in text and "details of hidden checks are not shown" in text
    assert "fx_softmax -- softmax(z): 1 / 2 points" in text


def _flat_scores(out):
    with open(out / "grades.csv", newline="") as f:
        return sorted((Path(r["path"]).parent.name + "/" + Path(r["path"]).name, r["score"])
                      for r in csv.DictReader(f))


@pytest.mark.parametrize("layout", ["one folder", "same name in two folders"])
def test_flat_submissions_of_one_assignment_get_their_own_results(course, tmp_path, layout):
    if layout == "one folder":
        a, b = tmp_path / "flat" / "alice_unit1.ipynb", tmp_path / "flat" / "bob_unit1.ipynb"
    else:
        a, b = tmp_path / "alice" / "unit1" / "unit1.ipynb", tmp_path / "bob" / "unit1" / "unit1.ipynb"
    fx.write(fx.notebook(), a)
    fx.write(fx.notebook({"relu": "def relu(z):\n    return z\n"}), b)
    subs = batch.discover([a, b])
    assert len({s.key for s in subs}) == 2
    out = course / "out"
    first = batch.grade_batch(subs, out=out, jobs=1, progress=False, **options(course))
    assert [r.score for r in first] == [10.0, 7.0]
    assert len(list((out / "results").rglob("*.json"))) == 2
    assert len(list((out / "gradescope").rglob("results.json"))) == 2
    expected = sorted([(f"{a.parent.name}/{a.name}", "10.0"), (f"{b.parent.name}/{b.name}", "7.0")])
    assert _flat_scores(out) == expected
    # a rerun (the folder named again, relative to another cwd) resumes both from their own files
    resumed = batch.grade_batch(batch.discover([a.parent, b.parent]), out=out, jobs=1, progress=False,
                                **{**options(course), "source": course / "missing"})   # would fail if regraded
    assert [r.score for r in resumed] == [10.0, 7.0] and not any(r.error for r in resumed)
    assert _flat_scores(out) == expected


def test_two_submitted_trees_with_the_same_student_are_refused_up_front(course, tmp_path, capsys):
    other = tmp_path / "other" / "submitted" / "alice" / fx.ASSIGNMENT / "fixture.ipynb"
    fx.write(fx.notebook(), other)
    subs = batch.discover([course / "submitted" / "alice", tmp_path / "other" / "submitted"])
    with pytest.raises(ValueError, match="share the result key 'alice/fixture/fixture'"):
        batch.grade_batch(subs, out=course / "out", jobs=1, progress=False, **options(course))
    assert cli.main(["grade", str(course / "submitted" / "alice"), str(tmp_path / "other" / "submitted"),
                     "--out", str(course / "out")]) == cli.EXIT_USAGE
    assert "different --out folders" in capsys.readouterr().err


def _class(course):
    """The course fixture plus more students and every kind of broken file, in the nbgrader layout."""
    sub = course / "submitted"
    fx.write(fx.notebook({"softmax": "def softmax(z):\n    return np.exp(z) / np.exp(z).sum(-1, keepdims=True)\n"}),
             sub / "dave" / fx.ASSIGNMENT / "fixture.ipynb")
    for who, content in (("erin", b'{"cells": [{"cell_type": "code", "sour'), ("frank", b""),
                         ("grace", b"\xff\xfe\x00{\x00}")):
        path = sub / who / fx.ASSIGNMENT / "fixture.ipynb"
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
    import nbformat
    foreign = nbformat.v4.new_notebook()
    foreign.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {
        "grade_id": "other_q1", "solution": True, "grade": False, "locked": False}})]
    fx.write(foreign, sub / "heidi" / fx.ASSIGNMENT / "fixture.ipynb")
    return sub


def test_cli_grades_a_class_with_two_jobs_gives_each_broken_file_its_own_row_and_resumes(course, capsys,
                                                                                        monkeypatch):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    sub, out = _class(course), course / "out"
    args = ["grade", str(sub), "--source", str(course / "source"), "--out", str(out), "--registry", REGISTRY_SPEC,
            "--jobs", "2"]
    assert cli.main(args) == cli.EXIT_SUBMISSION_ERRORS
    captured = capsys.readouterr()
    assert "8 submissions: 8 graded now; 5 could not be graded" in captured.out
    assert "grading" not in captured.err   # no bar off a TTY
    with open(out / "grades.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert {who: (r["score"], r["error"] != "") for who, r in rows.items()} == {
        "alice": ("10.0", False), "bob": ("7.0", False), "dave": ("9.0", False), "carol": ("0.0", True),
        "erin": ("0.0", True), "frank": ("0.0", True), "grace": ("0.0", True), "heidi": ("0.0", True)}
    errors = {who: rows[who]["error"] for who in ("carol", "erin", "frank", "grace", "heidi")}
    assert "not UTF-8" in errors["carol"] and "not UTF-8" in errors["grace"]
    assert "not valid notebook JSON" in errors["erin"] and "is empty" in errors["frank"]
    assert "not the assignment" in errors["heidi"]
    assert all(f"{os.sep}{who}{os.sep}" in rows[who]["path"] for who in rows)   # each row is its own file
    # rerun: finished results are reused (a marker proves alice was not regraded), the report is whole again
    marked = out / "results" / "alice" / fx.ASSIGNMENT / "fixture.json"
    doc = json.loads(marked.read_text())
    doc["score"] = 42.0
    marked.write_text(json.dumps(doc))
    assert cli.main(args) == cli.EXIT_SUBMISSION_ERRORS
    assert "8 submissions: 0 graded now, 8 skipped (graded by an earlier run" in capsys.readouterr().out
    with open(out / "grades.csv", newline="") as f:
        assert [(r["student"], r["score"]) for r in csv.DictReader(f)][:2] == [("alice", "42.0"), ("bob", "7.0")]


def test_cli_shows_a_progress_bar_on_a_terminal(course):
    import fcntl
    import pty
    import struct
    import subprocess
    import sys
    import termios
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    out = course / "out"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))   # a new pty is 0 columns wide
    try:
        done = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(course / "submitted"),
                               "--source", str(course / "source"), "--out", str(out), "--registry",
                               REGISTRY_SPEC, "--jobs", "2"],
                              cwd=root, stdout=subprocess.PIPE, stderr=slave, timeout=300)
        os.close(slave)
        slave = None
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:      # EIO: the pty's other end is closed and everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    bar = b"".join(chunks).decode("utf-8", "replace")
    assert done.returncode == cli.EXIT_SUBMISSION_ERRORS      # carol's broken file
    assert "grading" in bar and "3/3" in bar and "Traceback" not in bar
    assert b"3 submissions: 3 graded now; 1 could not be graded" in done.stdout


def _with_written_answer(isolation: str) -> SubmissionResult:
    result = SubmissionResult.from_dict(json.loads(json.dumps(_fake_result())))
    result.items.append(ItemResult("q_written", "Why XOR needs two layers", 2.0, 0.0, manual=True))
    result.max_score = 5.0
    result.isolation = isolation
    return result


def test_written_answers_are_listed_with_their_points_and_never_scored():
    result = _with_written_answer("namespace")
    lines = report.render_text(result).splitlines()
    assert lines[0] == "== s/a/n: 1 / 5 points (2 of them for written answers, graded by hand)"
    assert lines[-1] == ("q_written -- Why XOR needs two layers: written answer, 2 points, graded by hand "
                         "(not scored by the autograder)")
    [row] = csv.DictReader(io.StringIO(report.csv_text([result])))
    assert (row["score"], row["max_score"], row["g1"], row["q_written"]) == ("1.0", "5.0", "1.0",
                                                                          "graded by hand (max 2)")
    doc = report.gradescope(result)
    [written] = [t for t in doc["tests"] if t["name"].startswith("q_written")]
    assert set(written) <= GS_TEST and "score" not in written and "status" not in written
    assert (written["max_score"], written["tags"], written["visibility"]) == (2.0, ["graded by hand"], "visible")
    assert "graded by hand, not by the autograder" in written["output"]
    assert doc["score"] == 1.0                                  # the autograder's total leaves it out


def test_written_answers_and_isolation_survive_the_json_round_trip(tmp_path):
    result = _with_written_answer("user")
    report.write_json(tmp_path / "r.json", result)
    again = report.read_json(tmp_path / "r.json")
    assert again.isolation == "user" and [i.manual for i in again.items] == [False, True]
    assert report.csv_text([again]) == report.csv_text([result])


@pytest.mark.parametrize("isolation", ["namespace", "process"])
def test_grading_without_isolation_is_said_in_every_output(isolation):
    result = _with_written_answer(isolation)
    warned = isolation == "process"
    assert (f"   WARNING: {report.NOT_ISOLATED}" in report.render_text(result).splitlines()) == warned
    [row] = csv.DictReader(io.StringIO(report.csv_text([result])))
    assert row["isolation"] == ("process (NOT isolated)" if warned else "namespace")
    assert report.gradescope(result)["output"].startswith(f"WARNING: {report.NOT_ISOLATED}") == warned


def test_cli_resolves_isolation_once_before_grading_and_warns_about_the_secret(course, capsys, monkeypatch):
    from autograder import sandbox
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    asked = []

    def unavailable(requested, *, run_as=None, allow_process=False):
        asked.append((requested, run_as, allow_process))
        raise sandbox.IsolationUnavailable("user namespaces are disabled here (kernel.unprivileged_userns_clone=0)")

    monkeypatch.setattr(sandbox, "resolve_isolation", unavailable)
    monkeypatch.setattr(batch, "grade_submission", lambda *a, **k: pytest.fail("graded before isolation"))
    args = ["grade", str(course / "submitted"), "--source", str(course / "source"), "--out", str(course / "out"),
            "--registry", REGISTRY_SPEC, "--jobs", "1"]
    assert cli.main(args) == cli.EXIT_USAGE
    assert capsys.readouterr().err.strip().splitlines() == [
        "nnkit grade: user namespaces are disabled here (kernel.unprivileged_userns_clone=0)"]
    assert cli.main(args + ["--isolation", "process"]) == cli.EXIT_USAGE
    capsys.readouterr()
    assert asked == [("auto", None, False), ("process", None, True)]   # process only when asked for

    monkeypatch.setattr(sandbox, "resolve_isolation", lambda requested, **k: "process")
    monkeypatch.delenv("NNKIT_GRADER_SECRET", raising=False)
    monkeypatch.setattr(batch, "grade_submission", lambda path, **k: SubmissionResult(str(path), "fixture",
                                                                                      path.name, k["student"]))
    assert cli.main(args + ["--isolation", "process", "--quiet"]) == cli.EXIT_OK
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"nnkit grade: WARNING: {report.NOT_ISOLATED}; every output says so",
                   "nnkit grade: warning: NNKIT_GRADER_SECRET is not set, so the inputs of hidden checks are "
                   "predictable; set it to a long random string that students never see"]


def test_cli_check_falls_back_to_process_with_one_notice(course, capsys, monkeypatch):
    from autograder import sandbox
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    seen = []
    monkeypatch.setattr(sandbox, "resolve_isolation",
                        lambda requested, **k: seen.append((requested, k["allow_process"])) or "process")
    nb = fx.write(fx.notebook(), course / "mine.ipynb")
    assert cli.main(["check", str(nb), "--source", str(course / "source"), "--registry", REGISTRY_SPEC]) == 0
    captured = capsys.readouterr()
    assert seen == [("auto", True)]
    assert captured.err.strip().splitlines() == [
        "nnkit check: notice: this machine cannot isolate the notebook's code (no user namespaces); checking it "
        "without isolation, which is fine for your own code"]
    assert "10 / 10 points" in captured.out


def test_cli_lists_written_answers_and_says_when_grading_was_not_isolated(tmp_path, capsys, monkeypatch):
    import nbformat
    monkeypatch.chdir(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    monkeypatch.setenv("NNKIT_GRADER_SECRET", "written")

    def with_written_answer(answer: str):
        nb = fx.notebook()
        nb.cells.append(nbformat.v4.new_markdown_cell(answer, metadata={"nbgrader": {
            "grade": True, "solution": True, "locked": False, "grade_id": "fx_written", "points": 2,
            "schema_version": 3}}))
        return nb

    fx.write(with_written_answer("YOUR ANSWER HERE"), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    fx.write(with_written_answer("Because XOR is not linearly separable."),
             tmp_path / "submitted" / "alice" / fx.ASSIGNMENT / "fixture.ipynb")
    broken = tmp_path / "submitted" / "carol" / fx.ASSIGNMENT / "fixture.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"")
    out = tmp_path / "out"
    assert cli.main(["grade", str(tmp_path / "submitted"), "--source", str(tmp_path / "source"), "--out", str(out),
                     "--registry", REGISTRY_SPEC, "--jobs", "1", "--isolation", "process"]) == \
        cli.EXIT_SUBMISSION_ERRORS
    printed = capsys.readouterr().out
    assert "== alice/fixture/fixture.ipynb: 10 / 12 points (2 of them for written answers, graded by hand)" in printed
    assert f"   WARNING: {report.NOT_ISOLATED}" in printed and printed.count(report.NOT_ISOLATED) == 1
    with open(out / "grades.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert (rows["alice"]["score"], rows["alice"]["max_score"], rows["alice"]["fx_written"]) == \
        ("10.0", "12.0", "graded by hand (max 2)")
    assert rows["alice"]["isolation"] == "process (NOT isolated)"
    assert (rows["carol"]["score"], rows["carol"]["max_score"]) == ("0.0", "12.0")   # written answers count too
    saved = json.loads((out / "results" / "alice" / fx.ASSIGNMENT / "fixture.json").read_text())
    assert saved["isolation"] == "process"
    assert [(i["grade_id"], i["points"], i["score"], i["manual"]) for i in saved["items"] if i["manual"]] == \
        [("fx_written", 2.0, 0.0, True)]
    doc = json.loads((out / "gradescope" / "alice" / fx.ASSIGNMENT / "fixture" / "results.json").read_text())
    [written] = [t for t in doc["tests"] if t["name"].startswith("fx_written")]
    assert written["max_score"] == 2.0 and "score" not in written and doc["score"] == 10.0
    assert doc["output"].startswith(f"WARNING: {report.NOT_ISOLATED}")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_csv_text_cell_that_a_spreadsheet_would_run_as_a_formula_is_inert(start):
    name = f"{start}HYPERLINK(\"http://x\",\"open\").ipynb"
    rows = list(csv.reader(io.StringIO(report.csv_text([SubmissionResult(
        path=f"/c/{name}", student=f"{start}cmd|' /C calc'!A0", notebook=name, error=f"{name} is not JSON")]))))
    header, row = rows[0], rows[1]
    for column in ("student", "notebook", "path", "error"):
        cell = row[header.index(column)]
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (column, cell)
    assert row[header.index("notebook")] == "'" + name    # shown as the text it was, behind the quote
    assert row[header.index("score")] == "0.0"             # numbers stay numbers
