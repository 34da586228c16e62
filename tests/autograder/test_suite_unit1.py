"""The unit 1 checks give full marks to the instructor's solution, nothing to the untouched stubs, and less than
full marks, with a useful message, to each plausible mistake.

The correct student is the solution notebook's own code (``solutions/unit1/unit1.ipynb`` with the nbgrader
markers removed); each mistake is a small edit of it (see ``tests/notebooks/_kit.py``).
"""

import pytest

from autograder.handle import LocalHandle
from autograder.items import load_registry
from autograder.runner import run_item
from tests.notebooks import _kit

REGISTRY = load_registry(["unit1"])


def grade(edits=None, base=_kit.SOLVED, only=None):
    ns = _kit.student_namespace("unit1", edits, base=base)
    return {item.grade_id: run_item(item, LocalHandle(ns), include_hidden=True) for item in REGISTRY
            if only is None or item.grade_id == only}


@pytest.fixture(scope="module")
def solved():
    return grade()


def test_every_item_gives_the_solution_full_marks(solved):
    assert {gid: r.score for gid, r in solved.items()} == {item.grade_id: item.points for item in REGISTRY}


def test_every_item_has_visible_and_hidden_subchecks(solved):
    for gid, result in solved.items():
        assert any(not s.hidden for s in result.subchecks), gid
        assert any(s.hidden for s in result.subchecks), gid


def test_untouched_stubs_score_zero_and_say_what_to_implement():
    results = grade(base=_kit.STUB)
    assert all(r.score == 0.0 for r in results.values()), {g: r.score for g, r in results.items()}
    assert "implement `heaviside` first" in results["u1_heaviside"].render()
    assert "`W_AND`" in results["u1_gates"].render() and "not defined" in results["u1_gates"].render()


MISTAKES = [
    # (item, edits, a phrase the feedback must contain)
    ("u1_heaviside", {"u1_heaviside_impl": [("z > 0", "z >= 0")]}, "H(0) = 1"),
    ("u1_heaviside", {"u1_heaviside_impl": [("(z > 0).astype(float)", "np.sign(z)")]}, "np.sign"),
    ("u1_heaviside", {"u1_heaviside_impl": [("(z > 0).astype(float)", "(z > 0).astype(np.float32)")]},
     "float32"),
    ("u1_sigmoid", {"u1_sigmoid_impl": [("return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
                                         "return np.exp(z) / (1.0 + np.exp(z))")]}, "overflow"),
    ("u1_sigmoid", {"u1_sigmoid_impl": [("1.0 / (1.0 + e), e / (1.0 + e)", "1.0 / (1.0 + e), 1.0 / (1.0 + e)")]},
     "values differ"),
    ("u1_tlu", {"u1_tlu_impl": [("np.hstack([np.ones((X.shape[0], 1)), X])",
                                 "np.hstack([X, np.ones((X.shape[0], 1))])")]}, "column of ones at the end"),
    ("u1_tlu", {"u1_tlu_impl": [("heaviside(add_bias(X) @ theta)", "heaviside(X @ theta[1:])")]},
     "a missing bias"),
    ("u1_perceptron_step", {"u1_perceptron_step_impl": [("theta + lr", "theta - lr")]}, "a flipped update"),
    ("u1_perceptron_step", {"u1_perceptron_step_impl": [
        ("return theta + lr * np.outer(x_tilde, np.asarray(y, dtype=float) - a)",
         "theta += lr * np.outer(x_tilde, np.asarray(y, dtype=float) - a)")]}, "forget `return`"),
    ("u1_train_perceptron", {"u1_train_perceptron_impl": [("        if wrong == 0:\n            break\n", "")]},
     "mistakes per epoch"),
    ("u1_train_perceptron", {"u1_train_perceptron_impl": [
        ("wrong += 1", "wrong += int(np.sum(tlu_predict(theta, x[None, :])[0] != t))")]}, "mistakes per epoch"),
    ("u1_train_perceptron", {"u1_train_perceptron_impl": [
        ("for x, t in zip(X, y):", "for x, t in zip(X[::-1], y[::-1]):")]}, "final theta"),
    ("u1_train_perceptron", {"u1_train_perceptron_impl": [("return theta, mistakes", "return theta")]},
     "tuple of 2 values"),
    ("u1_gates", {"u1_gates_impl": [
        ("W_AND = np.array([-30.0, 20.0, 20.0])", "W_AND = np.array([-10.0, 20.0, 20.0])")]}, "AND truth table"),
    ("u1_gates", {"u1_gates_impl": [
        ("W_NAND = np.array([30.0, -20.0, -20.0])", "W_NAND = np.array([3.0, -2.0, -2.0])")]}, "NAND truth table"),
    ("u1_gates", {"u1_gates_impl": [("W_NOT = np.array([10.0, -20.0])", "W_NOT = np.array([10.0, -20.0, 0.0])")]},
     "shape (2,)"),
    ("u1_xor", {"u1_xor_impl": [("gate_neuron(W_NAND, X)", "gate_neuron(W_AND, X)")]}, "XOR"),
    ("u1_xor", {"u1_xor_impl": [("    H = np.column_stack([gate_neuron(W_OR, X), gate_neuron(W_NAND, X)])  # (N, 2)\n"
                                 "    return gate_neuron(W_AND, H)", "    return np.array([0.0, 1.0, 1.0, 0.0])")]},
     "13 rows"),
    ("u1_delta_rule", {"u1_delta_rule_impl": [("w = w + lr * Xb.T @ (y - Xb @ w)",
                                               "w = w + lr * Xb.T @ (y - Xb @ w) / len(y)")]}, "mean over the batch"),
    ("u1_delta_rule", {"u1_delta_rule_impl": [("w = w + lr * Xb.T", "w = w - lr * Xb.T")]}, "a step uphill"),
    ("u1_delta_rule", {"u1_delta_rule_impl": [
        ("        w = w + lr * Xb.T @ (y - Xb @ w)\n        losses.append(0.5 * float(np.sum((y - Xb @ w) ** 2)))",
         "        losses.append(0.5 * float(np.sum((y - Xb @ w) ** 2)))\n        w = w + lr * Xb.T @ (y - Xb @ w)")]},
     "before each update"),
    ("u1_perceptron_step", {"u1_perceptron_step_impl": [("a = heaviside(x_tilde @ theta)",
                                                         "a = (x_tilde @ theta >= 0).astype(float)")]}, "H(0) = 1"),
    ("u1_perceptron_step", {"u1_perceptron_step_impl": [("np.concatenate([[1.0], np.asarray(x, dtype=float)])",
                                                         "np.concatenate([[-1.0], np.asarray(x, dtype=float)])")]},
     "x0 = -1"),
    ("u1_train_perceptron", {"u1_train_perceptron_impl": [
        ("np.zeros((X.shape[1] + 1, y.shape[1])) if theta0 is None else np.array(theta0, dtype=float)",
         "np.zeros((X.shape[1] + 1, y.shape[1]))")]}, "theta0 ignored"),
    ("u1_delta_rule", {"u1_delta_rule_impl": [("losses.append(0.5 * float(np.sum(", "losses.append(float(np.mean(")]},
     "exactly 2/8 of the expected"),
]


@pytest.mark.parametrize("gid, edits, phrase", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_mistake_loses_points_with_a_useful_message(gid, edits, phrase):
    result = grade(edits, only=gid)[gid]
    item = REGISTRY.get(gid)
    assert result.score < item.points, result.render(show_hidden_details=True)
    assert phrase in result.render(show_hidden_details=True)


def test_a_mistake_in_one_item_leaves_the_unrelated_items_alone():
    results = grade({"u1_delta_rule_impl": [("w = w + lr * Xb.T", "w = w - lr * Xb.T")]})
    assert all(r.score == REGISTRY.get(g).points for g, r in results.items() if g != "u1_delta_rule")


def test_any_correct_gate_weights_earn_full_marks():
    scaled = {"u1_gates_impl": [("W_OR = np.array([-10.0, 20.0, 20.0])", "W_OR = np.array([-15.0, 40.0, 35.0])"),
                                ("W_NOT = np.array([10.0, -20.0])", "W_NOT = np.array([12.0, -24.0])")]}
    result = grade(scaled, only="u1_gates")["u1_gates"]
    assert result.score == REGISTRY.get("u1_gates").points, result.render()


@pytest.mark.parametrize("secret", ["course-2026-a", "course-2026-b", "another instructor"])
def test_the_solution_gets_full_marks_whatever_the_instructor_secret(secret):
    ns = _kit.student_namespace("unit1")
    scores = {item.grade_id: run_item(item, LocalHandle(ns), include_hidden=True, secret=secret).score
              for item in REGISTRY}
    assert scores == {item.grade_id: item.points for item in REGISTRY}


def test_a_gate_with_an_input_on_its_boundary_is_told_to_move_the_bias_not_to_scale_up():
    """W_AND = (-20, 20, 20) puts the inputs 01 and 10 at z = 0 (output 0.5): scaling the weights never helps."""
    result = grade({"u1_gates_impl": [("W_AND = np.array([-30.0, 20.0, 20.0])", "W_AND = np.array([-20.0, 20.0, 20.0])")]},
                   only="u1_gates")["u1_gates"]
    text = result.render()
    assert result.score < REGISTRY.get("u1_gates").points, text
    assert "decision boundary" in text and "scale them up" not in text, text
