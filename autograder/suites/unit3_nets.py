"""Unit 3 (multi-layer perceptrons), second half: layers in a network, training, and trained networks.

The checks of ``u3_sequential``, ``u3_training``, ``u3_small_nets`` and ``u3_digits``; the items themselves
are defined in :mod:`autograder.suites.unit3`. A trained network is judged on the weights its ``parameters()``
reports, through the grader's own forward pass (:func:`trained_weights`, :func:`reference_forward`).
"""

from __future__ import annotations

import copy

import numpy as np

from autograder.handle import StudentCodeError
from autograder.namespace import NamespaceError, Ref
from autograder.suites.digits import score_digits_split
from nnkit import activations as ref_act
from nnkit import losses as ref_loss


def student_linear(ns, t, d, m):
    layer = ns.new("Linear", d, m)
    W, b = t.rng.normal(size=(d, m)), t.rng.normal(size=m)
    ns.setitem(layer, "params", "W", W)
    ns.setitem(layer, "params", "b", b)
    return layer, W, b


def reference_forward(weights, x, hidden_act=np.tanh, last_act=None):
    """The trusted forward of a chain of Linear layers: ``x @ W + b`` each, ``hidden_act`` between them.

    ``weights`` is a list of ``(W, b)`` with W (D, M) and b (M,); x is (N, D). The output is linear unless
    ``last_act`` is given (used to recognise the mistake of an activation after the output layer).
    """
    h = x
    for k, (W, b) in enumerate(weights):
        h = h @ W + b
        if k < len(weights) - 1:
            h = hidden_act(h)
    return h if last_act is None else last_act(h)


def mlp_shapes(sizes) -> list[tuple[tuple[int, int], tuple[int]]]:
    """The (W, b) shapes of the Linear layers of a ``sizes[0] -> ... -> sizes[-1]`` network."""
    return [((d, m), (m,)) for d, m in zip(sizes[:-1], sizes[1:])]


def _shape_text(shapes) -> str:
    return ", ".join(f"W {w} and b {b}" for w, b in shapes)


def trained_weights(ns, model, sizes) -> tuple[list | None, str]:
    """The weights ``model.parameters()`` reports, as float64 copies, if they are a ``sizes`` network.

    Returns ``(weights, "")`` with ``weights`` a list of ``(W, b)``, or ``(None, why)``. A trained network is
    judged by running these weights through :func:`reference_forward` on the grader's own inputs, never by
    calling the notebook's ``forward``: that is the student's code, and it could return the known answer
    whatever the weights are. Weights that are not finite are returned too (the fit then fails and says so).
    """
    shapes = mlp_shapes(sizes)
    wanted = f"{len(shapes)} Linear layers with {_shape_text(shapes)}"
    pairs = parameter_pairs(ns, model)
    if not (isinstance(pairs, list) and all(isinstance(p, (tuple, list)) and len(p) == 2 and isinstance(p[0], dict)
                                            for p in pairs)):
        return None, f"parameters() must return a list of (params, grads) pairs, got {pairs!r:.80}"
    if len(pairs) != len(shapes):
        return None, f"parameters() returns {len(pairs)} (params, grads) pairs; the network needs {wanted}"
    weights = []
    for k, ((params, _), (w_shape, b_shape)) in enumerate(zip(pairs, shapes)):
        if set(params) != {"W", "b"}:
            return None, f"the params of Linear layer {k} must be {{'W', 'b'}}, got the keys {list(params)!r:.80}"
        arrays = []
        for name, shape in (("W", w_shape), ("b", b_shape)):
            a = params[name]
            if not (isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.shape == shape):
                got = f"{a.dtype} array of shape {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
                return None, f"{name} of Linear layer {k} must be a float array of shape {shape}, got a {got}"
            arrays.append(np.array(a, dtype=np.float64))     # a copy: the grader never computes on shared memory
        weights.append(tuple(arrays))
    return weights, ""


BATCH_SIZE_HINT = ("check batch_size at the start and raise ValueError when it is below 1; a batch size of 0 or less "
                   "has no batches to cut (`range` with step 0 fails with a message that is not yours, and a "
                   "negative step silently gives no batches)")
MAX_PAIRS = 256   # a parameters() that never ends is cut here; the pair count then fails its check


def parameter_pairs(ns, model):
    """``model.parameters()`` as plain data. A generator (``yield``, like PyTorch's ``parameters()``), ``chain``
    or any other iterable that cannot cross the handle is drained one ``__next__`` at a time."""
    pairs = ns.method(model, "parameters")
    if type(pairs) is not Ref:
        return pairs
    try:
        iterator = ns.method(pairs, "__iter__")
    except (StudentCodeError, NamespaceError):
        return pairs                                   # not iterable: the caller says what it got
    items = []
    while len(items) < MAX_PAIRS:
        try:
            items.append(ns.method(iterator, "__next__"))
        except StudentCodeError as exc:
            if not exc.is_a("StopIteration"):
                raise
            break
    return items


def finite_weights(weights) -> bool:
    return all(bool(np.all(np.isfinite(a))) for pair in weights for a in pair)


def reference_outputs(weights, x) -> np.ndarray:
    """:func:`reference_forward` with a Tanh between layers, overflow quietly giving inf (graded as a miss)."""
    with np.errstate(all="ignore"):
        return reference_forward(weights, x)


def _n_weights(ns, t, net):
    pairs = parameter_pairs(ns, net)
    if not isinstance(pairs, list):
        t.fail(f"`{net}`.parameters() returns a list", f"got {type(pairs).__name__}")
        return None
    return sum(int(np.asarray(a).size) for params, _ in pairs for a in params.values())


# -- activation layers and Sequential ----------------------------------------------------------------------
def activation_layers_forward_and_backward(ns, t):
    x = t.away_from_kinks((4, 5), scale=2.0)
    dout = t.rng.normal(size=x.shape)
    for cls, fn in [("Sigmoid", "sigmoid"), ("Tanh", "tanh"), ("ReLU", "relu")]:
        layer = ns.new(cls)
        out = ns.method(layer, "forward", x)
        t.close(f"{cls}().forward", out, getattr(ref_act, fn)(x))
        dx = ns.method(layer, "backward", dout)
        local = getattr(ref_act, fn + "_grad")(x)
        t.close(f"{cls}().backward", dx, dout * local, kind="backward", known_wrong=_layer_mistakes(cls, x, dout))
        t.grad_matches_numeric(f"{cls}().backward against numeric differentiation of its forward",
                               lambda v, ly=layer: ns.method(ly, "forward", v), x, dout, dx)
    x = t.rng.normal(size=(3, 4))
    x[:, ::2] = 0.0
    dout = t.rng.normal(size=x.shape)
    layer = ns.new("ReLU")
    ns.method(layer, "forward", x)
    t.close("ReLU().backward where the input is exactly 0 passes no gradient (relu'(0) = 0)",
            ns.method(layer, "backward", dout), dout * (x > 0), kind="backward",
            known_wrong={"relu'(0) = 1: the mask is x >= 0; in this course (and PyTorch) relu'(0) = 0, so keep "
                         "x > 0": dout * (x >= 0)})


def _layer_mistakes(cls, x, dout):
    """Wrong backwards of the activation layers, for ``known_wrong``."""
    local = getattr(ref_act, cls.lower() + "_grad")(x)
    wrong = {"the local derivative without multiplying by dout (the chain rule: dx = dout * f'(x))": local}
    if cls == "Sigmoid":
        s2 = ref_act.sigmoid(ref_act.sigmoid(x))
        wrong["the sigmoid applied to the stored output again: s is already sigmoid(x), so dx = dout * s * (1 - s)"] \
            = dout * s2 * (1 - s2)
        wrong["x * (1 - x) from the input: the derivative is s * (1 - s) with s = sigmoid(x), the output"] = \
            dout * x * (1 - x)
    if cls == "Tanh":
        wrong["tanh' = 1 - tanh: the square is missing (1 - out**2)"] = dout * (1 - np.tanh(x))
        wrong["tanh applied to the stored output again: out is already tanh(x), so dx = dout * (1 - out**2)"] = \
            dout * (1 - np.tanh(np.tanh(x)) ** 2)
        wrong["1 - x**2 from the input: the derivative is 1 - out**2 with out = tanh(x)"] = dout * (1 - x ** 2)
    if cls == "ReLU":
        wrong["the mask of dout instead of the mask of the input x (pass dout where x > 0)"] = dout * (dout > 0)
    return wrong


def _mlp(ns, t, sizes, act="Tanh"):
    """A student Sequential of Linear/act layers with random weights, and the matching reference."""
    from nnkit.layers import Linear, ReLU, Sequential, Sigmoid, Tanh

    ref_cls = {"Tanh": Tanh, "ReLU": ReLU, "Sigmoid": Sigmoid}[act]
    student, reference, linears = [], [], []
    for k, (d, m) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer, W, b = student_linear(ns, t, d, m)
        ref = Linear(d, m, seed=0)
        ref.params["W"], ref.params["b"] = W.copy(), b.copy()
        student.append(layer)
        reference.append(ref)
        linears.append((layer, ref))
        if k < len(sizes) - 2:
            student.append(ns.new(act))
            reference.append(ref_cls())
    return ns.new("Sequential", *student), Sequential(*reference), linears


def sequential_forward_and_backward(ns, t):
    n = 5
    net, ref, linears = _mlp(ns, t, [4, 6, 3], act="ReLU")
    x = t.away_from_kinks((n, 4))
    dout = t.rng.normal(size=(n, 3))
    first_W, first_b = linears[0][1].params["W"], linears[0][1].params["b"]
    t.close("Sequential(Linear(4, 6), ReLU(), Linear(6, 3)).forward", ns.method(net, "forward", x),
            ref.forward(x), known_wrong={RETURN_IN_LOOP: x @ first_W + first_b})
    try:
        dx = ns.method(net, "backward", dout)
    except StudentCodeError as exc:
        if exc.not_implemented or "backward" not in exc.where:
            raise
        t.fail("Sequential.backward returns dL/dx", exc.report,
               ["a layer's backward got a dout of the wrong shape: Sequential.backward must visit "
                "the layers in reverse order (last layer first), passing each one's dx on"])
        return
    t.close("Sequential.backward returns dL/dx", dx, ref.backward(dout), kind="backward",
            known_wrong={RETURN_IN_LOOP: dout @ linears[-1][1].params["W"].T})
    for k, (layer, ref_layer) in enumerate(linears):
        grads = ns.get(layer, "grads")
        for name in ("W", "b"):
            t.close(f"grads['{name}'] of Linear layer {k} after Sequential.backward", grads.get(name),
                    ref_layer.grads[name], kind="backward")


RETURN_IN_LOOP = ("the result of only one layer: a `return` inside the loop over the layers ends it after the "
                  "first layer visited; return after the loop")


def sequential_parameters_in_order(ns, t):
    net, ref, _ = _mlp(ns, t, [3, 4, 2])
    pairs = parameter_pairs(ns, net)
    ok = isinstance(pairs, list) and len(pairs) == 2 and all(isinstance(p, (tuple, list)) and len(p) == 2
                                                             for p in pairs)
    if not t.true("parameters() returns 2 (params, grads) pairs for two Linear layers", ok,
                  f"got {pairs!r:.100}"):
        if isinstance(pairs, list) and any(isinstance(p, list) for p in pairs):
            t.results[-1].diagnosis.append(
                "a list of lists: each layer's parameters() is itself a list of pairs, so appending it nests "
                "them; extend the list with it (pairs.extend(layer.parameters()) or pairs += ...)")
        return
    for k, ((params, _), (ref_params, _)) in enumerate(zip(pairs, ref.parameters())):
        t.close(f"parameters()[{k}] holds layer {k}'s W", params.get("W"), ref_params["W"])


def sequential_matches_numeric_gradient(ns, t):
    net, _, _ = _mlp(ns, t, [3, 5, 4, 2], act="Sigmoid")
    x, dout = t.rng.normal(size=(4, 3)), t.rng.normal(size=(4, 2))
    ns.method(net, "forward", x)
    dx = ns.method(net, "backward", dout)
    t.grad_matches_numeric("Sequential.backward against numeric differentiation of its forward",
                           lambda v: ns.method(net, "forward", v), x, dout, dx)


def sequential_nests(ns, t):
    inner, ref_inner, _ = _mlp(ns, t, [3, 4, 3])
    last, W, b = student_linear(ns, t, 3, 2)
    outer = ns.new("Sequential", inner, ns.new("Tanh"), last)
    x, dout = t.rng.normal(size=(2, 3)), t.rng.normal(size=(2, 2))
    h = ref_inner.forward(x)
    expected = np.tanh(h) @ W + b
    t.close("a Sequential inside a Sequential: forward", ns.method(outer, "forward", x), expected)
    dh = (dout @ W.T) * (1 - np.tanh(h) ** 2)
    t.close("a Sequential inside a Sequential: backward", ns.method(outer, "backward", dout),
            ref_inner.backward(dh), kind="backward")


# -- mini-batches and training --------------------------------------------------------------------------------
def _ref_batches(n, batch_size, rng):
    order = np.random.default_rng(rng).permutation(n)
    return [order[s:s + batch_size] for s in range(0, n, batch_size)]


def minibatch_indices_match_reference(ns, t):
    for n, bs in [(10, 3), (8, 4), (5, 7)]:
        seed = int(t.rng.integers(1000))
        got = ns.call("minibatch_indices", n, bs, seed)
        expected = _ref_batches(n, bs, seed)
        if not t.true(f"minibatch_indices({n}, {bs}, seed) returns {len(expected)} batches",
                      isinstance(got, list) and len(got) == len(expected), f"got {got!r:.120}"):
            if isinstance(got, list) and len(got) == n // bs < len(expected):
                t.results[-1].diagnosis.append("the last, smaller batch is dropped: keep it (n need not be a "
                                               "multiple of batch_size)")
            continue
        t.true(f"the batches of n={n} cover every index exactly once",
               bool(np.array_equal(np.sort(np.concatenate(got)), np.arange(n))))
        flat = np.concatenate(got).astype(np.int64)
        if t.equal(f"minibatch_indices({n}, {bs}, seed) is default_rng(seed).permutation({n}) cut in order",
                   flat, np.concatenate(expected)):
            continue
        if np.array_equal(flat, np.arange(n)):
            t.results[-1].diagnosis.append("the indices are not shuffled: cut np.random.default_rng(rng)"
                                           ".permutation(n), not 0..n-1, into batches")
        elif np.array_equal(flat, np.random.RandomState(seed).permutation(n)):
            t.results[-1].diagnosis.append("the legacy global generator (np.random.seed / np.random.permutation): "
                                           "use the Generator np.random.default_rng(rng) and its permutation(n)")
    if t.hidden:
        for bad in (0, -2):
            t.raises_value_error(f"minibatch_indices(n, {bad}, seed) raises ValueError (batch_size must be >= 1)",
                                 ns.call, "minibatch_indices", 10, bad, 0, hint=BATCH_SIZE_HINT)


def _ref_train(ref_net, X, Y, loss, lr, epochs, batch_size, seed, *, epoch_loss="mean", same_order=False,
               per_example=False, ascent=False):
    """The training loop on the reference net: the history of epoch losses (the net is trained in place).

    The other settings replay a common mistake: ``epoch_loss`` "last", "sum" or "weighted" (by batch size)
    instead of the mean of the batch losses; ``same_order``: the same shuffle in every epoch; ``per_example``: the
    gradient divided by the batch size once more; ``ascent``: a step along the gradient.
    """
    step = -lr if ascent else lr
    fn = {"mse": ref_loss.mse, "bce": ref_loss.binary_cross_entropy_with_logits,
          "cross_entropy": ref_loss.cross_entropy}[loss]
    rng, history = np.random.default_rng(seed), []
    for _ in range(epochs):
        values, sizes = [], []
        for idx in _ref_batches(len(X), batch_size, seed if same_order else rng):
            value, dout = fn(ref_net.forward(X[idx]), Y[idx])
            ref_net.backward(dout)
            for params, grads in ref_net.parameters():
                for k in params:
                    params[k] -= step * grads[k] / (len(idx) if per_example else 1)
            values.append(value)
            sizes.append(len(idx))
        history.append(float({"mean": np.mean(values), "last": values[-1], "sum": np.sum(values),
                              "weighted": np.dot(values, sizes) / np.sum(sizes)}[epoch_loss]))
    return np.array(history)


TRAINING_MISTAKES = {
    "gradient ascent (params += lr * grads): a descent step goes against the gradient": dict(ascent=True),
    "the last batch's loss instead of the mean of the epoch's batch losses": dict(epoch_loss="last"),
    "the sum of the epoch's batch losses: the history holds their mean": dict(epoch_loss="sum"),
    "a mean weighted by batch size: the history holds the plain mean of the batch losses (each batch counts "
    "once, the last, smaller one too)": dict(epoch_loss="weighted"),
    "the same shuffle in every epoch: make one generator from the seed before the epoch loop and pass that "
    "generator (not the seed) to minibatch_indices, so each epoch draws a new order": dict(same_order=True),
    "the gradient divided by the batch size once more: the loss already averages over the batch, so step "
    "with lr * grads": dict(per_example=True),
}


def _train_matches(ns, t, loss, Y, out_dim):
    n, epochs, bs, lr, seed = 13, 3, 4, 0.2, int(t.rng.integers(1000))
    net, ref, linears = _mlp(ns, t, [3, 4, out_dim])
    X = t.rng.normal(size=(n, 3))
    history = ns.call("train", net, X, Y, loss=loss, lr=lr, epochs=epochs, batch_size=bs, seed=seed)
    wrong = {why: _ref_train(copy.deepcopy(ref), X, Y, loss, lr, epochs, bs, seed, **kw)
             for why, kw in TRAINING_MISTAKES.items()}
    expected = _ref_train(ref, X, Y, loss, lr, epochs, bs, seed)
    got = np.asarray(history, dtype=float) if isinstance(history, list) else history
    t.close(f"train(loss={loss!r}) returns the mean batch loss of each of {epochs} epochs", got, expected,
            rtol=1e-6, atol=1e-9, known_wrong=wrong)
    for k, (layer, ref_layer) in enumerate(linears):
        t.close(f"W of Linear layer {k} after training (replayed with the reference)",
                ns.get(layer, "params").get("W"), ref_layer.params["W"], rtol=1e-6, atol=1e-9)


def train_mse_matches_reference(ns, t):
    _train_matches(ns, t, "mse", t.rng.normal(size=(13, 2)), 2)


def train_other_losses_match_reference(ns, t):
    _train_matches(ns, t, "cross_entropy", t.rng.integers(0, 3, size=13), 3)
    _train_matches(ns, t, "bce", (t.rng.random((13, 1)) < 0.5).astype(float), 1)


# -- the seeds' small nets, and the digits ------------------------------------------------------------------
def _judged_weights(ns, t, name, sizes):
    """The weights of the notebook's network ``name``, recorded as one sub-check on their shapes."""
    label = "-".join(map(str, sizes))
    weights, why = trained_weights(ns, ns.get(name), sizes)
    shapes = _shape_text(mlp_shapes(sizes))
    t.true(f"{name}.parameters() are the weights of a {label} network ({shapes}; float arrays)",
           weights is not None, why)
    return weights


def _diverged(weights) -> str:
    return ("" if finite_weights(weights) else
            "your trained weights hold NaN or inf: training diverged (try a smaller learning rate)")


def _counted_and_judged(ns, t, net: str, sizes: tuple, what: str, measured: str, output: str):
    """Check ``net``'s weight count, then return the weights its ``parameters()`` reports, checked against the
    architecture ``sizes``; None (with ``what`` failed and said why) when there is nothing fit to judge."""
    count = _n_weights(ns, t, net)
    if count is None:
        return None
    expected = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    t.equal(f"{net} ({'-'.join(map(str, sizes))}) has {expected} weights", count, expected)
    weights = _judged_weights(ns, t, net, sizes)
    if weights is None:
        t.fail(what, f"not measured: {measured} is measured on the weights parameters() reports, by the grader's "
                     f"own {'-'.join(map(str, sizes))} forward pass (Tanh hidden layer, {output})")
    return weights


def regression_net_has_seven_weights_and_fits(ns, t):
    from nnkit import data

    what = "MSE on a fresh sample of the curve is below 0.06"
    weights = _counted_and_judged(ns, t, "reg_net", (1, 2, 1), what, "the fit", "linear output")
    if weights is None:
        return
    x, y = data.make_regression_1d(200, seed=int(t.rng.integers(1, 2**31)))
    mse = float(np.mean((reference_outputs(weights, x) - y) ** 2))
    t.true(f"{what} (measured on the weights parameters() reports)", mse < 0.06,
           _diverged(weights) or f"your MSE is {mse:.4f}")


def xor_net_has_nine_weights_and_separates(ns, t):
    from nnkit import data

    what = "accuracy on a fresh XOR sample is at least 90%"
    weights = _counted_and_judged(ns, t, "xor_net", (2, 2, 1), what, "the accuracy", "one output logit")
    if weights is None:
        return
    X, y = data.make_xor(400, seed=int(t.rng.integers(1, 2**31)))
    X = X - 0.5   # the notebook centres the clouds on the origin
    logits = reference_outputs(weights, X)
    acc = float(np.mean((logits[:, 0] > 0) == (y == 1)))
    t.true(f"{what} (measured on the weights parameters() reports)", acc >= 0.9,
           _diverged(weights) or f"your accuracy is {acc:.1%}")


DIGITS_FULL, DIGITS_ZERO = 0.95, 0.80


def digits_validation_accuracy(ns, t):
    score_digits_split(ns, t, "validation", full=DIGITS_FULL, zero=DIGITS_ZERO)


def digits_test_accuracy(ns, t):
    score_digits_split(ns, t, "held-out test", full=DIGITS_FULL, zero=DIGITS_ZERO)
