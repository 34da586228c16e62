"""Adversarial submissions: each must be graded correctly, with no grader crash and no wrong credit."""

import json
import os

import nbformat
import pytest

from autograder.grader import grade_submission
from autograder.sandbox import Limits
from tests.autograder import fixture_assignment as fx

LIMITS = Limits(cell_timeout=2.0, call_timeout=2.0, memory_bytes=1024 ** 3, isolation="namespace")  # CPU s
WRONG_RELU = "def relu(z):\n    return z * 1.0\n"


@pytest.fixture()
def course(tmp_path, namespaces):
    fx.write(fx.notebook(), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    return tmp_path


def grade(course, code=None, *, extra_cells=(), test_cells=None, name="student", nb=None, limits=LIMITS):
    path = fx.write(nb if nb is not None else fx.notebook(code, test_cells=test_cells, extra_cells=extra_cells),
                    course / "submitted" / name / fx.ASSIGNMENT / "fixture.ipynb")
    result = grade_submission(path, source=course / "source", registry=fx.REGISTRY, limits=limits)
    assert result.error is None, result.error
    assert result.isolation == "namespace"
    return result, {i.grade_id: i.score for i in result.items}


FULL = {"fx_relu": 2.0, "fx_relu_grad": 2.0, "fx_softmax": 2.0, "fx_linear": 3.0, "fx_mse": 1.0}


def test_honest_submission_gets_full_marks(course):
    result, scores = grade(course)
    assert scores == FULL and result.score == 10.0 and result.flags == []


def test_stubs_get_zero_with_implement_first(course):
    result, scores = grade(course, fx.STUBS)
    assert result.score == 0.0
    assert "implement `relu` first" in result.items[0].render()


def test_untouched_stubs_get_one_line_per_item_in_the_terminal_report(course):
    from autograder import report
    result, _ = grade(course, fx.STUBS)
    lines = report.render_text(result).splitlines()
    stub_lines = [line for line in lines if "first" in line]
    assert stub_lines == ["fx_relu -- relu(z): 0 / 2 points: implement `relu` first",
                          "fx_relu_grad -- relu_backward(z, dout): 0 / 2 points: implement `relu_backward` first",
                          "fx_softmax -- softmax(z): 0 / 2 points: implement `softmax` first",
                          "fx_linear -- Linear layer: 0 / 3 points: implement `Linear` first",
                          "fx_mse -- mse(pred, target): 0 / 1 points: implement `mse` first"]
    assert len(lines) == 1 + len(stub_lines)       # the headline, then one line per item
    reloaded = type(result).from_dict(json.loads(json.dumps(result.to_dict())))   # a resumed run's result
    assert report.render_text(reloaded) == report.render_text(result)


@pytest.mark.parametrize("patch", [
    "np.allclose = lambda *a, **k: True\nnp.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)\n"
    "np.testing.assert_allclose = lambda *a, **k: None\nnp.array_equal = lambda *a, **k: True\n",
    "import builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.abs = lambda x: 0\nbuiltins.max = lambda *a, **k: 0\n",
    "get_ipython().input_transformers_cleanup.append(lambda lines: ['relu = lambda z: z'])\n",
    "import sys\nsys.modules['numpy'].allclose = lambda *a, **k: True\n",
])
def test_monkeypatching_cannot_fake_a_pass(course, patch):
    _, scores = grade(course, {"relu": WRONG_RELU + patch})
    assert scores["fx_relu"] == 0.0
    assert scores["fx_softmax"] == 2.0 and scores["fx_linear"] == 3.0


def test_printing_fake_results_changes_nothing(course):
    fake = WRONG_RELU + 'print("fx_relu -- relu(z): 2 / 2 points")\nprint(2.0)\n'
    result, scores = grade(course, {"relu": fake}, extra_cells=["print('Total: 10 / 10')\n2.0"])
    assert scores["fx_relu"] == 0.0 and result.score == 7.0   # relu_grad loses its numeric check too


@pytest.mark.parametrize("test_cells", [
    {"fx_relu": "print('all good')\n2.0\n"},                     # edited test cell
    {"fx_relu": None, "fx_softmax": None},                        # deleted test cells
    {"fx_relu": "relu = lambda z: np.maximum(z, 0.0) * 0 + 1"},   # a test cell that redefines a function
])
def test_edited_or_deleted_test_cells_change_nothing(course, test_cells):
    _, scores = grade(course, {"relu": WRONG_RELU}, test_cells=test_cells)
    assert scores["fx_relu"] == 0.0 and scores["fx_softmax"] == 2.0
    _, honest = grade(course, test_cells=test_cells, name="honest")
    assert honest == FULL


def test_infinite_loop_in_a_cell_and_in_a_function(course):
    result, scores = grade(course, {"relu": "def relu(z):\n    while True:\n        pass\n"},
                           extra_cells=["while True:\n    pass\n"])
    assert scores["fx_relu"] == 0.0 and scores["fx_softmax"] == 2.0 and scores["fx_linear"] == 3.0
    assert "s of CPU time for this call" in result.items[0].render()
    assert any(c["status"] == "crashed" and "s of CPU time for this cell" in c["message"] for c in result.cells)


@pytest.mark.parametrize("bomb", [
    "x = np.ones((1 << 20, 1 << 12))\n",
    "def bomb():\n    hog = []\n    while True:\n        hog.append(bytearray(1 << 24))\nbomb()\n",
])
def test_memory_bomb_is_contained(course, bomb):
    # (A bomb that keeps its memory referenced from a global leaves the notebook's later code without
    # memory, as it would in Jupyter; these two release it when the MemoryError unwinds.)
    result, scores = grade(course, extra_cells=[bomb])
    assert scores == FULL
    assert any("MemoryError" in c["message"] or c["status"] == "crashed" for c in result.cells)


@pytest.mark.parametrize("bomb", [
    "import os\nwhile True:\n    os.fork()\n",
    "import subprocess\nsubprocess.run(['sh', '-c', ':(){ :|:& };:'])\n",
    "import os\nos.system('echo pwned > /tmp/nnkit-pwned')\n",
    "import multiprocessing\nmultiprocessing.Process(target=print).start()\n",
    "import os\nos.posix_spawn('/bin/true', ['true'], {})\n",
    "import _posixsubprocess\n_posixsubprocess.fork_exec\n",
])
def test_process_creation_is_blocked(course, bomb):
    result, scores = grade(course, extra_cells=[bomb])
    assert scores == FULL
    assert result.cells[-1]["status"] == "error"
    assert not os.path.exists("/tmp/nnkit-pwned")


@pytest.mark.parametrize("crash", ["import os\nos._exit(0)\n", "import sys\nsys.exit(1)\n",
                                   "import faulthandler\nfaulthandler._sigsegv()\n",
                                   "import ctypes\nctypes.string_at(0)\n"])
def test_exits_and_segfaults_in_cells_do_not_stop_grading(course, crash):
    result, scores = grade(course, extra_cells=[crash])
    assert scores == FULL
    assert result.cells[-1]["status"] in ("crashed", "error")


def test_worker_crash_in_one_item_then_grading_continues(course):
    code = {"relu": "def relu(z):\n    import faulthandler\n    faulthandler._sigsegv()\n",
            "softmax": "def softmax(z):\n    import os\n    os._exit(3)\n"}
    result, scores = grade(course, code)
    assert scores["fx_relu"] == 0.0 and scores["fx_softmax"] == 0.0
    assert scores["fx_linear"] == 3.0 and scores["fx_mse"] == 1.0
    text = "\n".join(i.render() for i in result.items)
    assert "segmentation fault" in text and "exited with code 3" in text


def test_huge_output_is_truncated(course):
    result, scores = grade(course, {"relu": "def relu(z):\n    print('y' * 10**7)\n    return np.where(z > 0, z, 0.0)\n"},
                           extra_cells=["print('x' * 10**8)\n"])
    assert scores == FULL
    assert len(json.dumps(result.to_dict())) < 200_000


def test_static_import_of_the_reference_is_flagged(course):
    code = {"relu": "from autograder.items import Item\n" + fx.HONEST["relu"]}
    result, scores = grade(course, code)
    assert all(s == 0.0 for s in scores.values())
    assert "imports autograder" in result.items[0].flag


def test_obfuscated_runtime_import_is_blocked_and_flagged(course):
    sneaky = ("import importlib\ntry:\n    ag = importlib.import_module(''.join(['auto', 'grader']))\n"
              "except ImportError:\n    ag = None\n")
    result, scores = grade(course, extra_cells=[sneaky])
    assert all(s == 0.0 for s in scores.values())
    assert "tried to import autograder" in result.items[0].flag


def test_reading_the_trusted_notebook_fails(course):
    # relu is right only if the trusted notebook was read: full marks would mean a leak.
    leak = ("leaked = ''\ntry:\n    leaked = open({path!r}).read()\nexcept OSError as exc:\n    why = repr(exc)\n"
            "def relu(z):\n    return np.where(z > 0, z, 0.0) if 'fx_relu' in leaked else z\n")
    path = str(course / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    result, scores = grade(course, {"relu": leak.format(path=path)})
    assert scores["fx_relu"] == 0.0 and scores["fx_softmax"] == 2.0


@pytest.mark.parametrize("attempt", [
    "import os\nos.symlink({src!r}, 'link.ipynb')\n",
    "import os\nos.link({src!r}, 'hard.ipynb')\n",
    "open('/tmp/nnkit-pwned', 'w').write('x')\n",
    "import os\nos.kill(os.getppid(), 9)\n",
    "import gc\ngc.get_objects()\n",
    "import os\nos.listdir({dir!r})\n",
])
def test_filesystem_and_process_escapes_are_blocked(course, attempt):
    src = str(course / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    result, scores = grade(course, extra_cells=[attempt.format(src=src, dir=os.path.dirname(src))])
    assert scores == FULL and result.cells[-1]["status"] == "error"
    assert not os.path.exists("/tmp/nnkit-pwned")


@pytest.mark.parametrize("relu", [
    "def relu(z):\n    return list(np.where(z > 0, z, 0.0))\n",                     # a list
    "def relu(z):\n    class Liar:\n        def __eq__(self, o):\n            return True\n    return Liar()\n",
    "def relu(z):\n    return np.full(z.shape, np.nan)\n",                             # NaN
    "def relu(z):\n    return np.where(z > 0, z, 0.0).astype(np.float32)\n",          # wrong dtype
    "def relu(z):\n    return np.where(z > 0, z, 0.0).astype(object)\n",              # object dtype
    "def relu(z):\n    class A(np.ndarray):\n        def __eq__(s, o):\n            return True\n"
    "    return np.where(z > 0, z, 0.0).view(A) * 0\n",                               # lying ndarray subclass
    "def relu(z):\n    return None\n",
])
def test_bad_return_values_get_no_credit(course, relu):
    _, scores = grade(course, {"relu": relu})
    assert scores["fx_relu"] == 0.0 and scores["fx_softmax"] == 2.0


def test_mutating_inputs_and_returning_views_is_graded_on_values(course):
    relu = "def relu(z):\n    z[z < 0] = 0.0\n    return z\n"          # correct values, mutates its input
    _, scores = grade(course, {"relu": relu})
    assert scores == FULL


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"\xff\xfe\x00garbage", "not UTF-8"),
                                              (b"{not json", "not valid notebook JSON"),
                                              (b'{"cells": 3}', "not a Jupyter notebook")])
def test_broken_notebooks_get_a_clear_error(course, content, message):
    path = course / "submitted" / "x" / fx.ASSIGNMENT / "fixture.ipynb"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    result = grade_submission(path, source=course / "source", registry=fx.REGISTRY, limits=LIMITS)
    assert message in result.error and result.score == 0.0


def test_foreign_notebook_is_refused(course):
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": "other_q1", "solution": True,
                                                                         "grade": False, "locked": False}})]
    path = fx.write(nb, course / "submitted" / "x" / fx.ASSIGNMENT / "fixture.ipynb")
    result = grade_submission(path, source=course / "source", registry=fx.REGISTRY, limits=LIMITS)
    assert "not the assignment" in result.error


def test_student_added_cells_run_and_locked_cells_come_from_the_trusted_copy(course):
    nb = fx.notebook({"relu": "def relu(z):\n    return helper(z)\n"},
                     extra_cells=[])
    nb.cells.insert(2, nbformat.v4.new_code_cell("def helper(z):\n    return np.where(z > 0, z, 0.0)\n"))
    nb.cells[1].source = "np = None\n"    # the student edited the locked setup cell
    _, scores = grade(course, nb=nb)
    assert scores == FULL


def test_grading_is_deterministic(course):
    code = {"softmax": "def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)\n"}
    # one notebook, written twice: the same bytes (a new fx.notebook would draw new cell ids, so a new sha256)
    nb = fx.notebook(code, extra_cells=["import random\nprint(set('abcdef'), random.random())\n"])
    first, _ = grade(course, nb=nb)
    second, _ = grade(course, nb=nb)
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k != "seconds"}  # noqa: E731
    assert strip(first) == strip(second)


def test_slow_calls_are_bounded_by_the_item_budget(course, tmp_path):
    busy = ("import time\ndef relu(z):\n    end = time.process_time() + 0.3\n    while time.process_time() < end:\n"
            "        pass\n    return np.where(z > 0, z, 0.0)\n")
    path = fx.write(fx.notebook({"relu": busy}), course / "submitted" / "slow" / fx.ASSIGNMENT / "fixture.ipynb")
    limits = Limits(cell_timeout=1.5, call_timeout=1.5, item_timeout=1.0, isolation="namespace")
    result = grade_submission(path, source=course / "source", registry=fx.REGISTRY, limits=limits)
    scores = {i.grade_id: i.score for i in result.items}
    # relu_grad's numeric check calls relu dozens of times: 0.3 CPU-s each exhausts its 1 CPU-s budget
    assert scores["fx_relu_grad"] == 0.0 and "1 s of CPU time for this item" in result.items[1].render()
    assert scores["fx_relu"] == 2.0 and scores["fx_softmax"] == 2.0 and scores["fx_linear"] == 3.0


def test_reading_another_process_is_refused(course):
    leak = ("import os\ntry:\n    env = open(f'/proc/{os.getppid()}/environ', 'rb').read()\n"
            "except OSError as exc:\n    env = repr(exc)\n")
    result, scores = grade(course, extra_cells=[leak])
    assert scores == FULL and any("/proc/" in f for f in result.flags)


@pytest.mark.parametrize("sneaky", [
    "import nnkit\nfrom nnkit import losses as L\n",                                   # from-import of a submodule
    "import importlib\nL = importlib.import_module('nnkit.' + 'los' + 'ses')\n",         # a computed name
])
def test_runtime_imports_of_the_graded_reference_find_nothing_and_are_flagged(course, sneaky):
    result, scores = grade(course, extra_cells=[sneaky])
    assert result.cells[-1]["status"] == "error", result.cells[-1]
    assert "No module named" in result.cells[-1]["message"] or "cannot import name" in result.cells[-1]["message"]
    assert all(s == 0.0 for s in scores.values()), scores    # every fixture item forbids all of nnkit
    assert any("nnkit.losses" in f for f in result.flags), result.flags


def test_an_import_that_dodges_the_audit_hook_still_finds_nothing(course):
    # Removing the hook's finder and calling the import machinery directly fires no audit event, so
    # this one is not flagged: what stops it is that the graded module is not in the worker's view.
    sneaky = ("import sys, importlib._bootstrap as b\nsys.meta_path[:] = [f for f in sys.meta_path "
              "if type(f).__name__ != 'RefuseForbidden']\nb._gcd_import('nnkit.' + 'los' + 'ses')\n")
    result, scores = grade(course, extra_cells=[sneaky])
    assert result.cells[-1]["status"] == "error" and "No module named 'nnkit.losses'" in result.cells[-1]["message"]
    assert scores == FULL


@pytest.mark.parametrize("sneaky", [
    "import importlib.util, nnkit, os\np = os.path.join(os.path.dirname(nnkit.__file__), 'losses.py')\n"
    "spec = importlib.util.spec_from_file_location('x', p)\nm = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(m)\nmse_ref = m.mse\n",                                   # load the file by path
    "import nnkit, os\nexec(open(os.path.join(os.path.dirname(nnkit.__file__), 'los' + 'ses.py')).read())\n"
    "mse_ref = mse\n",
    "import glob, os\nfor p in glob.glob('/sandbox/**/losses.py', recursive=True) + glob.glob('/*/*/nnkit/losses.py'):\n    exec(open(p).read())\n"
    "mse_ref = mse\n",
])
def test_the_graded_reference_is_not_in_the_workers_view(course, sneaky):
    # mse is replaced by the reference's only if the attack found it: then the all-or-nothing item
    # would pass with the reference's (value, grad) -- the student's own mse here is wrong.
    wrong_mse = "def mse(pred, target):\n    return 0.0, pred * 0\n"
    result, scores = grade(course, {"mse": wrong_mse + sneaky.replace("mse_ref = mse", "")
                                    .replace("mse_ref = m.mse", "mse = m.mse")})
    assert scores["fx_mse"] == 0.0 and scores["fx_relu"] == 2.0, scores
    assert any(c["status"] == "error" and ("No such file" in c["message"] or "not allowed" in c["message"])
               for c in result.cells) or "glob" in sneaky, result.cells


def test_nnkit_data_and_plot_stay_importable(course):
    cell = ("from nnkit.data import truth_table\nimport nnkit.plot\nimport matplotlib.pyplot as plt\n"
            "X, y = truth_table('XOR')\nfig, ax = plt.subplots()\nax.plot(X[:, 0], y)\nfig.savefig('f.png')\n")
    slow_import = Limits(cell_timeout=60, call_timeout=5)      # importing matplotlib takes seconds on a busy CI
    result, scores = grade(course, extra_cells=[cell], limits=slow_import)
    assert scores == FULL and result.flags == [] and result.cells[-1]["status"] == "ok", result.cells[-1]


def test_compiled_bytecode_of_the_reference_is_refused(course):
    import importlib.util
    import py_compile

    origin = importlib.util.find_spec("nnkit.losses").origin
    pyc = importlib.util.cache_from_source(origin)
    if not os.path.exists(pyc):
        py_compile.compile(origin, cfile=pyc)   # what an ordinary `import nnkit.losses` leaves behind
    steal = (f"import marshal\ntry:\n    code = marshal.loads(open({pyc!r}, 'rb').read()[16:])\n"
             "    ns = {}\n    exec(code, ns)\n    mse_ref = ns['mse']\nexcept OSError:\n    mse_ref = None\n")
    steal += "def relu(z):\n    return z if mse_ref else np.where(z > 0, z, 0.0)\n"
    result, scores = grade(course, {"relu": steal})
    assert scores == FULL   # relu is wrong only if the bytecode was read


def test_sqlite_cannot_create_files_outside_the_work_dir(course):
    result, scores = grade(course, extra_cells=["import sqlite3\nsqlite3.connect('/tmp/nnkit-pwned.db')\n"])
    assert scores == FULL and result.cells[-1]["status"] == "error"
    assert not os.path.exists("/tmp/nnkit-pwned.db")


def test_other_students_results_in_the_out_folder_cannot_be_read(course):
    from autograder import batch
    out = course / "grades"
    fx.write(fx.notebook(), course / "submitted" / "alice" / fx.ASSIGNMENT / "fixture.ipynb")
    alice = out / "results" / "alice" / fx.ASSIGNMENT / "fixture.json"
    attempts = [f"open({str(alice)!r}).read()", f"os.listdir({str(out)!r})",
                f"os.listdir({str(out / 'results')!r})",
                f"open({str(out / 'results' / '..' / 'results' / 'alice' / fx.ASSIGNMENT / 'fixture.json')!r}).read()",
                f"open({str(out / 'grades.csv')!r}).read()"]
    leak = "import os\nleaked = []\n" + "".join(
        f"try:\n    leaked.append({a})\nexcept OSError:\n    pass\n" for a in attempts) + \
        "def relu(z):\n    return z if leaked else np.where(z > 0, z, 0.0)\n"
    fx.write(fx.notebook({"relu": leak}), course / "submitted" / "mallory" / fx.ASSIGNMENT / "fixture.ipynb")
    subs = batch.discover([course / "submitted"])
    assert [s.student for s in subs] == ["alice", "mallory"]          # alice's result exists before mallory runs
    results = batch.grade_batch(subs, out=out, jobs=1, progress=False, source=course / "source",
                                registry=fx.REGISTRY, limits=LIMITS)
    assert [r.score for r in results] == [10.0, 10.0]                  # nothing leaked into mallory's relu
    # a rerun (alice resumed, mallory forced) still refuses the grades.csv written by the first run
    (out / "results" / "mallory" / fx.ASSIGNMENT / "fixture.json").unlink()
    again = batch.grade_batch(subs, out=out, jobs=1, progress=False, source=course / "source",
                              registry=fx.REGISTRY, limits=LIMITS)
    assert [r.score for r in again] == [10.0, 10.0]
