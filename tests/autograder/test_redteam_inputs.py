"""Red team of what the grader reads: tampered, foreign and odd notebooks.

One class of them is graded once by a real ``nnkit grade`` (namespace isolation, ``--jobs 2``). Everything that
decides a score must come from the instructor's trusted notebook: a submission that raises its points, forges a
test cell or its outputs, moves, duplicates, deletes or retypes test cells, or hides code in a locked markdown
cell scores exactly what the same wrong answer scores plainly; odd but honest files (format 4.0 or a future 4.x,
no metadata, duplicate cell ids, another kernel, 50 MB, 100,000 cells) score full marks; unreadable or foreign
files (another assignment or course, format 3 or 5, invalid UTF-8, a named pipe, 300 MB) get an error row that
names the file, what was expected and what was found, and the rest of the class is still graded (exit code 1).
The Gradescope ``run_autograder`` path and the nbgrader bridge's output writer get the forgeries too.

Batches stopped half-way and damaged output folders are in ``test_redteam_lifecycle.py``.
"""

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from tests.autograder import fixture_assignment as fx
from tests.autograder.cli_harness import REGISTRY_SPEC, WRONG_RELU, csv_rows, grade_argv, grade_env
from tests.conftest import require_namespaces

ROOT = Path(__file__).resolve().parents[2]
FAKE_REPORT = "fx_relu -- relu(z): 2 / 2 points\nTotal: 10 / 10 points\n"
FAKE_HTML = "<table class='nnkit-feedback'><tr><td>fx_relu</td><td>2 / 2 points</td></tr></table>"


_grade_argv = grade_argv   # with its terminal report: student text reaches it too
_rows = csv_rows


def _env(tmp: Path | None = None) -> dict:
    return grade_env("redteam-inputs", tmp)


# -- A. the tampered class -------------------------------------------------------------------------------------
def _plain(nb) -> dict:
    return json.loads(nbformat.writes(nb))


def _meta(cell) -> dict:
    return cell.setdefault("metadata", {}).setdefault("nbgrader", {})


def _index(nb: dict, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb["cells"]) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                == grade_id)


def forged_points():
    nb = _plain(fx.notebook(WRONG_RELU))
    for cell in nb["cells"]:
        if _meta(cell).get("grade") or _meta(cell).get("solution"):
            _meta(cell).update(points=100, grade=True)            # every graded cell, and the solutions too
    return nb


def forged_test_cells():
    nb = _plain(fx.notebook(WRONG_RELU))
    # my own cell, marked as the locked test cell fx_relu, holding a correct relu; and the softmax test cell
    # renamed to fx_relu, so that a grader that counted the submission's test cells would count relu twice
    mine = nbformat.v4.new_code_cell(fx.HONEST["relu"], metadata={"nbgrader": {
        "grade": True, "locked": True, "solution": False, "grade_id": "fx_relu", "points": 2, "schema_version": 3}})
    nb["cells"].insert(_index(nb, "relu_solution") + 1, _plain_cell(mine))
    _meta(nb["cells"][_index(nb, "fx_softmax")])["grade_id"] = "fx_relu"
    return nb


def _plain_cell(cell) -> dict:
    return json.loads(json.dumps(cell))


def forged_outputs():
    nb = _plain(fx.notebook(WRONG_RELU))
    for n, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and _meta(cell).get("grade"):
            cell["execution_count"] = n
            cell["outputs"] = [
                {"output_type": "stream", "name": "stdout", "text": FAKE_REPORT},
                {"output_type": "display_data", "metadata": {}, "data": {"text/html": FAKE_HTML,
                                                                         "text/plain": FAKE_REPORT}},
                {"output_type": "execute_result", "execution_count": n, "metadata": {},
                 "data": {"text/plain": str(_meta(cell).get("points"))}}]
    return nb


def forged_locked_markdown():
    nb = _plain(fx.notebook(WRONG_RELU))
    intro = nb["cells"][_index(nb, "intro")]                      # a locked markdown cell, made code
    intro.update(cell_type="code", source=fx.HONEST["relu"], outputs=[], execution_count=None)
    nb["cells"].append(intro | {"id": "intro-copy"})               # and again after the student's own relu
    return nb


DUPLICATE_KEYS = '"source": {honest}, "source": {wrong}'


def duplicate_keys() -> bytes:
    """The relu solution cell with two ``source`` keys: Jupyter (and every Python reader) shows the last."""
    nb = _plain(fx.notebook())
    at = _index(nb, "relu_solution")
    nb["cells"][at]["source"] = "@@SOURCES@@"
    text = json.dumps(nb, indent=1).replace('"source": "@@SOURCES@@"', DUPLICATE_KEYS.format(
        honest=json.dumps(fx.HONEST["relu"]), wrong=json.dumps(WRONG_RELU["relu"])))
    assert nbformat.reads(text, as_version=4).cells[at].source == WRONG_RELU["relu"]   # what the student sees
    return text.encode()


def flags_removed():
    nb = _plain(fx.notebook())
    for cell in nb["cells"]:
        meta = _meta(cell)
        if meta.get("solution"):
            del cell["metadata"]["nbgrader"]                      # solution cells become plain cells
        else:
            meta["checksum"] = "0" * 32                           # and every other cell's checksum is wrong
    return nb


def shuffled_test_cells():
    nb = _plain(fx.notebook())
    tests = [c for c in nb["cells"] if _meta(c).get("grade")]
    rest = [c for c in nb["cells"] if not _meta(c).get("grade")]
    tests = [t for t in tests if _meta(t)["grade_id"] != "fx_linear"]                  # one deleted
    for t in tests:
        if _meta(t)["grade_id"] == "fx_relu":
            t.update(cell_type="markdown")                                              # one made markdown
            t.pop("outputs"), t.pop("execution_count")
    mse = next(t for t in tests if _meta(t)["grade_id"] == "fx_mse")
    copies = [copy.deepcopy(mse) | {"id": f"mse-copy-{k}"} for k in range(3)]           # one copied 3 times
    nb["cells"] = tests + copies + rest                                                 # all moved to the top
    return nb


def setup_made_markdown():
    nb = _plain(fx.notebook())
    setup = nb["cells"][_index(nb, "setup")]
    setup.update(cell_type="markdown")
    setup.pop("outputs"), setup.pop("execution_count")
    return nb


def nbformat_4_0():
    nb = _plain(fx.notebook(extra_cells=["checked = relu(np.array([-1.0, 2.0]))\n"]))
    nb["nbformat_minor"] = 0
    del nb["metadata"]
    for cell in nb["cells"]:
        cell.pop("id", None)
    del nb["cells"][-1]["metadata"]
    return nb


def nbformat_4_future():
    nb = _plain(fx.notebook())
    nb["nbformat_minor"] = 99
    nb["future_field"] = {"anything": [1, 2]}
    nb["metadata"]["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb["metadata"]["language_info"] = {"name": "R", "version": "4.3"}
    for cell in nb["cells"]:
        cell["id"] = "same-id"
        cell["attachments_v2"] = None
    return nb


def python2_kernel():
    nb = _plain(fx.notebook())
    nb["metadata"]["kernelspec"] = {"name": "python2", "display_name": "Python 2", "language": "python"}
    nb["metadata"]["language_info"] = {"name": "python", "version": "2.7.18"}
    return nb


def fifty_megabytes():
    nb = _plain(fx.notebook())
    nb["cells"][_index(nb, "relu_solution")]["outputs"] = [
        {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0K" * 6_250_000}}]
    return nb


def hundred_thousand_cells():
    nb = _plain(fx.notebook())
    kinds = ("markdown", "raw")
    nb["cells"] += [{"cell_type": kinds[n % 2], "id": f"c{n}", "metadata": {}, "source": f"note {n}"}
                    for n in range(100_000)]
    return nb


def other_course():
    nb = _plain(fx.notebook())
    for cell in nb["cells"]:
        _meta(cell)["grade_id"] = "hw1_" + _meta(cell)["grade_id"]
    return nb


def other_assignment(honest: bool = True):
    """The trusted notebook of the course's second assignment, ``other``: its own setup and relu cells, and the
    same registered test ``fx_relu`` (2 points), so that a grader that picked it would give 2 / 2."""
    nb = _plain(fx.notebook())
    keep = [c for c in nb["cells"] if _meta(c)["grade_id"] in ("intro", "setup", "relu_solution", "fx_relu")]
    for cell in keep:
        if _meta(cell)["grade_id"] != "fx_relu":
            _meta(cell)["grade_id"] = "other_" + _meta(cell)["grade_id"]
    nb["cells"] = keep
    return nb


def format_3() -> bytes:
    return json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "fixture"},
                       "worksheets": [{"cells": [{"cell_type": "code", "input": fx.HONEST["relu"],
                                                  "language": "python", "outputs": []}]}]}).encode()


def format_5():
    nb = _plain(fx.notebook())
    nb["nbformat"], nb["nbformat_minor"] = 5, 0
    return nb


def bad_utf8_in_one_cell() -> bytes:
    text = json.dumps(_plain(fx.notebook({"softmax": fx.HONEST["softmax"] + "# caf\u00e9\n"})), indent=1,
                      ensure_ascii=False)
    return text.encode().replace("caf\u00e9".encode(), b"caf\xe9")     # Latin-1 in a UTF-8 file


def surrogate_in_source() -> bytes:
    """A lone surrogate, which JSON can spell and UTF-8 cannot hold, in a comment of a code cell."""
    text = json.dumps(_plain(fx.notebook(extra_cells=["x = 1\ny = 2  # SURROGATE\n"])))
    return text.replace("SURROGATE", "\\ud800").encode()


SURROGATE_AT_RUN_TIME = {"relu": "def relu(z):\n    print(chr(0xD800))\n    raise ValueError(chr(0xD800))\n"}


FORGED = "FORGED fx_relu -- relu(z): 2 / 2 points"
TERMINAL_FORGERY = {"relu": ("def relu(z):\n"     # erase the line above, then write over it; or start a new one
                             f"    raise ValueError('\\x1b[1A\\x1b[2K\\r{FORGED}' if z.ndim == 2 else '\\n{FORGED}')\n")}


FORMULA = '=HYPERLINK("example.com","10 of 10").ipynb'   # a name a spreadsheet would run


# student -> (notebook builder, file name); every one is in the fixture assignment's folder
TAMPERED = {
    "honest": (lambda: _plain(fx.notebook()), "fixture.ipynb"),
    "wrong": (lambda: _plain(fx.notebook(WRONG_RELU)), "fixture.ipynb"),
    "forged_points": (forged_points, "fixture.ipynb"),
    "forged_test_cells": (forged_test_cells, "fixture.ipynb"),
    "forged_outputs": (forged_outputs, "fixture.ipynb"),
    "forged_locked_markdown": (forged_locked_markdown, "fixture.ipynb"),
    "duplicate_keys": (duplicate_keys, "fixture.ipynb"),
    "flags_removed": (flags_removed, "fixture.ipynb"),
    "shuffled_test_cells": (shuffled_test_cells, "fixture.ipynb"),
    "setup_made_markdown": (setup_made_markdown, "fixture.ipynb"),
    "nbformat_4_0": (nbformat_4_0, "fixture.ipynb"),
    "nbformat_4_future": (nbformat_4_future, "fixture.ipynb"),
    "python2_kernel": (python2_kernel, "fixture.ipynb"),
    "fifty_megabytes": (fifty_megabytes, "fixture.ipynb"),
    "hundred_thousand_cells": (hundred_thousand_cells, "fixture.ipynb"),
    "renamed_file": (lambda: _plain(fx.notebook()), "fixture (1).ipynb"),
    "other_assignment": (other_assignment, "other.ipynb"),
    "other_course": (other_course, "fixture.ipynb"),
    "other_course_renamed": (other_course, "homework.ipynb"),
    "format_3": (format_3, "fixture.ipynb"),
    "format_5": (format_5, "fixture.ipynb"),
    "bad_utf8": (bad_utf8_in_one_cell, "fixture.ipynb"),
    "surrogate_in_source": (surrogate_in_source, "fixture.ipynb"),
    "surrogate_at_run_time": (lambda: _plain(fx.notebook(SURROGATE_AT_RUN_TIME)), "fixture.ipynb"),
    "spreadsheet_formula": (lambda: b"{not json", FORMULA),
    "terminal_forgery": (lambda: _plain(fx.notebook(TERMINAL_FORGERY, extra_cells=[
        f"raise RuntimeError('\\u202e\\n{FORGED}')\n"])), "fixture.ipynb"),
}
def _sparse_file(path: Path) -> None:
    with open(path, "wb") as f:
        f.truncate(300 * 1024 ** 2)          # 300 MB that take no disk


# student -> how their file is made: not a notebook file at all
SPECIAL_FILES = {"named_pipe": os.mkfifo, "three_hundred_megabytes": _sparse_file}
SAME_AS_WRONG = ["forged_points", "forged_test_cells", "forged_outputs", "forged_locked_markdown", "duplicate_keys"]
FULL_MARKS = ["honest", "flags_removed", "shuffled_test_cells", "setup_made_markdown", "nbformat_4_0",
              "nbformat_4_future", "python2_kernel", "fifty_megabytes", "hundred_thousand_cells", "renamed_file"]
# student -> what the error row must say: the file, what was expected, what was found
ERRORS = {
    "other_assignment": ["this notebook is not the assignment fixture", "shares 1 of 12 nbgrader cells"],
    "other_course": ["this notebook is not the assignment fixture", "shares 0 of 12 nbgrader cells"],
    "other_course_renamed": ["this notebook is not the assignment fixture: it shares no nbgrader cells with "
                             "fixture.ipynb"],
    "format_3": ["fixture.ipynb is in notebook format 3, the grader reads format 4",
                 "open it in Jupyter and save it again"],
    "format_5": ["fixture.ipynb is in notebook format 5, the grader reads format 4"],
    "bad_utf8": ["fixture.ipynb is not UTF-8 text: a notebook is UTF-8 JSON, and byte", "is 0xe9"],
    "named_pipe": ["fixture.ipynb is not a regular file (it is a named pipe)"],          # it hung the batch
    "spreadsheet_formula": [f"'{FORMULA} is not valid notebook JSON"],                 # text, not a formula
    "surrogate_in_source": ["fixture.ipynb: cell 13 is not valid Unicode text: expected UTF-8 characters, found a "
                            "lone surrogate U+D800 at line 2"],                          # an internal error
    "three_hundred_megabytes": ["fixture.ipynb is 300 MB, and the grader reads notebooks of at most 256 MB"],
}


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    """The class above and the outcome of one ``nnkit grade`` of it: ``(course, returncode, stdout, stderr)``."""
    require_namespaces()
    course = tmp_path_factory.mktemp("tampered")
    fx.write(fx.notebook(), course / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    (course / "source" / "other").mkdir()
    (course / "source" / "other" / "other.ipynb").write_text(json.dumps(other_assignment()))
    for student, (build, name) in TAMPERED.items():
        path = course / "submitted" / student / fx.ASSIGNMENT / name
        path.parent.mkdir(parents=True)
        content = build()
        path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    for student, make in SPECIAL_FILES.items():
        path = course / "submitted" / student / fx.ASSIGNMENT / "fixture.ipynb"
        path.parent.mkdir(parents=True)
        make(path)
    done = subprocess.run(_grade_argv([course / "submitted"], course / "source", course / "out", "--jobs", "2"),
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=_env())
    return course, done.returncode, done.stdout, done.stderr


def test_forged_metadata_outputs_and_cells_earn_nothing_beyond_the_plain_wrong_answer(tampered):
    course, _, _, _ = tampered
    rows = _rows(course / "out")
    wrong = {k: v for k, v in rows["wrong"].items() if k not in ("student", "path")}
    assert float(wrong["score"]) < float(wrong["max_score"]) == 10.0 and wrong["fx_relu"] == "0.0"
    for student in SAME_AS_WRONG:
        got = {k: v for k, v in rows[student].items() if k not in ("student", "path")}
        assert got == wrong, student


def test_odd_but_honest_notebooks_get_full_marks(tampered):
    course, _, _, _ = tampered
    rows = _rows(course / "out")
    for student in FULL_MARKS:
        row = rows[student]
        assert (row["score"], row["max_score"], row["error"]) == ("10.0", "10.0", ""), (student, row)
        assert row["assignment"] == fx.ASSIGNMENT and row["isolation"] == "namespace", (student, row)


def test_the_locked_cell_a_submission_turned_into_markdown_still_runs(tampered):
    course, _, _, _ = tampered
    result = json.loads((course / "out" / "results" / "setup_made_markdown" / fx.ASSIGNMENT /
                         "fixture.json").read_text())
    assert any(cell["name"] == "locked cell setup (restored)" and cell["status"] == "ok" for cell in result["cells"])


def test_unreadable_and_foreign_notebooks_get_an_error_row_and_the_class_is_still_graded(tampered):
    course, rc, stdout, stderr = tampered
    assert rc == 1, stdout + stderr                               # error rows, not a usage or internal error
    assert "Traceback" not in stderr and "internal grader error" not in stdout + stderr
    rows = _rows(course / "out")
    assert sorted(rows) == sorted([*TAMPERED, *SPECIAL_FILES])    # every submission has its row
    for student, row in rows.items():
        if student in ERRORS:
            assert (row["score"], row["max_score"]) == ("0.0", "10.0"), row
            assert not row["notebook"].startswith("="), row
            for part in ERRORS[student]:
                assert part in row["error"], (student, row["error"])
        else:
            assert row["error"] == "", (student, row["error"])
    total = len(TAMPERED) + len(SPECIAL_FILES)
    assert f"{total} submissions: {total} graded now; {len(ERRORS)} could not be graded" in stdout


def test_text_that_utf8_cannot_encode_from_student_code_is_shown_escaped_and_stops_nothing(tampered):
    # a relu that prints and raises chr(0xD800): the terminal report stopped with exit 3 at this student
    course, rc, stdout, stderr = tampered
    row = _rows(course / "out")["surrogate_at_run_time"]
    assert (row["error"], row["fx_relu"], row["fx_softmax"]) == ("", "0.0", "2.0"), row
    assert "\\ud800" in stdout and "Traceback" not in stderr and rc == 1       # shown escaped


def test_student_text_cannot_move_the_cursor_or_forge_lines_in_the_terminal_report(tampered):
    course, _, stdout, _ = tampered
    row = _rows(course / "out")["terminal_forgery"]
    assert (row["error"], row["fx_relu"]) == ("", "0.0"), row
    assert FORGED in stdout                                   # the text is shown, escaped, inside its own line
    assert "\x1b" not in stdout and "\u202e" not in stdout
    assert not [line for line in stdout.splitlines() if line.startswith("FORGED")]


def test_a_grades_csv_holding_a_lone_surrogate_is_written_escaped(tmp_path):
    # flags carry text from the worker (a module name it imported, a path it opened in user mode)
    from autograder import report
    from autograder.results import SubmissionResult

    row = SubmissionResult("p.ipynb", fx.ASSIGNMENT, "p.ipynb", "eve", flags=["your code tried to read /tmp/\ud800"])
    report.write_csv(tmp_path / "grades.csv", [row])
    assert "your code tried to read /tmp/\\ud800" in (tmp_path / "grades.csv").read_text(encoding="utf-8")


def test_an_error_row_for_a_notebook_named_by_a_relative_path_gets_the_assignments_max_score(tmp_path,
                                                                                               monkeypatch):
    from autograder import cli

    fx.write(fx.notebook(), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "mine.ipynb").write_bytes(b"{not json")
    monkeypatch.chdir(tmp_path / "flat")
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("NNKIT_GRADER_SECRET", "redteam-inputs")
    assert cli.main(["grade", "mine.ipynb", "--source", str(tmp_path / "source"), "--out", str(tmp_path / "out"),
                     "--registry", REGISTRY_SPEC, "--jobs", "1", "--quiet"]) == cli.EXIT_SUBMISSION_ERRORS
    row = next(iter(_rows(tmp_path / "out").values()))
    assert (row["score"], row["max_score"], row["assignment"]) == ("0.0", "10.0", fx.ASSIGNMENT), row


def test_a_broken_trusted_notebook_is_named_as_the_instructors_file_not_blamed_on_the_student(tmp_path):
    from autograder.grader import grade_submission

    trusted = tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb"
    trusted.parent.mkdir(parents=True)
    trusted.write_text(nbformat.writes(fx.notebook())[:-200])     # cut short while the instructor saved it
    path = fx.write(fx.notebook(), tmp_path / "submitted" / "alice" / fx.ASSIGNMENT / "fixture.ipynb")
    result = grade_submission(path, source=tmp_path / "source", registry=fx.REGISTRY)
    assert result.error.startswith(f"the trusted notebook {trusted} cannot be read"), result.error
    assert "fix --source" in result.error and "is not valid notebook JSON" in result.error


# -- the same forgeries through the other graders ------------------------------------------------------------
def _tamper_unit(nb: dict) -> dict:
    """A real unit's notebook with every forgery of part A at once: points raised, fake outputs, a duplicated
    and a retyped test cell, the solution flags removed."""
    nb = copy.deepcopy(nb)
    tests = [c for c in nb["cells"] if _meta(c).get("grade") and not _meta(c).get("solution")]
    for n, cell in enumerate(nb["cells"]):
        meta = _meta(cell)
        if meta.get("grade"):
            meta["points"] = 100
        if meta.get("solution") and cell["cell_type"] == "code":
            del cell["metadata"]["nbgrader"]
        if cell in tests:
            cell["outputs"] = [{"output_type": "execute_result", "execution_count": n, "metadata": {},
                                "data": {"text/plain": "100.0"}}]
    nb["cells"].append(copy.deepcopy(tests[0]) | {"id": "copy-of-first-test"})
    tests[1]["cell_type"] = "markdown"
    tests[1].pop("outputs"), tests[1].pop("execution_count")
    return nb


def test_gradescope_run_autograder_takes_points_and_tests_from_the_trusted_notebook(tmp_path, monkeypatch):
    from autograder import gradescope, notebook

    require_namespaces()
    monkeypatch.setenv("NNKIT_ISOLATION", "namespace")
    trusted = ROOT / "solutions" / "unit1" / "unit1.ipynb"
    source = tmp_path / "source"
    (source / gradescope.TRUSTED_DIR / "unit1").mkdir(parents=True)
    shutil.copy2(trusted, source / gradescope.TRUSTED_DIR / "unit1" / "unit1.ipynb")
    (source / gradescope.SECRET_NAME).write_text("redteam-inputs")
    config = gradescope.GradescopeConfig("unit1", "unit1.ipynb", "0")
    (source / gradescope.CONFIG_NAME).write_text(json.dumps(gradescope.asdict(config)))
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "unit1.ipynb").write_text(json.dumps(_tamper_unit(json.loads(trusted.read_text()))))
    doc = gradescope.run(tmp_path)
    trusted_nb = notebook.read_notebook(trusted)
    by_hand = sum(notebook.manual_cells(trusted_nb).values())
    assert doc["extra_data"]["max_score"] == 18.0 and by_hand == 2.0, doc   # nbgrader's total, not 100s
    assert doc["score"] == 16.0, doc                                        # every autograded point, once
    assert sum(t.get("max_score", 0) for t in doc["tests"]) == 18.0
    assert json.loads((tmp_path / "results" / "results.json").read_text()) == doc


def test_the_nbgrader_bridge_writes_student_text_escaped(tampered):
    from autograder import report
    from autograder.nbgrader_bridge import write_outputs

    course, _, _, _ = tampered
    nb = nbformat.from_dict(_plain(fx.notebook(SURROGATE_AT_RUN_TIME)))
    write_outputs(nb, report.read_json(course / "out" / "results" / "surrogate_at_run_time" / fx.ASSIGNMENT /
                                       "fixture.json"))
    assert "\\\\ud800" in nbformat.writes(nb)         # nbformat writes UTF-8: it raised before

    nb = nbformat.from_dict(_plain(fx.notebook(TERMINAL_FORGERY)))
    write_outputs(nb, report.read_json(course / "out" / "results" / "terminal_forgery" / fx.ASSIGNMENT /
                                       "fixture.json"))
    texts = [text for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs
             for text in output.get("data", {}).values()]
    assert any(FORGED in text for text in texts)                     # shown, escaped, inside its own line
    assert not any("\x1b" in text or "\nFORGED" in text for text in texts)


def test_the_nbgrader_bridge_replaces_forged_outputs_with_the_graders_own(tampered):
    from autograder import report
    from autograder.nbgrader_bridge import autograded_test_cells, write_outputs

    course, _, _, _ = tampered
    nb = nbformat.from_dict(forged_outputs())
    result = report.read_json(course / "out" / "results" / "forged_outputs" / fx.ASSIGNMENT / "fixture.json")
    write_outputs(nb, result)
    scores = {i.grade_id: i.score for i in result.items}
    for cell in autograded_test_cells(nb):
        gid = cell.metadata["nbgrader"]["grade_id"]
        texts = json.dumps(cell.outputs)
        assert FAKE_REPORT.splitlines()[1] not in texts and FAKE_HTML not in texts, gid
        assert cell.outputs[-1]["data"]["text/plain"] == repr(scores[gid]), gid
    assert scores["fx_relu"] == 0.0
