"""The grading policy: each unit's import allow-list, the staged nnkit view, and the hidden labels.

The per-unit tests grade each real unit notebook, cut after its first graded item (so they stay fast), in
the namespace sandbox with the kit's own suites: a notebook that takes the item's answer from the graded
reference gets no credit and a flag naming the module; the same notebook without that import gets full
credit; and what the unit provides works.
"""

import copy
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from autograder import notebook, policy
from autograder.grader import grade_submission
from autograder.handle import RemoteHandle
from autograder.items import default_registry
from autograder.sandbox import Limits, Policy, Sandbox, temp_root
from tests.conftest import require_namespaces

LIMITS = Limits(cell_timeout=120, call_timeout=30, isolation="namespace")
# unit -> (an import of the graded reference that answers the first item, the module it must name)
CHEATS = {
    "unit1": ("from nnkit.activations import heaviside\n", "nnkit.activations"),
    "unit2": ("from nnkit.autodiff import Value\n", "nnkit.autodiff"),
    "unit3": ("from nnkit.activations import sigmoid, relu, tanh\n", "nnkit.activations"),
    "unit4": ("import nnkit.optim as optim\n", "nnkit.optim"),
    "unit5": ("from nnkit.layers import conv\n", "nnkit.layers"),
}


def _first_item(unit, tmp_path):
    """The unit's solution notebook up to its first test cell, written as a trusted source."""
    nb = json.loads((notebook.Path("solutions") / unit / f"{unit}.ipynb").read_text())
    cut = next(i for i, c in enumerate(nb["cells"])
               if c["cell_type"] == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")
               and not c["metadata"]["nbgrader"].get("solution"))
    nb["cells"] = nb["cells"][:cut + 1]
    grade_id = nb["cells"][cut]["metadata"]["nbgrader"]["grade_id"]
    source = tmp_path / "source" / unit / f"{unit}.ipynb"
    source.parent.mkdir(parents=True)
    source.write_text(json.dumps(nb))
    return nb, grade_id, tmp_path / "source"


def _submit(nb, tmp_path, unit, name, extra=None):
    nb = copy.deepcopy(nb)
    if extra is not None:
        last_solution = max(i for i, c in enumerate(nb["cells"])
                            if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
        cell = nb["cells"][last_solution]
        cell["source"] = "".join(cell["source"]) + "\n" + extra
    path = tmp_path / "submitted" / name / unit / f"{unit}.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(nb))
    return path


@pytest.mark.parametrize("unit", sorted(CHEATS))
def test_importing_the_graded_reference_costs_the_item_in_every_unit(unit, tmp_path, namespaces):
    nb, grade_id, source = _first_item(unit, tmp_path)
    cheat, module = CHEATS[unit]
    honest = grade_submission(_submit(nb, tmp_path, unit, "honest"), source=source, limits=LIMITS)
    cheater = grade_submission(_submit(nb, tmp_path, unit, "cheater", cheat), source=source, limits=LIMITS)
    assert honest.isolation == cheater.isolation == "namespace"
    item = {i.grade_id: i for i in honest.items}[grade_id]
    assert item.score == item.points > 0, item.render()
    flagged = {i.grade_id: i for i in cheater.items}[grade_id]
    assert flagged.score == 0.0 and module in flagged.flag and "graded code must be your own" in flagged.flag
    # and the reference is not even there: the import failed in the worker
    assert any(c["status"] == "error" and "nnkit" in c["message"] for c in cheater.cells), cheater.cells


def test_what_unit5_provides_is_importable_and_costs_nothing(tmp_path, namespaces):
    nb, grade_id, source = _first_item("unit5", tmp_path)
    uses = "from nnkit.optim import SGD\nfrom nnkit.train import fit\nfrom nnkit.losses import mse\n"
    result = grade_submission(_submit(nb, tmp_path, "unit5", "student", uses), source=source, limits=LIMITS)
    item = {i.grade_id: i for i in result.items}[grade_id]
    assert item.score == item.points and item.flag is None and result.flags == []
    assert all(c["status"] == "ok" for c in result.cells), result.cells


def test_each_unit_declares_its_allow_list():
    registry = default_registry()
    base = tuple(sorted(policy.BASE_PROVIDED))
    for unit in ("unit1", "unit2", "unit3", "unit4"):
        assert registry.provides_for([f"u{unit[4:]}_x"]) == base
    unit5 = registry.provides_for(["u5_conv_output_size"])
    assert {"nnkit.optim", "nnkit.train", "nnkit.losses"} <= set(unit5) and "nnkit.layers" not in unit5


def test_the_staged_view_holds_exactly_the_provided_modules():
    view = policy.stage_view(policy.BASE_PROVIDED, temp_root()) / "lib" / "nnkit"
    files = sorted(str(p.relative_to(view)) for p in view.rglob("*.py"))
    assert "__init__.py" in files and "data.py" in files and "plot.py" in files
    for graded in ("activations.py", "losses.py", "autodiff.py", "layers/conv.py", "optim/sgd.py"):
        assert graded not in files
    # bytecode of exactly the staged modules (compiled by the grader, see below): none of a graded module
    compiled = sorted(str(p.relative_to(view)) for p in view.rglob("*.pyc"))
    assert compiled == sorted(str(Path(importlib.util.cache_from_source(str(view / f))).relative_to(view))
                              for f in files)
    worker_half = view.parent.parent / "grader" / "autograder"
    assert sorted(p.name for p in worker_half.glob("*.py")) == [
        "__init__.py", "namespace.py", "protocol.py", "worker.py"]                 # no suites, no checks
    assert sorted(p.name for p in worker_half.iterdir()) == [
        "__init__.py", "__pycache__", "namespace.py", "protocol.py", "worker.py"]
    assert len(list((worker_half / "__pycache__").iterdir())) == 4
    unit5 = policy.view_modules(default_registry().provides_for(["u5_conv_output_size"]))
    assert "nnkit.optim.sgd" in unit5 and "nnkit.train" in unit5 and not any(
        m.startswith("nnkit.layers") for m in unit5)


def test_a_provided_module_that_needs_an_unprovided_one_is_a_configuration_error(tmp_path):
    pkg = tmp_path / "nnkit"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "data.py").write_text("import numpy\n")
    (pkg / "helper.py").write_text("from nnkit import secret_maths\n")
    (pkg / "secret_maths.py").write_text("x = 1\n")
    (pkg / "_private.py").write_text("y = 2\n")
    (pkg / "uses_private.py").write_text("from nnkit import _private\n")
    assert set(policy.view_modules(("nnkit.uses_private",), pkg)) == {"nnkit", "nnkit.uses_private",
                                                                        "nnkit._private"}
    with pytest.raises(ValueError, match="nnkit.helper is provided but imports nnkit.secret_maths"):
        policy.view_modules(("nnkit.helper",), pkg)


def test_held_out_labels_are_not_in_the_workers_data(namespaces):
    from nnkit import data
    host = data.digits_splits()
    cells = [("c1", "from nnkit.data import load_digits, digits_splits\nimport numpy as np\n"
                    "X_all, y_all = load_digits()\nd = digits_splits()\n"
                    "table = {np.round(x, 6).tobytes(): y for x, y in zip(X_all, y_all)}\n"
                    "def lookup(X, raw):\n"
                    "    return np.array([table.get(np.round(r, 6).tobytes(), -1) for r in raw], dtype=np.int64)\n")]
    sandbox = Sandbox(cells, Limits(isolation="namespace"), Policy())
    try:
        runs = sandbox.boot()
        assert [r.status for r in runs] == ["ok"], runs
        ns = RemoteHandle(sandbox)
        worker = ns.get("d")
        for key in ("X_train", "y_train", "X_val", "y_val", "X_test"):
            np.testing.assert_array_equal(worker[key], host[key])
        assert (worker["y_test"] == -1).all() and (host["y_test"] >= 0).all()
        X_all, y_all = data.load_digits()
        # a lookup table of every label the worker can see classifies the held-out images no better than -1
        test_rows = _test_rows(host)
        predicted = ns.call("lookup", host["X_test"], X_all[test_rows])
        assert np.mean(predicted == host["y_test"]) == 0.0
        # control: with the host's labels the same table is perfect
        table = {np.round(x, 6).tobytes(): y for x, y in zip(X_all, y_all)}
        control = np.array([table[np.round(r, 6).tobytes()] for r in X_all[test_rows]])
        assert np.mean(control == host["y_test"]) == 1.0
    finally:
        sandbox.close()


def _test_rows(host):
    """Row indices of the held-out test images in ``load_digits()`` order."""
    from nnkit import data
    X, y = data.load_digits()
    split = data.train_val_test_split(np.arange(len(y)), y, val_size=0.2, test_size=0.2, seed=0, stratify=True)
    np.testing.assert_array_equal(y[split["X_test"]], host["y_test"])
    return split["X_test"]
