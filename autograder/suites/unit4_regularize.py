"""Unit 4 (training in practice), second half: gradient norms, dropout, penalties, early stopping.

The checks of ``u4_grad_norms``, ``u4_dropout``, ``u4_penalties`` and ``u4_early_stopping``, and the helpers
both halves use; the items themselves are defined in :mod:`autograder.suites.unit4`.
"""

from __future__ import annotations

import numpy as np

from nnkit import optim as ref_optim

# -- helpers ----------------------------------------------------------------------------------------------


# -- gradient norms per layer ---------------------------------------------------------------------------------
def _deep_sigmoid(ns, t, depth, width, scale):
    """The same deep sigmoid net on both sides: the student's (via ns) and the reference."""
    from nnkit.layers import Linear, Sequential, Sigmoid

    student, reference = [], []
    for k in range(depth):
        d, m = (width, width) if k < depth - 1 else (width, 1)
        W, b = t.rng.normal(size=(d, m)) * scale, t.rng.normal(size=m) * 0.1
        layer = ns.new("Linear", d, m)
        ns.setitem(layer, "params", "W", W)
        ns.setitem(layer, "params", "b", b)
        ref = Linear(d, m, seed=0)
        ref.params["W"], ref.params["b"] = W.copy(), b.copy()
        student.append(layer)
        reference.append(ref)
        if k < depth - 1:
            student.append(ns.new("Sigmoid"))
            reference.append(Sigmoid())
    return ns.new("Sequential", *student), Sequential(*reference)


def grad_norms_match_reference(ns, t):
    from nnkit.losses import mse

    net, ref = _deep_sigmoid(ns, t, depth=6, width=8, scale=1.0)
    X, Y = t.rng.normal(size=(16, 8)), t.rng.normal(size=(16, 1))
    got = ns.call("layer_grad_norms", net, X, Y)
    _, dout = mse(ref.forward(X), Y)
    ref.backward(dout)
    expected = np.array([np.linalg.norm(layer.grads["W"]) for layer in ref.layers if "W" in layer.params])
    if not t.true("layer_grad_norms returns a list with one float per Linear layer (6)",
                  isinstance(got, (list, tuple)) and len(got) == 6, f"got {got!r:.100}"):
        return
    sq = expected ** 2
    t.close("the gradient norm of every layer, first layer first", np.asarray(got, dtype=float), expected,
            kind="backward", known_wrong={"the squared norms (take the square root)": sq,
                                          "the layers in reverse order": expected[::-1],
                                          "the norms of the weights W instead of their gradients dW":
                                          np.array([np.linalg.norm(layer.params["W"]) for layer in ref.layers
                                                    if "W" in layer.params]),
                                          "the spectral norm (np.linalg.norm(dW, ord=2) of a matrix is its largest "
                                          "singular value): use the Frobenius norm, np.linalg.norm(dW)":
                                          np.array([np.linalg.norm(layer.grads["W"], ord=2) for layer in ref.layers
                                                    if "W" in layer.params])})


def grad_norms_vanish_in_deep_sigmoid_net(ns, t):
    net, _ = _deep_sigmoid(ns, t, depth=10, width=16, scale=0.25)   # Xavier-sized weights: std 1/sqrt(16)
    got = ns.call("layer_grad_norms", net, t.rng.normal(size=(32, 16)), t.rng.normal(size=(32, 1)))
    ok = isinstance(got, (list, tuple)) and len(got) == 10
    t.true("in a 10-layer sigmoid net the first layer's gradient is over 100x smaller than the last's",
           ok and float(got[0]) * 100 < float(got[-1]), f"got {got!r:.160}")


# -- dropout ------------------------------------------------------------------------------------------------
def _ref_dropout(x, p, seed):
    keep = np.random.default_rng(seed).random(x.shape) >= p
    mask = keep / (1.0 - p)
    return x * mask, mask


def dropout_forward_is_exact(ns, t):
    x, p, seed = t.rng.normal(size=(20, 30)), float(t.rng.choice([0.2, 0.3, 0.5])), int(t.rng.integers(2**31))
    got = t.unpack("dropout_forward returns (out, mask)", ns.call("dropout_forward", x, p, seed=seed), 2)
    if got is None:
        return
    out, mask = _ref_dropout(x, p, seed)
    keep = mask > 0
    wrong = {"dropout without the 1/(1-p) scaling (not inverted)": keep.astype(float),
             "keep = rng.random(x.shape) < 1 - p (the convention is keep = rng.random(x.shape) >= p)":
                 (np.random.default_rng(seed).random(x.shape) < 1 - p) / (1 - p),
             "p used as the probability of keeping": (np.random.default_rng(seed).random(x.shape) < p) / p,
             "keep = rng.random(x.shape) < p: p is the probability of dropping, so keep where random >= p":
                 (np.random.default_rng(seed).random(x.shape) < p) / (1 - p)}
    since = len(t.results)
    t.close(f"the mask for {'the hidden p' if t.hidden else f'p = {p}'} with keep = default_rng(seed).random(x.shape) "
            ">= p", got[1], mask, known_wrong=wrong)
    t.note_hidden_case(since, f"p = {p}")
    t.close("out = x * mask", got[0], out)
    if isinstance(got[1], np.ndarray) and got[1].shape == x.shape:
        t.close("out equals x times your own mask", got[0], x * got[1])


def dropout_statistics_and_modes(ns, t):
    p = 0.4
    x = np.ones((100, 100))
    got = t.unpack("dropout_forward returns (out, mask)", ns.call("dropout_forward", x, p,
                                                                   seed=int(t.rng.integers(2**31))), 2)
    if got is None:
        return
    out = np.asarray(got[0], dtype=float)
    dropped = float(np.mean(out == 0))
    t.true(f"about p = {p} of the units are dropped", abs(dropped - p) <= 6 * np.sqrt(p * (1 - p) / x.size),
           f"got {dropped:.3f}")
    t.true(f"kept units are scaled by 1/(1-p) = {1 / (1 - p):.4f}",
           bool(np.allclose(out[out != 0], 1 / (1 - p))))
    ev = t.unpack("dropout_forward(training=False) returns (out, mask)",
                ns.call("dropout_forward", x * 3, p, seed=1, training=False), 2)
    if ev is not None:
        t.close("with training=False dropout is the identity", ev[0], x * 3, known_wrong={
            "dropout applied at evaluation: with training=False return x unchanged (and a mask of ones)":
            _ref_dropout(x * 3, p, 1)[0],
            "classic dropout, scaled by (1 - p) at evaluation: with inverted dropout the 1/(1-p) scaling happens "
            "in training, so evaluation is the identity": x * 3 * (1 - p)})
        t.close("with training=False the mask is all ones", ev[1], np.ones_like(x))


def dropout_backward_uses_the_mask(ns, t):
    x, p, seed = t.rng.normal(size=(6, 7)), 0.3, int(t.rng.integers(2**31))
    dout = t.rng.normal(size=x.shape)
    _, mask = _ref_dropout(x, p, seed)
    dx = ns.call("dropout_backward", dout, mask)
    t.close("dropout_backward(dout, mask) = dout * mask", dx, dout * mask, kind="backward",
            known_wrong={"the mask without the 1/(1-p) scaling": dout * (mask > 0),
                         "dout passed through unchanged: the backward ignores the mask (dx = dout * mask)": dout,
                         "dout * mask / (1 - p): the mask already holds the 1/(1-p) scaling, apply it once":
                         dout * mask / (1 - p)})
    got = ns.call("dropout_forward", x, p, seed=seed)
    if isinstance(got, (tuple, list)) and len(got) == 2:
        t.grad_matches_numeric("dropout_backward against numeric differentiation of your forward (fixed seed)",
                               lambda v: ns.call("dropout_forward", v, p, seed=seed)[0], x, dout,
                               ns.call("dropout_backward", dout, got[1]))


def dropout_edge_cases(ns, t):
    x = t.rng.normal(size=(3, 4))
    got = ns.call("dropout_forward", x, 0.0, seed=3)
    if t.unpack("dropout_forward returns (out, mask)", got, 2) is not None:
        t.close("p = 0 keeps every unit unchanged", got[0], x)
    t.raises_value_error("p = 1 raises ValueError", ns.call, "dropout_forward", x, 1.0, seed=3)
    t.raises_value_error("p = -0.1 raises ValueError", ns.call, "dropout_forward", x, -0.1, seed=3)


# -- penalties and max-norm ---------------------------------------------------------------------------------
def penalties_match_reference(ns, t):
    W, lam = t.rng.normal(size=(5, 4)), float(t.rng.choice([0.01, 0.1, 0.5]))
    W[0, 0] = 0.0
    for name, ref in (("l2_penalty", ref_optim.l2_penalty), ("l1_penalty", ref_optim.l1_penalty)):
        got = t.unpack(f"{name} returns (value, gradient)", ns.call(name, W, lam), 2)
        if got is None:
            continue
        value, grad = ref(W, lam)
        wrong = {"the gradient without λ (it is λ·W)": W, "a zero gradient: the penalty (λ/2)·||W||² adds λ·W to "
                 "the gradient": np.zeros_like(W)} if name == "l2_penalty" else {
            "λ·W, the L2 gradient, instead of λ·sign(W)": lam * W, "the gradient without λ (it is λ·sign(W))":
            np.sign(W), "sign(0) = 1 (as np.where(W >= 0, 1, -1) gives): use np.sign, whose sign(0) = 0":
            lam * np.where(W >= 0, 1.0, -1.0)}
        call, case = (f"{name}(W, lam)", " on a hidden W and lam") if t.hidden else (f"{name}(W, {lam})", "")
        since = len(t.results)
        t.close(f"{call} value{case}", got[0], np.float64(value))
        t.close(f"{call} gradient{case}", got[1], grad, kind="backward", known_wrong=wrong)
        t.note_hidden_case(since, f"lam = {lam}")


def penalties_numeric(ns, t):
    lam = 0.3
    for name in ("l2_penalty", "l1_penalty"):
        W = t.away_from_kinks((3, 4))
        got = t.unpack(f"{name} returns (value, gradient)", ns.call(name, W, lam), 2)
        if got is not None:
            t.grad_matches_numeric(f"{name} gradient against numeric differentiation of your value",
                                   lambda v, n=name: ns.call(n, v, lam)[0], W, np.float64(1.0), got[1])


def max_norm_matches_reference(ns, t):
    W = t.rng.normal(size=(6, 5)) * np.array([0.2, 1.0, 3.0, 0.5, 2.0])
    c = 1.5
    expected = ref_optim.max_norm_(W.copy(), c, axis=0)
    norms = np.linalg.norm(W, axis=0)
    row_norms = np.linalg.norm(W, axis=1, keepdims=True)
    t.close(f"max_norm(W, {c}) rescales only the columns longer than c", ns.call("max_norm", W, c), expected,
            known_wrong={"rescaling rows instead of columns": W * np.minimum(1, c / row_norms),
                         "rescaling every column to norm c": W * (c / norms),
                         "clipping each entry to [-c, c]: max-norm rescales each column whose 2-norm exceeds c":
                         np.clip(W, -c, c)})
    t.raises_value_error("max_norm with c = 0 raises ValueError", ns.call, "max_norm", W, 0.0)


# -- early stopping ------------------------------------------------------------------------------------------
def _ref_early_stopping(losses, patience, min_delta=0.0):
    best, best_epoch = np.inf, 0
    for epoch, loss in enumerate(losses):
        if loss < best - min_delta:
            best, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            return epoch, best_epoch
    return None, best_epoch


def _as_epochs(got):
    """Normalise a returned (stop, best) pair: integral numbers become int, None stays None."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return got
    out = []
    for v in got:
        if v is None or (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                         and float(v).is_integer()):
            out.append(None if v is None else int(v))
        else:
            return got
    return tuple(out)


def _es_case(ns, t, losses, patience, min_delta=0.0, label=""):
    """One history. In a hidden check ``label`` alone describes it (the history's length, ``patience`` and
    ``min_delta`` come from the secret) and the case goes into the details of a failure."""
    expected = _ref_early_stopping(losses, patience, min_delta)
    got = _as_epochs(ns.call("early_stopping", list(map(float, losses)), patience, min_delta=min_delta))
    settings = f"patience={patience}, min_delta={min_delta}"
    ok = t.equal(f"early_stopping on {label or 'a hidden history'}" if t.hidden
                 else f"early_stopping({label or losses}, {settings})", got, expected)
    t.note_hidden_case(len(t.results) - 1, f"{len(losses)} epochs {losses}, {settings}")
    if not ok and isinstance(got, tuple) and len(got) == 2 and got[0] is not None and got[0] == got[1] \
            and expected[0] == got[0] and expected[1] != got[1]:
        t.results[-1].diagnosis.append("you returned the stopping epoch as the best one: keep the epoch of the "
                                       "lowest loss, whose weights are the ones to restore (the best, not the last)")


def early_stopping_examples(ns, t):
    _es_case(ns, t, [5, 4, 3, 3.5, 3.2, 3.1, 3.3], 3)
    _es_case(ns, t, [5, 4, 3, 2, 1], 2)                 # never stops
    _es_case(ns, t, [1.0, 2.0, 1.0, 3.0, 4.0], 3)         # a tie is not an improvement: the earliest best
    # no loss sits exactly min_delta below the best: there `loss < best - min_delta` and the equally correct
    # `best - loss > min_delta` round differently (3.0 - 0.1 == 2.9, but 3.0 - 2.9 > 0.1)
    _es_case(ns, t, [3.0, 2.95, 2.92, 2.85, 2.8], 2, min_delta=0.1)


def early_stopping_random_histories(ns, t):
    for k in range(6):
        n = int(t.rng.integers(5, 30))
        losses = np.round(2.0 * np.exp(-np.arange(n) / 5) + 0.05 * np.arange(n) / 5
                          + t.rng.normal(size=n) * 0.05, 3).tolist()
        # min_delta is no multiple of 0.001, the losses' step, so no improvement sits on the rounding boundary
        _es_case(ns, t, losses, int(t.rng.integers(1, 6)), float(t.rng.choice([0.0, 0.0125])),
                 label=f"hidden noisy history {k + 1} of 6" if t.hidden else f"a noisy history of {n} epochs")
    t.raises_value_error("an empty history raises ValueError", ns.call, "early_stopping", [], 3)
    t.raises_value_error("patience = 0 raises ValueError", ns.call, "early_stopping", [1.0, 2.0], 0)
