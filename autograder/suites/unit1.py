"""Unit 1 checks: step and sigmoid, threshold logic units, the perceptron rule, sigmoid gates, the delta rule.

Each check compares the student's functions (through the handle ``ns``) with the reference in
``nnkit.activations``, ``nnkit.perceptron`` and ``nnkit.logic`` on inputs drawn from ``t.rng``, or checks a
property or a training outcome that any correct answer has (e.g. hand-set gate weights are judged only by their
truth table). The student-facing signatures are those of ``solutions/unit1/unit1.ipynb``:

==========================================  =====================================================
``heaviside(z)``, ``sigmoid(z)``            elementwise, any shape, float64
``add_bias(X)``, ``tlu_predict(theta, X)``  (N, D) -> (N, D+1); theta (D+1, K), X (N, D) -> (N, K)
``perceptron_step(theta, x, y, lr)``        new theta (D+1, K); x (D,), y (K,)
``train_perceptron(X, y, *, lr,           -> (theta (D+1, K), mistakes: list[int]); y (N, K)
max_epochs, theta0)``
``gate_neuron(theta, X)``, ``W_AND`` ...    sigmoid(theta[0] + X @ theta[1:]) -> (N,); bias first
``xor_network(X)``                          (N, 2) -> (N,)
``delta_rule(X, y, *, lr, epochs, w0)``     -> (w (D+1,), losses: list[float] after each epoch)
==========================================  =====================================================
"""

from __future__ import annotations

import numpy as np

from autograder.items import Item
from autograder.tester import watch_calls
from nnkit import activations as ref_act
from nnkit import logic as ref_logic
from nnkit import perceptron as ref_p

TABLE2 = ref_logic.input_table(2)                                   # (4, 2) rows 00, 01, 10, 11
TARGETS = {
    "AND": np.array([0.0, 0.0, 0.0, 1.0]), "OR": np.array([0.0, 1.0, 1.0, 1.0]),
    "NAND": np.array([1.0, 1.0, 1.0, 0.0]), "XOR": np.array([0.0, 1.0, 1.0, 0.0]),
}
GATE_TOL = 1e-4


def _int_list(values):
    """A list/tuple/1-D integer array of counts as a list of Python ints (anything else is returned as is)."""
    if isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype.kind in "iu":
        return [int(v) for v in values]
    if isinstance(values, (list, tuple)) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                 for v in values):
        return [int(v) for v in values]
    return values


def _floats(values):
    """A list of losses as a float64 array (or the value unchanged when it is not a list of numbers)."""
    if isinstance(values, (list, tuple)) and all(isinstance(v, (int, float, np.floating)) for v in values):
        return np.array(values, dtype=np.float64)
    return values


SIGMOID_NOT_STEP = "a sigmoid instead of the step (a TLU outputs only 0 and 1: heaviside, not sigmoid)"


def _sigmoid_mistakes(z):
    return {"sigmoid(|z|): the branch for z < 0 gives the same as the one for z >= 0": ref_act.sigmoid(np.abs(z)),
            "sigmoid(-z): a sign error in the exponent (1 / (1 + exp(z)))": ref_act.sigmoid(-z),
            "(1 + tanh(z)) / 2: the identity is sigmoid(z) = (1 + tanh(z / 2)) / 2, with z halved inside the tanh":
            0.5 * (1.0 + np.tanh(z))}


def _with_zeros(t, shape, scale=2.0):
    z = t.rng.normal(size=shape) * scale
    z.flat[t.rng.choice(z.size, size=max(1, z.size // 5), replace=False)] = 0.0
    return z


# -- heaviside and sigmoid --------------------------------------------------------------------------------------
H0_IS_ONE = "H(0) = 1 (z >= 0); in this course H(0) = 0"
H0_IS_HALF = ("H(0) = 0.5 (np.heaviside(z, 0.5)): in this course H(0) = 0, so the second argument of np.heaviside "
              "is 0.0")


def _step_mistakes(z):
    return {H0_IS_ONE: (z >= 0).astype(float), H0_IS_HALF: np.heaviside(z, 0.5), SIGMOID_NOT_STEP: ref_act.sigmoid(z),
            "np.sign (it gives -1 and 0, not 0 and 1)": np.sign(z)}


def heaviside_matches_the_reference(ns, t):
    z = _with_zeros(t, (6, 5))
    t.close("heaviside on a (6, 5) array containing zeros", ns.call("heaviside", z), ref_act.heaviside(z),
            known_wrong=_step_mistakes(z))


def heaviside_at_zero(ns, t):
    z = np.array([-1.5, 0.0, 2.0])
    t.close("heaviside([-1.5, 0, 2]) = [0, 0, 1]", ns.call("heaviside", z), np.array([0.0, 0.0, 1.0]),
            known_wrong=_step_mistakes(z))


def heaviside_other_shapes(ns, t):
    z = _with_zeros(t, (2, 3, 4), scale=1e6)
    t.close("heaviside on a (2, 3, 4) array", ns.call("heaviside", z), ref_act.heaviside(z))


def heaviside_integer_input(ns, t):
    z = t.rng.integers(-3, 4, size=9)
    t.close("heaviside on an integer array returns float64", ns.call("heaviside", z), ref_act.heaviside(z))


def sigmoid_matches_the_reference(ns, t):
    z = t.rng.normal(size=(5, 4)) * 3
    t.close("sigmoid on a (5, 4) array", ns.call("sigmoid", z), ref_act.sigmoid(z), known_wrong=_sigmoid_mistakes(z))


@watch_calls(warnings=True)
def sigmoid_extreme_inputs(ns, t):
    z = np.array([-1000.0, -745.0, -40.0, 0.0, 40.0, 745.0, 1000.0])
    t.close("sigmoid at +-1000, +-745, +-40 and 0 (no NaN, no overflow)", ns.call("sigmoid", z),
            ref_act.sigmoid(z), known_wrong=_sigmoid_mistakes(z))


def sigmoid_symmetry(ns, t):
    z = t.rng.normal(size=(3, 4, 2)) * 10
    s_pos, s_neg = ns.call("sigmoid", z), ns.call("sigmoid", -z)
    t.close("sigmoid(z) + sigmoid(-z) = 1", s_pos + s_neg if isinstance(s_pos, np.ndarray)
            and isinstance(s_neg, np.ndarray) else s_pos, np.ones_like(z))


@watch_calls(warnings=True)
def sigmoid_large_random(ns, t):
    z = t.rng.normal(size=(50,)) * 400
    t.close("sigmoid on inputs of size ~400", ns.call("sigmoid", z), ref_act.sigmoid(z))


# -- TLUs and the perceptron rule -------------------------------------------------------------------------------
def add_bias_matches_the_reference(ns, t):
    X = t.rng.normal(size=(5, 3))
    t.close("add_bias on a (5, 3) array", ns.call("add_bias", X), ref_p.add_bias(X),
            known_wrong={"the column of ones at the end instead of column 0": np.hstack([X, np.ones((5, 1))]),
                         X0_MINUS_ONE: np.hstack([-np.ones((5, 1)), X])})


X0_MINUS_ONE = ("x0 = -1, the threshold convention (w . x >= threshold); in this course the bias is an input "
                "x0 = +1 whose weight theta[0] is the bias")


def tlu_predict_on_the_cat_dog_example(ns, t):
    theta, X = np.ones((3, 2)), np.array([[0.5, 1.0]])
    t.close("the lecture's cat/dog TLUs: all weights 1, x = (0.5, 1) -> (1, 1)", ns.call("tlu_predict", theta, X),
            np.array([[1.0, 1.0]]), known_wrong={SIGMOID_NOT_STEP: ref_act.sigmoid(ref_p.add_bias(X) @ theta)})


def tlu_predict_matches_the_reference(ns, t):
    theta, X = t.rng.normal(size=(4, 3)), t.rng.normal(size=(6, 3))
    t.close("tlu_predict with theta (4, 3) and X (6, 3)", ns.call("tlu_predict", theta, X),
            ref_p.tlu_predict(theta, X), known_wrong={
                "the bias in the last row of theta instead of row 0":
                    ref_act.heaviside(np.hstack([X, np.ones((6, 1))]) @ theta),
                "a missing bias": ref_act.heaviside(X @ theta[1:]),
                X0_MINUS_ONE: ref_act.heaviside(np.hstack([-np.ones((6, 1)), X]) @ theta),
                SIGMOID_NOT_STEP: ref_act.sigmoid(ref_p.add_bias(X) @ theta)})


def tlu_single_unit_single_example(ns, t):
    theta, X = t.rng.normal(size=(6, 1)), t.rng.normal(size=(1, 5))
    t.close("tlu_predict with K = 1 unit and N = 1 example keeps shape (1, 1)", ns.call("tlu_predict", theta, X),
            ref_p.tlu_predict(theta, X))


def tlu_exact_ties(ns, t):
    theta = t.rng.integers(-2, 3, size=(3, 4)).astype(float)
    X = t.rng.integers(-2, 3, size=(10, 2)).astype(float)
    t.close("tlu_predict when some weighted sums are exactly 0 (H(0) = 0)", ns.call("tlu_predict", theta, X),
            ref_p.tlu_predict(theta, X), known_wrong={H0_IS_ONE: (ref_p.add_bias(X) @ theta >= 0).astype(float)})


def _rule_mistakes(theta, x, y, lr):
    xt = np.concatenate([[1.0], x])
    a_sig = ref_act.sigmoid(xt @ theta)
    a = ref_act.heaviside(xt @ theta)
    xm = np.concatenate([[-1.0], x])
    return {"the sigmoid output instead of the step in the rule (a = H(x . theta), 0 or 1)":
            theta + lr * np.outer(xt, y - a_sig),
            "the learning rate is missing (theta + (y - a) x)": theta + np.outer(xt, y - a),
            "the error (y - a) missing: theta + lr * y * x is Hebb's rule, which moves units that were right; the "
            "perceptron rule moves a unit only by its error y - a": theta + lr * np.outer(xt, y),
            X0_MINUS_ONE: theta + lr * np.outer(xm, y - ref_act.heaviside(xm @ theta))}


@watch_calls()
def perceptron_step_on_the_cat_dog_example(ns, t):
    theta, x, y = np.ones((3, 2)), np.array([0.5, 1.0]), np.array([1.0, 0.0])
    expected = np.array([[1.0, 0.9], [1.0, 0.95], [1.0, 0.9]])
    t.close("one step on the cat/dog example: the dog unit becomes (0.9, 0.95, 0.9)",
            ns.call("perceptron_step", theta, x, y, 0.1), expected,
            known_wrong={
                "a flipped update (theta - lr (y - a) x)": np.array([[1.0, 1.1], [1.0, 1.05], [1.0, 1.1]]),
                "a bias that is not updated (x0 = 1 missing)": np.array([[1.0, 1.0], [1.0, 0.95], [1.0, 0.9]]),
                **_rule_mistakes(theta, x, y, 0.1)})


@watch_calls()
def perceptron_step_matches_the_reference(ns, t):
    theta, x = t.rng.normal(size=(4, 3)), t.rng.normal(size=3)
    y = 1.0 - ref_p.tlu_predict(theta, x[None, :])[0]      # every unit is wrong, so every column moves
    t.close("perceptron_step with theta (4, 3), every unit wrong, lr = 0.25",
            ns.call("perceptron_step", theta, x, y, 0.25), ref_p.perceptron_step(theta, x, y, 0.25),
            known_wrong=_rule_mistakes(theta, x, y, 0.25))


@watch_calls()
def perceptron_step_correct_units_unchanged(ns, t):
    theta, x = t.rng.normal(size=(3, 2)), t.rng.normal(size=2)
    y = ref_p.tlu_predict(theta, x[None, :])[0]
    t.close("perceptron_step leaves units that were right unchanged", ns.call("perceptron_step", theta, x, y, 0.5),
            theta)


@watch_calls()
def perceptron_step_hidden_cases(ns, t):
    for d, k in ((5, 1), (2, 4)):
        theta, x = t.rng.normal(size=(d + 1, k)), t.rng.normal(size=d)
        y = t.rng.integers(0, 2, size=k).astype(float)
        lr = float(t.rng.uniform(0.05, 1.0))
        t.close(f"perceptron_step with D = {d}, K = {k}", ns.call("perceptron_step", theta, x, y, lr),
                ref_p.perceptron_step(theta, x, y, lr))


def perceptron_step_tie_at_zero(ns, t):
    theta, x, y = np.array([[1.0], [-1.0]]), np.array([1.0]), np.array([1.0])   # z = 0 exactly, H(0) = 0
    t.close("perceptron_step when z = 0 exactly (H(0) = 0, so a target of 1 is a mistake)",
            ns.call("perceptron_step", theta, x, y, 0.5), ref_p.perceptron_step(theta, x, y, 0.5),
            known_wrong={H0_IS_ONE + ": at z = 0 the unit outputs 0, so with target 1 it must move": theta})


# -- training -----------------------------------------------------------------------------------------------------
def _train(ns, t, what, X, Y, lr, max_epochs, theta0):
    result = t.unpack(what, ns.call("train_perceptron", X, Y, lr=lr, max_epochs=max_epochs, theta0=theta0), 2)
    return None if result is None else (result[0], _int_list(result[1]))


def _train_variant(X, Y, lr, max_epochs, theta0, *, stop=True, count_units=False, reverse=False, last=True,
                   zeros=False, after_epoch=False):
    """The perceptron training loop with one of the common mistakes switched on: (theta, mistakes)."""
    theta = np.zeros((X.shape[1] + 1, Y.shape[1])) if theta0 is None or zeros else np.array(theta0, dtype=float)
    order = range(len(X) - 1, -1, -1) if reverse else range(len(X))
    mistakes = []
    for _ in range(max_epochs):
        wrong = 0
        for n in order:
            pred = ref_p.tlu_predict(theta, X[n][None, :])[0]
            if np.any(pred != Y[n]):
                wrong += int(np.sum(pred != Y[n])) if count_units else 1
                theta = ref_p.perceptron_step(theta, X[n], Y[n], lr)
        if after_epoch:
            wrong = int(np.sum(np.any(ref_p.tlu_predict(theta, X) != Y, axis=1)))
        if wrong == 0 and stop and not last:
            break
        mistakes.append(wrong)
        if wrong == 0 and stop:
            break
    return theta, mistakes


TRAINING_MISTAKES = {
    "training did not stop after the first epoch without mistakes (break when an epoch has 0 mistakes)":
        dict(stop=False),
    "you counted the wrong units, not the examples with at least one wrong unit": dict(count_units=True),
    "the examples were not visited in data order (X[0], X[1], ...; no shuffling, no reversing)": dict(reverse=True),
    "the last epoch (the one with 0 mistakes) is missing from the list": dict(last=False),
    "theta0 ignored: training starts from theta0 when it is given (zeros only when it is None)": dict(zeros=True),
    "the mistakes counted after the epoch with its final weights; count an example when it is shown, with the "
    "weights of that moment (before its update)": dict(after_epoch=True),
}


def _compare_training(ns, t, label, X, Y, lr, max_epochs, theta0):
    got = _train(ns, t, label, X, Y, lr, max_epochs, theta0)
    if got is None:
        return
    ref = ref_p.train_perceptron(X, Y, lr=lr, max_epochs=max_epochs, theta0=theta0)
    expected = list(ref.mistakes_per_epoch)
    if not t.equal(f"{label}: mistakes per epoch", got[1], expected):
        # the mistaken loops are replayed only for a wrong answer, each once
        for why, kw in TRAINING_MISTAKES.items():
            variant = _train_variant(X, Y, lr, max_epochs, theta0, **kw)[1]
            if _int_list(got[1]) == variant != expected:
                t.results[-1].diagnosis.append(f"this looks like {why}")
    t.close(f"{label}: final theta", got[0], ref.theta)


def training_converges_on_AND_within_20_epochs(ns, t):
    X, Y = TABLE2, TARGETS["AND"][:, None]
    got = _train(ns, t, "training on AND", X, Y, 0.1, 20, np.zeros((3, 1)))
    if got is None:
        return
    theta, mistakes = got
    converged = isinstance(mistakes, list) and 0 < len(mistakes) <= 20 and mistakes[-1] == 0
    t.true("AND: converges within 20 epochs (the last epoch has no mistakes)", converged,
           f"mistakes per epoch: {mistakes!r}")
    if isinstance(theta, np.ndarray) and theta.shape == (3, 1):
        t.close("AND: the final theta classifies all four rows", ref_p.tlu_predict(theta, X), Y)
    else:
        t.fail("AND: the final theta classifies all four rows", f"theta must be an array of shape (3, 1), "
               f"got {getattr(theta, 'shape', type(theta).__name__)}")


@watch_calls()
def training_on_OR_matches_the_reference(ns, t):
    _compare_training(ns, t, "OR from theta0 = 0.1", TABLE2, TARGETS["OR"][:, None], 0.1, 30, np.full((3, 1), 0.1))


def training_on_XOR_runs_out_of_epochs(ns, t):
    got = _train(ns, t, "training on XOR", TABLE2, TARGETS["XOR"][:, None], 0.1, 25, None)
    if got is None:
        return
    mistakes = got[1]
    if not t.true("XOR: runs all 25 epochs, every one with mistakes, and returns normally",
                  isinstance(mistakes, list) and len(mistakes) == 25 and all(m > 0 for m in mistakes),
                  f"mistakes per epoch: {mistakes!r}") and isinstance(mistakes, list) and len(mistakes) in (24, 26):
        t.results[-1].diagnosis.append(f"{len(mistakes)} epochs instead of max_epochs = 25: an off-by-one in the "
                                       "epoch loop; `for _ in range(max_epochs)` runs exactly max_epochs epochs")


@watch_calls()
def training_on_separable_data_matches_the_reference(ns, t):
    w_true = t.rng.normal(size=(4, 2))
    X = t.rng.normal(size=(60, 3))
    z = ref_p.add_bias(X) @ w_true
    keep = np.all(np.abs(z) > 0.3, axis=1)                       # a margin, so training stops quickly
    X, Y = X[keep][:25], (z[keep][:25] > 0).astype(float)
    _compare_training(ns, t, "two units on separable random data", X, Y, 0.5, 500,
                      t.rng.normal(size=(4, 2)) * 0.1)


def training_on_NAND_matches_the_reference(ns, t):
    _compare_training(ns, t, "NAND with lr = 0.3", TABLE2, TARGETS["NAND"][:, None], 0.3, 40, None)


# -- gates -----------------------------------------------------------------------------------------------------
def gate_neuron_matches_the_reference(ns, t):
    w, X = t.rng.normal(size=3), t.rng.normal(size=(7, 2))
    t.close("gate_neuron with theta (3,) and X (7, 2)", ns.call("gate_neuron", w, X), ref_logic.neuron(w, X),
            known_wrong={"a missing bias: sigmoid(X @ theta[1:]) without theta[0]": ref_act.sigmoid(X @ w[1:]),
                         "the bias subtracted (X @ theta[1:] - theta[0], a threshold): the neuron is "
                         "sigmoid(theta[0] + X @ theta[1:])": ref_act.sigmoid(X @ w[1:] - w[0]),
                         "the step instead of the sigmoid: gate_neuron is a sigmoid neuron (smooth outputs)":
                         ref_act.heaviside(w[0] + X @ w[1:])})


def _gate_truth_table(ns, t, name):
    w = ns.get(f"W_{name}")
    size = 2 if name == "NOT" else 3
    what = f"W_{name}: sigmoid(w[0] + x . w[1:]) within {GATE_TOL:g} of the {name} truth table"
    if not (isinstance(w, np.ndarray) and w.shape == (size,) and w.dtype.kind in "iuf"):
        t.fail(what, f"W_{name} must be a numeric array of shape ({size},), got "
                     f"{getattr(w, 'shape', type(w).__name__)}")
        return
    X = ref_logic.input_table(size - 1)
    target = np.array([1.0, 0.0]) if name == "NOT" else TARGETS[name]
    out = ref_logic.neuron(w.astype(float), X)
    if not t.close(what, out, target, rtol=0.0, atol=GATE_TOL):
        t.results[-1].diagnosis += _truth_table_hints(f"W_{name}", out, target)


def _truth_table_hints(who, out, target, *, gate=True):
    """Why outputs miss a truth table: an input on a gate's boundary, right table but not saturated, or another
    gate's table."""
    table = (out > 0.5).astype(float)
    if gate and np.any(np.abs(out - 0.5) < 1e-3):
        return [f"{who} puts an input exactly on the decision boundary (w[0] + x . w[1:] = 0, output 0.5): no "
                "scaling fixes that; move the bias so that no row of the truth table sums to 0"]
    if np.array_equal(table, target):
        return [f"{who} gives the right truth table but the sigmoid is not saturated: the weights have the right "
                "signs but are too small to saturate; scale them up (e.g. 10x) so the outputs come within "
                f"{GATE_TOL:g} of 0 and 1"]
    tables = dict(TARGETS, NOR=np.array([1.0, 0.0, 0.0, 0.0]), XNOR=np.array([1.0, 0.0, 0.0, 1.0]),
                  **{"a constant 1": np.ones(4), "a constant 0": np.zeros(4)}) if len(table) == 4 else \
        {"the identity (NOT's signs are flipped)": np.array([0.0, 1.0])}
    return [f"{who} gives the truth table of {gate}" for gate, tab in tables.items() if np.array_equal(table, tab)]


def gate_weights_truth_tables(ns, t):
    for name in ("AND", "OR", "NAND", "NOT"):
        _gate_truth_table(ns, t, name)


def gate_neuron_hidden(ns, t):
    w, X = t.rng.normal(size=4) * 5, t.rng.normal(size=(9, 3))
    t.close("gate_neuron with theta (4,) and X (9, 3)", ns.call("gate_neuron", w, X), ref_logic.neuron(w, X))


def xor_network_gives_the_XOR_truth_table(ns, t):
    out = ns.call("xor_network", TABLE2)
    if not t.close(f"xor_network on the four inputs, within {GATE_TOL:g} of XOR", out, TARGETS["XOR"], rtol=0.0,
                   atol=GATE_TOL) and isinstance(out, np.ndarray) and out.shape == (4,):
        t.results[-1].diagnosis += [h.replace("gives the truth table of", "computes") + ", not XOR"
                                    for h in _truth_table_hints("your network", out, TARGETS["XOR"], gate=False)]


def xor_shuffled_rows(ns, t):
    idx = t.rng.integers(0, 4, size=13)
    out = ns.call("xor_network", TABLE2[idx])
    if not t.close("xor_network on 13 rows in random order", out, TARGETS["XOR"][idx], rtol=0.0, atol=GATE_TOL) \
            and isinstance(out, np.ndarray) and out.shape == (4,):
        t.results[-1].diagnosis.append("your result has 4 entries whatever X is: it looks hard-coded for the four "
                                       "rows of the truth table; compute it from X with your gates")


# -- delta rule ------------------------------------------------------------------------------------------------
def _regression(t, n, d):
    X = t.rng.normal(size=(n, d))
    y = ref_p.add_bias(X) @ t.rng.normal(size=d + 1) + 0.1 * t.rng.normal(size=n)
    return X, y


def _delta(ns, t, what, X, y, lr, epochs, w0):
    return t.unpack(what, ns.call("delta_rule", X, y, lr=lr, epochs=epochs, w0=w0), 2)


@watch_calls()
def delta_rule_one_update(ns, t):
    X, y = _regression(t, 6, 2)
    w0 = t.rng.normal(size=3)
    got = _delta(ns, t, "delta_rule after one epoch", X, y, 0.05, 1, w0)
    if got is None:
        return
    Xb = ref_p.add_bias(X)
    expected = ref_p.delta_rule(X, y, lr=0.05, epochs=1, w0=w0[:, None]).w[:, 0]
    t.close("delta_rule: weights after one batch update (N = 6, lr = 0.05)", got[0], expected, known_wrong={
        "the mean over the batch instead of the sum": w0 + 0.05 / 6 * Xb.T @ (y - Xb @ w0),
        "a step uphill (w - lr * sum (y - y_hat) x)": w0 - 0.05 * Xb.T @ (y - Xb @ w0),
        "updating one example at a time (online) instead of one batch update per epoch": _online(Xb, y, w0, 0.05)})


def _online(Xb, y, w, lr):
    for xn, yn in zip(Xb, y):
        w = w + lr * xn * (yn - xn @ w)
    return w


def delta_rule_losses(ns, t):
    X, y = _regression(t, 8, 2)
    got = _delta(ns, t, "delta_rule over 5 epochs", X, y, 0.02, 5, None)
    if got is None:
        return
    ref = ref_p.delta_rule(X, y, lr=0.02, epochs=5)
    before = [0.5 * float(np.sum((y - ref_p.add_bias(X) @ w) ** 2))
              for w in [np.zeros(3)] + [ref_p.delta_rule(X, y, lr=0.02, epochs=e).w[:, 0] for e in range(1, 5)]]
    t.close("delta_rule: the 5 losses, each measured after its update", _floats(got[1]), np.array(ref.losses),
            known_wrong={"losses measured before each update instead of after": np.array(before)},
            factors=_loss_factors(8))


def _loss_factors(n):
    """The losses of a mean where the sum is wanted: 0.5 * mean is 1/N of the loss, the plain mean 2/N."""
    total = "losses[e] = 0.5 * sum((y - X_tilde @ w)**2), the half sum of squared errors over all N examples"
    return {1.0 / n: f"the losses are exactly 1/{n} of the expected: the mean over the examples where the "
                     f"sum is wanted; {total}",
            2.0 / n: f"the losses are exactly 2/{n} of the expected: the mean squared error; {total}"}


def delta_rule_reaches_least_squares(ns, t):
    X, y = _regression(t, 30, 2)
    Xb = ref_p.add_bias(X)
    lr = 1.0 / np.linalg.eigvalsh(Xb.T @ Xb).max()
    got = _delta(ns, t, "delta_rule for 400 epochs", X, y, lr, 400, None)
    if got is not None:
        t.close("delta_rule converges to the least-squares weights", got[0],
                np.linalg.lstsq(Xb, y, rcond=None)[0], rtol=1e-6, atol=1e-8)


@watch_calls()
def delta_rule_hidden_reference(ns, t):
    X, y = _regression(t, 20, 3)
    w0 = t.rng.normal(size=4)
    got = _delta(ns, t, "delta_rule with D = 3 over 7 epochs", X, y, 0.01, 7, w0)
    if got is None:
        return
    ref = ref_p.delta_rule(X, y, lr=0.01, epochs=7, w0=w0[:, None])
    t.close("delta_rule with D = 3: final weights", got[0], ref.w[:, 0])
    t.close("delta_rule with D = 3: losses", _floats(got[1]), np.array(ref.losses), factors=_loss_factors(20))


# The graded reference modules of this unit (and the next); nnkit.data and nnkit.plot stay allowed.
FORBID = ("nnkit.activations", "nnkit.perceptron", "nnkit.logic", "nnkit.autodiff")

# What this unit's notebook may import from nnkit: the worker's view holds exactly these (autograder.policy).
PROVIDES = ("nnkit.data", "nnkit.plot")

ITEMS = [
    Item("u1_heaviside", 1, "heaviside(z)", names=("heaviside",),
         checks=(heaviside_matches_the_reference, heaviside_at_zero),
         hidden_checks=(heaviside_other_shapes, heaviside_integer_input), forbid=FORBID),
    Item("u1_sigmoid", 1, "sigmoid(z), stable for large |z|", names=("sigmoid",),
         checks=(sigmoid_matches_the_reference, sigmoid_extreme_inputs),
         hidden_checks=(sigmoid_symmetry, sigmoid_large_random), forbid=FORBID),
    Item("u1_tlu", 2, "add_bias(X) and tlu_predict(theta, X)", names=("add_bias", "tlu_predict"),
         checks=(add_bias_matches_the_reference, tlu_predict_on_the_cat_dog_example,
                 tlu_predict_matches_the_reference),
         hidden_checks=(tlu_single_unit_single_example, tlu_exact_ties), forbid=FORBID),
    Item("u1_perceptron_step", 2, "perceptron_step(theta, x, y, lr)", names=("perceptron_step",),
         checks=(perceptron_step_on_the_cat_dog_example, perceptron_step_matches_the_reference,
                 perceptron_step_correct_units_unchanged),
         hidden_checks=(perceptron_step_hidden_cases, perceptron_step_tie_at_zero), forbid=FORBID),
    Item("u1_train_perceptron", 3, "train_perceptron(X, y, *, lr, max_epochs, theta0)", names=("train_perceptron",),
         checks=(training_converges_on_AND_within_20_epochs, training_on_OR_matches_the_reference,
                 training_on_XOR_runs_out_of_epochs),
         hidden_checks=(training_on_separable_data_matches_the_reference, training_on_NAND_matches_the_reference),
         forbid=FORBID),
    Item("u1_gates", 2, "gate_neuron and the AND/OR/NAND/NOT weights",
         names=("gate_neuron", "W_AND", "W_OR", "W_NAND", "W_NOT"),
         checks=(gate_neuron_matches_the_reference, gate_weights_truth_tables),
         hidden_checks=(gate_neuron_hidden,), forbid=FORBID),
    Item("u1_xor", 2, "xor_network(X) from gates", names=("xor_network",),
         checks=(xor_network_gives_the_XOR_truth_table,), hidden_checks=(xor_shuffled_rows,), forbid=FORBID),
    Item("u1_delta_rule", 3, "delta_rule(X, y, *, lr, epochs, w0)", names=("delta_rule",),
         checks=(delta_rule_one_update, delta_rule_losses, delta_rule_reaches_least_squares),
         hidden_checks=(delta_rule_hidden_reference,), forbid=FORBID),
]
