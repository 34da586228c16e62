"""The worker's isolation limits, each exercised directly through a Sandbox."""

import os
import resource

import numpy as np
import pytest

from autograder.handle import RemoteHandle, StudentCodeError, WorkerFailure
from autograder.sandbox import Limits, Policy, Sandbox

FAST = dict(cell_timeout=2.0, call_timeout=2.0, memory_bytes=1024 ** 3, file_bytes=1024 ** 2, output_chars=1000)


def run(cells, **limits):
    sandbox = Sandbox([(f"cell {n}", src) for n, src in enumerate(cells, 1)], Limits(**{**FAST, **limits}),
                      Policy(blocked_modules=("autograder", "ctypes"), recorded_modules=("autograder",)))
    runs = sandbox.boot()
    return sandbox, RemoteHandle(sandbox), runs


def test_environment_is_stripped_and_cwd_is_a_fresh_temp_dir(monkeypatch):
    monkeypatch.setenv("NNKIT_GRADER_SECRET", "s3cret")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    sandbox, ns, _ = run(["import os, sys\nenv = dict(os.environ)\ncwd = os.getcwd()\nfiles = os.listdir('.')\n"
                          "paths = list(sys.path)\nmods = sorted(m for m in sys.modules if m.startswith('autograder'))"])
    try:
        env = ns.get("env")
        assert "NNKIT_GRADER_SECRET" not in env and "PYTHONPATH" not in env
        assert env["MPLBACKEND"] == "Agg" and env["OPENBLAS_NUM_THREADS"] == "1" and env["OMP_NUM_THREADS"] == "1"
        assert env["HOME"] == ns.get("cwd") and "nnkit-worker-" in ns.get("cwd")
        assert ns.get("files") == [".mpl"]
        assert "" not in ns.get("paths") and ns.get("mods") == []
    finally:
        sandbox.close()


def test_resource_limits_are_set_in_the_worker():
    sandbox, ns, _ = run(["import resource\nlim = {n: resource.getrlimit(getattr(resource, n)) for n in "
                          "('RLIMIT_AS', 'RLIMIT_FSIZE', 'RLIMIT_CORE', 'RLIMIT_CPU', 'RLIMIT_NPROC')}"])
    try:
        lim = ns.get("lim")
        assert lim["RLIMIT_AS"] == [1024 ** 3] * 2 or tuple(lim["RLIMIT_AS"]) == (1024 ** 3, 1024 ** 3)
        assert tuple(lim["RLIMIT_FSIZE"]) == (1024 ** 2, 1024 ** 2) and tuple(lim["RLIMIT_CORE"]) == (0, 0)
        soft, hard = lim["RLIMIT_CPU"]
        assert soft <= 3 + 2 and hard == Limits().cpu_total_seconds + 1   # lowered per request by the grader
        if os.getuid() != 0:
            assert lim["RLIMIT_NPROC"][0] < resource.getrlimit(resource.RLIMIT_NPROC)[0]
    finally:
        sandbox.close()


def test_cpu_limit_kills_a_busy_call_before_the_wall_clock():
    sandbox, ns, _ = run(["def spin():\n    while True:\n        pass\n"], call_timeout=30.0, call_cpu=1.0)
    try:
        with pytest.raises(WorkerFailure, match="CPU time limit"):
            ns.call("spin")
    finally:
        sandbox.close()


def test_wall_clock_limit_kills_a_sleeping_call():
    sandbox, ns, _ = run(["import time\ndef nap():\n    time.sleep(60)\n"], call_timeout=0.5)
    try:
        with pytest.raises(WorkerFailure, match="time limit of 0.5 s"):
            ns.call("nap")
        assert sandbox.worker.proc.poll() is not None
    finally:
        sandbox.close()


def test_file_size_limit_makes_big_writes_fail():
    sandbox, _, runs = run(["open('big.bin', 'wb').write(b'x' * (4 * 1024 ** 2))\n"])
    sandbox.close()
    assert runs[0].status == "error" and "File too large" in runs[0].message


def test_memory_limit_raises_memory_error():
    sandbox, ns, runs = run(["import numpy as np\nx = np.ones(10 ** 9)\n"])
    sandbox.close()
    assert runs[0].status == "error" and "MemoryError" in runs[0].message


def test_output_is_captured_and_truncated():
    sandbox, ns, runs = run(["print('a' * 5000)\nimport sys\nsys.stderr.write('b' * 10)\n"])
    sandbox.close()
    assert runs[0].stdout.startswith("a" * 1000) and "4011 more characters of output truncated" in runs[0].stdout


def test_crash_restarts_replays_cells_and_skips_the_crashing_one():
    sandbox, ns, runs = run(["import numpy as np\nx = np.arange(3.0)\n",
                             "import os\nos._exit(7)\n", "y = x * 2\n",
                             "def boom():\n    import faulthandler\n    faulthandler._sigsegv()\n"])
    try:
        assert [r.status for r in runs] == ["ok", "crashed", "ok", "ok"]
        assert "exited with code 7" in runs[1].message
        with pytest.raises(WorkerFailure, match="segmentation fault"):
            ns.call("boom")
        np.testing.assert_array_equal(ns.get("y"), [0.0, 2.0, 4.0])   # a fresh worker, cells replayed
        assert sandbox.restarts == 2
    finally:
        sandbox.close()


def test_gives_up_after_max_restarts():
    sandbox, ns, _ = run(["def die():\n    import os\n    os._exit(1)\n"], max_restarts=2)
    try:
        for _ in range(3):   # the first worker and two restarts
            with pytest.raises(WorkerFailure):
                ns.call("die")
        with pytest.raises(WorkerFailure, match="gave up after 2 worker restarts"):
            ns.call("die")
    finally:
        sandbox.close()


@pytest.mark.parametrize("source, message", [
    ("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\n", "resource.setrlimit"),
    ("import sys\nsys.addaudithook(lambda *a: None)\nimport os\nos.fork()\n", "os.fork"),
    ("def f(): pass\nf.__code__ = (lambda: 1).__code__\n", "replacing a function's code"),
    ("import socket\nsocket.socket()\n", "socket.__new__"),
    ("import numpy\nnumpy.core._internal.ctypes.CDLL(None)\n", "ctypes"),
    ("import os\nos.chdir('/')\n", "os.chdir"),
    ("import os\nos.remove('/etc/hostname')\n", "outside the working directory"),
])
def test_audit_hook_blocks_escapes(source, message):
    sandbox, _, runs = run([source])
    sandbox.close()
    assert runs[0].status == "error" and message in runs[0].message, runs[0].message


def test_student_exceptions_and_missing_names_come_back_typed():
    sandbox, ns, _ = run(["def bad(x):\n    raise ValueError('nope')\n"])
    try:
        with pytest.raises(StudentCodeError, match="ValueError"):
            ns.call("bad", 1)
        assert not ns.has("missing")
    finally:
        sandbox.close()


@pytest.mark.skipif(os.getuid() != 0, reason="running the worker as another user needs a root grader")
def test_worker_can_run_as_an_unprivileged_user(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("only the grader may read this")
    secret.chmod(0o600)
    cells = [("cell 1", f"import os\nuid = os.getuid()\ntry:\n    leak = open({str(secret)!r}).read()\n"
                        "except OSError as exc:\n    leak = type(exc).__name__\n")]
    sandbox = Sandbox(cells, Limits(**FAST, run_as="nobody"), Policy())
    try:
        try:
            sandbox.boot()
        except WorkerFailure as exc:
            pytest.skip(f"this interpreter cannot be run by 'nobody' here ({exc})")
        ns = RemoteHandle(sandbox)
        assert ns.get("uid") != 0 and ns.get("leak") == "PermissionError"
    finally:
        sandbox.close()


def test_hook_ignores_rebound_builtins_and_os_functions(tmp_path):
    target = tmp_path / "outside.txt"
    sabotage = ("import builtins, os, posixpath\nbuiltins.any = lambda *a: False\nos.getcwd = lambda: '/'\n"
                "os.stat = lambda *a, **k: None\nposixpath.normpath = lambda p: '/tmp/x'\n"
                f"open({str(target)!r}, 'w').write('escaped')\n")
    sandbox, _, runs = run([sabotage])
    sandbox.close()
    assert runs[0].status == "error" and "outside the working directory" in runs[0].message
    assert not target.exists()


def test_denied_tree_covers_files_and_folders_created_after_the_worker_started(tmp_path):
    out = tmp_path / "grades"
    (out / "results").mkdir(parents=True)
    reader = ("import os\n"
              "def peek(path):\n"
              "    try:\n"
              "        with open(path) as f:\n"
              "            return f.read()\n"
              "    except OSError as exc:\n"
              "        return 'refused: ' + type(exc).__name__\n"
              "def ls(path):\n"
              "    try:\n"
              "        return sorted(os.listdir(path))\n"
              "    except OSError as exc:\n"
              "        return 'refused: ' + type(exc).__name__\n")
    sandbox = Sandbox([("cell 1", reader)], Limits(**FAST), Policy(denied_trees=(str(out),)))
    try:
        sandbox.boot()
        ns = RemoteHandle(sandbox)
        (out / "results" / "bob").mkdir()                       # written by another grading process, later
        (out / "results" / "bob" / "fixture.json").write_text('{"score": 10}')
        beside = tmp_path / "beside.txt"
        beside.write_text("readable")
        assert ns.call("peek", str(out / "results" / "bob" / "fixture.json")) == "refused: PermissionError"
        assert ns.call("peek", f"{out}/results/../results/bob/fixture.json") == "refused: PermissionError"
        assert ns.call("ls", str(out / "results" / "bob")) == "refused: PermissionError"
        assert ns.call("ls", str(out)) == "refused: PermissionError"
        assert ns.call("peek", str(beside)) == "readable"        # only the tree is denied
        assert any(kind == "open" and "bob" in detail for kind, detail in sandbox.reports)
    finally:
        sandbox.close()


def test_a_denied_tree_holding_the_workers_own_files_is_not_applied(tmp_path):
    import sys
    from autograder.sandbox import _tree_inodes
    st = os.stat(tmp_path)
    assert _tree_inodes([str(tmp_path)], "/somewhere/else") == [[st.st_dev, st.st_ino]]
    assert _tree_inodes([str(tmp_path)], str(tmp_path / "worker-temp")) == []
    assert _tree_inodes([os.path.dirname(sys.prefix)], "/somewhere/else") == []
    assert _tree_inodes([str(tmp_path / "missing")], "/somewhere/else") == []
