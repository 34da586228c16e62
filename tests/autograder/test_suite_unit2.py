"""The unit 2 checks give full marks to the instructor's solution, nothing to the untouched stubs, and less than
full marks, with a useful message, to each plausible mistake (the classic ones of autodiff engines included:
overwritten gradients, a backward pass out of topological order, recursion on deep graphs).

The correct student is the solution notebook's own code (``solutions/unit2/unit2.ipynb``); each mistake is a
small edit of it (see ``tests/notebooks/_kit.py``).
"""

import pytest

from autograder.handle import LocalHandle
from autograder.items import load_registry
from autograder.runner import run_item
from tests.notebooks import _kit

REGISTRY = load_registry(["unit2"])


def grade(edits=None, base=_kit.SOLVED, only=None):
    ns = _kit.student_namespace("unit2", edits, base=base)
    return {item.grade_id: run_item(item, LocalHandle(ns), include_hidden=True) for item in REGISTRY
            if only is None or item.grade_id == only}


def test_every_item_gives_the_solution_full_marks():
    results = grade()
    assert {gid: r.score for gid, r in results.items()} == {item.grade_id: item.points for item in REGISTRY}
    for gid, result in results.items():
        assert any(s.hidden for s in result.subchecks) and any(not s.hidden for s in result.subchecks), gid


def test_untouched_stubs_score_zero_and_say_what_to_implement():
    results = grade(base=_kit.STUB)
    assert all(r.score == 0.0 for r in results.values()), {g: r.score for g, r in results.items()}
    assert "implement `Value.__add__` first" in results["u2_value_ops"].render()
    assert "implement `softmax_classifier` first" in results["u2_softmax"].render()


BFS_BACKWARD = '''
        self.grad = 1.0
        queue, seen = [self], {id(self)}
        while queue:
            node = queue.pop(0)
            node._backward()
            for child in node._prev:
                if id(child) not in seen:
                    seen.add(id(child))
                    queue.append(child)
'''
RECURSIVE_BACKWARD = '''
        order, visited = [], set()

        def visit(node):
            if id(node) not in visited:
                visited.add(id(node))
                for child in node._prev:
                    visit(child)
                order.append(node)
        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()
'''


def replace_backward(body):
    source = _kit.strip_markers(_kit.solution_sources("unit2")["u2_value_impl"])
    start = source.index("        order, visited = [], set()\n        stack")
    end = source.index("            node._backward()", start) + len("            node._backward()")
    return source[:start] + body.strip("\n") + source[end:]


MISTAKES = [
    ("u2_value_backward", {"u2_value_impl": [("            self.grad += other.data * out.grad\n"
                                              "            other.grad += self.data * out.grad",
                                              "            self.grad = other.data * out.grad\n"
                                              "            other.grad = self.data * out.grad")]}, "overwritten"),
    ("u2_value_backward", {"u2_value_impl": [
        ("self.grad += (1.0 - t * t) * out.grad", "self.grad += (1.0 - t) * out.grad")]}, "gradient of Value.tanh"),
    ("u2_value_backward", {"u2_value_impl": [
        ("self.grad += exponent * self.data ** (exponent - 1) * out.grad",
         "self.grad += exponent * self.data ** exponent * out.grad")]}, "Value.__pow__"),
    ("u2_value_backward", {"u2_value_impl": replace_backward(BFS_BACKWARD)}, "topological order"),
    ("u2_value_backward", {"u2_value_impl": replace_backward(RECURSIVE_BACKWARD)}, "RecursionError"),
    ("u2_value_ops", {"u2_value_impl": [("        e = math.exp(-abs(self.data))\n"
                                         "        s = 1.0 / (1.0 + e) if self.data >= 0 else e / (1.0 + e)",
                                         "        s = 1.0 / (1.0 + math.exp(-self.data))")]}, "without overflow"),
    ("u2_value_ops", {"u2_value_impl": [("Value(self.data * other.data, (self, other)",
                                         "Value(self.data + other.data, (self, other)")]}, "__mul__"),
    ("u2_graph_examples", {"u2_graph_examples_impl": [
        ("    xv, yv = Value(x), Value(y)\n    f = (xv + yv) * (2 * xv - 3)\n    f.backward()\n"
         "    return f.data, xv.grad, yv.grad", "    return -3.0, 5.0, -1.0")]}, "random point"),
    ("u2_graph_examples", {"u2_graph_examples_impl": [("return f.data, xv.grad, yv.grad, zv.grad",
                                                       "return f.data, xv.grad, yv.grad")]}, "graph_example_2"),
    ("u2_graph_examples", {"u2_graph_examples_impl": [("return f.data, xv.grad, yv.grad, zv.grad",
                                                       "return f, xv.grad, yv.grad, zv.grad")]}, "not Value objects"),
    ("u2_dual", {"u2_dual_impl": [("self.value * other.tangent + self.tangent * other.value",
                                   "self.value * other.tangent")]}, "Dual"),
    ("u2_dual", {"u2_dual_impl": [("return Dual(e, e * self.tangent)", "return Dual(e, e)")]}, "exp"),
    ("u2_train_neuron", {"u2_train_neuron_impl": [("        loss = loss / len(X)\n", "")]},
     "summed squared error instead of the mean"),
    ("u2_train_neuron", {"u2_train_neuron_impl": [("b = b - lr * bv.grad", "b = b + lr * bv.grad")]}, "bias"),
    ("u2_softmax", {"u2_softmax_impl": [
        ("    shifted = z - z.max(axis=1, keepdims=True)\n", "    shifted = z\n")]}, "overflow"),
    ("u2_softmax", {"u2_softmax_impl": [("    loss = -float(z3[np.arange(n), y].sum())",
                                         "    loss = -float(z3[np.arange(n), y].mean())"),
                                        ("    dtheta = z1.T @ d2 ", "    dtheta = z1.T @ d2 / n ")]},
     "mean over the batch"),
    ("u2_softmax", {"u2_softmax_impl": [("d2 = d3 - np.exp(z3)", "d2 = -d3 + np.exp(z3)")]}, "sign is flipped"),
    ("u2_value_backward", {"u2_value_impl": [("            self.grad += other.data * out.grad\n"
                                              "            other.grad += self.data * out.grad",
                                              "            self.grad += other.data\n            other.grad += self.data")]},
     "the chain rule missing in the backward of __mul__"),
    ("u2_value_backward", {"u2_value_impl": [("out = Value(self.data * other.data, (self, other), \"*\")",
                                              "out = Value(self.data * other.data, (other,), \"*\")")]},
     "left out of `_prev`"),
    ("u2_softmax", {"u2_softmax_impl": [("    z3 = log_softmax(z2)  ",
                                         "    z3 = np.log(np.exp(z2 - z2.max(axis=1, keepdims=True)) / "
                                         "np.exp(z2 - z2.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True))  ")]},
     "log(0) = -inf"),
]


@pytest.mark.parametrize("gid, edits, phrase", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_mistake_loses_points_with_a_useful_message(gid, edits, phrase):
    result = grade(edits, only=gid)[gid]
    text = result.render(show_hidden_details=True)
    assert result.score < REGISTRY.get(gid).points, text
    assert phrase in text, text


def test_backward_gradients_are_also_checked_against_numeric_differences():
    result = grade({"u2_value_impl": [("self.grad += (1.0 - t * t) * out.grad", "self.grad += (1.0 - t) * out.grad")]},
                   only="u2_value_backward")["u2_value_backward"]
    failed = [s.what for s in result.subchecks if not s.passed]
    assert any("numeric differences of your forward" in w for w in failed), failed


@pytest.mark.parametrize("secret", ["course-2026-a", "course-2026-b", "another instructor"])
def test_the_solution_gets_full_marks_whatever_the_instructor_secret(secret):
    ns = _kit.student_namespace("unit2")
    scores = {item.grade_id: run_item(item, LocalHandle(ns), include_hidden=True, secret=secret).score
              for item in REGISTRY}
    assert scores == {item.grade_id: item.points for item in REGISTRY}


def test_the_chain_rule_replay_without_a_mistake_is_the_reference_backward():
    """``chain_rule_missing`` recognises a backward that forgets out.grad; with an operation that the expression
    does not use it must reproduce the reference engine exactly, or its hints would name correct engines."""
    import numpy as np

    from autograder.suites.unit2_graphs import build_reference, chain_rule_missing, random_expression
    from nnkit import autodiff as ref_ad

    rng = np.random.default_rng(0)
    for _ in range(40):
        steps, xs = random_expression(rng, 3, 9), rng.uniform(-1.5, 1.5, size=3)
        nodes = build_reference(ref_ad.Value, steps, xs)
        nodes[-1].backward()
        expected = np.array([nodes[k].grad for k in range(3)])
        np.testing.assert_allclose(chain_rule_missing(steps, xs, "no such op"), expected, rtol=1e-12, atol=1e-12)
