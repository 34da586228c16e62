"""Unit 2 checks: the scalar ``Value`` engine, the lecture's graph examples, ``Dual`` numbers, training a neuron
with the engine, and the two-class softmax classifier done layer by layer.

The student's ``Value`` and ``Dual`` objects stay in the student's process: the checks build graphs through the
handle (``ns.new("Value", 2.0)``, ``ns.method(a, "__mul__", b)``, ``ns.method(out, "backward")``) and read back
``data``/``grad``/``value``/``tangent``. The same graph is built with the reference ``nnkit.autodiff`` classes,
and gradients are also compared with central differences of the student's own forward pass (driven from here).

Student-facing signatures (``solutions/unit2/unit2.ipynb``): ``Value(data)`` with ``+ * ** exp tanh sigmoid``
(and the derived ``- / neg`` and reflected forms) and ``backward()``; ``graph_example_1(x, y) -> (f, fx, fy)``;
``graph_example_2(x, y, z) -> (f, fx, fy, fz)``; ``Dual(value, tangent)`` with the same operations;
``train_neuron(X, y, w0, b0, lr, steps) -> (w, b, losses)``; ``log_softmax(z)``;
``softmax_classifier(theta, X, y) -> (loss, dtheta)``.
"""

from __future__ import annotations

import math

import numpy as np

from autograder.handle import Ref
from autograder.items import Item
from autograder.tester import watch_calls
from autograder.suites.unit2_graphs import (BINARY, SHARED_NODE, UNARY, _attempt, _compare_expression, _node,
                                            _numbers, build_reference, build_student, random_expression)
from nnkit import activations as ref_act
from nnkit import autodiff as ref_ad
from nnkit import losses as ref_losses

# -- Value: forward values ----------------------------------------------------------------------------------------
def value_operations_forward(ns, t):
    a, b = float(t.rng.uniform(0.3, 2.0)), float(t.rng.uniform(-2.0, -0.3))
    for method, (fwd, _) in BINARY.items():
        what = f"Value({a:.3f}).{method}(Value({b:.3f})).data"
        out = _attempt(t, what, lambda: ns.method(ns.new("Value", a), method, ns.new("Value", b)))
        if out is not None and _node(t, what, out, "Value") is not None:
            t.close(what, ns.get(out, "data"), fwd(a, b))
    for k in (2, 3, -1, 0.5):
        what = f"(Value({a:.3f}) ** {k}).data"
        out = _attempt(t, what, lambda: ns.method(ns.new("Value", a), "__pow__", k))
        if out is not None and _node(t, what, out, "Value") is not None:
            t.close(what, ns.get(out, "data"), a ** k,
                    known_wrong={f"x * k instead of x ** k (k = {k:g}): the forward of ** multiplies": a * k})
    for method, (fwd, _) in UNARY.items():
        what = f"Value({b:.3f}).{method}().data"
        out = _attempt(t, what, lambda: ns.method(ns.new("Value", b), method))
        if out is not None and _node(t, what, out, "Value") is not None:
            t.close(what, ns.get(out, "data"), fwd(b))


def value_derived_operations_forward(ns, t):
    a, b = float(t.rng.uniform(0.5, 2.0)), float(t.rng.uniform(0.5, 2.0))
    cases = [("2 + a", "__radd__", (2.0,), 2.0 + a), ("3 * a", "__rmul__", (3.0,), 3.0 * a),
             ("a - b", "__sub__", ("B",), a - b), ("5 - a", "__rsub__", (5.0,), 5.0 - a),
             ("-a", "__neg__", (), -a), ("a / b", "__truediv__", ("B",), a / b),
             ("1 / a", "__rtruediv__", (1.0,), 1 / a)]
    for label, method, args, expected in cases:
        what = f"{label} with a = {a:.3f}, b = {b:.3f}"

        def run(method=method, args=args):
            call_args = [ns.new("Value", b) if x == "B" else x for x in args]
            return ns.method(ns.new("Value", a), method, *call_args)
        out = _attempt(t, what, run)
        if out is not None and _node(t, what, out, "Value") is not None:
            t.close(what, ns.get(out, "data"), expected)


def value_random_expressions_forward(ns, t):
    for n in range(3):
        steps = random_expression(t.rng, 3, 8)
        xs = t.rng.uniform(-1.5, 1.5, size=3)
        out = build_student(ns, "Value", steps, xs)[-1]
        t.close(f"random expression {n + 1}: the output's data", ns.get(out, "data"),
                build_reference(ref_ad.Value, steps, xs)[-1].data)


@watch_calls(warnings=True)
def value_sigmoid_extremes(ns, t):
    for z in (-1000.0, 1000.0):
        what = f"Value({z:g}).sigmoid() without overflow"
        out = _attempt(t, what, lambda: ns.method(ns.new("Value", z), "sigmoid"))
        if out is not None and _node(t, what, out, "Value") is not None:
            t.close(what, ns.get(out, "data"), ref_ad.Value(z).sigmoid().data)


# -- Value: backward ----------------------------------------------------------------------------------------------
def value_local_gradients(ns, t):
    a, b = float(t.rng.uniform(0.3, 2.0)), float(t.rng.uniform(-2.0, -0.3))
    for method, (_, local) in BINARY.items():
        what = f"gradients of Value.{method} at ({a:.3f}, {b:.3f})"

        def run(method=method):
            x, y = ns.new("Value", a), ns.new("Value", b)
            ns.method(ns.method(x, method, y), "backward")
            return _numbers([ns.get(x, "grad"), ns.get(y, "grad")])
        got = _attempt(t, what, run)
        if got is not None:
            wrong = {NO_GRADIENT: np.zeros(2)}
            if method == "__mul__":
                wrong["the two local derivatives of * swapped (x * y sends y.data to y and x.data to x)"] = \
                    np.array(local(a, b)[::-1])
            t.close(what, got, np.array(local(a, b)), kind="backward", known_wrong=wrong)
    cases = [(m, (), fwd_local[1]) for m, fwd_local in UNARY.items()]
    cases += [("__pow__", (k,), (lambda v, k=k: k * v ** (k - 1))) for k in (3, -1, 0.5)]
    for method, args, local in cases:
        what = f"gradient of Value.{method}{args if args else '()'} at {a:.3f}"

        def run(method=method, args=args):
            x = ns.new("Value", a)
            ns.method(ns.method(x, method, *args), "backward")
            return ns.get(x, "grad")
        got = _attempt(t, what, run)
        if got is not None:
            t.close(what, got, local(a), kind="backward", known_wrong={NO_GRADIENT: 0.0,
                                                                        **_local_mistakes(method, args, a)})


NO_GRADIENT = ("no gradient reached the input (its grad is still 0): attach the closure with "
               "`out._backward = _backward`, and in it add `out.grad` times the local derivative to the input's "
               "grad (`self.grad += ...`; `self.grad` on the right-hand side is the input's own grad, still 0)")


def _local_mistakes(method, args, a):
    """Wrong local derivatives students write, by operation, at the point a."""
    if method == "__pow__":
        k = args[0]
        return {f"the power rule without its exponent: x**(k-1) instead of k * x**(k-1) (k = {k:g})": a ** (k - 1),
                f"k * x**k instead of k * x**(k-1) (k = {k:g})": k * a ** k,
                f"k * x**k - 1: `exponent * self.data ** exponent - 1` needs brackets, "
                f"k * x**(exponent - 1) (k = {k:g})": k * a ** k - 1}
    if method == "tanh":
        return {"tanh' = 1 - tanh(x): the square is missing (tanh' = 1 - tanh(x)**2)": 1.0 - math.tanh(a),
                "1 - x**2 from the input x: tanh' = 1 - t**2 with t = tanh(x), the output (out.data)":
                1.0 - a * a}
    if method == "sigmoid":
        s = 1.0 / (1.0 + math.exp(-a))
        return {"sigmoid' = s: the factor (1 - s) is missing (sigmoid' = s * (1 - s))": s,
                "x * (1 - x) from the input x: sigmoid' = s * (1 - s) with s = sigmoid(x), the output (out.data)":
                a * (1.0 - a)}
    if method == "exp":
        return {"exp' = 1 (the local derivative of exp is exp itself)": 1.0,
                "exp' = x: the local derivative of exp is exp(x) itself (out.data), not the input": a}
    return {}


def value_accumulates(ns, t):
    x0 = float(t.rng.uniform(1.0, 3.0))
    x = ns.new("Value", x0)
    ns.method(ns.method(x, "__mul__", x), "backward")
    t.close(f"d(x*x)/dx = 2x at x = {x0:.3f} (a node used twice gets both contributions)", ns.get(x, "grad"),
            2 * x0, kind="backward", known_wrong={"a gradient that is overwritten (=) instead of accumulated (+=)": x0})
    x = ns.new("Value", x0)
    ns.method(ns.method(ns.method(x, "__add__", x), "__mul__", x), "backward")
    t.close(f"d((x + x) * x)/dx = 4x at x = {x0:.3f}", ns.get(x, "grad"), 4 * x0,
            kind="backward", known_wrong={"a gradient that is overwritten (=) in __add__ instead of accumulated (+=)":
                                          2 * x0})
    # every unary operation's input used again: x * f(x). An `=` in f's backward overwrites the product's share.
    for method, args, (f, df) in [("exp", (), UNARY["exp"]), ("tanh", (), UNARY["tanh"]),
                                  ("sigmoid", (), UNARY["sigmoid"]),
                                  ("__pow__", (2,), (lambda v: v * v, lambda v: 2 * v))]:
        x = ns.new("Value", x0)
        fx = ns.method(x, method, *args)
        ns.method(ns.method(fx, "__mul__", x), "backward")
        t.close(f"d(x * {method}(x))/dx at x = {x0:.3f} (x is used twice)", ns.get(x, "grad"),
                f(x0) + x0 * df(x0), kind="backward",
                known_wrong={f"a gradient that is overwritten (=) instead of accumulated (+=) in the backward of "
                             f"{method}": x0 * df(x0), PREV_MISSING: f(x0)})


PREV_MISSING = ("an input left out of `_prev` in __mul__ (here the left operand `self`, the node f(x)): "
                "backward only visits the nodes it reaches through `_prev`, so f(x) never passed its gradient on "
                "to x; make the product with `_prev=(self, other)`")


def value_shared_subexpression(ns, t):
    xs = t.rng.uniform(-1.0, 1.0, size=2)
    _compare_expression(ns, t, "a node feeding three later nodes (tests the topological order)", SHARED_NODE, xs)


def value_random_expressions_backward(ns, t):
    for n in range(3):
        steps = random_expression(t.rng, 3, 9)
        _compare_expression(ns, t, f"random expression {n + 1}", steps, t.rng.uniform(-1.5, 1.5, size=3))


def value_deep_chain(ns, t):
    depth = 1500                                  # deeper than Python's default recursion limit of 1000
    x = ns.new("Value", 0.5)
    node = x
    for _ in range(depth):
        node = ns.method(node, "__mul__", 1.001)
    what = f"backward through a chain of {depth} multiplications (no recursion-limit error)"
    if _attempt(t, what, lambda: ns.method(node, "backward") or True) is not None:
        t.close(what, ns.get(x, "grad"), 1.001 ** depth, kind="backward", known_wrong={
            "no gradient reached the start of the chain: each product's `_prev` must hold both inputs "
            "(self, other), and every node's `_backward` must be attached": 0.0})


# -- the lecture's examples ---------------------------------------------------------------------------------------
def _example(x, y, z=None):
    if z is None:
        return np.array([(x + y) * (2 * x - 3), 4 * x + 2 * y - 3, 2 * x - 3])
    return np.array([x * x * y / z, 2 * x * y / z, x * x / z, -x * x * y / z ** 2])


def _compare_floats(t, what, result, expected):
    """A tuple of plain floats compared with ``expected``; Values in the tuple get a specific hint."""
    if isinstance(result, (tuple, list)) and any(type(v) is Ref for v in result):
        t.fail(what, "return plain floats, not Value objects: use f.data and x.grad")
        return
    got = _numbers(result)
    if t.close(what, got, expected) or not (isinstance(got, np.ndarray) and got.shape == expected.shape):
        return
    names = "(f, df/dx, df/dy)" if len(expected) == 3 else "(f, df/dx, df/dy, df/dz)"
    if np.allclose(np.sort(got), np.sort(expected), rtol=1e-7, atol=1e-9):
        hint = f"the right numbers in the wrong order: return {names}"
    elif not np.isclose(got[0], expected[0], rtol=1e-7, atol=1e-9):
        hint = "the value f itself is wrong: build exactly the lecture's expression from Values"
    else:
        hint = "f is right but the gradients are not: check the backward of the operations it uses"
    t.results[-1].diagnosis.append(hint)


def graph_example_1_lecture(ns, t):
    _compare_floats(t, "graph_example_1(1, 2) = (-3, 5, -1)", ns.call("graph_example_1", 1.0, 2.0),
                    np.array([-3.0, 5.0, -1.0]))


def graph_example_2_lecture(ns, t):
    _compare_floats(t, "graph_example_2(3, 4, 2) = (18, 12, 4.5, -9)", ns.call("graph_example_2", 3.0, 4.0, 2.0),
                    np.array([18.0, 12.0, 4.5, -9.0]))


def graph_examples_other_points(ns, t):
    x, y = (float(v) for v in t.rng.uniform(-3, 3, size=2))
    _compare_floats(t, "graph_example_1 at a random point", ns.call("graph_example_1", x, y), _example(x, y))
    x, y, z = (float(v) for v in t.rng.uniform(0.5, 3, size=3) * t.rng.choice([-1.0, 1.0], size=3))
    _compare_floats(t, "graph_example_2 at a random point", ns.call("graph_example_2", x, y, z), _example(x, y, z))


# -- Dual ---------------------------------------------------------------------------------------------------------
def _dual_pair(ns, out):
    return _numbers([ns.get(out, "value"), ns.get(out, "tangent")])


def dual_operations(ns, t):
    a, da, b, db = (float(v) for v in t.rng.uniform(0.3, 2.0, size=4) * np.array([1, 1, -1, 1]))
    cases = [(m, ("B",), lambda a, b, f=f, d=d: (f(a, b), d(a, b)[0] * da + d(a, b)[1] * db))
             for m, (f, d) in BINARY.items()]
    cases += [(m, (), lambda a, b, f=f, d=d: (f(a), d(a) * da)) for m, (f, d) in UNARY.items()]
    cases += [("__pow__", (k,), lambda a, b, k=k: (a ** k, k * a ** (k - 1) * da)) for k in (2, -1, 0.5)]
    for method, args, expected in cases:
        what = f"Dual({a:.3f}, {da:.3f}).{method}{args if args != ('B',) else f'(Dual({b:.3f}, {db:.3f}))'}"

        def run(method=method, args=args):
            call_args = [ns.new("Dual", b, db) if x == "B" else x for x in args]
            out = ns.method(ns.new("Dual", a, da), method, *call_args)
            return _dual_pair(ns, out) if type(out) is Ref else out
        got = _attempt(t, what, run)
        if got is not None:
            t.close(what + ": (value, tangent)", got, np.array(expected(a, b)),
                    known_wrong=_dual_mistakes(method, args, a, da, b, db))


def _dual_mistakes(method, args, a, da, b, db):
    """Wrong tangents students write, as (value, tangent) pairs."""
    if method == "__add__":
        return {"the sum rule: (a + b eps) + (c + d eps) = (a + c) + (b + d) eps, but your tangent has only "
                "one of b and d": np.array([a + b, da]),
                "the sum rule: (a + b eps) + (c + d eps) = (a + c) + (b + d) eps, but your tangent is b * d":
                np.array([a + b, da * db])}
    if method == "__mul__":
        rule = "the product rule: (a + b eps)(c + d eps) = ac + (ad + bc) eps"
        return {f"{rule}, but your tangent is bd": np.array([a * b, da * db]),
                f"{rule}, but your tangent has only one of its two terms": np.array([a * b, a * db]),
                f"{rule}, but your tangent has only one of its two terms (bc)": np.array([a * b, da * b])}
    chain = "the chain rule is missing: multiply the local derivative by the input's tangent"
    if method == "__pow__":
        k = args[0]
        return {"the power rule without its exponent k": np.array([a ** k, a ** (k - 1) * da]),
                chain: np.array([a ** k, k * a ** (k - 1)])}
    if method in UNARY:
        f, df = UNARY[method]
        wrong = {chain: np.array([f(a), df(a)])}
        if method == "tanh":
            wrong["tanh' = 1 - tanh(a): the square is missing"] = np.array([f(a), (1 - math.tanh(a)) * da])
            wrong["1 - a**2 from the value a: tanh' = 1 - t**2 with t = tanh(a)"] = np.array([f(a), (1 - a * a) * da])
        if method == "sigmoid":
            wrong["sigmoid' = s: the factor (1 - s) is missing"] = np.array([f(a), f(a) * da])
            wrong["a * (1 - a) from the value a: sigmoid' = s * (1 - s) with s = sigmoid(a)"] = \
                np.array([f(a), a * (1 - a) * da])
        if method == "exp":
            wrong["exp' = a: the derivative of exp is exp(a) itself"] = np.array([f(a), a * da])
        return wrong
    return None


def dual_lecture_example(ns, t):
    # (x + y) * (2x - 3)
    steps = [("leaf", 0), ("leaf", 1), ("__add__", 0, ("node", 1)), ("__mul__", 0, 2.0), ("__sub__", 3, 3.0),
             ("__mul__", 2, ("node", 4))]
    got = []
    for seed in ((1.0, 0.0), (0.0, 1.0)):
        out = build_student(ns, "Dual", steps, [1.0, 2.0], tangents=seed)[-1]
        got.append(ns.get(out, "tangent"))
    t.close("forward mode on (x + y)(2x - 3) at (1, 2): seeding x then y gives 5 and -1", _numbers(got),
            np.array([5.0, -1.0]))


def dual_random_directions(ns, t):
    for n in range(2):
        steps = random_expression(t.rng, 3, 8)
        xs, direction = t.rng.uniform(-1.5, 1.5, size=3), t.rng.normal(size=3)
        out = build_student(ns, "Dual", steps, xs, tangents=direction)[-1]
        ref_out = build_reference(ref_ad.Dual, steps, xs, direction)[-1]
        t.close(f"random expression {n + 1}: directional derivative", _dual_pair(ns, out),
                np.array([ref_out.value, ref_out.tangent]))


@watch_calls(warnings=True)
def dual_sigmoid_extremes(ns, t):
    what = "Dual(+-1000, 1).sigmoid() without overflow"
    got = _attempt(t, what, lambda: [_dual_pair(ns, ns.method(ns.new("Dual", z, 1.0), "sigmoid"))
                                     for z in (-1000.0, 1000.0)])
    if got is None:
        return
    t.close("Dual(+-1000, 1).sigmoid() without overflow", np.array(got) if all(
        isinstance(g, np.ndarray) for g in got) else got, np.array([[0.0, 0.0], [1.0, 0.0]]))


# -- training a neuron with the engine ---------------------------------------------------------------------------
def reference_train_neuron(X, y, w0, b0, lr, steps, *, mean=True, stale=False, bias=True):
    """Gradient descent on mean((sigmoid(X w + b) - y)**2) with the closed-form gradient (the sum if not mean).

    Two mistakes can be switched on, to recognise them: ``stale`` steps with the gradients summed over every step
    so far (Values reused across steps, their grads never reset); ``bias=False`` never updates the bias.
    """
    w, b, losses = np.array(w0, dtype=float), float(b0), []
    scale = 1.0 / len(y) if mean else 1.0
    gw, gb = np.zeros_like(w), 0.0
    for _ in range(steps):
        p = ref_act.sigmoid(X @ w + b)
        losses.append(float(np.sum((p - y) ** 2)) * scale)
        dz = 2.0 * (p - y) * p * (1.0 - p) * scale          # (N,)
        gw, gb = (gw if stale else 0.0) + X.T @ dz, (gb if stale else 0.0) + float(dz.sum())
        w, b = w - lr * gw, (b - lr * gb) if bias else b
    return w, b, losses


def _train_neuron(ns, t, label, X, y, w0, b0, lr, steps):
    got = t.unpack(label, ns.call("train_neuron", X, y, w0, b0, lr, steps), 3)
    if got is None:
        return None
    return got[0], got[1], _numbers(got[2]) if isinstance(got[2], (list, tuple)) else got[2]


def _blobs(rng, n, d):
    y = (np.arange(n) % 2).astype(float)
    X = rng.normal(size=(n, d)) * 0.6 + np.where(y[:, None] == 1, 1.5, -1.5)
    return X, y


@watch_calls()
def train_neuron_matches_reference(ns, t):
    X, y = _blobs(t.rng, 10, 2)
    w0, b0 = t.rng.normal(size=2) * 0.5, float(t.rng.normal())
    got = _train_neuron(ns, t, "train_neuron for 3 steps", X, y, w0, b0, 0.5, 3)
    if got is None:
        return
    w, b, losses = reference_train_neuron(X, y, w0, b0, 0.5, 3)
    w_sum, b_sum, losses_sum = reference_train_neuron(X, y, w0, b0, 0.5, 3, mean=False)
    summed = "training on the summed squared error instead of the mean"
    w_up, b_up, _ = reference_train_neuron(X, y, w0, b0, -0.5, 3)
    uphill = "gradient ascent (w + lr * grad): a descent step goes against the gradient"
    w_stale, b_stale, _ = reference_train_neuron(X, y, w0, b0, 0.5, 3, stale=True)
    stale = ("gradients that pile up over the steps: the same Values were reused and their grads never reset, so "
             "each step used the sum of all gradients so far; wrap the current weights in new Values every step")
    frozen = "the bias never updated: step it too, b = b - lr * (the bias Value's grad)"
    t.close("train_neuron: weights after 3 steps (N = 10, lr = 0.5)", got[0], w, kind="backward",
            known_wrong={summed: w_sum, uphill: w_up, stale: w_stale,
                         frozen: reference_train_neuron(X, y, w0, b0, 0.5, 3, bias=False)[0]})
    t.close("train_neuron: bias after 3 steps", got[1], b, kind="backward",
            known_wrong={summed: b_sum, uphill: b_up, stale: b_stale, frozen: b0})
    t.close("train_neuron: the loss before each step", got[2], np.array(losses), kind="backward",
            known_wrong={summed: np.array(losses_sum), "the loss after each step instead of before it":
                         np.array(reference_train_neuron(X, y, w0, b0, 0.5, 4)[2][1:])})


@watch_calls()
def train_neuron_hidden_reference(ns, t):
    X, y = _blobs(t.rng, 14, 3)
    w0 = t.rng.normal(size=3) * 0.3
    got = _train_neuron(ns, t, "train_neuron with D = 3", X, y, w0, 0.0, 1.0, 2)
    if got is None:
        return
    w, b, losses = reference_train_neuron(X, y, w0, 0.0, 1.0, 2)
    t.close("train_neuron with D = 3: weights", got[0], w, kind="backward")
    t.close("train_neuron with D = 3: losses", got[2], np.array(losses), kind="backward")


def train_neuron_separates_blobs(ns, t):
    X, y = _blobs(t.rng, 30, 2)
    got = _train_neuron(ns, t, "train_neuron on separable blobs", X, y, np.zeros(2), 0.0, 2.0, 40)
    if got is None or not isinstance(got[0], np.ndarray) or got[0].shape != (2,):
        if got is not None:
            t.fail("training outcome", "w must be an array of shape (2,)")
        return
    X_new, y_new = _blobs(t.rng, 200, 2)
    accuracy = float(np.mean((X_new @ got[0] + float(got[1]) > 0) == (y_new == 1)))
    t.true("after 40 steps the neuron classifies >= 95% of new points from the same blobs", accuracy >= 0.95,
           f"accuracy {accuracy:.3f}")


# -- the softmax classifier, layer by layer ----------------------------------------------------------------------
def _add_bias(X):
    return np.hstack([np.ones((X.shape[0], 1)), X])


def reference_classifier(theta, X, y):
    loss, dlogits = ref_losses.cross_entropy(_add_bias(X) @ theta, y, reduction="sum")
    return loss, _add_bias(X).T @ dlogits


def _classifier_mistakes(theta, X, y):
    """(loss, dtheta) mistakes of the layer-by-layer classifier, for the known_wrong of its checks."""
    z1 = _add_bias(X)
    z2 = z1 @ theta
    d3 = np.zeros_like(z2)
    d3[np.arange(len(y)), y] = -1.0
    with np.errstate(all="ignore"):
        p = ref_act.softmax(z2)
        log_of_softmax = -float(np.log(p[np.arange(len(y)), y]).sum())
    return ({"log(softmax(z)): the softmax of a far-from-max logit underflows to 0 and log(0) = -inf; take "
             "log_softmax (z - max - log(sum(exp(z - max)))) instead of the log of the probabilities":
             log_of_softmax},
            {"the log-softmax layer skipped in the backward pass: dtheta = z1.T @ d3 uses d3 where d2 = "
             "d3 - softmax(z2) * sum(d3) belongs": z1.T @ d3,
             "the bias row missing: dtheta = X.T @ d2 has D rows; the forward used add_bias(X), so dtheta = "
             "z1.T @ d2 with z1 = add_bias(X) (shape (D+1, 2))": X.T @ (p + d3)})


def log_softmax_matches_reference(ns, t):
    Z = t.rng.normal(size=(5, 3)) * 2
    shifted = Z - Z.max(axis=1, keepdims=True)
    t.close("log_softmax on a (5, 3) array", ns.call("log_softmax", Z), ref_act.log_softmax(Z),
            known_wrong={"softmax instead of log-softmax": ref_act.softmax(Z),
                         "log-softmax over the wrong axis (columns, axis=0; each row must be normalised)":
                         ref_act.log_softmax(Z.T).T,
                         "the log-sum-exp taken over the whole array: sum each row (axis=1, keepdims=True)":
                         shifted - np.log(np.exp(shifted).sum())})


def log_softmax_stable(ns, t):
    Z = np.array([[1000.0, -1000.0], [-1000.0, 999.0], [0.5, 0.25]])
    t.close("log_softmax with entries of +-1000 (subtract the row max)", ns.call("log_softmax", Z),
            ref_act.log_softmax(Z))


def classifier_matches_reference(ns, t):
    theta, X = t.rng.normal(size=(3, 2)), t.rng.normal(size=(7, 2))
    y = t.rng.integers(0, 2, size=7)
    got = t.unpack("softmax_classifier", ns.call("softmax_classifier", theta, X, y), 2)
    if got is None:
        return
    loss, dtheta = reference_classifier(theta, X, y)
    t.close("softmax_classifier: the summed negative log-likelihood", got[0], loss,
            known_wrong={"the mean over the batch instead of the sum": loss / 7})
    t.close("softmax_classifier: dtheta against the reference", got[1], dtheta, kind="backward", batch_size=7,
            known_wrong=_classifier_mistakes(theta, X, y)[1])

    def forward(th):
        result = ns.call("softmax_classifier", th, X, y)
        return result[0] if isinstance(result, (tuple, list)) and len(result) == 2 else result
    t.grad_matches_numeric("softmax_classifier: dtheta against numeric differences of your loss", forward, theta,
                           np.array(1.0), got[1], reference=dtheta, batch_size=7)


def classifier_hidden_cases(ns, t):
    theta, X = t.rng.normal(size=(5, 2)), t.rng.normal(size=(12, 4))
    y = t.rng.integers(0, 2, size=12)
    # one input: the two logits are +-s*x, so every example's wrong class lies ~1000 below its right one
    s = float(t.rng.uniform(400, 600))
    x1 = t.rng.uniform(1.0, 2.0, size=(6, 1)) * t.rng.choice([-1.0, 1.0], size=(6, 1))
    apart = (np.array([[0.0, 0.0], [s, -s]]), x1, (x1[:, 0] < 0).astype(int))
    apart[2][0] = 1 - apart[2][0]                 # and one example labelled with its far-below class
    for label, th, X, y in (("D = 4, N = 12", theta, X, y), ("logits of size ~500", theta * 250, X, y),
                            ("two logits ~1000 apart", *apart)):
        got = t.unpack(f"softmax_classifier with {label}", ns.call("softmax_classifier", th, X, y), 2)
        if got is None:
            continue
        loss, dtheta = reference_classifier(th, X, y)
        wrong_loss, wrong_dtheta = _classifier_mistakes(th, X, y)
        t.close(f"softmax_classifier with {label}: loss", got[0], loss, known_wrong=wrong_loss)
        t.close(f"softmax_classifier with {label}: dtheta", got[1], dtheta, kind="backward", known_wrong=wrong_dtheta)


FORBID = ("nnkit.autodiff", "nnkit.activations", "nnkit.losses", "nnkit.perceptron", "nnkit.logic")

# What this unit's notebook may import from nnkit: the worker's view holds exactly these (autograder.policy).
PROVIDES = ("nnkit.data", "nnkit.plot")

ITEMS = [
    Item("u2_value_ops", 2, "Value: forward values of + * ** exp tanh sigmoid", names=("Value",),
         checks=(value_operations_forward, value_derived_operations_forward),
         hidden_checks=(value_random_expressions_forward, value_sigmoid_extremes), forbid=FORBID),
    Item("u2_value_backward", 3, "Value.backward: local gradients, accumulation, topological order",
         names=("Value",), checks=(value_local_gradients, value_accumulates, value_shared_subexpression),
         hidden_checks=(value_random_expressions_backward, value_deep_chain), forbid=FORBID),
    Item("u2_graph_examples", 2, "the lecture's two graphs with your engine",
         names=("graph_example_1", "graph_example_2"),
         checks=(graph_example_1_lecture, graph_example_2_lecture), hidden_checks=(graph_examples_other_points,),
         forbid=FORBID),
    Item("u2_dual", 3, "Dual numbers: forward-mode derivatives", names=("Dual",),
         checks=(dual_operations, dual_lecture_example), hidden_checks=(dual_random_directions, dual_sigmoid_extremes),
         forbid=FORBID),
    Item("u2_train_neuron", 2, "train_neuron: gradient descent with your engine", names=("train_neuron",),
         checks=(train_neuron_matches_reference,), hidden_checks=(train_neuron_hidden_reference,
                                                                  train_neuron_separates_blobs), forbid=FORBID),
    Item("u2_softmax", 3, "log_softmax and the two-class softmax classifier, layer by layer",
         names=("log_softmax", "softmax_classifier"),
         checks=(log_softmax_matches_reference, log_softmax_stable, classifier_matches_reference),
         hidden_checks=(classifier_hidden_cases,), forbid=FORBID),
]
