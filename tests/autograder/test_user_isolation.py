"""``--isolation user``, for real: the fallback where namespaces are forbidden (Docker's default seccomp
profile, and so Gradescope's containers).

The worker runs as ``nobody``, so it can read only what ``nobody`` can: the trusted notebooks, other
submissions, ``--out`` and the grader's environment must be private to the grader's user (root). A venv that
``nobody`` can run is built outside root's home from the system's Python, with the kit installed from this
checkout, exactly as an instructor would set it up in a container. Needs a root grader; under ``CI=true`` it
never skips.
"""

import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

SECRET = "user-mode-secret-81f0"
REPO = Path(__file__).resolve().parents[2]


def _need(condition: bool, why: str) -> None:
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CI=true but the user-isolation test cannot run: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def user_venv():
    _need(os.getuid() == 0, "user isolation needs a root grader")
    python = "/usr/bin/python3"
    _need(os.path.exists(python) and os.stat(python).st_mode & stat.S_IXOTH,
          "no system python3 that another user can run")
    root = Path(tempfile.mkdtemp(prefix="nnkit-user-venv-", dir="/tmp"))
    os.chmod(root, 0o755)
    try:
        venv = root / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run(pip + ["numpy", "matplotlib", "nbformat", "tqdm"], check=True)
        subprocess.run(pip + ["--no-deps", str(REPO)], check=True, cwd=root)
        yield venv
    finally:
        shutil.rmtree(root, ignore_errors=True)


MALLORY = """
import os, signal
loot = []
for target in (SOURCE, ALICE, OUT, f'/proc/{GRADER}/environ', '/proc/1/environ'):
    try:
        loot.append(open(target).read()[:40] if os.path.isfile(target) else os.listdir(target))
    except OSError:
        pass
try:
    os.kill(GRADER, signal.SIGKILL)
    loot.append('killed')
except OSError:
    pass
try:
    open(ALICE, 'w').write('{}')
    loot.append('overwrote alice')
except OSError:
    pass
loot += [k for k, v in os.environ.items() if 'user-mode' in v]
if loot:
    heaviside = lambda z: z      # wrong: the attack found something
"""


def test_user_isolation_keeps_a_submission_away_from_the_graders_files(user_venv, tmp_path):
    course = Path(tempfile.mkdtemp(prefix="nnkit-user-course-", dir="/tmp"))   # mode 700: root's alone
    try:
        source = course / "source" / "unit1" / "unit1.ipynb"
        source.parent.mkdir(parents=True)
        shutil.copy(REPO / "solutions" / "unit1" / "unit1.ipynb", source)
        nb = json.loads(source.read_text())
        alice = course / "submitted" / "alice" / "unit1" / "unit1.ipynb"
        alice.parent.mkdir(parents=True)
        alice.write_text(json.dumps(nb))
        cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution")
                    and "def heaviside" in "".join(c["source"]))
        grader_pid = os.getpid()
        attack = (f"SOURCE, ALICE, OUT, GRADER = {str(source)!r}, {str(alice)!r}, {str(course / 'out')!r}, "
                  f"{grader_pid}\n" + MALLORY)
        cell["source"] = "".join(cell["source"]) + "\n" + attack
        mallory = course / "submitted" / "mallory" / "unit1" / "unit1.ipynb"
        mallory.parent.mkdir(parents=True)
        mallory.write_text(json.dumps(nb))
        alice_before = alice.read_bytes()
        env = {"PATH": "/usr/bin:/bin", "NNKIT_GRADER_SECRET": SECRET, "HOME": str(course)}
        done = subprocess.run([str(user_venv / "bin" / "nnkit"), "grade", str(course / "submitted"),
                               "--source", str(course / "source"), "--out", str(course / "out"),
                               "--isolation", "user", "--jobs", "1", "--quiet"],
                              env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout + done.stderr
        results = {p.parent.parent.name: json.loads(p.read_text())
                   for p in (course / "out" / "results").glob("*/unit1/unit1.json")}
        assert set(results) == {"alice", "mallory"}
        for student in ("alice", "mallory"):
            assert results[student]["isolation"] == "user"
            items = {i["grade_id"]: (i["score"], i["points"]) for i in results[student]["items"] if not i["manual"]}
            assert all(score == points for score, points in items.values()), (student, items)
        assert alice.read_bytes() == alice_before
        assert SECRET not in json.dumps(results["mallory"])
    finally:
        shutil.rmtree(course, ignore_errors=True)


def test_user_isolation_refuses_a_source_the_worker_could_read(user_venv):
    course = Path(tempfile.mkdtemp(prefix="nnkit-user-course-", dir="/tmp"))
    try:
        os.chmod(course, 0o755)
        source = course / "source" / "unit1" / "unit1.ipynb"
        source.parent.mkdir(parents=True)
        shutil.copy(REPO / "solutions" / "unit1" / "unit1.ipynb", source)
        os.chmod(source, 0o644)
        sub = course / "private" / "submitted" / "alice" / "unit1" / "unit1.ipynb"
        sub.parent.mkdir(parents=True)
        shutil.copy(source, sub)
        os.chmod(course / "private", 0o700)
        done = subprocess.run([str(user_venv / "bin" / "nnkit"), "grade", str(course / "private" / "submitted"),
                               "--source", str(course / "source"), "--out", str(course / "private" / "out"),
                               "--isolation", "user", "--quiet"],
                              env={"PATH": "/usr/bin:/bin", "NNKIT_GRADER_SECRET": SECRET},
                              capture_output=True, text=True, timeout=600)
        assert done.returncode != 0
        assert "readable by the worker's user nobody" in done.stdout + done.stderr
    finally:
        shutil.rmtree(course, ignore_errors=True)
