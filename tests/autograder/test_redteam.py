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


# -- hidden inputs read out through the report ------------------------------------------------------------
SECRET = "red-team-secret"


def grade_fixture(tmp_path, code, *, student="eve", secret=SECRET, registry=None):
    from autograder.grader import grade_submission
    from tests.autograder import fixture_assignment as fx

    source = tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb"
    if not source.exists():
        fx.write(fx.notebook(), source)
    path = fx.write(fx.notebook(code), tmp_path / "submitted" / student / fx.ASSIGNMENT / "fixture.ipynb")
    result = grade_submission(path, source=tmp_path / "source", registry=registry or fx.REGISTRY,
                              limits=Limits(**FAST),
                              secret=secret, student=student)
    assert result.error is None, result.error
    return result


def test_hidden_inputs_do_not_reach_what_the_student_sees(tmp_path, namespaces):
    from autograder import report
    from autograder.tester import Tester

    leak = ("def relu(z):\n"
            "    if z.shape == (40, 7):   # only the hidden check uses this shape\n"
            "        try:\n"
            "            open('/proc/1/' + ','.join(repr(float(v)) for v in z.ravel()[:6]))\n"
            "        except OSError:\n"
            "            pass\n"
            "    return np.where(z > 0, z, 0.0)\n")
    # The text of the worker's audit reports (a refused path, an imported module name, any line a submission
    # writes to the report pipe) reached flags and notes verbatim, even when written while a hidden check
    # ran. Reports read after the first hidden input reached the worker are now shown by kind only, and
    # every visible check runs before that (tests/autograder/test_hidden_text.py tries every route).
    result = grade_fixture(tmp_path, {"relu": leak})
    t = Tester("fx_relu", hidden=True, secret=SECRET)
    t.start("relu_hidden_large")
    hidden = (t.rng.normal(size=(40, 7)) * 100).ravel()[:6]     # what fx_relu's hidden check sends
    shown = (json.dumps(result.to_dict()) + json.dumps(report.gradescope(result)) + report.render_text(result))
    assert [repr(float(v)) for v in hidden if repr(float(v)) in shown] == []


# -- the worker's report of its own calls -----------------------------------------------------------------
@pytest.mark.xfail(strict=True, reason=(
    "hole: whether a call changed its arguments in place (and raised FP warnings) is computed in the worker "
    "(NamespaceServer._record, with the worker's np.allclose and warnings.catch_warnings) and only reported; "
    "one line of monkeypatching hides it, and sys._getframe reaches the NamespaceServer itself, so binding the "
    "functions early cannot close it: `watch_calls` sub-checks are the student's own claim"))
@pytest.mark.parametrize("patch", [
    "np.allclose = lambda *a, **k: True\n",
    "import sys\nsys._getframe().f_back.f_back.f_locals['server']._record = lambda *a: None\n",
])
def test_an_input_changed_in_place_is_caught_whatever_the_notebook_patches(tmp_path, namespaces, patch):
    from autograder.items import Item, Registry
    from autograder.tester import watch_calls
    from tests.autograder import fixture_assignment as fx

    @watch_calls()
    def relu_in_place_watched(ns, t):
        z = t.rng.normal(size=(5, 4))
        t.close("relu on a (5, 4) array", ns.call("relu", z), fx.ref_relu(z))

    registry = Registry([Item("fx_relu", 2, "relu(z)", names=("relu",), checks=(relu_in_place_watched,))]
                        + [i for i in fx.ITEMS if i.grade_id != "fx_relu"])
    in_place = "def relu(z):\n    z[z < 0] = 0.0\n    return z.copy()\n"
    honest = grade_fixture(tmp_path, {"relu": in_place}, registry=registry, student="control")
    assert [s.passed for s in honest.items[0].subchecks] == [True, False]   # caught without the patch
    result = grade_fixture(tmp_path, {"relu": in_place + patch}, registry=registry)
    assert [s.passed for s in result.items[0].subchecks] == [True, False]


# -- result keys from names a student chooses -------------------------------------------------------------
def test_notebook_names_a_student_chooses_never_share_a_result_key_or_climb_out_of_it(tmp_path):
    # nbgrader's submit copies a student's whole assignment folder, extra notebooks too. "x y" and "x_y"
    # both had the key "mallory/fixture/x_y": check_unique_keys refused the batch (exit 2) and nobody was
    # graded. "...ipynb" has the stem "..", which put its Gradescope file in gradescope/mallory/.
    from autograder import batch

    folder = tmp_path / "submitted" / "mallory" / "fixture"
    folder.mkdir(parents=True)
    for name in ["fixture", "x y", "x_y", "x_y~0123456789", "x_y_0123456789", "..", "x\u00e9", "x\u0065\u0301"]:
        (folder / f"{name}.ipynb").write_text("{}")
    (tmp_path / "submitted" / "alice" / "fixture").mkdir(parents=True)
    (tmp_path / "submitted" / "alice" / "fixture" / "fixture.ipynb").write_text("{}")
    subs = batch.discover([tmp_path / "submitted"])
    assert len(subs) == 9
    batch.check_unique_keys(subs)                              # raised ValueError before the fix
    keys = [s.key for s in subs]
    assert "alice/fixture/fixture" in keys and "mallory/fixture/x_y" in keys   # plain names keep their key
    assert all(part not in (".", "..") for key in keys for part in key.split("/"))
    assert all((tmp_path / "out" / "gradescope" / key).resolve().is_relative_to(tmp_path / "out" / "gradescope")
               and len((tmp_path / "out" / "gradescope" / key).resolve().relative_to(
                   tmp_path / "out" / "gradescope").parts) == 3 for key in keys)


# -- a frame the decoder did not expect -------------------------------------------------------------------
@pytest.mark.parametrize("shape", [[2 ** 63, 0], [2 ** 62, 2 ** 62, 0], [2 ** 70, 0]])
def test_an_empty_array_with_an_impossible_shape_is_a_protocol_error(shape):
    from autograder import protocol

    header = json.dumps({"value": {"__nd__": 0}, "buffers": [{"dtype": "<f8", "shape": shape}]}).encode()
    with pytest.raises(protocol.ProtocolError, match="bad shape"):
        protocol.decode(header, b"")


def test_a_cell_forging_an_impossible_shape_costs_only_that_cell(namespaces):
    # NumPy raised ValueError from decode; it went past the sandbox (which catches WorkerFailure) and
    # turned the whole submission into an "internal grader error" row (exit code 3, a grader bug).
    forge = ("import os, sys, struct, json\n"
             "h = json.dumps({'value': {'__nd__': 0}, 'buffers': [{'dtype': '<f8', 'shape': [2**63, 0]}]})\n"
             "os.write(int(sys.argv[2]), struct.pack('>IQ', len(h), 0) + h.encode())\n")
    sandbox, ns, runs = sandbox_run(["x = 1\n", forge, "y = 2\n"])
    try:
        assert [r.status for r in runs] == ["ok", "crashed", "ok"] and "bad shape" in runs[1].message
        assert ns.get("x") == 1 and ns.get("y") == 2
    finally:
        sandbox.close()


@pytest.mark.parametrize("error", ["'boom'", "{'__dict__': {'exc_type': 1}}", "[1]"])
def test_a_cell_forging_its_own_reply_with_a_malformed_error_costs_only_that_cell(namespaces, error):
    # The reply to "exec" of cell 2 has seq 2. Its "error" was indexed as a dict of str unchecked: a str
    # gave TypeError, a dict without "message" KeyError, both out of Sandbox.boot: an internal grader error.
    forge = ("import os, sys, struct, json\n"
             f"h = json.dumps({{'value': {{'__dict__': {{'ok': True, 'seq': 2, 'error': {error}}}}}, "
             "'buffers': []}).encode()\n"
             "os.write(int(sys.argv[2]), struct.pack('>IQ', len(h), 0) + h)\n")
    sandbox, ns, runs = sandbox_run(["x = 1\n", forge, "y = 2\n"])
    try:
        assert [r.status for r in runs] == ["ok", "crashed", "ok"] and "malformed" in runs[1].message
        assert ns.get("y") == 2
    finally:
        sandbox.close()


# A last cell that answers the exec request of its own (seq SEQ) and then serves every request itself:
# whatever the grader asks, the notebook writes the reply. "has" gets an array back.
TAKEOVER = r'''
import os, sys, struct, json
_r, _w = int(sys.argv[1]), int(sys.argv[2])
def _send(value, arrays=()):
    bufs, body = [], b""
    for a in arrays:
        bufs.append({"dtype": a.dtype.str, "shape": list(a.shape)}); body += a.tobytes()
    h = json.dumps({"value": value, "buffers": bufs}).encode()
    os.write(_w, struct.pack(">IQ", len(h), len(body)) + h + body)
def _read(n):
    b = b""
    while len(b) < n:
        b += os.read(_r, n - len(b))
    return b
def _serve_forever(my_seq):
    _send({"__dict__": {"ok": True, "seq": my_seq, "error": None, "stdout": ""}})
    while True:
        hl, bl = struct.unpack(">IQ", _read(12))
        req = json.loads(_read(hl)); _read(bl)
        d = req["value"]["__dict__"]
        if d["op"] == "has":
            _send({"__dict__": {"ok": True, "seq": d["seq"], "value": {"__nd__": 0}}}, [np.array([1, 2])])
        else:
            _send({"__dict__": {"ok": True, "seq": d["seq"], "value": None}})
_serve_forever(SEQ)
'''


def test_a_notebook_serving_the_requests_itself_cannot_crash_the_grader(namespaces):
    # run_item asks has(name) outside the checks' try; bool() of a forged array reply raised ValueError
    # out of grade_submission: an internal grader error instead of "relu is not defined".
    from autograder.runner import run_item
    from tests.autograder import fixture_assignment as fx

    sandbox, ns, runs = sandbox_run(["import numpy as np\n" + TAKEOVER.replace("SEQ", "1")])
    try:
        assert [r.status for r in runs] == ["ok"]
        result = run_item(fx.ITEMS[0], ns, include_hidden=True)
        assert result.score == 0.0 and "not defined" in result.render()
    finally:
        sandbox.close()


# -- notebook files ---------------------------------------------------------------------------------------
def test_a_notebook_nested_too_deeply_for_json_gets_an_error_row_not_an_internal_error(tmp_path):
    # json.loads raises RecursionError, which is no ValueError: it went out of grade_submission, and the
    # batch made it an "internal grader error" (exit code 3, a grader bug) instead of a broken-file row.
    from autograder.grader import grade_submission
    from tests.autograder import fixture_assignment as fx

    fx.write(fx.notebook(), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    path = fx.write(fx.notebook(), tmp_path / "submitted" / "eve" / fx.ASSIGNMENT / "fixture.ipynb")
    text = path.read_text().rstrip()
    path.write_text(text[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = grade_submission(path, source=tmp_path / "source", registry=fx.REGISTRY, limits=Limits(**FAST))
    assert result.error is not None and "is not valid notebook JSON" in result.error and result.score == 0.0


# -- an experiment graded through the student's own forward -----------------------------------------------
def test_an_untrained_network_that_returns_the_known_curve_does_not_pass_the_capacity_run():
    # The capacity run was judged by calling each network's own forward, which the notebook controls:
    # untrained networks whose forward returned sin(2x) got 3 / 3. It is now judged on the weights
    # parameters() reports, through the grader's forward (tests/autograder/test_experiments_trust.py).
    from tests.autograder.test_suite_unit3 import grade, namespace

    untrained = [("        train(model, x_fit, y_fit, loss=\"mse\", lr=lr, epochs=epochs, batch_size=batch_size, "
                  "seed=seed)\n", "        model.forward = lambda x, training=False: np.sin(2.0 * x)\n")]
    result = grade("u3_capacity", namespace({"u3_capacity_impl": untrained}))
    falls = [s for s in result.subchecks if "fresh points" in s.what or "fits the curve" in s.what]
    assert falls and not all(s.passed for s in falls), result.render(show_hidden_details=True)


# -- a submission that is a symbolic link -----------------------------------------------------------------
def test_a_submitted_notebook_that_links_to_the_trusted_one_gets_no_credit(tmp_path, namespaces):
    # unzip restores symbolic links, and a Gradescope submission from GitHub is a git checkout: the grader
    # (root on Gradescope) read the link's target, here the instructor's notebook with its solutions: 10 / 10.
    import os

    from autograder.grader import grade_submission
    from tests.autograder import fixture_assignment as fx

    fx.write(fx.notebook(), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    link = tmp_path / "submitted" / "mallory" / fx.ASSIGNMENT / "fixture.ipynb"
    link.parent.mkdir(parents=True)
    os.symlink("../../../source/fixture/fixture.ipynb", link)
    result = grade_submission(link, source=tmp_path / "source", registry=fx.REGISTRY, limits=Limits(**FAST))
    assert result.score == 0.0 and "symbolic link" in (result.error or "")


def test_a_link_to_another_students_notebook_stays_in_its_own_folder(tmp_path):
    # discover() placed a notebook by its resolved path: aaron's link to zed's notebook became a row for
    # zed, zed's own notebook was dropped as its duplicate, and aaron had no row at all.
    import os

    from autograder import batch

    for student in ("aaron", "zed"):
        (tmp_path / "submitted" / student / "unit1").mkdir(parents=True)
    (tmp_path / "submitted" / "zed" / "unit1" / "unit1.ipynb").write_text("{}")
    os.symlink("../../zed/unit1/unit1.ipynb", tmp_path / "submitted" / "aaron" / "unit1" / "unit1.ipynb")
    subs = batch.discover([tmp_path / "submitted"])
    assert sorted((s.student, s.key) for s in subs) == [("aaron", "aaron/unit1/unit1"), ("zed", "zed/unit1/unit1")]
    assert len(batch.discover([tmp_path / "submitted", tmp_path / "submitted" / "zed"])) == 2   # still deduplicated


# -- the same notebook through nnkit grade and through nbgrader autograde ---------------------------------
def test_a_copied_solution_cell_runs_as_in_jupyter_whichever_grader_reads_the_notebook(tmp_path, namespaces):
    # Copying a solution cell in Jupyter copies its nbgrader metadata. nnkit grade ran only the first cell
    # with a grade id and skipped the copy; nbgrader's DeduplicateIds (before the sandbox in autograde) keeps
    # the last and turns the first into a plain cell, so both run. A fix in the copy scored 0 in one grader
    # and full marks in the other.
    import copy

    import nbformat
    from nbgrader.preprocessors import DeduplicateIds

    from autograder.grader import grade_submission
    from tests.autograder import fixture_assignment as fx

    fx.write(fx.notebook(), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    nb = fx.notebook({"relu": "def relu(z):\n    return z * 1.0\n"})
    at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "relu_solution")
    fixed = copy.deepcopy(nb.cells[at])
    fixed.source, fixed.id = fx.HONEST["relu"], "relu-solution-copy"
    nb.cells.insert(at + 1, fixed)
    scores = {}
    for grader, notebook in (("nnkit", nb), ("nbgrader", DeduplicateIds().preprocess(copy.deepcopy(nb), {})[0])):
        path = fx.write(nbformat.from_dict(notebook), tmp_path / grader / "submitted" / "eve" / fx.ASSIGNMENT
                        / "fixture.ipynb")
        result = grade_submission(path, source=tmp_path / "source", registry=fx.REGISTRY, limits=Limits(**FAST))
        scores[grader] = {i.grade_id: i.score for i in result.items}
    assert scores["nnkit"] == scores["nbgrader"] and scores["nnkit"]["fx_relu"] == 2.0, scores


# -- CPU used while the grader waits for the rest of a message --------------------------------------------
SLOW_FRAME = r'''
import os, sys, struct, json, time
def spin_inside_a_frame(seconds, forged):
    f = sys._getframe()
    while f.f_code.co_name != "_serve":
        f = f.f_back
    seq = f.f_locals["seq"] if forged == "reply" else 0    # this request's reply (a stale one was caught)
    h = json.dumps({"value": {"__dict__": {"ok": True, "seq": seq, "value": "done", "stdout": ""}},
                    "buffers": []}).encode()
    frame = struct.pack(">IQ", len(h), 0) + h
    os.write(int(sys.argv[2]), frame[:1])     # the grader reads on, for up to 60 s, and looked at no clock
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    os.write(int(sys.argv[2]), frame[1:])
    return "done"
'''


def test_a_call_cannot_outrun_its_cpu_budget_inside_a_half_written_message(namespaces):
    # Before the fix a call with a 0.5 s CPU budget used 1.5 s (up to 60 s of wall clock, times its threads)
    # and its result was taken: the limits were looked at only between messages.
    from autograder.handle import OutOfTime

    sandbox = Sandbox([("cell 1", SLOW_FRAME)], Limits(**{**FAST, "call_timeout": 0.5}), Policy())
    try:
        sandbox.boot()
        sandbox.begin_item()
        with pytest.raises(OutOfTime, match="CPU time for this call"):
            RemoteHandle(sandbox).call("spin_inside_a_frame", 1.5, "reply")
    finally:
        sandbox.close()


# -- memory the address-space limit does not count --------------------------------------------------------
FILL = r'''
import os
def fill(folder, limit):
    """Bytes written into ``folder`` in files of 16 MiB (under RLIMIT_FSIZE), opened by descriptor so that
    the audit hook sees relative names only (it is not the boundary), until ``limit`` or an error."""
    total, files, chunk = 0, 0, b"\1" * (1 << 20)
    dfd = os.open(folder, os.O_RDONLY)
    try:
        while total < limit:
            fd = os.open(f"fill{files}", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=dfd)
            files += 1
            try:
                for _ in range(16):
                    written = os.write(fd, chunk)
                    total += written
                    if written < len(chunk):
                        return total
            finally:
                os.close(fd)
    except OSError:
        return total
    finally:
        for n in range(files):
            os.unlink(f"fill{n}", dir_fd=dfd)
        os.close(dfd)
    return total
'''


def test_the_workers_scratch_folders_are_capped_and_the_rest_is_read_only(namespaces):
    # /tmp, /dev (with /dev/shm) and the empty folders over the interpreter's site-packages were tmpfs of
    # no set size: each could hold half the host's memory, which RLIMIT_AS does not count, so one
    # submission could push the host into the OOM killer and take down another's worker or the grader.
    import os
    import sys
    import sysconfig

    from autograder.isolation import SCRATCH_BYTES

    base = sys.base_prefix   # the interpreter's own site-packages, masked by an empty tmpfs in the worker
    site = os.path.realpath(sysconfig.get_paths(vars={"base": base, "platbase": base})["purelib"])
    sandbox, ns, runs = sandbox_run([FILL])
    try:
        sizes = {folder: ns.call("fill", folder, 2 * SCRATCH_BYTES) for folder in ("/tmp", "/dev/shm", "/dev", site)}
        assert 0 < sizes["/tmp"] <= SCRATCH_BYTES and 0 < sizes["/dev/shm"] <= SCRATCH_BYTES, sizes
        assert sizes["/dev"] == 0 and sizes[site] == 0, sizes
    finally:
        sandbox.close()
