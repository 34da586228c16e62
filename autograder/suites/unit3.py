"""Unit 3 (multi-layer perceptrons): the checks of every graded cell.

Students build everything from NumPy in this unit, so every item forbids all of
``nnkit`` except the data and plotting helpers (the ``Item`` default). The
references are nnkit's own modules, imported here, on the grader's side only.
"""

from __future__ import annotations

import numpy as np

from autograder.items import Item
from autograder.tester import watch_calls
from autograder.suites.unit3_nets import (
    student_linear,
    activation_layers_forward_and_backward,
    digits_test_accuracy,
    digits_validation_accuracy,
    minibatch_indices_match_reference,
    regression_net_has_seven_weights_and_fits,
    sequential_forward_and_backward,
    sequential_matches_numeric_gradient,
    sequential_nests,
    sequential_parameters_in_order,
    train_mse_matches_reference,
    train_other_losses_match_reference,
    xor_net_has_nine_weights_and_separates,
)
from nnkit import activations as ref_act
from nnkit import losses as ref_loss

# -- helpers ----------------------------------------------------------------------------------------------


def _pair(t, what, got):
    """A (value, gradient) result as a pair, or record why it is not one."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        t.fail(what, f"expected a (value, gradient) pair, got {type(got).__name__}")
        return None
    return got


def _loss_checks(ns, t, name, ref, pred, target, label, *, batch_size=None, known_wrong=None):
    """Value and gradient against the reference, plus a numeric check of the student's own value."""
    got = _pair(t, f"{name} returns (value, gradient)", ns.call(name, pred, target))
    if got is None:
        return
    value, expected_grad = ref(pred, target)
    # a loss averaged over every entry (not only the batch): a sum instead is `size` times too large
    size = None if batch_size else int(np.size(pred))
    summed = {size: f"your result is exactly {size}x the expected: you summed over all {size} entries instead "
                    f"of averaging (divide by the number of entries)"} if size and size > 2 else None
    t.close(f"{name} value on {label}", got[0], np.float64(value), batch_size=batch_size, factors=summed)
    t.close(f"{name} gradient on {label}", got[1], expected_grad, kind="backward", batch_size=batch_size,
            known_wrong=known_wrong, factors=summed)
    t.grad_matches_numeric(f"{name} gradient against numeric differentiation of your value",
                           lambda p: ns.call(name, p, target)[0], pred, np.float64(1.0), got[1],
                           reference=expected_grad, batch_size=batch_size)


# -- activations --------------------------------------------------------------------------------------------
ACTS = ("sigmoid", "tanh", "relu")


def activations_match_reference(ns, t):
    z = t.away_from_kinks((6, 5), scale=3.0)
    for name in ACTS:
        t.close(f"{name} on a (6, 5) array", ns.call(name, z), getattr(ref_act, name)(z))


def derivatives_match_reference_and_numeric(ns, t):
    z = t.away_from_kinks((5, 4), scale=3.0)
    dout = t.rng.normal(size=z.shape)
    for name in ACTS:
        grad = ns.call(name + "_grad", z)
        t.close(f"{name}_grad on a (5, 4) array", grad, getattr(ref_act, name + "_grad")(z), kind="backward",
                known_wrong=DERIVATIVE_MISTAKES[name](z))
        if isinstance(grad, np.ndarray) and grad.shape == z.shape:
            t.grad_matches_numeric(f"{name}_grad against numeric differentiation of your {name}",
                                   lambda v, n=name: ns.call(n, v), z, dout, grad * dout)
    t.close("relu_grad at exactly 0 is 0", ns.call("relu_grad", np.zeros(3)), np.zeros(3),
            known_wrong={"relu'(0) = 1 (z >= 0); the convention is relu'(0) = 0 (z > 0)": np.ones(3)})


DERIVATIVE_MISTAKES = {
    "sigmoid": lambda z: {"sigmoid' = s: the factor (1 - s) is missing (sigmoid' = s * (1 - s))": ref_act.sigmoid(z),
                          "z * (1 - z) from the input: sigmoid' = s * (1 - s) with s = sigmoid(z)": z * (1 - z)},
    "tanh": lambda z: {"tanh' = 1 - tanh(z): the square is missing (tanh' = 1 - tanh(z)**2)": 1.0 - np.tanh(z),
                       "1 - z**2 from the input: tanh' = 1 - tanh(z)**2": 1.0 - z ** 2},
    "relu": lambda z: {"relu itself instead of its derivative (relu'(z) is 1 for z > 0, else 0)": ref_act.relu(z)},
}


@watch_calls(warnings=True)
def activations_survive_extreme_inputs(ns, t):
    z = np.array([-1000.0, -60.0, -1e-3, 0.0, 1e-3, 60.0, 1000.0])
    for name in ACTS + ("sigmoid_grad", "tanh_grad"):
        t.close(f"{name} at +-1000 (finite, no overflow)", ns.call(name, z), getattr(ref_act, name)(z))


def activations_keep_any_shape(ns, t):
    for shape in [(7,), (2, 3, 4)]:
        z = t.away_from_kinks(shape)
        for name in ACTS:
            t.close(f"{name} on shape {shape}", ns.call(name, z), getattr(ref_act, name)(z))


# -- losses ------------------------------------------------------------------------------------------------
def mse_and_mae_match_reference(ns, t):
    n = int(t.rng.integers(5, 9))
    pred, target = t.rng.normal(size=(n, 3)), t.rng.normal(size=(n, 3))
    diff = pred - target
    arrays = "random hidden arrays" if t.hidden else f"({n}, 3) arrays"   # n comes from the secret
    since = len(t.results)
    _loss_checks(ns, t, "mse", ref_loss.mse, pred, target, arrays, known_wrong={
        "dividing by the number of rows N instead of the number of entries N*3": 2 * diff / n,
        "the gradient of sum((p - t)**2) / 2, without the mean": diff})
    target[0, 0] = pred[0, 0]   # sign(0) = 0 is part of the spec
    _loss_checks(ns, t, "mae", ref_loss.mae, pred, target, f"{arrays} with one exact tie",
                 known_wrong={"dividing by N instead of the number of entries": np.sign(diff) / n,
                              "(diff > 0) instead of np.sign(diff): the sign is -1 below 0 and sign(0) = 0":
                              (diff > 0) / diff.size})
    t.note_hidden_case(since, f"({n}, 3) arrays")


def losses_refuse_mismatched_shapes(ns, t):
    pred = t.rng.normal(size=(4, 1))
    for name in ("mse", "mae"):
        t.raises_value_error(f"{name}((4, 1), (4,)) raises ValueError", ns.call, name, pred, pred[:, 0])


def mse_on_other_shapes(ns, t):
    for shape in [(1, 1), (9,), (3, 2, 2)]:
        pred, target = t.rng.normal(size=shape) * 5, t.rng.normal(size=shape)
        _loss_checks(ns, t, "mse", ref_loss.mse, pred, target, f"shape {shape}")


def bce_matches_reference(ns, t):
    logits = t.rng.normal(size=(8, 1)) * 3
    target = (t.rng.random((8, 1)) < 0.5).astype(float)
    _loss_checks(ns, t, "binary_cross_entropy_with_logits", ref_loss.binary_cross_entropy_with_logits, logits, target,
                 "(8, 1) logits", known_wrong={"sigmoid(z) - y without dividing by the number of entries":
                                               ref_act.sigmoid(logits) - target})


@watch_calls(warnings=True)
def bce_is_stable_and_checks_shapes(ns, t):
    logits = np.array([[-1000.0], [-30.0], [0.0], [30.0], [1000.0]])
    target = np.array([[0.0], [1.0], [1.0], [0.0], [1.0]])
    _loss_checks(ns, t, "binary_cross_entropy_with_logits", ref_loss.binary_cross_entropy_with_logits, logits, target,
                 "logits up to +-1000")
    t.raises_value_error("binary_cross_entropy_with_logits((5, 1), (5,)) raises ValueError", ns.call,
                         "binary_cross_entropy_with_logits", logits, target[:, 0])
    logits, target = t.rng.normal(size=(6, 3)) * 2, (t.rng.random((6, 3)) < 0.5).astype(float)
    _loss_checks(ns, t, "binary_cross_entropy_with_logits", ref_loss.binary_cross_entropy_with_logits, logits, target,
                 "(6, 3) logits (several outputs per example)", known_wrong={
                     "dividing by the number of rows N instead of the number of entries K = logits.size":
                     (ref_act.sigmoid(logits) - target) / 6})


def softmax_matches_reference(ns, t):
    z = t.rng.normal(size=(5, 4)) * 2
    t.close("softmax on (5, 4) logits", ns.call("softmax", z), ref_act.softmax(z),
            known_wrong={"softmax over the wrong axis (columns, axis=0): each row must sum to 1":
                         ref_act.softmax(z.T).T})
    big = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 999.0]])
    t.close("softmax of logits near 1000 (subtract the row max)", ns.call("softmax", big), ref_act.softmax(big))


def cross_entropy_matches_reference(ns, t):
    n, c = int(t.rng.integers(4, 8)), 5
    logits, labels = t.rng.normal(size=(n, c)) * 2, t.rng.integers(0, c, size=n)
    probs = ref_act.softmax(logits)
    since = len(t.results)
    _loss_checks(ns, t, "cross_entropy", ref_loss.cross_entropy, logits, labels,
                 "random hidden logits" if t.hidden else f"({n}, {c}) logits",   # n comes from the secret
                 batch_size=n, known_wrong={
                     "softmax / N without subtracting the one-hot labels (the gradient is (softmax - one-hot) / N)":
                     probs / n, "softmax + one-hot: the one-hot labels must be subtracted, not added":
                     (probs + np.eye(c)[labels]) / n})
    t.note_hidden_case(since, f"({n}, {c}) logits")


def cross_entropy_at_large_logits(ns, t):
    logits = t.rng.normal(size=(4, 3)) * 1000
    labels = np.array([0, 1, 2, 1])
    _loss_checks(ns, t, "cross_entropy", ref_loss.cross_entropy, logits, labels,
                 "logits of size ~1000 (subtract the row max)", batch_size=4)


def cross_entropy_refuses_bad_labels(ns, t):
    logits = t.rng.normal(size=(3, 4))
    t.raises_value_error("label 4 with 4 classes raises ValueError", ns.call, "cross_entropy", logits,
                         np.array([0, 4, 1]))
    t.raises_value_error("labels of shape (3, 1) raise ValueError", ns.call, "cross_entropy", logits,
                         np.array([[0], [1], [2]]))


# -- numeric gradient check ----------------------------------------------------------------------------------
def _probe(x):
    return float(np.sum(np.sin(x) * x ** 2) + 0.5 * np.sum(x) ** 2)


def _probe_grad(x):
    return np.cos(x) * x ** 2 + 2.0 * x * np.sin(x) + np.sum(x)


def _central(f, x, eps):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        grad[i] = (f(xp) - f(xm)) / (2 * eps)
    return grad


def _rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def _probe_ref(ns, t):
    """A Ref to the notebook's locked ``probe``, or None after recording that it was edited.

    An intact probe earns nothing by itself (an untouched notebook must score 0), so only a change is recorded.
    """
    x = t.rng.normal(size=(3, 2))
    value = ns.call("probe", x)
    if not (isinstance(value, float) and np.isclose(value, _probe(x))):
        t.fail("the locked `probe` function is unchanged",
               "`probe` no longer computes sum(sin(x) * x**2) + 0.5 * sum(x)**2; re-run its locked cell")
        return None
    return ns.get("probe")


@watch_calls()
def numeric_gradient_is_central(ns, t):
    probe = _probe_ref(ns, t)
    if probe is None:
        return
    x = t.rng.normal(size=(3, 4))
    t.close("numeric_grad(probe, x) matches the exact gradient", ns.call("numeric_grad", probe, x),
            _probe_grad(x), rtol=1e-6, atol=1e-6)
    eps = 1e-3
    forward = np.array([(_probe(x + eps * np.eye(x.size)[k].reshape(x.shape)) - _probe(x)) / eps
                        for k in range(x.size)]).reshape(x.shape)
    t.close("numeric_grad(probe, x, eps=1e-3) is the central difference with step 1e-3",
            ns.call("numeric_grad", probe, x, eps=eps), _central(_probe, x, eps), rtol=1e-8, atol=1e-10,
            known_wrong={"a one-sided difference (f(x + eps) - f(x)) / eps": forward,
                         "dividing by eps instead of 2 eps": 2 * _central(_probe, x, eps)})


def rel_error_matches_formula(ns, t):
    a, b = t.rng.normal(size=(4, 3)), t.rng.normal(size=(4, 3))
    b[0, 0] = a[0, 0] = 0.0
    terms = np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))
    t.close("rel_error(a, b)", ns.call("rel_error", a, b), np.float64(_rel(a, b)), known_wrong={
        "|a + b| in the denominator instead of |a| + |b|: where a and b have opposite signs |a + b| is small and "
        "the error blows up": np.float64(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a + b)))),
        "the mean of the entries' errors instead of their max: a check must see its worst entry":
        np.float64(np.mean(terms)),
        "max(|a_i|, |b_i|) in the denominator instead of |a_i| + |b_i|":
        np.float64(np.max(np.abs(a - b) / np.maximum(1e-8, np.maximum(np.abs(a), np.abs(b))))),
        "the largest absolute error max |a_i - b_i|, not divided by |a_i| + |b_i|": np.float64(np.max(np.abs(a - b)))})
    t.close("rel_error(a, a) is 0", ns.call("rel_error", a, a), np.float64(0.0))


def gradient_check_separates_right_from_wrong(ns, t):
    probe = _probe_ref(ns, t)
    if probe is None:
        return
    x = t.rng.normal(size=(4, 4))
    right = _probe_grad(x)
    err = ns.call("gradient_check", probe, x, right)
    t.true("gradient_check gives < 1e-6 for the correct gradient", isinstance(err, float) and err < 1e-6,
           f"got {err!r}")
    numeric = _central(_probe, x, 1e-6)
    one_off = right.copy()
    one_off[1, 2] += 0.1
    for label, wrong in [("2x the gradient", 2 * right), ("the transposed gradient", right.T),
                         ("one entry off by 0.1", one_off)]:
        t.close(f"gradient_check on {label}", ns.call("gradient_check", probe, x, wrong),
                np.float64(_rel(wrong, numeric)), rtol=1e-3, atol=1e-6)
    t.close("gradient_check(probe, x, analytic, eps=1e-2) differentiates with step 1e-2",
            ns.call("gradient_check", probe, x, right, eps=1e-2), np.float64(_rel(right, _central(_probe, x, 1e-2))),
            rtol=1e-3, atol=1e-12, known_wrong={"eps ignored: pass gradient_check's eps on to numeric_grad":
                                                np.float64(_rel(right, numeric))})


# -- Linear ------------------------------------------------------------------------------------------------
def _params_are_intact(ns, t) -> bool:
    """The given ``__init__`` makes W (D, M) and b (M,); only a broken one is recorded (it earns nothing)."""
    params = ns.get(ns.new("Linear", 5, 3), "params")
    shapes = {k: np.shape(v) for k, v in params.items()} if isinstance(params, dict) else None
    if shapes is None or shapes.get("W") != (5, 3) or shapes.get("b") != (3,):
        t.fail("Linear(5, 3).params holds W of shape (5, 3) and b of shape (3,)", f"got {shapes or params!r:.80}")
        return False
    return True


def linear_forward_matches_reference(ns, t):
    if not _params_are_intact(ns, t):
        return
    n, d, m = 4, 5, 3
    layer, W, b = student_linear(ns, t, d, m)
    x = t.rng.normal(size=(n, d))
    t.close("forward of a (4, 5) batch through Linear(5, 3)", ns.method(layer, "forward", x), x @ W + b,
            known_wrong={"the bias b is missing (x @ W + b)": x @ W})
    W2 = t.rng.normal(size=(d, m))
    ns.setitem(layer, "params", "W", W2)
    t.close("forward uses the current params['W'] (set after construction)", ns.method(layer, "forward", x),
            x @ W2 + b)


def linear_backward_matches_reference_and_numeric(ns, t):
    n, d, m = 6, 4, 3
    layer, W, b = student_linear(ns, t, d, m)
    x, dout = t.rng.normal(size=(n, d)), t.rng.normal(size=(n, m))
    ns.method(layer, "forward", x)
    first = t.rng.normal(size=(n, m))
    ns.method(layer, "backward", first)          # an earlier batch's backward: grads are replaced, not added to
    dx = ns.method(layer, "backward", dout)
    grads = ns.get(layer, "grads")
    summed = ("grads added to with += over backward calls (PyTorch accumulates .grad until zero_grad(); this "
              "course's layers replace them): store dW = x.T @ dout and db = dout.sum(0)")
    t.close("dx = dout @ W.T", dx, dout @ W.T, kind="backward", batch_size=n)
    t.close("grads['W'] = x.T @ dout", grads.get("W") if isinstance(grads, dict) else grads, x.T @ dout,
            kind="backward", batch_size=n, known_wrong={summed: x.T @ (first + dout)})
    t.close("grads['b'] = dout summed over the batch", grads.get("b") if isinstance(grads, dict) else grads,
            dout.sum(axis=0), kind="backward", batch_size=n, known_wrong={"averaging db over the batch": dout.mean(0),
                                                                          summed: (first + dout).sum(axis=0)})
    t.grad_matches_numeric("dx against numeric differentiation of your forward",
                           lambda v: ns.method(layer, "forward", v), x, dout, dx)

    def forward_of_W(Wv):
        ns.setitem(layer, "params", "W", Wv)
        return ns.method(layer, "forward", x)

    t.grad_matches_numeric("grads['W'] against numeric differentiation of your forward", forward_of_W, W, dout,
                           grads.get("W") if isinstance(grads, dict) else grads)


def linear_edge_cases(ns, t):
    layer, W, b = student_linear(ns, t, 1, 4)
    x, dout = t.rng.normal(size=(1, 1)), t.rng.normal(size=(1, 4))
    t.close("forward of a batch of one through Linear(1, 4)", ns.method(layer, "forward", x), x @ W + b)
    t.close("dx for a batch of one", ns.method(layer, "backward", dout), dout @ W.T, kind="backward")
    t.close("grads['b'] for a batch of one", ns.get(layer, "grads")["b"],
            dout.sum(0), kind="backward")
    layer2, _, _ = student_linear(ns, t, 3, 2)
    t.raises_value_error("forward on x with 5 columns for Linear(3, 2) raises ValueError", ns.method, layer2,
                         "forward", t.rng.normal(size=(4, 5)))


# What this unit's notebook may import from nnkit: the worker's view holds exactly these (autograder.policy).
PROVIDES = ("nnkit.data", "nnkit.plot")

ITEMS = [
    Item("u3_activations", 3, "sigmoid, tanh, relu and their derivatives",
         names=("sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "relu", "relu_grad"),
         checks=(activations_match_reference, derivatives_match_reference_and_numeric),
         hidden_checks=(activations_survive_extreme_inputs, activations_keep_any_shape)),
    Item("u3_regression_losses", 2, "mse and mae with their gradients", names=("mse", "mae"),
         checks=(mse_and_mae_match_reference, losses_refuse_mismatched_shapes),
         hidden_checks=(mse_on_other_shapes, mse_and_mae_match_reference)),
    Item("u3_bce", 2, "binary cross-entropy from logits", names=("binary_cross_entropy_with_logits",),
         checks=(bce_matches_reference,), hidden_checks=(bce_is_stable_and_checks_shapes, bce_matches_reference)),
    Item("u3_softmax_ce", 3, "stable softmax and softmax cross-entropy",
         names=("softmax", "cross_entropy"),
         checks=(softmax_matches_reference, cross_entropy_matches_reference),
         hidden_checks=(cross_entropy_at_large_logits, cross_entropy_refuses_bad_labels,
                        cross_entropy_matches_reference)),
    Item("u3_gradcheck", 3, "numeric gradient, relative error, gradient check",
         names=("numeric_grad", "rel_error", "gradient_check", "probe"),
         checks=(numeric_gradient_is_central, rel_error_matches_formula),
         hidden_checks=(gradient_check_separates_right_from_wrong, numeric_gradient_is_central)),
    Item("u3_linear", 4, "Linear layer forward and backward", names=("Linear",),
         checks=(linear_forward_matches_reference,
                 linear_backward_matches_reference_and_numeric),
         hidden_checks=(linear_backward_matches_reference_and_numeric, linear_edge_cases)),
    Item("u3_sequential", 4, "activation layers and Sequential",
         names=("Sigmoid", "Tanh", "ReLU", "Sequential", "Linear"),
         checks=(activation_layers_forward_and_backward, sequential_forward_and_backward,
                 sequential_parameters_in_order),
         hidden_checks=(sequential_matches_numeric_gradient, sequential_nests)),
    Item("u3_training", 3, "mini-batches and the training loop", names=("minibatch_indices", "train"),
         checks=(minibatch_indices_match_reference, train_mse_matches_reference),
         hidden_checks=(minibatch_indices_match_reference, train_other_losses_match_reference)),
    Item("u3_small_nets", 3, "the 1-2-1 regression net and the 2-2-1 XOR net", names=("reg_net", "xor_net"),
         checks=(regression_net_has_seven_weights_and_fits, xor_net_has_nine_weights_and_separates),
         hidden_checks=(regression_net_has_seven_weights_and_fits, xor_net_has_nine_weights_and_separates)),
    Item("u3_digits", 5, "digits classifier on held-out images", names=("predict_digits",),
         checks=(digits_validation_accuracy,), hidden_checks=(digits_test_accuracy,)),
]

# More activations and the output-layer pairing rule (issue 14).
from autograder.suites.unit3_activations import (  # noqa: E402
    activations_hidden as _more_activations_hidden,
    activations_visible as _more_activations_visible,
    pairing_rule as _pairing_rule,
    pairing_rule_rejects_unknown as _pairing_rule_hidden,
)

ITEMS.append(Item("u3_more_activations", 3, "Leaky ReLU, ELU and GELU with derivatives; the output-layer rule",
                  names=("leaky_relu", "leaky_relu_grad", "elu", "elu_grad", "gelu", "gelu_grad", "output_layer_for"),
                  checks=(_more_activations_visible, _pairing_rule),
                  hidden_checks=(_more_activations_hidden, _pairing_rule_hidden)))

# Capacity: width and depth against error on points the networks never saw (issue 14).
from autograder.suites import unit3_capacity as _capacity  # noqa: E402

ITEMS.append(Item("u3_capacity", 3, "capacity: make_mlp, heldout_mse, and the error falling with width and depth",
                  names=("make_mlp", "heldout_mse"),
                  checks=(_capacity.make_mlp_builds_the_ladder, _capacity.heldout_mse_is_the_mean_squared_error,
                          _capacity.run_is_measured_on_the_held_out_points, _capacity.error_falls_as_capacity_grows),
                  hidden_checks=(_capacity.make_mlp_deeper, _capacity.heldout_mse_other_sizes,
                                 _capacity.run_is_measured_on_the_held_out_points,
                                 _capacity.error_falls_on_other_fresh_points)))
