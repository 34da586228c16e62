"""The unit 4 check suite against a correct student and against students with typical bugs.

As for unit 3, the students are the instructor notebook's code (``solutions/unit4/unit4.ipynb``) with one
solution cell edited per bug; each bug must cost points and the feedback must name it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from autograder.handle import LocalHandle
from autograder.items import load_registry
from autograder.runner import run_item
from tests.autograder.test_suite_unit3 import stub
from tests.notebooks._kit import SOLVED, apply_edit, nbgrader_meta, read_notebook, solution_notebook_path

REGISTRY = load_registry(["unit4"])


TRAINING_CELLS = {"u4_search_run"}   # the hyperparameter search: run only where its result is graded


def namespace(edits: dict | None = None, *, base=SOLVED, train: bool = False) -> dict:
    """The setup cell and every solution cell of unit 4 (no demos, no figures), with ``edits``."""
    nb = read_notebook(solution_notebook_path("unit4"))
    ns: dict = {"__name__": "__main__"}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if cell.cell_type != "code" or meta.get("grade") or not meta:
            continue
        if gid in TRAINING_CELLS and not train:
            continue
        source = cell.source
        if meta.get("solution"):
            edit = (edits or {}).get(gid, base)
            source = stub(source) if edit == "STUB" else apply_edit(source, edit, gid)
        try:
            exec(compile(source, f"<unit4:{gid}>", "exec"), ns)
        except Exception:
            # a stubbed or broken cell that trains at the top level (the search) stops there, as in Jupyter;
            # the instructor's notebook must run cleanly
            if base == SOLVED and not edits:
                raise
    return ns


def grade(grade_id: str, ns: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return run_item(REGISTRY.get(grade_id), LocalHandle(ns), include_hidden=True)


@pytest.fixture(scope="module")
def solved():
    return namespace(train=True)


@pytest.mark.parametrize("grade_id", [item.grade_id for item in REGISTRY])
def test_the_instructor_solution_scores_full_marks(solved, grade_id):
    result = grade(grade_id, solved)
    assert result.score == result.points, result.render(show_hidden_details=True)


def test_untouched_stubs_score_zero_and_say_what_to_implement():
    ns = namespace(base="STUB")
    for item in REGISTRY:
        result = grade(item.grade_id, ns)
        assert result.score == 0.0, result.render(show_hidden_details=True)
        assert "implement `" in result.render(), result.render()


def test_every_item_refuses_every_graded_reference_module():
    for item in REGISTRY:
        for module in ("nnkit.optim", "nnkit.init", "nnkit.train", "nnkit.layers", "nnkit.layers.regularize",
                       "autograder.suites.unit4"):
            assert item.forbids(module), (item.grade_id, module)
        assert not item.forbids("nnkit.data") and not item.forbids("nnkit.plot")


# Each case: (grade_id, solution cell, edit, text the feedback must contain).
BUGS = [
    ("u4_sgd_momentum", "u4_sgd_momentum_impl",
     [("v_new = momentum * np.asarray(v, dtype=float) + np.asarray(g, dtype=float)\n    return np.asarray(w, dtype=float) - lr * v_new, v_new",
       "v_new = momentum * np.asarray(v, dtype=float) + lr * np.asarray(g, dtype=float)\n    return np.asarray(w, dtype=float) - v_new, v_new")],
     "the velocity with lr folded in"),
    ("u4_sgd_momentum", "u4_sgd_momentum_impl", [("- lr * v_new, v_new", "- lr * np.asarray(g, dtype=float), v_new")],
     "plain SGD (the velocity is never used)"),
    ("u4_nesterov", "u4_nesterov_impl", [("- lr * (g + momentum * v_new), v_new", "- lr * v_new, v_new")],
     "classical momentum"),
    ("u4_rmsprop", "u4_rmsprop_impl", [("g / (np.sqrt(s_new) + eps)", "g / np.sqrt(s_new + eps)")],
     "eps inside the square root"),
    ("u4_adam", "u4_adam_impl", [("m_hat = m_new / (1.0 - beta1 ** t_new)", "m_hat = m_new"),
                                 ("v_hat = v_new / (1.0 - beta2 ** t_new)", "v_hat = v_new")],
     "Adam without bias correction"),
    ("u4_adam", "u4_adam_impl", [("    return w_new, m_new, v_new, t_new", "    return w_new, m_new, v_new, t")],
     "the state after 8 steps: part 2 (the step count)"),
    ("u4_init", "u4_init_impl", [("np.sqrt(2.0 / fan_in)", "np.sqrt(1.0 / fan_in)")], "1 / fan_in (LeCun)"),
    ("u4_init", "u4_init_impl", [("np.sqrt(2.0 / fan_in)", "2.0 / fan_in")], "std 2 / fan_in"),
    ("u4_init", "u4_init_impl", [("rng.uniform(-a, a, size=(int(fan_in), int(fan_out)))",
                                  "rng.normal(0.0, a / np.sqrt(3.0), size=(int(fan_in), int(fan_out)))")],
     "use rng.uniform"),
    ("u4_init", "u4_init_impl", [("np.sqrt(2.0 / fan_in), size=(int(fan_in), int(fan_out)))",
                                  "np.sqrt(2.0 / fan_in), size=(int(fan_out), int(fan_in)))")],
     "transposed?"),
    ("u4_rmsprop", "u4_rmsprop_impl", [("s_new = alpha * np.asarray(s, dtype=float) + (1.0 - alpha) * g * g",
                                        "s_new = (1.0 - alpha) * np.asarray(s, dtype=float) + alpha * g * g")],
     "alpha and 1 - alpha swapped"),
    ("u4_grad_norms", "u4_grad_norms_impl", [("float(np.linalg.norm(layer.grads[\"W\"]))",
                                              "float(np.sum(layer.grads[\"W\"] ** 2))")],
     "the squared norms"),
    ("u4_dropout", "u4_dropout_impl", [("mask = keep / (1.0 - p)", "mask = keep.astype(float)")],
     "not inverted"),
    ("u4_dropout", "u4_dropout_impl", [("keep = np.random.default_rng(seed).random(x.shape) >= p",
                                        "keep = np.random.default_rng(seed).random(x.shape) < 1 - p")],
     "keep = rng.random(x.shape) < 1 - p"),
    ("u4_penalties", "u4_penalties_impl", [("float(0.5 * lam * np.sum(W * W)), lam * W", "float(lam * np.sum(W * W)), 2 * lam * W")],
     "exactly 2x the expected"),
    ("u4_penalties", "u4_penalties_impl", [("norms = np.linalg.norm(W, axis=0)", "norms = np.linalg.norm(W, axis=1, keepdims=True)")],
     "rescaling rows instead of columns"),
    ("u4_early_stopping", "u4_early_stopping_impl", [("elif epoch - best_epoch >= patience:", "elif epoch - best_epoch > patience:")],
     "early_stopping([5, 4, 3, 3.5, 3.2, 3.1, 3.3], patience=3"),
]


@pytest.mark.parametrize("grade_id, cell, edit, message", BUGS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BUGS)])
def test_a_typical_bug_costs_points_and_is_named(grade_id, cell, edit, message):
    for old, _ in edit:
        assert old in "".join(c.source for c in read_notebook(solution_notebook_path("unit4")).cells), old
    result = grade(grade_id, namespace({cell: edit}))
    text = result.render(show_hidden_details=True)
    assert 0.0 <= result.score < result.points, text
    assert message in text, text


def test_dropout_that_ignores_training_false_loses_the_hidden_check():
    edit = [("    if not training:\n        return x.copy(), np.ones_like(x)\n", "")]
    text = grade("u4_dropout", namespace({"u4_dropout_impl": edit})).render(show_hidden_details=True)
    assert "[FAIL] (hidden) with training=False dropout is the identity" in text


@pytest.mark.parametrize("secret", ["a", "b", "c", "d", "e"])
def test_the_solution_scores_full_marks_whatever_the_instructor_secret(solved, secret):
    # Hidden inputs depend on the instructor's secret; sampling-based checks (init statistics, dropout rates)
    # and tolerance-based ones must pass a correct student for any secret.
    for item in REGISTRY:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = run_item(item, LocalHandle(solved), include_hidden=True, secret=secret)
        assert result.score == result.points, result.render(show_hidden_details=True)


def test_a_numpy_integer_epoch_is_accepted_by_early_stopping():
    ns = namespace()
    inner = ns["early_stopping"]
    ns["early_stopping"] = lambda *a, **k: tuple(None if v is None else np.int64(v) for v in inner(*a, **k))
    assert grade("u4_early_stopping", ns).score == 2.0


ES_IMPROVES = "        if loss < best - min_delta:\n"


@pytest.mark.parametrize("improves", ["best - loss > min_delta", "loss + min_delta < best"])
def test_early_stopping_written_with_another_rounding_gets_full_marks_whatever_the_secret(improves):
    """`loss < best - min_delta` and `best - loss > min_delta` round differently when a loss sits exactly
    min_delta below the best (3.0 - 0.1 == 2.9 but 3.0 - 2.9 > 0.1): no history may put one there."""
    ns = namespace({"u4_early_stopping_impl": [(ES_IMPROVES, f"        if {improves}:\n")]})
    for secret in [f"secret {k}" for k in range(24)]:
        result = run_item(REGISTRY.get("u4_early_stopping"), LocalHandle(ns), include_hidden=True, secret=secret)
        assert result.score == result.points, result.render(show_hidden_details=True)
