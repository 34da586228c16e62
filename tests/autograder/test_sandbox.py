"""The sandbox's mechanics, each exercised directly through a Sandbox: environment, limits, CPU budgets,
restarts, forged replies. Most run in both namespace and process isolation."""

import os
import resource

import numpy as np
import pytest

from autograder.handle import OutOfTime, RemoteHandle, StudentCodeError, WorkerFailure
from autograder.namespace import NamespaceError
from autograder.sandbox import Limits, Policy, Sandbox, sweep_stale_tempdirs, temp_root
from tests.conftest import require_namespaces

FAST = dict(cell_timeout=2.0, call_timeout=2.0, memory_bytes=1024 ** 3, file_bytes=1024 ** 2, output_chars=1000)


@pytest.fixture(params=["namespace", "process"])
def mode(request):
    if request.param == "namespace":
        require_namespaces()
    return request.param


def run(cells, mode="process", **limits):
    sandbox = Sandbox([(f"cell {n}", src) for n, src in enumerate(cells, 1)],
                      Limits(**{**FAST, **limits, "isolation": mode}),
                      Policy(blocked_modules=("autograder", "ctypes"), recorded_modules=("autograder",)))
    assert sandbox.mode == mode
    runs = sandbox.boot()
    return sandbox, RemoteHandle(sandbox), runs


def test_environment_is_cleared_and_cwd_is_a_private_folder(monkeypatch, mode):
    monkeypatch.setenv("NNKIT_GRADER_SECRET", "s3cret")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    sandbox, ns, _ = run(["import os, sys\nenv = dict(os.environ)\ncwd = os.getcwd()\nfiles = os.listdir('.')\n"
                          "paths = list(sys.path)\nmods = sorted(m for m in sys.modules if m.startswith('autograder'))\n"
                          "uid = os.getuid()\n"], mode)
    try:
        env = ns.get("env")
        assert "NNKIT_GRADER_SECRET" not in env and "PYTHONPATH" not in env
        assert not any("s3cret" in value for value in env.values())
        assert env["MPLBACKEND"] == "Agg" and env["OPENBLAS_NUM_THREADS"] == "1" and env["OMP_NUM_THREADS"] == "1"
        assert env["HOME"] == ns.get("cwd") and ns.get("files") == [".mpl"]
        assert "" not in ns.get("paths") and ns.get("mods") == []
        if mode == "namespace":
            assert ns.get("cwd") == "/home/student" and ns.get("uid") == 65534
        else:
            assert ns.get("cwd").startswith(str(temp_root()))
    finally:
        sandbox.close()


def test_resource_limits_are_set_in_the_worker(mode):
    sandbox, ns, _ = run(["import resource\nlim = {n: resource.getrlimit(getattr(resource, n)) for n in "
                          "('RLIMIT_AS', 'RLIMIT_FSIZE', 'RLIMIT_CORE', 'RLIMIT_CPU', 'RLIMIT_NPROC')}"], mode)
    try:
        lim = ns.get("lim")
        assert tuple(lim["RLIMIT_AS"]) == (1024 ** 3, 1024 ** 3)
        assert tuple(lim["RLIMIT_FSIZE"]) == (1024 ** 2, 1024 ** 2) and tuple(lim["RLIMIT_CORE"]) == (0, 0)
        assert tuple(lim["RLIMIT_CPU"]) == (Limits().cpu_total_seconds,) * 2
        if os.getuid() != 0:
            assert lim["RLIMIT_NPROC"][0] < resource.getrlimit(resource.RLIMIT_NPROC)[0]
    finally:
        sandbox.close()


def test_cpu_budget_stops_a_busy_call_and_says_so(mode):
    sandbox, ns, _ = run(["def spin():\n    while True:\n        pass\n"], mode, call_timeout=0.5)
    try:
        with pytest.raises(OutOfTime) as caught:
            ns.call("spin")
        assert caught.value.kind == "cpu" and caught.value.what == "call" and caught.value.seconds == 0.5
        assert "0.5 s of CPU time" in str(caught.value)
        assert sandbox.worker is None or sandbox.worker.proc.poll() is not None
    finally:
        sandbox.close()


def test_a_sleeping_call_is_stopped_as_idle_without_using_its_cpu_budget(mode):
    sandbox, ns, _ = run(["import time\ndef nap():\n    time.sleep(600)\n"], mode, call_timeout=60.0,
                         idle_seconds=1.0)
    try:
        with pytest.raises(OutOfTime) as caught:
            ns.call("nap")
        assert caught.value.kind == "idle" and "no CPU for 1 s" in str(caught.value)
    finally:
        sandbox.close()


def test_the_wall_clock_backstop_stops_a_call_that_spins_between_sleeps(mode):
    # Using a little CPU now and then defeats the idle guard; the wall clock (factor x budget + slack) does not.
    sandbox, ns, _ = run(["import time\ndef drip():\n    while True:\n        time.sleep(0.05)\n"], mode,
                         call_timeout=0.1, wall_factor=10.0, wall_slack=1.0, idle_seconds=60.0)
    try:
        with pytest.raises(OutOfTime) as caught:
            ns.call("drip")
        assert caught.value.kind == "wall" and caught.value.seconds == 2.0
    finally:
        sandbox.close()


def test_item_cpu_budget_spans_calls_and_resets_for_the_next_item(mode):
    busy = ("import time\ndef busy(s):\n    end = time.process_time() + s\n    while time.process_time() < end:\n"
            "        pass\n    return s\n")
    sandbox, ns, _ = run([busy], mode, call_timeout=1.0, item_timeout=0.9)
    try:
        sandbox.begin_item()
        assert ns.call("busy", 0.4) == 0.4 and ns.call("busy", 0.4) == 0.4
        with pytest.raises(OutOfTime) as caught:
            ns.call("busy", 0.4)
        assert caught.value.what == "item"
        with pytest.raises(OutOfTime):
            ns.call("busy", 0.0)           # nothing left for this item
        sandbox.begin_item()
        assert ns.call("busy", 0.1) == 0.1
    finally:
        sandbox.close()


def test_polling_slows_down_for_long_requests_but_never_past_a_quarter_of_a_limit():
    from autograder.budget import POLL, POLL_MAX, next_poll

    waits, interval = [], POLL
    for _ in range(12):
        interval = next_poll(interval, cpu_left=20.0, idle_seconds=30.0)
        waits.append(interval)
    assert waits[0] == pytest.approx(1.5 * POLL) and waits[-1] == POLL_MAX
    assert all(b >= a for a, b in zip(waits, waits[1:]))
    assert next_poll(POLL_MAX, cpu_left=0.4, idle_seconds=30.0) == pytest.approx(0.1)   # a quarter of the CPU left
    assert next_poll(POLL_MAX, cpu_left=0.01, idle_seconds=30.0) == POLL                # never below POLL
    assert next_poll(POLL_MAX, cpu_left=20.0, idle_seconds=0.4) == pytest.approx(0.1)   # a quarter of the idle limit


def test_a_closed_sandbox_leaves_no_descriptor_open(mode):
    # The worker's /proc stat file stays open while it runs (cheap CPU reads); a batch of 500 submissions
    # must not leak 500 descriptors.
    def open_fds():
        return set(os.listdir("/proc/self/fd"))

    before = open_fds()
    sandbox, ns, _ = run(["def busy():\n    import time\n    end = time.process_time() + 0.2\n"
                          "    while time.process_time() < end:\n        pass\n"], mode)
    worker = sandbox.worker
    start = worker.cpu_seconds()
    ns.call("busy")
    assert worker.cpu_seconds() - start >= 0.15 and worker.last_cost >= 0.15
    sandbox.close()
    assert worker.cpu_seconds() == 0.0          # gone: never another process's time
    assert open_fds() == before


def test_the_worker_compiles_none_of_its_staged_modules(mode):
    # The view is read-only, so bytecode the grader did not write beforehand would be recompiled by every worker.
    spy = ("import importlib._bootstrap_external as be\n"
           "compiled, real = [], be.SourceLoader.source_to_code\n"
           "def spy(self, data, path, *args, **kwargs):\n"
           "    compiled.append(str(path))\n"
           "    return real(self, data, path, *args, **kwargs)\n"
           "be.SourceLoader.source_to_code = spy\n"
           "import nnkit, nnkit.data\n"
           "be.SourceLoader.source_to_code = real\n"
           "where = nnkit.data.__file__\n")
    sandbox, ns, runs = run([spy], mode)
    try:
        assert runs[0].status == "ok", runs[0].message
        assert "/lib/nnkit/data.py" in ns.get("where")          # the staged copy, not the host's
        assert ns.get("compiled") == []
    finally:
        sandbox.close()


def test_the_child_of_a_process_is_found_with_and_without_the_kernels_children_list(monkeypatch):
    import subprocess
    import sys

    from autograder import sandbox as sandbox_module

    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys\n"
                               "child = subprocess.Popen(['sleep', '60'])\nprint(child.pid, flush=True)\n"
                               "sys.stdin.read()\nchild.kill()\n"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        child = int(parent.stdout.readline())
        assert sandbox_module._child_of(parent.pid) == child

        def no_children_file(path, *args, **kwargs):
            if str(path).endswith("/children"):
                raise FileNotFoundError(path)
            return open(path, *args, **kwargs)

        monkeypatch.setattr(sandbox_module, "open", no_children_file, raising=False)
        assert sandbox_module._child_of(parent.pid) == child     # the scan of /proc
        assert sandbox_module._child_of(child) is None
    finally:
        parent.communicate(b"")


def test_file_size_limit_makes_big_writes_fail(mode):
    sandbox, _, runs = run(["open('big.bin', 'wb').write(b'x' * (4 * 1024 ** 2))\n"], mode)
    sandbox.close()
    assert runs[0].status == "error" and "File too large" in runs[0].message


def test_memory_limit_raises_memory_error(mode):
    sandbox, ns, runs = run(["import numpy as np\nx = np.ones(10 ** 9)\n"], mode)
    sandbox.close()
    assert runs[0].status == "error" and "MemoryError" in runs[0].message


def test_output_is_captured_and_truncated():
    sandbox, ns, runs = run(["print('a' * 5000)\nimport sys\nsys.stderr.write('b' * 10)\n"])
    sandbox.close()
    assert runs[0].stdout.startswith("a" * 1000) and "4011 more characters of output truncated" in runs[0].stdout


BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end:\n    pass\n"


def test_the_cells_of_a_notebook_share_one_cpu_budget_and_later_runs_stop_where_the_first_did(mode):
    # Twelve cells of 0.3 s each would all pass a 1 s cell limit; together they may use 1 s. The cell that
    # crosses it is stopped and every later cell stays unrun, in this run and in the run after a crash.
    cells = ["def die():\n    import os\n    os._exit(3)\n"] + \
        [f"c{k} = {k}\n" + BURN.format(s=0.3) for k in range(1, 13)]
    sandbox, ns, runs = run(cells, mode, cell_timeout=1.0, notebook_timeout=1.0)
    try:
        statuses = [r.status for r in runs]
        cut = statuses.index("crashed")
        assert 3 <= cut <= 5 and statuses == ["ok"] * cut + ["crashed"] + ["not run"] * (12 - cut), statuses
        assert "1 s of CPU time for this notebook" in runs[cut].message, runs[cut].message
        assert "used up their 1 s of CPU time" in runs[-1].message
        for _ in range(2):                 # the first worker, then a new one after a crash: the same cells ran
            assert ns.get(f"c{cut - 1}") == cut - 1
            with pytest.raises(NamespaceError, match=f"c{cut}"):
                ns.get(f"c{cut}")
            sandbox.begin_item()
            with pytest.raises(WorkerFailure, match="exited with code 3"):
                ns.call("die")
    finally:
        sandbox.close()


def test_a_worker_that_dies_again_and_again_cannot_rerun_the_cells_past_the_submissions_budget(mode):
    # Each crash costs a new worker, which runs the cells again (0.4 s here); all of it counts against one
    # budget for the submission, so crashing in item after item ends with the budget, not with the grader.
    cells = [BURN.format(s=0.4), "def die():\n    import os\n    os._exit(1)\n", "def ok():\n    return 1\n"]
    sandbox, ns, runs = run(cells, mode, cell_timeout=1.0, submission_timeout=2.0, max_restarts=50)
    try:
        assert [r.status for r in runs] == ["ok", "ok", "ok"]
        stopped = None
        for _ in range(20):
            sandbox.begin_item()
            try:
                ns.call("die")
            except OutOfTime as exc:
                stopped = exc
                break
            except WorkerFailure:
                continue
        assert stopped is not None and stopped.what == "submission", stopped
        assert "2 s of CPU time for this submission" in str(stopped)
        sandbox.begin_item()
        with pytest.raises(OutOfTime, match="this submission"):
            ns.call("ok")                  # nothing is left for any later item either
    finally:
        sandbox.close()


def test_calls_of_every_item_count_against_the_submissions_budget():
    busy = ("import time\ndef busy(s):\n    end = time.process_time() + s\n    while time.process_time() < end:\n"
            "        pass\n    return s\n")
    sandbox, ns, _ = run([busy], call_timeout=1.0, item_timeout=1.0, submission_timeout=2.0)
    try:
        done = 0
        with pytest.raises(OutOfTime, match="2 s of CPU time for this submission"):
            for _ in range(10):            # each item is within its own budget; together they are not
                sandbox.begin_item()
                done += ns.call("busy", 0.6) == 0.6
        assert done == 3, done
    finally:
        sandbox.close()


def test_crash_restarts_replays_cells_and_skips_the_crashing_one(mode):
    sandbox, ns, runs = run(["import numpy as np\nx = np.arange(3.0)\n",
                             "import os\nos._exit(7)\n", "y = x * 2\n",
                             "def boom():\n    import faulthandler\n    faulthandler._sigsegv()\n"], mode)
    try:
        assert [r.status for r in runs] == ["ok", "crashed", "ok", "ok"]
        assert "exited with code 7" in runs[1].message
        sandbox.begin_item()
        with pytest.raises(WorkerFailure, match="segmentation fault"):
            ns.call("boom")
        np.testing.assert_array_equal(ns.get("y"), [0.0, 2.0, 4.0])   # a fresh worker, cells replayed
    finally:
        sandbox.close()


def test_restarts_are_budgeted_per_item():
    sandbox, ns, _ = run(["def die():\n    import os\n    os._exit(1)\n", "def ok():\n    return 1\n"],
                         max_restarts=2)
    try:
        sandbox.begin_item()
        for _ in range(3):   # the first worker of the item and two restarts
            with pytest.raises(WorkerFailure, match="exited with code 1"):
                ns.call("die")
        with pytest.raises(WorkerFailure, match="gave up after 2 worker restarts"):
            ns.call("ok")                # this item has used up its restarts
        sandbox.begin_item()             # the next item starts afresh
        assert ns.call("ok") == 1
    finally:
        sandbox.close()


def test_a_forged_reply_costs_only_the_cell_that_wrote_it(mode):
    # A cell writes frames into the reply pipe: garbage, then a well-formed reply with a stale sequence number.
    forge = ("import os, struct, json\n"
             "def frame(value):\n"
             "    header = json.dumps({'value': value, 'buffers': []}).encode()\n"
             "    return struct.pack('>IQ', len(header), 0) + header\n"
             "for fd in range(3, 64):\n"
             "    try:\n"
             "        os.write(fd, frame({'__dict__': {'ok': True, 'seq': 0, 'value': 'forged'}}))\n"
             "    except OSError:\n"
             "        pass\n")
    garbage = "import os\nfor fd in range(3, 64):\n    try:\n        os.write(fd, b'\\xff' * 64)\n" \
              "    except OSError:\n        pass\n"
    sandbox, ns, runs = run(["def f():\n    return 'real'\n", forge, garbage, "g = 2\n"], mode)
    try:
        assert runs[0].status == "ok" and runs[3].status == "ok"
        assert runs[2].status == "crashed"          # the garbage broke the protocol: that cell, and only it
        sandbox.begin_item()
        assert ns.call("f") == "real" and ns.get("g") == 2
    finally:
        sandbox.close()


@pytest.mark.parametrize("source, message", [
    ("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\n", "resource.setrlimit"),
    ("import sys\nsys.addaudithook(lambda *a: None)\nimport os\nos.fork()\n", "os.fork"),
    ("def f(): pass\nf.__code__ = (lambda: 1).__code__\n", "replacing a function's code"),
    ("import socket\nsocket.socket()\n", "socket.__new__"),
    ("import numpy\nnumpy.core._internal.ctypes.CDLL(None)\n", "ctypes"),
    ("import os\nos.chdir('/')\n", "os.chdir"),
    ("import os\nos.remove('/etc/hostname')\n", "outside the working folder"),
])
def test_audit_hook_blocks_escapes(source, message):
    sandbox, _, runs = run([source])
    sandbox.close()
    assert runs[0].status == "error" and message in runs[0].message, runs[0].message


def test_student_exceptions_and_missing_names_come_back_typed(mode):
    sandbox, ns, _ = run(["def bad(x):\n    raise ValueError('nope')\n"], mode)
    try:
        with pytest.raises(StudentCodeError, match="ValueError"):
            ns.call("bad", 1)
        assert not ns.has("missing")
    finally:
        sandbox.close()


def test_hook_ignores_rebound_builtins_and_os_functions(tmp_path):
    target = tmp_path / "outside.txt"
    sabotage = ("import builtins, os, posixpath\nbuiltins.any = lambda *a: False\nos.getcwd = lambda: '/'\n"
                "os.stat = lambda *a, **k: None\nposixpath.normpath = lambda p: '/tmp/x'\n"
                f"open({str(target)!r}, 'w').write('escaped')\n")
    sandbox, _, runs = run([sabotage])
    sandbox.close()
    assert runs[0].status == "error" and "outside the working folder" in runs[0].message
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
    sandbox = Sandbox([("cell 1", reader)], Limits(**FAST, isolation="process"), Policy(denied_trees=(str(out),)))
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


def test_temp_folders_of_a_killed_grader_are_swept(tmp_path):
    import subprocess
    import sys
    import tempfile

    code = ("import os, sys\nsys.path.insert(0, sys.argv[1])\nfrom autograder.sandbox import temp_root\n"
            "print(temp_root(), flush=True)\nos.kill(os.getpid(), 9)\n")
    done = subprocess.run([sys.executable, "-c", code, os.getcwd()], capture_output=True, text=True)
    left = done.stdout.strip()
    assert left.startswith(tempfile.gettempdir()) and os.path.isdir(left)
    assert sweep_stale_tempdirs() >= 1 and not os.path.exists(left)
    assert temp_root().is_dir()          # this process's own folder is never swept
    sweep_stale_tempdirs()
    assert temp_root().is_dir()


def test_a_denied_tree_holding_what_the_worker_needs_is_not_applied(tmp_path):
    import sys
    from autograder.sandbox import _tree_inodes
    st = os.stat(tmp_path)
    assert _tree_inodes([str(tmp_path)], ["/somewhere/else"]) == [[st.st_dev, st.st_ino]]
    assert _tree_inodes([str(tmp_path)], [str(tmp_path / "worker-temp")]) == []   # --out holding the workdir
    assert _tree_inodes([os.path.dirname(sys.prefix)], [sys.prefix]) == []       # --out . beside the .venv
    assert _tree_inodes([str(tmp_path / "missing")], ["/somewhere/else"]) == []
