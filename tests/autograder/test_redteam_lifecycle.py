"""Red team of a batch's lifecycle: stopped half-way, resumed, damaged by hand, run twice at once.

Real ``nnkit grade`` processes (namespace isolation) on a class of six, one of them a broken file. Each notebook
has a cell that sleeps a second (wall time, not CPU), so a batch can be stopped half-way. The reference is one
uninterrupted run, made by two graders started together on one ``--out`` (one of them must refuse, or find
everything graded). A SIGKILL after a random number of results, then a rerun, must give exactly the reference's
files, with each submission graded once and no process left (checked by a child-subreaper harness that sees
every descendant). Damaged, hand-edited, replaced and other-version results are graded again by ``nnkit grade``
and named by ``nnkit merge``.

A full disk and a read-only ``--out`` are tried on real tmpfs mounts in ``test_out_folder.py``, signals and
orphaned workers in ``test_lifecycle.py``, a killed shard in ``test_shards.py``.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.autograder import fixture_assignment as fx
from tests.autograder.cli_harness import WRONG_RELU, csv_rows, grade_argv, grade_env, output_files
from tests.conftest import require_namespaces

ROOT = Path(__file__).resolve().parents[2]
_rows = csv_rows


def _grade_argv(paths, source: Path, out: Path, *extra: str) -> list[str]:
    return grade_argv(paths, source, out, "--quiet", *extra)


def _env(tmp: Path | None = None) -> dict:
    return grade_env("redteam-lifecycle", tmp)


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


_snapshot = output_files


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


def test_a_merge_stopped_half_way_over_an_earlier_one_does_not_look_finished(two_at_once, tmp_path):
    from autograder import cli, shards

    merged = tmp_path / "merged"
    first = subprocess.run([sys.executable, "-m", "autograder.cli", "merge", str(two_at_once[0]), "--out",
                            str(merged)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert first.returncode == cli.EXIT_SUBMISSION_ERRORS and json.loads((merged / shards.MANIFEST).read_text())[
        "finished"] is True, first.stderr                                   # carol's error row: exit 1
    blocked = merged / "results" / "dave" / fx.ASSIGNMENT / "fixture.json"
    blocked.unlink()
    blocked.mkdir()                                                         # the second merge cannot write dave
    second = subprocess.run([sys.executable, "-m", "autograder.cli", "merge", str(two_at_once[0]), "--out",
                             str(merged)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert second.returncode == cli.EXIT_SUBMISSION_ERRORS and f"could not write {blocked}" in second.stderr, \
        second.stderr
    assert json.loads((merged / shards.MANIFEST).read_text())["finished"] is False
    again = subprocess.run([sys.executable, "-m", "autograder.cli", "merge", str(merged), "--out",
                            str(tmp_path / "again")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == cli.EXIT_SUBMISSION_ERRORS and "did not finish" in again.stderr, again.stderr
    assert not (tmp_path / "again").exists()                                # nothing taken from a half merge
