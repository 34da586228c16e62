"""The in-kernel API: check(), run_item() scoring, and nbgrader reading our return value."""

import json
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_output

from autograder import check
from autograder.items import Item, Registry, load_registry
from autograder.runner import run_item
from autograder.handle import LocalHandle
from tests.autograder import fixture_assignment as fx


def honest_globals(**overrides):
    ns = {"np": np}
    for source in {**fx.HONEST, **overrides}.values():
        exec(source, ns)
    return ns


def test_check_full_marks_prints_to_stdout_only(capsys):
    score = check("fx_relu", honest_globals(), hidden=True, registry=fx.REGISTRY)
    assert type(score) is float and score == 2.0
    out, err = capsys.readouterr()
    assert "fx_relu" in out and "2 / 2 points" in out and err == ""


def test_partial_credit_is_proportional_to_subchecks(capsys):
    bad = "def relu(z):\n    return np.where(z > 0, z, 0.0) if z.ndim == 2 else z\n"
    score = check("fx_relu", honest_globals(relu=bad), registry=fx.REGISTRY)
    assert score == pytest.approx(1.0)   # 1 of 2 visible sub-checks


def test_stub_reads_implement_first_without_traceback(capsys):
    ns = honest_globals(softmax="def softmax(z):\n    raise NotImplementedError\n")
    assert check("fx_softmax", ns, registry=fx.REGISTRY) == 0.0
    out = capsys.readouterr().out
    assert "implement `softmax` first" in out and "Traceback" not in out


def test_missing_definition_is_named():
    ns = honest_globals()
    del ns["relu_backward"]
    result = run_item(fx.REGISTRY.get("fx_relu_grad"), LocalHandle(ns), include_hidden=False)
    assert result.score == 0.0 and "`relu_backward` is not defined" in result.render()


def test_all_or_nothing_item():
    wrong = "def mse(pred, target):\n    d = pred - target\n    return float(np.mean(d ** 2)), 2 * d\n"
    result = run_item(fx.REGISTRY.get("fx_mse"), LocalHandle(honest_globals(mse=wrong)), include_hidden=False)
    assert result.score == 0.0 and sum(s.passed for s in result.subchecks) == 1
    assert "summed over the batch" in result.render()


def test_hidden_details_are_not_rendered_but_result_is():
    ns = honest_globals(softmax="def softmax(z):\n    e = np.exp(z)\n    return e / e.sum(axis=-1, keepdims=True)\n")
    result = run_item(fx.REGISTRY.get("fx_softmax"), LocalHandle(ns), include_hidden=True)
    text = result.render()
    assert "(hidden) softmax of large inputs" in text and "details of hidden checks are not shown" in text
    assert "overflow" in text and result.score == 1.0
    assert "first mismatch" in result.render(show_hidden_details=True)


def test_student_arrays_are_not_shared_with_the_check():
    ns = honest_globals(relu="def relu(z):\n    z[z < 0] = 0\n    return z\n")   # mutates its input
    assert check("fx_relu", ns, registry=fx.REGISTRY) == 2.0   # the grader's z was a copy


def test_unknown_grade_id_and_bad_items_raise():
    with pytest.raises(ValueError, match="unknown grade_id 'nope'"):
        check("nope", {}, registry=fx.REGISTRY)
    with pytest.raises(ValueError, match="points must be a positive number"):
        Item("x", 0, "t", checks=(lambda ns, t: None,))
    with pytest.raises(ValueError, match="needs at least one check"):
        Item("x", 1, "t")
    with pytest.raises(ValueError, match="duplicate grade_id"):
        Registry([fx.ITEMS[0], fx.ITEMS[0]])


def test_item_forbid_policy():
    item = fx.ITEMS[0]
    assert item.forbids("autograder.tester") and item.forbids("nnkit.activations")
    assert not item.forbids("nnkit.data") and not item.forbids("nnkit") and not item.forbids("numpy")


def test_registry_tolerates_only_missing_suite_modules():
    reg = load_registry(units=("does_not_exist",))
    assert len(reg) == 0
    load_registry()  # the real units (whatever exists now) import cleanly


@pytest.mark.parametrize("score", [0.0, 1.0, 4.0 / 3.0, 2.0])
def test_nbgrader_reads_the_returned_float_as_partial_credit(score):
    from nbgrader.utils import determine_grade
    cell = new_code_cell("check(...)", metadata={"nbgrader": {"grade": True, "grade_id": "g", "points": 2,
                                                             "solution": False, "locked": True}})
    cell.outputs = [new_output("stream", name="stdout", text="feedback\n"),
                    new_output("execute_result", data={"text/plain": repr(float(score))}, execution_count=1)]
    assert determine_grade(cell) == (score, 2.0)


# A fresh interpreter in which importing the unit 3 suite fails, as a suite with a bug would.
_BROKEN_UNIT3 = '''
import sys, json
class BreakUnit3:
    def find_spec(self, name, path=None, target=None):
        if name == "autograder.suites.unit3":
            raise RuntimeError("unit 3 suite is broken")
        return None
sys.meta_path.insert(0, BreakUnit3())
'''


def _run_fresh(code: str) -> str:
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", _BROKEN_UNIT3 + code], cwd=root, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_check_imports_only_the_suite_of_the_grade_ids_unit():
    out = _run_fresh('''
import numpy as np
from autograder import check
from nnkit.activations import heaviside
score = check("u1_heaviside", {"np": np, "heaviside": heaviside})
loaded = sorted(m for m in sys.modules if m.startswith("autograder.suites."))
print(json.dumps({"score": score, "loaded": loaded}))
''')
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["score"] > 0 and "u1_heaviside" in out
    assert doc["loaded"] == ["autograder.suites.unit1"]


def test_default_registry_loads_a_units_helper_modules_and_iterates_all_units():
    out = _run_fresh('''
from autograder.items import default_registry
reg = default_registry()
assert "u4_sgd_momentum" in reg and reg.get("u2_value_ops").grade_id == "u2_value_ops"
loaded = sorted(m for m in sys.modules if m.startswith("autograder.suites."))
try:
    list(reg)
    print("iterated")
except RuntimeError as exc:
    print("iteration raised:", exc)
print(json.dumps(loaded))
''')
    lines = out.strip().splitlines()
    assert lines[0] == "iteration raised: unit 3 suite is broken"     # a broken suite is not hidden
    loaded = set(json.loads(lines[1]))
    # the two units asked for and their own helper modules, never unit 3 (broken) or the others
    assert {"autograder.suites.unit2", "autograder.suites.unit2_graphs", "autograder.suites.unit4",
            "autograder.suites.unit4_regularize"} <= loaded
    assert not any(m.split(".")[-1] in ("unit1", "unit3", "unit5") for m in loaded), loaded


def test_unit_registry_rejects_unknown_prefixes_and_misfiled_items(tmp_path, monkeypatch):
    from autograder.items import UnitRegistry, default_registry, unit_of
    assert unit_of("u12_x") == "unit12" and unit_of("fx_relu") is None and unit_of("u0_x") is None
    with pytest.raises(ValueError, match="start with one of u1_"):
        default_registry().get("heaviside")
    assert "u9_nothing" not in default_registry()
    assert [i.grade_id for i in default_registry()] == [i.grade_id for i in load_registry()]
    pkg = tmp_path / "fake_suites_misfiled"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "unit1.py").write_text("from autograder.items import Item\n"
                                  "ITEMS = [Item('u2_stray', 1, 'stray', checks=(print,))]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = UnitRegistry(units=("unit1",), package="fake_suites_misfiled")
    with pytest.raises(ValueError, match="u2_stray"):
        reg.get("u1_anything")


def test_trusted_grader_imports_only_the_suite_of_the_graded_assignment():
    out = _run_fresh('''
from autograder.grader import grade_submission
result = grade_submission("solutions/unit1/unit1.ipynb", source="solutions")
loaded = sorted(m for m in sys.modules if m.startswith("autograder.suites."))
auto = sum(i.points for i in result.items if not i.manual)
print(json.dumps({"error": result.error, "score": result.score, "max": result.max_score, "auto": auto,
                  "loaded": loaded}))
''')
    doc = json.loads(out.strip().splitlines()[-1])
    # max_score counts the written answers too (as nbgrader does); the autograder scores only the code items
    assert doc["error"] is None and doc["auto"] == 16 and doc["max"] == 18 and doc["score"] == doc["auto"]
    assert doc["loaded"] == ["autograder.suites.unit1"]


def test_untouched_stub_prints_one_line_in_the_kernel(capsys):
    ns = honest_globals(relu="def relu(z):\n    raise NotImplementedError\n")
    assert check("fx_relu", ns, registry=fx.REGISTRY) == 0.0          # two visible sub-checks
    assert capsys.readouterr().out == "fx_relu -- relu(z): 0 / 2 points: implement `relu` first\n"
    ns = honest_globals(softmax="def softmax(z):\n    raise NotImplementedError\n")
    assert check("fx_softmax", ns, hidden=True, registry=fx.REGISTRY) == 0.0   # visible + hidden
    assert capsys.readouterr().out == "fx_softmax -- softmax(z): 0 / 2 points: implement `softmax` first\n"


def test_partly_implemented_item_keeps_every_subcheck_line(capsys):
    # relu works, relu_backward is a stub: still one name, one line
    ns = honest_globals(relu_backward="def relu_backward(z, dout):\n    raise NotImplementedError\n")
    check("fx_relu_grad", ns, registry=fx.REGISTRY)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "implement `relu_backward` first" in out
    # one sub-check passes, the other hits a stub: every sub-check is shown
    ns = honest_globals(relu="def relu(z):\n    if z.ndim == 2:\n        raise NotImplementedError\n"
                             "    return np.where(z > 0, z, 0.0)\n")
    check("fx_relu", ns, registry=fx.REGISTRY)
    out = capsys.readouterr().out
    assert "[FAIL]" in out and "[ok  ]" in out and "implement `relu` first" in out and out.count("\n") > 2


# -- where the feedback goes: text outside a kernel, rich output inside one --------------------------------------

def _wrong_relu_ns():
    return honest_globals(relu="def relu(z):\n    return z * 1.0\n")


def test_outside_a_kernel_check_prints_exactly_the_text_report(capsys):
    expected = run_item(fx.REGISTRY.get("fx_relu"), LocalHandle(_wrong_relu_ns()), include_hidden=True).render()
    assert check("fx_relu", _wrong_relu_ns(), hidden=True, registry=fx.REGISTRY) == 0.0
    out, err = capsys.readouterr()
    assert out == expected + "\n" and err == ""
    assert "<table" not in out


def test_a_terminal_ipython_without_a_kernel_also_gets_the_text(monkeypatch, capsys):
    import sys
    import types

    shell = types.SimpleNamespace()                  # a terminal IPython shell has no .kernel
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    check("fx_relu", _wrong_relu_ns(), registry=fx.REGISTRY)
    assert capsys.readouterr().out.startswith("fx_relu -- ")


def test_in_a_kernel_check_displays_the_text_and_the_table_and_prints_nothing(monkeypatch, capsys):
    import sys
    import types

    from IPython.core.formatters import DisplayFormatter

    shown = []
    shell = types.SimpleNamespace(kernel=object())
    with monkeypatch.context() as patched:
        patched.setattr("IPython.display.display", lambda obj: shown.append(obj))
        patched.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
        score = check("fx_relu", _wrong_relu_ns(), hidden=True, registry=fx.REGISTRY)
    assert score == 0.0 and capsys.readouterr() == ("", "")
    (obj,) = shown
    bundle, _ = DisplayFormatter().format(obj)       # what a kernel would send to the front end (the real IPython)
    expected = run_item(fx.REGISTRY.get("fx_relu"), LocalHandle(_wrong_relu_ns()), include_hidden=True)
    assert bundle["text/plain"] == expected.render()
    assert bundle["text/html"].startswith("<div class='nnkit-feedback'>") and "fx_relu -- " in bundle["text/html"]
    assert "data:image/png;base64," in bundle["text/html"]
