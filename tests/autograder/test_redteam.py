"""Red-team findings: each test is a route a submission could take that no other test file covers.

Every test here was seen to fail before the fix it guards (or is an ``xfail(strict=True)`` naming a hole
that is still open). The submissions are built from ``fixture_assignment`` or run straight in a
``Sandbox`` with the grader's real ``Policy``.
"""

import json

import numpy as np
import pytest

from autograder.handle import RemoteHandle
from autograder.protocol import WorkerConfig
from autograder.sandbox import Limits, Policy, Sandbox
from autograder.worker import make_hook

FAST = dict(cell_timeout=5.0, call_timeout=5.0, memory_bytes=1024 ** 3, isolation="namespace")

# Load a C extension module from its own file under another name: "x._posixsubprocess" still runs
# PyInit__posixsubprocess, because CPython names the init function after the last part of the name.
LOAD_ALIASED = ("import importlib.machinery, importlib.util\n"
                "def load(name):\n"
                "    origin = importlib.machinery.PathFinder.find_spec(name).origin\n"
                "    spec = importlib.util.spec_from_file_location('x.' + name, origin)\n"
                "    module = importlib.util.module_from_spec(spec)\n"
                "    spec.loader.exec_module(module)\n"
                "    return module\n")


def sandbox_run(cells):
    """Run ``cells`` in a namespace-isolated worker with the grader's default policy."""
    sandbox = Sandbox([(f"cell {n}", src) for n, src in enumerate(cells, 1)], Limits(**FAST), Policy())
    runs = sandbox.boot()
    sandbox.begin_item()
    return sandbox, RemoteHandle(sandbox), runs


# -- blocked extension modules under another name ---------------------------------------------------------
@pytest.mark.parametrize("name", ["_posixsubprocess", "_xxsubinterpreters", "_testcapi", "_ctypes"])
def test_the_hook_refuses_a_blocked_module_loaded_under_a_dotted_alias(tmp_path, name):
    config = WorkerConfig(blocked_modules=["autograder", "ctypes", "_ctypes", "_posixsubprocess",
                                           "_xxsubinterpreters", "_testcapi"],
                          recorded_modules=["autograder", "nnkit"], workdir=str(tmp_path))
    hook = make_hook(config, lambda kind, detail: None)
    origin = f"/usr/lib/python3/lib-dynload/{name}.so"
    with pytest.raises(ImportError, match="not allowed"):
        hook("import", (f"x.{name}", origin, None, None, None))
    hook("import", ("numpy.core._multiarray_umath", origin, None, None, None))   # others still load


def test_no_process_and_no_hook_free_subinterpreter_through_an_aliased_extension(namespaces):
    # Before the fix both cells ran: fork_exec started /bin/sh (its CPU time never charged to the worker,
    # no RLIMIT_NPROC in namespace mode, so a fork bomb on the host's uid), and a subinterpreter, which has
    # none of the worker's audit hooks, ran os.system.
    spawn = (LOAD_ALIASED + "ps = load('_posixsubprocess')\nr, w = os.pipe()\n"
             "pid = ps.fork_exec([b'/bin/sh'], [b'/bin/sh', b'-c', b'exit 0'], True, (), None, None, -1, -1, -1, "
             "-1, -1, -1, r, w, True, False, -1, None, None, -1, -1, None, False)\n")
    subinterpreter = (LOAD_ALIASED + "si = load('_xxsubinterpreters')\ni = si.create()\n"
                      "si.run_string(i, \"import os; os.system('echo escaped > /home/student/out')\")\n")
    sandbox, ns, runs = sandbox_run(["import os\n", spawn, subinterpreter, "import os\nleft = os.listdir('.')\n"])
    try:
        assert [r.status for r in runs] == ["ok", "error", "error", "ok"]
        assert all("not allowed in graded code" in r.message for r in runs[1:3])
        assert not ns.has("pid") and "out" not in ns.get("left")
    finally:
        sandbox.close()
