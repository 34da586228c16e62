"""The batch's lifecycle, with real ``nnkit grade`` processes: signals stop it cleanly and nothing outlives it.

Each test runs the grader under a small harness that is a child subreaper
(``PR_SET_CHILD_SUBREAPER``): every process the grader starts, however deep, is the
harness's descendant even after its parent dies, so "no grading process is alive" can
be checked exactly, and without touching the test process's own children.

The class: alice's notebook grades in a moment; bob, carol and dave each have a cell
that sleeps for longer than the whole test. With ``--jobs 2`` the signal arrives when
alice's result is written and two sleepers are in flight.
"""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.autograder import fixture_assignment as fx

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_SPEC = "tests.autograder.fixture_assignment:REGISTRY"
SLEEP = "import time\ntime.sleep(600)\n"     # the sandbox's idle limit (30 s) ends it long before 600 s
def temp_folders(tmp):
    """What a grader left in its TMPDIR, less matplotlib's font cache (nnkit-cache-<uid>), which is kept on
    purpose and shared by later runs."""
    return sorted(p.name for p in tmp.iterdir() if not p.name.startswith("nnkit-cache-"))


WAITING_WOULD_TAKE = 25.0                    # a grader that waited for the in-flight sleepers needs this long

HARNESS = r'''
import ctypes, json, os, signal, subprocess, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)          # PR_SET_CHILD_SUBREAPER
cfg = json.loads(sys.argv[1])
with open(cfg["log"], "wb") as log:
    proc = subprocess.Popen(cfg["argv"], cwd=cfg["cwd"], env=cfg["env"], stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log, start_new_session=True)
deadline = time.monotonic() + 300
while not os.path.exists(cfg["wait_for"]) and proc.poll() is None and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(cfg["settle"])
early = proc.poll()
sent = time.monotonic()
(os.killpg if cfg["group"] else os.kill)(proc.pid, cfg["signal"])
rc = proc.wait(timeout=120)
seconds = time.monotonic() - sent
time.sleep(1.0)                                                  # "no grading process alive within a second"


def temp_folders(tmp):
    return sorted(p.name for p in tmp.iterdir() if not p.name.startswith("nnkit-cache-"))

def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return

def descendants(root):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:200]
            except OSError:
                continue
            if fields[0] != "Z":
                children.setdefault(int(fields[1]), []).append((int(entry), cmd))
    found, todo = [], [root]
    while todo:
        for pid, cmd in children.get(todo.pop(), []):
            found.append(cmd)
            todo.append(pid)
    return found

reap()
print(json.dumps({"early_exit": early, "rc": rc, "seconds": seconds, "alive": descendants(os.getpid())}))
'''


@pytest.fixture()
def slow_class(tmp_path):
    fx.write(fx.notebook(), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    sub = tmp_path / "submitted"
    fx.write(fx.notebook(), sub / "alice" / fx.ASSIGNMENT / "fixture.ipynb")
    for who in ("bob", "carol", "dave"):
        fx.write(fx.notebook(extra_cells=[SLEEP]), sub / who / fx.ASSIGNMENT / "fixture.ipynb")
    return tmp_path


def _interrupt(course: Path, sig: int, *, group: bool, jobs: int = 2) -> dict:
    out = course / "out"
    argv = [sys.executable, "-m", "autograder.cli", "grade", str(course / "submitted"), "--source",
            str(course / "source"), "--out", str(out), "--registry", REGISTRY_SPEC, "--jobs", str(jobs), "--quiet"]
    (course / "tmp").mkdir()                                     # the grader's TMPDIR: its temp folders land here
    env = {**os.environ, "NNKIT_GRADER_SECRET": "lifecycle", "TMPDIR": str(course / "tmp")}
    cfg = {"argv": argv, "cwd": str(ROOT), "env": env,
           "log": str(course / "grader.log"), "wait_for": str(out / "results" / "alice" / fx.ASSIGNMENT /
                                                               "fixture.json"),
           "settle": 1.0, "signal": int(sig), "group": group}
    done = subprocess.run([sys.executable, "-c", HARNESS, json.dumps(cfg)], capture_output=True, text=True,
                          timeout=400)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    outcome["log"] = (course / "grader.log").read_text(errors="replace")
    assert outcome["early_exit"] is None, outcome["log"]          # the grader was still busy when signalled
    outcome["results"] = sorted(str(p.relative_to(out / "results")) for p in (out / "results").rglob("*.json"))
    outcome["temp"] = temp_folders(course / "tmp")
    return outcome


def _rows(out: Path) -> list[tuple[str, str]]:
    with open(out / "grades.csv", newline="") as f:
        return [(r["student"], r["score"]) for r in csv.DictReader(f)]


@pytest.mark.parametrize("sig, group, code", [(signal.SIGTERM, False, 143), (signal.SIGINT, True, 130)],
                         ids=["SIGTERM to the grader", "Ctrl-C (SIGINT to the process group)"])
def test_a_signal_stops_the_batch_keeps_what_finished_and_grades_nothing_more(slow_class, sig, group, code):
    outcome = _interrupt(slow_class, sig, group=group)
    assert outcome["rc"] == code, outcome["log"]
    assert outcome["seconds"] < WAITING_WOULD_TAKE, outcome    # it did not wait for the sleepers in flight
    assert outcome["alive"] == [], outcome                      # pool processes and workers are gone
    assert outcome["temp"] == [], outcome                       # ... and cleaned up after themselves
    assert outcome["results"] == ["alice/fixture/fixture.json"]  # nothing queued was graded after the signal
    assert _rows(slow_class / "out") == [("alice", "10.0")]     # grades.csv lists what finished, no error rows
    last = outcome["log"].strip().splitlines()[-1]
    assert last.startswith(f"nnkit grade: stopped by {signal.Signals(sig).name}; the finished results are kept")
    assert "Traceback" not in outcome["log"]
    manifest = json.loads((slow_class / "out" / "batch.json").read_text())
    assert manifest["finished"] is False and len(manifest["keys"]) == 4


def test_sigterm_stops_a_one_job_batch_too(slow_class):
    outcome = _interrupt(slow_class, signal.SIGTERM, group=False, jobs=1)
    assert outcome["rc"] == 143 and outcome["alive"] == [] and outcome["temp"] == [], outcome
    assert outcome["seconds"] < WAITING_WOULD_TAKE, outcome
    assert outcome["results"] == ["alice/fixture/fixture.json"]
    assert _rows(slow_class / "out") == [("alice", "10.0")]


@pytest.mark.parametrize("group", [False, True], ids=["SIGKILL of the grader", "SIGKILL of its process group"])
def test_nothing_outlives_a_killed_grader(slow_class, group):
    outcome = _interrupt(slow_class, signal.SIGKILL, group=group)
    assert outcome["rc"] == -signal.SIGKILL
    assert outcome["alive"] == [], outcome                      # no pool process, no worker, no bwrap left
    assert outcome["results"] == ["alice/fixture/fixture.json"]
    assert outcome["temp"], outcome                             # a killed process cannot clean up ...
    rerun = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(slow_class / "submitted" / "alice"),
                            "--source", str(slow_class / "source"), "--out", str(slow_class / "out"), "--registry",
                            REGISTRY_SPEC, "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "NNKIT_GRADER_SECRET": "lifecycle", "TMPDIR": str(slow_class / "tmp")})
    assert rerun.returncode == 0 and "0 graded now, 1 skipped" in rerun.stdout, rerun.stderr
    assert temp_folders(slow_class / "tmp") == []               # ... so the next run sweeps its temp folders


POOL_INIT = r'''
import ctypes, os, signal, sys
from autograder import pool
pool._process_init(int(sys.argv[1]))
os.kill(os.getpid(), signal.SIGINT)                 # Ctrl-C: must not interrupt the pool process
deathsig = ctypes.c_int()
ctypes.CDLL(None).prctl(2, ctypes.byref(deathsig), 0, 0, 0)    # PR_GET_PDEATHSIG
print(deathsig.value)
'''


def test_a_pool_process_ignores_ctrl_c_and_dies_with_the_main_process():
    done = subprocess.run([sys.executable, "-c", POOL_INIT, str(os.getpid())], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, f"{int(signal.SIGKILL)}\n"), done.stderr
    orphaned = subprocess.run([sys.executable, "-c", POOL_INIT, str(os.getpid() + 10 ** 7)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert (orphaned.returncode, orphaned.stdout) == (1, "")    # its parent is not the main process: it exits



SECOND_SIGTERM = r'''
import atexit, os, signal, sys
from autograder import pool

def clean_up():                     # stands in for the sandbox removing its temp folder
    os.kill(os.getpid(), signal.SIGTERM)          # the executor's own SIGTERM, arriving during clean-up
    open(sys.argv[2], "w").close()

atexit.register(clean_up)
pool._process_init(int(sys.argv[1]))
pool._call(os.kill, os.getpid(), signal.SIGTERM)  # the main process's SIGTERM, while grading
'''


def test_a_second_sigterm_does_not_cut_a_pool_process_clean_up_short(tmp_path):
    marker = tmp_path / "cleaned-up"
    done = subprocess.run([sys.executable, "-c", SECOND_SIGTERM, str(os.getpid()), str(marker)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert marker.exists(), done.stderr
