"""Sharded grading (``nnkit grade --shard K/N``) and ``nnkit merge``, with real grader processes.

The class of seven falls into three shards by the hash of its result keys:
shard 0 = carol (a broken file) and erin; shard 1 = alice, dave and frank (whose notebook
sleeps a few seconds, so a run of shard 1 can be killed half-way); shard 2 = bob and grace.
One unsharded run over the class is the reference every merge must reproduce.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import cli, outdir, shards
from tests.autograder import fixture_assignment as fx
from tests.autograder.cli_harness import output_files

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_SPEC = "tests.autograder.fixture_assignment:REGISTRY"
CLASS = {
    "alice": {}, "bob": {"relu": "def relu(z):\n    return z\n"}, "carol": None,
    "dave": {"softmax": "def softmax(z):\n    return np.exp(z) / np.exp(z).sum(-1, keepdims=True)\n"},
    "erin": {}, "frank": {}, "grace": {"mse": "def mse(pred, target):\n    return 0.0, pred\n"},
}
SHARD_OF = {"carol": 0, "erin": 0, "alice": 1, "dave": 1, "frank": 1, "bob": 2, "grace": 2}


def _grade_argv(course: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autograder.cli", "grade", str(course / "submitted"), "--source",
            str(course / "source"), "--out", str(out), "--registry", REGISTRY_SPEC, "--quiet", *extra]


def _start(course, out, *extra) -> subprocess.Popen:
    return subprocess.Popen(_grade_argv(course, out, *extra), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NNKIT_GRADER_SECRET": "shards"})


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    stdout, stderr = proc.communicate(timeout=600)
    return proc.returncode, stdout, stderr


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    fx.write(fx.notebook(), root / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    for who, code in CLASS.items():
        path = root / "submitted" / who / fx.ASSIGNMENT / "fixture.ipynb"
        if code is None:
            path.parent.mkdir(parents=True)
            path.write_bytes(b"\x89PNG not a notebook")
        else:
            extra = ["import time\ntime.sleep(4)\n"] if who == "frank" else []
            fx.write(fx.notebook(code, extra_cells=extra), path)
    return root


@pytest.fixture(scope="module")
def unsharded(course):
    rc, stdout, stderr = _finish(_start(course, course / "all", "--jobs", "2"))
    assert rc == cli.EXIT_SUBMISSION_ERRORS, stderr                   # carol's file is broken
    return course / "all"


@pytest.fixture(scope="module")
def shards_0_and_2(course):
    """Shards 0 and 2, run at the same time as separate processes."""
    procs = {k: _start(course, course / f"shard{k}", "--shard", f"{k}/3", "--jobs", "1") for k in (0, 2)}
    for k, proc in procs.items():
        rc, stdout, stderr = _finish(proc)
        assert rc == cli.EXIT_OK, stderr          # shard 0 has carol's broken file: an error row, not a failure
        assert f"2 submissions in shard {k}/3: 2 graded now" in stdout
        assert ("1 could not be graded" in stdout) == (k == 0)
    return [course / "shard0", course / "shard2"]


@pytest.fixture(scope="module")
def shard_1(course):
    rc, stdout, stderr = _finish(_start(course, course / "shard1", "--shard", "1/3", "--jobs", "1"))
    assert rc == cli.EXIT_OK and "3 submissions in shard 1/3: 3 graded now" in stdout, stderr
    return course / "shard1"


_snapshot = output_files


def _merge(inputs, out) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "autograder.cli", "merge", *map(str, inputs), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


def test_the_class_splits_as_the_docstring_says():
    keys = {who: f"{who}/{fx.ASSIGNMENT}/fixture" for who in CLASS}
    assert {who: shards.shard_of(key, 3) for who, key in keys.items()} == SHARD_OF


def test_shards_partition_by_key_alone_so_a_new_student_moves_nobody():
    keys = [f"student{i}/unit1/unit1" for i in range(200)]
    for n in (1, 2, 3, 7):
        before = {k: shards.shard_of(k, n) for k in keys}
        after = {k: shards.shard_of(k, n) for k in keys + ["newcomer/unit1/unit1"]}
        assert all(after[k] == before[k] for k in keys)
        assert set(before.values()) == set(range(n))       # every shard gets work in a class of 200


@pytest.mark.parametrize("text, message", [("3/3", "0 <= K < N"), ("1/0", "0 <= K < N"), ("a/b", "must be K/N"),
                                           ("1", "must be K/N"), ("-1/3", "must be K/N")])
def test_a_bad_shard_is_a_usage_error(course, capsys, text, message):
    assert cli.main(["grade", str(course / "submitted"), f"--shard={text}"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("nnkit grade: --shard") and message in err[-1]


def test_three_shards_as_separate_processes_merge_into_what_one_run_gives(course, unsharded, shards_0_and_2,
                                                                          shard_1):
    merged = course / "merged"
    rc, stdout, stderr = _merge([shard_1, *shards_0_and_2], merged)
    assert rc == cli.EXIT_SUBMISSION_ERRORS, stderr           # carol's error row, as in the unsharded run
    assert stdout.strip() == f"merged 3 folders: 7 submissions, 1 could not be graded. Results in {merged}/: " \
                             "grades.csv, results/, gradescope/"
    expected = _snapshot(unsharded)
    assert len([name for name in expected if name.startswith("results/")]) == 7
    assert (merged / "grades.csv").read_bytes() == (unsharded / "grades.csv").read_bytes()
    assert _snapshot(merged) == expected


def test_a_killed_shard_resumes_and_the_merge_waits_for_it(course, unsharded, shards_0_and_2):
    out = course / "shard1-killed"
    proc = _start(course, out, "--shard", "1/3", "--jobs", "1")
    first = out / "results" / "alice" / fx.ASSIGNMENT / "fixture.json"
    deadline = time.monotonic() + 300
    while not first.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()             # still grading dave or frank
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (out / "results" / "frank" / fx.ASSIGNMENT / "fixture.json").exists()

    rc, stdout, stderr = _merge([*shards_0_and_2, out], course / "too-early")
    assert rc == cli.EXIT_SUBMISSION_ERRORS and stdout == ""
    assert stderr.strip() == f"nnkit merge: 1/3 in {out} did not finish; rerun that shard's command (it resumes) " \
                             "and merge again"
    assert not (course / "too-early").exists()

    rc, stdout, stderr = _finish(_start(course, out, "--shard", "1/3", "--jobs", "1"))
    assert rc == cli.EXIT_OK, stdout + stderr + (out / "grades.csv").read_text()
    assert "3 submissions in shard 1/3: 2 graded now, 1 skipped (graded by an earlier run" in stdout
    rc, stdout, stderr = _merge([*shards_0_and_2, out], course / "merged-after-resume")
    assert rc == cli.EXIT_SUBMISSION_ERRORS, stderr
    assert _snapshot(course / "merged-after-resume") == _snapshot(unsharded)


def test_merge_refuses_inputs_that_do_not_fit(course, shards_0_and_2, tmp_path, capsys):
    shard0, shard2 = shards_0_and_2
    assert cli.main(["merge", str(shard0), str(shard2), "--out", str(tmp_path / "m1")]) == cli.EXIT_SUBMISSION_ERRORS
    assert capsys.readouterr().err.strip() == "nnkit merge: shard 1/3 is missing: give the --out folder of every shard"
    assert cli.main(["merge", str(shard0), str(shard0), str(shard2), "--out", str(tmp_path / "m2")]) == cli.EXIT_USAGE
    assert "shard 0/3 is given twice" in capsys.readouterr().err
    other = tmp_path / "other-version"
    shutil.copytree(shard2, other)
    manifest = json.loads((other / shards.MANIFEST).read_text())
    manifest["kit"] = "0.0.1"
    (other / shards.MANIFEST).write_text(json.dumps(manifest))
    assert cli.main(["merge", str(shard0), str(other), "--out", str(tmp_path / "m3")]) == cli.EXIT_USAGE
    assert "different kit versions" in capsys.readouterr().err
    assert cli.main(["merge", str(course / "submitted"), "--out", str(tmp_path / "m4")]) == cli.EXIT_USAGE
    assert "has no batch.json" in capsys.readouterr().err
    with outdir.claim(shard2):                                  # a shard still running holds its folder
        assert cli.main(["merge", str(shard0), str(shard2), "--out", str(tmp_path / "m5")]) == cli.EXIT_USAGE
    assert f"is in use by {os.uname().nodename}:{os.getpid()}" in capsys.readouterr().err
    assert not any((tmp_path / f"m{i}").exists() for i in range(1, 6))    # nothing written on refusal


def test_merge_keeps_an_internal_error_row_that_was_not_saved(course, shards_0_and_2, shard_1, tmp_path):
    shard0, shard2 = shards_0_and_2
    broken = tmp_path / "shard2"
    shutil.copytree(shard2, broken)
    (broken / "results" / "bob" / fx.ASSIGNMENT / "fixture.json").unlink()   # as if bob's grading had crashed
    manifest = json.loads((broken / shards.MANIFEST).read_text())
    row = {"path": "p", "assignment": fx.ASSIGNMENT, "notebook": "fixture.ipynb", "student": "bob", "score": 0.0,
           "max_score": 10.0, "error": "internal grader error: RuntimeError: boom", "flags": [], "notes": [],
           "cells": [], "seconds": 0.0, "items": []}
    manifest["unsaved"] = {f"bob/{fx.ASSIGNMENT}/fixture": row}
    (broken / shards.MANIFEST).write_text(json.dumps(manifest))
    merged = tmp_path / "merged"
    assert cli.main(["merge", str(shard0), str(shard_1), str(broken), "--out", str(merged)]) == \
        cli.EXIT_SUBMISSION_ERRORS
    assert not (merged / "results" / "bob").exists()             # still unsaved: a rerun of shard 2 retries it
    assert json.loads((merged / shards.MANIFEST).read_text())["unsaved"] == manifest["unsaved"]
    assert "internal grader error: RuntimeError: boom" in (merged / "grades.csv").read_text()
    assert cli.main(["merge", str(shard0), str(shard_1), str(broken), "--out", str(broken)]) == cli.EXIT_USAGE
