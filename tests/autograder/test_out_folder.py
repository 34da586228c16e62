"""The ``--out`` folder: a lock, a writability check before grading, and one-line errors on a full disk.

Read-only and full filesystems are real: small tmpfs mounts made and removed by the test
(root can mount them; elsewhere these two tests skip, never under ``CI=true``).
"""

import csv
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import batch, cli, outdir
from tests.autograder import fixture_assignment as fx

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_SPEC = "tests.autograder.fixture_assignment:REGISTRY"


@pytest.fixture()
def course(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("NNKIT_GRADER_SECRET", "out-folder")
    fx.write(fx.notebook(), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    sub = tmp_path / "submitted"
    fx.write(fx.notebook(), sub / "alice" / fx.ASSIGNMENT / "fixture.ipynb")
    fx.write(fx.notebook({"relu": "def relu(z):\n    return z\n"}), sub / "bob" / fx.ASSIGNMENT / "fixture.ipynb")
    fx.write(fx.notebook({"softmax": "def softmax(z):\n    return z\n"}), sub / "dave" / fx.ASSIGNMENT / "fixture.ipynb")
    return tmp_path


def _grade(course, out, *paths, jobs=1):
    paths = paths or (course / "submitted",)
    return cli.main(["grade", *map(str, paths), "--source", str(course / "source"), "--out", str(out),
                     "--registry", REGISTRY_SPEC, "--jobs", str(jobs), "--quiet"])


@pytest.fixture()
def no_grading(monkeypatch):
    """Grading anything fails the test: for checks that must happen before any grading."""
    def refuse(*args, **kwargs):
        raise AssertionError("a submission was graded")
    monkeypatch.setattr(batch, "grade_submission", refuse)


@pytest.fixture()
def mount_tmpfs(tmp_path):
    mounted = []

    def mount(name: str, options: str) -> Path:
        where = tmp_path / name
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
        if done.returncode != 0:
            if os.environ.get("CI") == "true":
                pytest.fail(f"cannot mount a tmpfs under CI: {done.stderr.decode()}")
            pytest.skip(f"cannot mount a tmpfs here (not root?): {done.stderr.decode().strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_second_grader_on_the_same_out_is_refused_with_the_holder_named(course, capsys, no_grading):
    out = course / "out"
    with outdir.claim(out):
        assert _grade(course, out) == cli.EXIT_USAGE
        assert outdir.in_use_by(out) == f"{socket.gethostname()}:{os.getpid()}"
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"nnkit grade: the output folder {out} is in use by {socket.gethostname()}:{os.getpid()}; "
                   "wait for it to finish, or give another --out"]
    assert not (out / "results").exists()
    assert outdir.in_use_by(out) is None                        # released when the holder is done


def test_a_killed_holder_leaves_no_stale_lock(course):
    out = course / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from autograder import outdir; held = outdir.claim(Path(sys.argv[1])); held.__enter__(); "
                               "print('held', flush=True); time.sleep(600)", str(out)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert outdir.in_use_by(out) == f"{socket.gethostname()}:{holder.pid}"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
    assert outdir.in_use_by(out) is None
    with outdir.claim(out):
        assert (out / outdir.LOCK_NAME).read_text() == f"{socket.gethostname()}:{os.getpid()}\n"


def test_an_out_that_is_a_file_is_refused_before_grading(course, capsys, no_grading):
    out = course / "a-file"
    out.write_text("not a folder")
    assert _grade(course, out) == cli.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"nnkit grade: cannot write to the output folder {out}: File exists"]


@pytest.mark.parametrize("below", ["", "grades"], ids=["the mount itself", "a new folder inside it"])
def test_a_read_only_out_is_refused_before_grading(course, capsys, no_grading, mount_tmpfs, below):
    read_only = mount_tmpfs("ro", "ro,size=64k")
    out = read_only / below if below else read_only
    assert _grade(course, out) == cli.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"nnkit grade: cannot write to the output folder {out}: Read-only file system"]


def test_a_full_disk_while_grading_is_one_line_and_exit_1_and_keeps_what_was_written(course, capsys,
                                                                                     mount_tmpfs):
    disk = mount_tmpfs("disk", "size=64k")
    out = disk / "grades"
    assert _grade(course, out, course / "submitted" / "alice") == cli.EXIT_OK
    alice = out / "results" / "alice" / fx.ASSIGNMENT / "fixture.json"
    kept = alice.read_bytes()
    assert len(kept) > 4096                                     # a result needs more than the page left below
    capsys.readouterr()
    page = os.statvfs(disk).f_bsize
    with open(disk / "filler", "wb") as f:                      # leave one page: enough for batch.json only
        f.write(b"\0" * (os.statvfs(disk).f_bavail * page - page))
    assert _grade(course, out, jobs=2) == cli.EXIT_SUBMISSION_ERRORS   # alice resumes; bob and dave fail to save
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "internal error" not in captured.err and "Traceback" not in captured.err
    assert re.fullmatch(rf"nnkit grade: could not write {re.escape(str(out))}/results/(bob|dave)/fixture/"
                        rf"fixture\.json: No space left on device; the results already written are kept in "
                        rf"{re.escape(str(out))}/results/", err[0]), err
    assert alice.read_bytes() == kept
    assert not list(out.rglob("*.tmp"))                         # no half-written files left behind
    with open(out / "grades.csv", newline="") as f:
        assert [r["student"] for r in csv.DictReader(f)] == ["alice"]


def test_an_error_row_gets_the_max_score_of_the_only_assignment_in_the_source(course):
    flat = course / "flat" / "mystery.ipynb"
    flat.parent.mkdir()
    flat.write_bytes(b"")
    [result] = batch.grade_batch(batch.discover([flat]), jobs=1, progress=False, source=course / "source",
                                 registry=fx.REGISTRY)
    assert "is empty" in result.error
    assert (result.assignment, result.score, result.max_score) == ("fixture", 0.0, 10.0)


def test_an_error_row_of_a_real_unit_gets_nbgraders_max_score(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NNKIT_GRADER_SECRET", "out-folder")
    empty = tmp_path / "submitted" / "zed" / "unit1" / "unit1.ipynb"
    empty.parent.mkdir(parents=True)
    empty.write_bytes(b"")
    assert cli.main(["grade", str(tmp_path / "submitted"), "--out", str(tmp_path / "out"), "--jobs", "1"]) == \
        cli.EXIT_SUBMISSION_ERRORS
    assert "== zed/unit1/unit1.ipynb: 0 / 18 points" in capsys.readouterr().out   # 16 autograded + 2 written
    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        [row] = csv.DictReader(f)
    assert (row["assignment"], row["score"], row["max_score"]) == ("unit1", "0.0", "18.0")
