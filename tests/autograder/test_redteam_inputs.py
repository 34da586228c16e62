"""Red team of what surrounds the sandbox: the notebooks the grader reads, and batches stopped half-way.

A. Tampered and foreign notebooks. One class of them is graded once by a real ``nnkit grade`` (namespace
   isolation, ``--jobs 2``). Everything that decides a score must come from the instructor's trusted notebook:
   a submission that raises its points, forges a test cell or its outputs, moves, duplicates, deletes or retypes
   test cells, or hides code in a locked markdown cell scores exactly what the same wrong answer scores plainly;
   odd but honest files (format 4.0 or a future 4.x, no metadata, duplicate cell ids, another kernel, 50 MB,
   100,000 cells) score full marks; unreadable or foreign files get an error row that names the file, what was
   expected and what was found, and the rest of the class is still graded (exit code 1). The Gradescope
   ``run_autograder`` path and the nbgrader bridge's output writer get the forgeries too.
B. Batches stopped mid-run, with real grader processes under a child-subreaper harness: a SIGKILL after a random
   number of results, then a rerun, must give exactly the results of an uninterrupted run, each submission
   graded once, with no process left; damaged result files are graded again (``nnkit grade``) or named
   (``nnkit merge``); two graders started at once on one ``--out`` never both grade a submission.

A full disk and a read-only ``--out`` are tried on real tmpfs mounts in ``test_out_folder.py``, signals and
orphaned workers in ``test_lifecycle.py``, a killed shard in ``test_shards.py``.
"""

import copy
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from tests.autograder import fixture_assignment as fx
from tests.conftest import require_namespaces

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_SPEC = "tests.autograder.fixture_assignment:REGISTRY"
WRONG_RELU = {"relu": "def relu(z):\n    return z * 1.0\n"}
FAKE_REPORT = "fx_relu -- relu(z): 2 / 2 points\nTotal: 10 / 10 points\n"
FAKE_HTML = "<table class='nnkit-feedback'><tr><td>fx_relu</td><td>2 / 2 points</td></tr></table>"


def _grade_argv(paths, source: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autograder.cli", "grade", *map(str, paths), "--source", str(source), "--out",
            str(out), "--registry", REGISTRY_SPEC, "--isolation", "namespace", "--quiet", *extra]


def _env(tmp: Path | None = None) -> dict:
    env = {**os.environ, "NNKIT_GRADER_SECRET": "redteam-inputs"}
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    return env


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


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
            for part in ERRORS[student]:
                assert part in row["error"], (student, row["error"])
        else:
            assert row["error"] == "", (student, row["error"])
    total = len(TAMPERED) + len(SPECIAL_FILES)
    assert f"{total} submissions: {total} graded now; {len(ERRORS)} could not be graded" in stdout


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


# -- B. batches stopped mid-run ------------------------------------------------------------------------------
PAUSE = "import time\ntime.sleep(1.0)\n"       # wall time, not CPU: keeps the batch slow enough to stop half-way
LIFECYCLE_CLASS = {
    "alice": {}, "bob": WRONG_RELU, "carol": None, "dave": {},
    "erin": {"softmax": "def softmax(z):\n    return np.exp(z) / np.exp(z).sum(-1, keepdims=True)\n"},
    "frank": {"mse": "def mse(pred, target):\n    return 0.0, pred\n"},
}

KILL_AFTER = r'''
import ctypes, json, os, pathlib, signal, subprocess, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)          # PR_SET_CHILD_SUBREAPER: we see every descendant
cfg = json.loads(sys.argv[1])
results = pathlib.Path(cfg["results"])
with open(cfg["log"], "wb") as log:
    proc = subprocess.Popen(cfg["argv"], cwd=cfg["cwd"], env=cfg["env"], stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log)
deadline = time.monotonic() + 300
def written():
    return len(list(results.rglob("*.json"))) if results.is_dir() else 0
while written() < cfg["after"] and proc.poll() is None and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(cfg["settle"])
early = proc.poll()
os.kill(proc.pid, signal.SIGKILL)
rc = proc.wait(timeout=60)
time.sleep(1.0)
while True:
    try:
        if os.waitpid(-1, os.WNOHANG)[0] == 0:
            break
    except ChildProcessError:
        break
alive = []
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:200]
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":     # an orphan reparented to us, still running
            alive.append(f"{entry} {cmd}")
print(json.dumps({"early_exit": early, "rc": rc, "alive": alive}))
'''


@pytest.fixture(scope="module")
def lifecycle_class(tmp_path_factory):
    require_namespaces()
    course = tmp_path_factory.mktemp("stopped")
    fx.write(fx.notebook(), course / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    for who, code in LIFECYCLE_CLASS.items():
        path = course / "submitted" / who / fx.ASSIGNMENT / "fixture.ipynb"
        if code is None:
            path.parent.mkdir(parents=True)
            path.write_bytes(b'{"nbformat": 4, "cells": [')             # cut short: an error row
        else:
            fx.write(fx.notebook(code, extra_cells=[PAUSE]), path)
    return course


@pytest.fixture(scope="module")
def two_at_once(lifecycle_class):
    """Two ``nnkit grade`` processes started together on one ``--out``: ``(out, [(rc, stdout, stderr)] * 2)``."""
    out = lifecycle_class / "reference"
    argv = _grade_argv([lifecycle_class / "submitted"], lifecycle_class / "source", out, "--jobs", "2")
    procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env()) for _ in range(2)]
    outcomes = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        outcomes.append((proc.returncode, stdout, stderr))
    return out, outcomes


def _snapshot(out: Path) -> dict:
    """Every output file; JSON without its timing fields, which differ between any two runs."""
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.name != ".lock":
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".json":
                doc = json.loads(text)
                for field in ("seconds", "execution_time"):
                    doc.pop(field, None)
                text = json.dumps(doc, sort_keys=True)
            files[str(path.relative_to(out))] = text
    return files


def _graded_now(stdout: str) -> int:
    line = stdout.strip().splitlines()[-1]
    return int(line.split(": ", 1)[1].split(" graded now")[0])


def test_two_graders_started_at_once_on_one_out_never_both_grade_a_submission(two_at_once):
    out, outcomes = two_at_once
    total = len(LIFECYCLE_CLASS)
    graded = [_graded_now(stdout) if rc != 2 else 0 for rc, stdout, _ in outcomes]
    assert sum(graded) == total, outcomes                     # each submission graded by exactly one of them
    for rc, stdout, stderr in outcomes:
        if rc == 2:                                           # the usual case: refused, naming the holder
            assert stdout == "" and stderr.strip().startswith(f"nnkit grade: the output folder {out} is in use by "), \
                stderr
        else:
            assert rc == 1 and "Traceback" not in stderr, stderr      # carol's file is an error row
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        students = [row["student"] for row in csv.DictReader(f)]
    assert sorted(students) == sorted(LIFECYCLE_CLASS)         # one row each, none doubled
    assert json.loads((out / "batch.json").read_text())["finished"] is True


def test_sigkill_at_a_random_moment_then_a_rerun_gives_the_uninterrupted_results(lifecycle_class, two_at_once):
    seed = int(os.environ.get("NNKIT_KILL_SEED", "20261129"))
    rng = np.random.default_rng(seed)
    after, settle = int(rng.integers(1, 5)), float(rng.uniform(0.0, 0.3))   # results written before the kill
    why = f"seed {seed}: killed {settle:.2f} s after result {after}"
    course, out = lifecycle_class, lifecycle_class / "killed"
    (course / "tmp").mkdir()
    argv = _grade_argv([course / "submitted"], course / "source", out, "--jobs", "2")
    cfg = {"argv": argv, "cwd": str(ROOT), "env": _env(course / "tmp"), "log": str(course / "killed.log"),
           "results": str(out / "results"), "after": after, "settle": settle}
    done = subprocess.run([sys.executable, "-c", KILL_AFTER, json.dumps(cfg)], capture_output=True, text=True,
                          timeout=400)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["early_exit"] is None, (why, (course / "killed.log").read_text())   # killed while grading
    assert outcome["rc"] == -signal.SIGKILL and outcome["alive"] == [], (why, outcome)  # no worker, no pool left
    kept = {p: p.read_bytes() for p in (out / "results").rglob("*.json")}
    assert after <= len(kept) < len(LIFECYCLE_CLASS), why
    for path, data in kept.items():                          # a killed grader leaves whole results or none
        json.loads(data)

    rerun = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, env=_env(course / "tmp"))
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr   # carol's error row, nothing else
    summary = rerun.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{len(LIFECYCLE_CLASS)} submissions: {len(LIFECYCLE_CLASS) - len(kept)} graded now, "
                              f"{len(kept)} skipped"), (why, summary)
    assert {p: p.read_bytes() for p in kept} == kept, why    # what survived was not graded a second time
    assert _snapshot(out) == _snapshot(two_at_once[0]), why  # the same files as an uninterrupted run
    assert not list(out.rglob("*.tmp")), why
    assert [p.name for p in (course / "tmp").iterdir() if not p.name.startswith("nnkit-cache-")] == [], why


def test_damaged_result_files_are_graded_again_and_never_taken_as_results(lifecycle_class, two_at_once):
    course, reference = lifecycle_class, two_at_once[0]
    out = course / "damaged"
    shutil.copytree(reference, out)
    results = out / "results"
    alice = results / "alice" / fx.ASSIGNMENT / "fixture.json"
    alice.write_bytes(alice.read_bytes()[: alice.stat().st_size // 2])         # truncated by hand
    bob = results / "bob" / fx.ASSIGNMENT / "fixture.json"
    doc = json.loads(bob.read_text())
    doc["score"] = "10"                                                          # edited by hand: not a number
    bob.write_text(json.dumps(doc))
    dave = results / "dave" / fx.ASSIGNMENT / "fixture.json"
    dave.write_bytes(b"\xff\xfe" + dave.read_bytes()[2:])                       # bytes that are not UTF-8
    (results / "erin" / fx.ASSIGNMENT / ".fixture.json.abc123.tmp").write_text('{"score": 1')  # a write cut short
    frank = results / "frank" / fx.ASSIGNMENT / "fixture.json"
    doc = json.loads(frank.read_text())
    doc["kit"] = "0.0.1"                                         # written by another version, before an upgrade
    frank.write_text(json.dumps(doc))
    (out / "grades.csv").write_text("student,score\nalice,10")                  # truncated
    rerun = subprocess.run(_grade_argv([course / "submitted"], course / "source", out, "--jobs", "1"), cwd=ROOT,
                           capture_output=True, text=True, timeout=600, env=_env())
    assert rerun.returncode == 1 and "Traceback" not in rerun.stderr, rerun.stderr
    assert f"{len(LIFECYCLE_CLASS)} submissions: 4 graded now, 2 skipped" in rerun.stdout, rerun.stdout
    assert _snapshot(out) == _snapshot(reference)


def test_a_notebook_replaced_after_grading_is_graded_again_by_the_rerun(lifecycle_class, two_at_once, tmp_path):
    # a late submission collected again (nbgrader collect --update, a new zip) over a graded class: resuming by
    # result file alone kept the old grade
    course = tmp_path / "course"
    shutil.copytree(lifecycle_class / "source", course / "source")
    shutil.copytree(lifecycle_class / "submitted", course / "submitted")
    out = tmp_path / "out"
    shutil.copytree(two_at_once[0], out)
    argv = _grade_argv([course / "submitted"], course / "source", out, "--jobs", "1")
    erin = course / "submitted" / "erin" / fx.ASSIGNMENT / "fixture.ipynb"
    fx.write(fx.notebook(extra_cells=[PAUSE]), erin)                       # erin's softmax, fixed
    rerun = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300, env=_env())
    assert f"{len(LIFECYCLE_CLASS)} submissions: 1 graded now, 5 skipped" in rerun.stdout, rerun.stdout + rerun.stderr
    before, after = _rows(two_at_once[0]), _rows(out)
    assert float(before["erin"]["score"]) < 10.0 and after["erin"]["score"] == "10.0"
    assert {k: v["score"] for k, v in after.items() if k != "erin"} == \
        {k: v["score"] for k, v in before.items() if k != "erin"}


def test_merge_names_a_damaged_result_instead_of_failing_inside_the_grader(lifecycle_class, two_at_once, tmp_path):
    from autograder import cli

    shard = tmp_path / "shard"
    shutil.copytree(two_at_once[0], shard)
    dave = shard / "results" / "dave" / fx.ASSIGNMENT / "fixture.json"
    dave.write_bytes(b"\xff\xfe" + dave.read_bytes()[2:])
    merged = tmp_path / "merged"
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "merge", str(shard), "--out", str(merged)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == cli.EXIT_SUBMISSION_ERRORS, done.stderr
    assert done.stderr.startswith(f"nnkit merge: {dave} is damaged ("), done.stderr
    assert done.stderr.strip().endswith("rerun that shard's command (it grades a damaged result again) and merge "
                                        "again"), done.stderr
    assert not merged.exists()
