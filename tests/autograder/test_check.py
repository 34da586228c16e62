"""The in-kernel API: check(), run_item() scoring, and nbgrader reading our return value."""

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
