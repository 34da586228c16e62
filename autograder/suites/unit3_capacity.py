"""Unit 3: capacity. A 1-D curve fitted by networks of growing width and depth, judged on points they never saw.

Student-facing names (``solutions/unit3/unit3.ipynb``, section 9):

=========================================================  ===================================================
``make_mlp(hidden, seed=0)``                               1 -> hidden[0] -> ... -> hidden[-1] -> 1, Tanh between
``heldout_mse(model, x, y)``                               the mean squared error of ``model`` on ``(x, y)``
``capacity_curve(hiddens, x_fit, y_fit, x_held, y_held)``  -> (models, errors), one network per entry of hiddens
``capacity_models``, ``capacity_errors``                   the notebook's run of ``capacity_curve`` on ``RUN``
=========================================================  ===================================================

The grader never trains a network here: the notebook's own run (about 0.4 s of CPU) is what is graded. The
data of that run are regenerated below from the locked cell's recipe (``capacity_data``), so the student's
copies are never trusted, and the graded property is measured on a fresh sample of the curve that the student
never saw (visible checks: a public seed; hidden checks: the secret one). It is measured on the weights each
network's ``parameters()`` reports (shapes and dtype checked), run through the grader's own forward pass: the
notebook's ``forward`` is student code, and one that returns the known curve would pass on untrained weights.
"""

from __future__ import annotations

import numpy as np

from autograder.suites.unit3_nets import (finite_weights, parameter_pairs, reference_forward, reference_outputs,
                                          trained_weights)

# The locked cell's constants (a suite test checks that the notebook still says the same).
CURVE_FREQ, INTERVAL, NOISE, N_FIT, N_HELD, DATA_SEED = 2.0, 2.0, 0.05, 30, 30, 7
WIDTHS = ((1,), (2,), (4,), (12,))          # the graded ladder: capacity grows by width
DEEP = (4, 4)                               # 33 weights, against the 37 of the widest (12,)
RUN = WIDTHS + (DEEP,)
N_FRESH = 200
FALLS_BY, RISE_SLACK, WIDEST_MAX, DEEP_VS_ONE = 0.25, 1.25, 0.06, 0.5


def curve(x: np.ndarray) -> np.ndarray:
    return np.sin(CURVE_FREQ * x)


def capacity_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_fit, y_fit, x_held, y_held), each (30, 1), exactly as the notebook's locked cell makes them."""
    rng = np.random.default_rng(DATA_SEED)
    x_fit = np.sort(rng.uniform(-INTERVAL, INTERVAL, size=(N_FIT, 1)), axis=0)
    y_fit = curve(x_fit) + NOISE * rng.standard_normal((N_FIT, 1))
    x_held = rng.uniform(-INTERVAL, INTERVAL, size=(N_HELD, 1))
    y_held = curve(x_held) + NOISE * rng.standard_normal((N_HELD, 1))
    return x_fit, y_fit, x_held, y_held


def n_weights(hidden) -> int:
    sizes = [1, *hidden, 1]
    return sum(d * m + m for d, m in zip(sizes[:-1], sizes[1:]))


def _mse(pred, y) -> float:
    return float(np.mean((np.asarray(pred, dtype=float) - y) ** 2))


def _pairs(ns, t, model, what):
    """The (W, b) arrays of ``model``'s Linear layers, in order, or None after recording why not."""
    pairs = parameter_pairs(ns, model)
    ok = isinstance(pairs, list) and all(isinstance(p, (tuple, list)) and len(p) == 2 and isinstance(p[0], dict)
                                         for p in pairs)
    if not ok:
        t.fail(what, f"parameters() must return a list of (params, grads) pairs, got {pairs!r:.80}")
        return None
    return [(p[0].get("W"), p[0].get("b")) for p in pairs]


def _count(pairs) -> int:
    return sum(int(np.size(a)) for pair in pairs for a in pair if a is not None)


_reference_forward = reference_forward


# -- make_mlp ----------------------------------------------------------------------------------------------------
def _make_mlp_case(ns, t, hidden):
    seed = int(t.rng.integers(100))
    model = ns.call("make_mlp", hidden, seed=seed)
    what = f"make_mlp({hidden}) has {n_weights(hidden)} weights (1 -> {' -> '.join(map(str, hidden))} -> 1)"
    pairs = _pairs(ns, t, model, what)
    if pairs is None:
        return
    count = _count(pairs)
    if not t.equal(what, count, n_weights(hidden)):
        if count == n_weights(hidden[:1]):
            t.results[-1].diagnosis.append("only the first hidden layer is built: every entry of `hidden` is one "
                                           "hidden layer of that many units")
        return
    x = t.rng.uniform(-2, 2, size=(7, 1))
    relu = lambda z: np.maximum(z, 0.0)   # noqa: E731
    t.close(f"make_mlp({hidden}).forward on 7 inputs (Tanh after each hidden layer, a linear output)",
            ns.method(model, "forward", x, training=False), _reference_forward(pairs, x), known_wrong={
                "a Tanh after the output layer too: the output must be linear, or it can never leave [-1, 1]":
                _reference_forward(pairs, x, last_act=np.tanh),
                "ReLU between the layers instead of Tanh": _reference_forward(pairs, x, hidden_act=relu)})


def make_mlp_builds_the_ladder(ns, t):
    for hidden in ((1,), (5,), (3, 4)):
        _make_mlp_case(ns, t, hidden)


def make_mlp_deeper(ns, t):
    for hidden in ((2, 3, 2), (7,)):
        _make_mlp_case(ns, t, hidden)


# -- heldout_mse -------------------------------------------------------------------------------------------------
def _small_net(ns, t):
    from autograder.suites.unit3_nets import student_linear

    first, W1, b1 = student_linear(ns, t, 1, 3)
    last, W2, b2 = student_linear(ns, t, 3, 1)
    return ns.new("Sequential", first, ns.new("Tanh"), last), [(W1, b1), (W2, b2)]


def _heldout_case(ns, t, n):
    net, pairs = _small_net(ns, t)
    x, y = t.rng.uniform(-2, 2, size=(n, 1)), t.rng.normal(size=(n, 1))
    err = _reference_forward(pairs, x) - y
    mse = float(np.mean(err ** 2))
    t.close(f"heldout_mse(model, x, y) on {n} points", ns.call("heldout_mse", net, x, y), np.float64(mse),
            rtol=1e-9, atol=1e-12, known_wrong={
                "the root of the mean squared error (RMSE): the task asks for the MSE itself": np.sqrt(mse),
                "the sum of squared errors: divide by the number of points (the mean)": float(np.sum(err ** 2)),
                "half the mean squared error: no factor 1/2 here": 0.5 * mse,
                "the mean absolute error: square the errors": float(np.mean(np.abs(err)))})


def heldout_mse_is_the_mean_squared_error(ns, t):
    _heldout_case(ns, t, 9)


def heldout_mse_other_sizes(ns, t):
    _heldout_case(ns, t, 1)
    _heldout_case(ns, t, 40)


# -- the notebook's run ------------------------------------------------------------------------------------------
def _run(ns, t, what):
    """The notebook's capacity_models (Refs) and capacity_errors, or None after recording (as ``what``) what is
    missing."""
    for name in ("capacity_models", "capacity_errors"):
        if not ns.has(name):
            t.fail(what, f"`{name}` is not defined: run the cell that calls capacity_curve (it defines "
                         "capacity_models, capacity_errors)")
            return None
    models, errors = ns.get("capacity_models"), ns.get("capacity_errors")
    if not (isinstance(models, list) and len(models) == len(RUN)):
        t.fail(what, f"capacity_models must be a list of {len(RUN)} networks, got {models!r:.80}")
        return None
    if isinstance(errors, np.ndarray) and errors.shape == (len(RUN),) and errors.dtype.kind == "f":
        errors = list(errors)
    if not (isinstance(errors, (list, tuple)) and len(errors) == len(RUN)
            and all(isinstance(e, (int, float, np.floating)) for e in errors)):
        t.fail(what, f"capacity_errors must be a list of {len(RUN)} floats, got {errors!r:.80}")
        return None
    return models, np.asarray(errors, dtype=float)


def _forward_all(ns, models, x):
    return [ns.method(m, "forward", x, training=False) for m in models]


def run_is_measured_on_the_held_out_points(ns, t):
    got = _run(ns, t, f"capacity_models and capacity_errors hold {len(RUN)} networks and {len(RUN)} errors")
    if got is None:
        return
    models, errors = got
    counts = []
    for hidden, model in zip(RUN, models):
        pairs = _pairs(ns, t, model, f"the network for hidden={hidden}")
        if pairs is None:
            return
        counts.append(_count(pairs))
    expected = [n_weights(h) for h in RUN]
    if not t.equal(f"the networks of hidden = {', '.join(map(str, RUN))} have {expected} weights", counts, expected):
        if len(set(counts)) == 1:
            t.results[-1].diagnosis.append(
                f"capacity is not increasing: every network has {counts[0]} weights. capacity_curve must build a "
                "new network for each entry of `hiddens`, with make_mlp(hidden)")
        return
    x_fit, y_fit, x_held, y_held = capacity_data()
    held = np.array([_mse(p, y_held) for p in _forward_all(ns, models, x_held)])
    fitted = np.array([_mse(p, y_fit) for p in _forward_all(ns, models, x_fit)])
    untrained = np.array([_mse(ns.method(ns.call("make_mlp", h, seed=0), "forward", x_held, training=False),
                               y_held) for h in RUN])
    for i, hidden in enumerate(RUN):      # one sub-check per network: judging on held-out points is the lesson
        t.close(f"capacity_errors[{i}] is the MSE of the hidden={hidden} network on the held-out points "
                "(x_held, y_held)", errors[i], np.float64(held[i]), rtol=1e-9, atol=1e-12, known_wrong={
                    "the error on the training points (x_fit, y_fit): a network is judged on points it did not fit":
                    fitted[i], "the root of the MSE (RMSE)": np.sqrt(held[i]),
                    "the error of the untrained network: measure each network after training it": untrained[i]})


def _falls_labels():
    return (f"on {N_FRESH} fresh points of the curve (never fitted), the widest net's error is at most {FALLS_BY:g} "
            "of the 1-unit net's",
            f"the error never rises by more than {RISE_SLACK - 1:.0%} from one width to the next",
            f"the 12-unit net fits the curve: MSE at most {WIDEST_MAX}",
            f"the deep 1-4-4-1 net (33 weights) has at most {DEEP_VS_ONE:g} of the 1-unit net's error")


def _judged_weights(ns, models):
    """The weights of each network of the run, checked against its place in RUN; or (None, why)."""
    judged = []
    for hidden, model in zip(RUN, models):
        weights, why = trained_weights(ns, model, (1, *hidden, 1))
        if weights is None:
            return None, f"the network for hidden={hidden}: {why}"
        if not finite_weights(weights):
            return None, (f"the weights of the network for hidden={hidden} hold NaN or inf: its training diverged "
                          "(try a smaller learning rate)")
        judged.append(weights)
    return judged, ""


def _falls_with_capacity(ns, t):
    got = _run(ns, t, "the error on fresh points falls as capacity grows")
    if got is None:
        return
    # Judged on the weights each network's parameters() reports, through the grader's own forward pass: the
    # notebook's forward is student code and could return the curve whatever the weights are.
    judged, why = _judged_weights(ns, got[0])
    if judged is None:
        for label in _falls_labels():
            t.fail(label, f"not measured: {why}. Each network is measured on the weights its parameters() reports, "
                          "with the grader's own forward pass (Tanh between the Linear layers, a linear output)")
        return
    x = t.rng.uniform(-INTERVAL, INTERVAL, size=(N_FRESH, 1))
    errs = [_mse(reference_outputs(weights, x), curve(x)) for weights in judged]
    width_errs, deep = errs[:len(WIDTHS)], errs[-1]
    # The descriptions are fixed text (_falls_labels): every output shows them, so the numbers measured on the
    # student's weights (a channel the student controls) go to the details, withheld for hidden checks.
    falls, rise, widest, deepest = _falls_labels()
    shown = ", ".join(f"{h[0]} unit{'s' if h[0] > 1 else ''}: {e:.4f}" for h, e in zip(WIDTHS, width_errs))
    flat = max(width_errs) <= 1.1 * min(width_errs)
    fell = t.true(falls, width_errs[-1] <= FALLS_BY * width_errs[0], f"the MSE by width is {shown}")
    if not fell and flat:
        t.results[-1].diagnosis.append(
            "every network has about the same error, as if capacity did not matter: are they all trained (train "
            "inside capacity_curve, on each new network) and all different (a new make_mlp(hidden) each time)?")
    rises = [(a, b) for a, b in zip(WIDTHS, WIDTHS[1:])
             if width_errs[WIDTHS.index(b)] > RISE_SLACK * width_errs[WIDTHS.index(a)] + 0.002]
    t.true(rise, not rises, "it rises from " + "; from ".join(f"{a} to {b}" for a, b in rises)
           + ": train longer or with another learning rate, so that each network gets near its best fit")
    t.true(widest, width_errs[-1] <= WIDEST_MAX,
           f"yours: {width_errs[-1]:.4f} (the curve's variance is about {np.var(curve(x)):.2f})")
    t.true(deepest, deep <= DEEP_VS_ONE * width_errs[0], f"yours: {deep:.4f} against {width_errs[0]:.4f}")


def error_falls_as_capacity_grows(ns, t):
    _falls_with_capacity(ns, t)


def error_falls_on_other_fresh_points(ns, t):
    _falls_with_capacity(ns, t)
