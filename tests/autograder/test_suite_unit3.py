"""The unit 3 check suite against a correct student and against students with typical bugs.

The students are the instructor notebook's own code (``solutions/unit3/unit3.ipynb``): every code cell but the
test cells and the figures, with a scripted edit of one solution cell for each bug. Each bug must cost points and
the feedback must name it.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from autograder.handle import LocalHandle
from autograder.items import load_registry
from autograder.runner import run_item
from tests.notebooks._kit import SOLVED, apply_edit, nbgrader_meta, read_notebook, solution_notebook_path

REGISTRY = load_registry(["unit3"])
TRAINING_CELLS = ("u3_reg_net_impl", "u3_xor_net_impl", "u3_digits_impl")
_REGION = re.compile(r"^( *)### BEGIN SOLUTION\n.*?^ *### END SOLUTION$", re.S | re.M)


def stub(source: str) -> str:
    """The released stub of a solution cell: every solution region becomes ``raise NotImplementedError()``."""
    return _REGION.sub(lambda m: f"{m.group(1)}raise NotImplementedError()", source)


def namespace(edits: dict | None = None, *, train: bool = False, base=SOLVED) -> dict:
    """Run the unit's setup and code cells (no test cells, no figures), with ``edits`` to solution cells."""
    nb = read_notebook(solution_notebook_path("unit3"))
    ns: dict = {"__name__": "__main__"}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if cell.cell_type != "code" or meta.get("grade") or (not meta and "plt." in cell.source):
            continue
        if gid in TRAINING_CELLS and not train and gid not in (edits or {}):
            continue
        source = cell.source
        if meta.get("solution"):
            edit = (edits or {}).get(gid, base)
            source = stub(source) if edit == "STUB" else apply_edit(source, edit, gid)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # a notebook prints warnings; it does not raise them
            try:
                exec(compile(source, f"<unit3:{gid}>", "exec"), ns)
            except Exception:
                # A student's cell may fail on their bug or stub and the notebook goes on, as in Jupyter or
                # nbgrader; the instructor's notebook must run cleanly.
                if base == SOLVED and not edits:
                    raise
    return ns


def grade(grade_id: str, ns: dict, hidden: bool = True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # overflow in a student's exp, as in a notebook
        return run_item(REGISTRY.get(grade_id), LocalHandle(ns), include_hidden=hidden)


@pytest.fixture(scope="module")
def solved():
    return namespace()


@pytest.fixture(scope="module")
def trained():
    return namespace(train=True)


FAST_ITEMS = [i.grade_id for i in REGISTRY if i.grade_id not in ("u3_small_nets", "u3_digits")]


@pytest.mark.parametrize("grade_id", FAST_ITEMS)
def test_the_instructor_solution_scores_full_marks(solved, grade_id):
    result = grade(grade_id, solved)
    assert result.score == result.points, result.render(show_hidden_details=True)


@pytest.mark.parametrize("secret", ["a", "b", "c", "d"])
def test_the_solution_scores_full_marks_whatever_the_instructor_secret(solved, secret):
    for grade_id in FAST_ITEMS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = run_item(REGISTRY.get(grade_id), LocalHandle(solved), include_hidden=True, secret=secret)
        assert result.score == result.points, result.render(show_hidden_details=True)


@pytest.mark.parametrize("grade_id", ["u3_small_nets", "u3_digits"])
def test_the_trained_instructor_networks_score_full_marks(trained, grade_id):
    result = grade(grade_id, trained)
    assert result.score == result.points, result.render(show_hidden_details=True)


def test_untouched_stubs_score_zero_and_say_what_to_implement():
    ns = namespace(base="STUB")
    for item in REGISTRY:
        result = grade(item.grade_id, ns)
        assert result.score == 0.0, item.grade_id
        text = result.render()
        assert "implement `" in text or "is not defined" in text or "are not defined" in text, text


# Each case: (grade_id, solution cell, edit, text the feedback must contain).
BUGS = [
    ("u3_activations", "u3_activations_impl", [("z, dtype=float) > 0)", "z, dtype=float) >= 0)")],
     "relu_grad at exactly 0 is 0"),
    ("u3_activations", "u3_activations_impl", [("return s * (1.0 - s)", "return s")],
     "sigmoid_grad against numeric differentiation"),
    ("u3_regression_losses", "u3_regression_losses_impl", [("2.0 * diff / diff.size", "diff / diff.size")],
     "exactly 1/2 of the expected"),
    ("u3_regression_losses", "u3_regression_losses_impl", [("2.0 * diff / diff.size", "2.0 * diff / len(diff)")],
     "dividing by the number of rows N instead of the number of entries"),
    ("u3_regression_losses", "u3_regression_losses_impl", [
        ("    if pred.shape != target.shape:\n        raise ValueError(f\"mse", "    if False:\n        raise ValueError(f\"mse")],
     "returned a result instead of raising ValueError"),
    ("u3_bce", "u3_bce_impl", [("(sigmoid(z) - y) / z.size", "sigmoid(z) - y")],
     "without dividing by the number of entries"),
    ("u3_softmax_ce", "u3_softmax_ce_impl", [("shifted = z - z.max(axis=-1, keepdims=True)", "shifted = z")],
     "subtract the row max"),
    ("u3_softmax_ce", "u3_softmax_ce_impl", [("return float(value), dlogits / n", "return float(value), dlogits")],
     "summed over the batch instead of averaging"),
    ("u3_gradcheck", "u3_gradcheck_impl", [("x[i] = old - eps\n        f_minus = f(x)", "x[i] = old\n        f_minus = f(x)"),
                                            ("(f_plus - f_minus) / (2.0 * eps)", "(f_plus - f_minus) / eps")],
     "a one-sided difference"),
    ("u3_gradcheck", "u3_gradcheck_impl", [("(f_plus - f_minus) / (2.0 * eps)", "(f_plus - f_minus) / eps")],
     "dividing by eps instead of 2 eps"),
    ("u3_linear", "u3_linear_impl", [('self.grads["W"] = self.x.T @ dout', 'self.grads["W"] = dout.T @ self.x')],
     "transpose of the expected"),
    ("u3_linear", "u3_linear_impl", [('self.grads["b"] = dout.sum(axis=0)', 'self.grads["b"] = dout.mean(axis=0)')],
     "averaging db over the batch"),
    ("u3_linear", "u3_linear_impl", [('self.x = None   # the input', 'self.W = self.params["W"]\n        self.x = None   # the input'),
                                     ('return x @ self.params["W"] + self.params["b"]', 'return x @ self.W + self.params["b"]')],
     "forward uses the current params['W']"),
    ("u3_sequential", "u3_sequential_impl", [("for layer in reversed(self.layers):", "for layer in self.layers:")],
     "Sequential.backward"),
    ("u3_sequential", "u3_sequential_impl", [("return dout * self.out * (1.0 - self.out)", "return dout * self.out")],
     "Sigmoid().backward against numeric differentiation"),
    ("u3_training", "u3_training_impl", [("order = np.random.default_rng(rng).permutation(n)", "order = np.arange(n)")],
     "permutation"),
    ("u3_training", "u3_training_impl", [("history.append(float(np.mean(batch_losses)))",
                                          "history.append(float(np.sum(batch_losses)))")],
     "mean batch loss of each"),
]


@pytest.mark.parametrize("grade_id, cell, edit, message", BUGS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BUGS)])
def test_a_typical_bug_costs_points_and_is_named(grade_id, cell, edit, message):
    result = grade(grade_id, namespace({cell: edit}))
    text = result.render(show_hidden_details=True)
    assert 0.0 <= result.score < result.points, text
    assert message in text, text


def test_a_linear_regression_net_has_the_wrong_weight_count_and_fit():
    edit = [("reg_net = Sequential(Linear(1, 2, seed=0), Tanh(), Linear(2, 1, seed=1))",
             "reg_net = Sequential(Linear(1, 1, seed=0))"), ("epochs=400", "epochs=50")]
    ns = namespace({"u3_reg_net_impl": edit, "u3_xor_net_impl": SOLVED})
    text = grade("u3_small_nets", ns).render(show_hidden_details=True)
    assert "[FAIL] reg_net (1-2-1) has 7 weights" in text
    assert "[FAIL] MSE on a fresh sample of the curve is below 0.06" in text
    assert "[ok  ] xor_net (2-2-1) has 9 weights" in text


def _expected_digits_fraction(ns, split):
    from nnkit.data import digits_splits

    splits = digits_splits()
    acc = np.mean(ns["predict_digits"](splits[f"X_{split}"]) == splits[f"y_{split}"])
    return float(np.clip((acc - 0.80) / 0.15, 0, 1))


def test_a_weak_digits_classifier_gets_credit_on_the_stated_scale():
    edit = [("for epoch in range(30):", "for epoch in range(1):")]     # one epoch: about 84% accurate
    ns = namespace({"u3_digits_impl": edit})
    fractions = [_expected_digits_fraction(ns, "val"), _expected_digits_fraction(ns, "test")]
    assert 0 < min(fractions) and max(fractions) < 1, fractions   # the scenario really is partial credit
    result = grade("u3_digits", ns)
    assert result.score == pytest.approx(5 * sum(fractions) / 2, abs=1e-6), result.render()


def test_a_constant_digits_classifier_scores_zero_and_a_float_one_is_refused():
    ns = {"np": np, "predict_digits": lambda X: np.zeros(len(X), dtype=np.int64)}
    assert grade("u3_digits", ns).score == 0.0
    ns = {"np": np, "predict_digits": lambda X: np.zeros((len(X), 10))}
    assert "integer labels" in grade("u3_digits", ns).render()


def test_an_edited_probe_is_reported():
    ns = namespace()
    ns["probe"] = lambda x: float(np.sum(x))
    text = grade("u3_gradcheck", ns).render()
    assert "[FAIL] the locked `probe` function is unchanged" in text
