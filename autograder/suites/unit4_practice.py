"""Unit 4, training in practice: Adagrad, symmetry, the student's training loop, the hyperparameter search,
learning-rate schedules and gradient clipping.

The training loop is graded by replay: ``solutions/unit4/unit4.ipynb`` spells out the recipe of ``fit_mlp``
(initialisation, shuffling, dropout seeds, Adam, L2 on weights only, early stopping), and ``_ref_fit`` below
follows it in float64 with its own NumPy code, so the student's history and weights can be compared value by
value. A few recognisable deviations from the recipe are replayed too, for the diagnosis.

Student-facing signatures:

===============================================  ==========================================================
``adagrad_step(w, g, s, lr=0.01, eps=1e-10)``     -> (w, s); s += g**2, w -= lr g / (sqrt(s) + eps)
``train_tiny(W1, b1, W2, b2, X, Y, lr, steps)``  -> (W1, b1, W2, b2) after full-batch GD of a tanh D-H-1 net
``distinct_units(W1, b1)``                        the number of different hidden units (to 9 decimals)
``mlp_forward(params, X, p_drop=0, rng=None)``    -> (scores, caches); params [(W, b), ...], ReLU between
``mlp_backward(params, caches, dout)``            -> [(dW, db), ...]
``fit_mlp(X, y, X_val, y_val, **hyper)``          -> (params, history)
``select_config(configs, Xtr, ytr, Xv, yv, **k)`` -> (best_config, scores)
``predict_digits(X)``                             (N, 64) -> (N,) integer labels
``step_decay_lr(epoch, base_lr, drop, every)``    base_lr * drop ** (epoch // every)
``cosine_lr(step, base_lr, total, min_lr=0)``     min_lr + (base_lr - min_lr) (1 + cos(pi step / total)) / 2
``clip_by_global_norm(grads, max_norm)``          -> (new arrays scaled by min(1, c / (norm + 1e-6)), norm)
===============================================  ==========================================================
"""

from __future__ import annotations

import numpy as np

from autograder.items import Item
from autograder.suites.digits import score_digits_split
from autograder.suites.unit4_regularize import raises_value_error

# -- Adagrad ---------------------------------------------------------------------------------------------------
def _adagrad_rule(lr, eps, *, inside=False, old_s=False, no_sum=False):
    def step(w, g, s):
        s_new = g * g if no_sum else s + g * g
        denom_s = s if old_s else s_new
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = np.sqrt(denom_s + eps) if inside else np.sqrt(denom_s) + eps
            return w - lr * g / denom, s_new
    return step


def _adagrad_trajectory(ns, t, ref_lr, ref_eps, steps=6, **hyper):
    from nnkit.optim import Adagrad

    k = 4
    A = t.rng.normal(size=(k, k))
    H = A @ A.T / k + 0.5 * np.eye(k)
    c = t.rng.normal(size=(k, 3))
    w = t.rng.normal(size=(k, 3))
    params, grads = {"w": w.copy()}, {"w": np.zeros_like(w)}
    lr, eps = ref_lr, ref_eps
    ref = Adagrad([(params, grads)], lr=lr, eps=eps, decay="all")
    wrong = {"eps inside the square root": _adagrad_rule(lr, eps, inside=True),
             "the old sum in the step (s is updated after w)": _adagrad_rule(lr, eps, old_s=True),
             "only this step's g**2, not the running sum (that is sign descent)": _adagrad_rule(lr, eps, no_sum=True)}
    wrong_state = {d: (w.copy(), np.zeros_like(w), []) for d in wrong}
    s, got_ws, ref_ws, s_ref = np.zeros_like(w), [], [], np.zeros_like(w)
    label = f"adagrad_step (lr {lr}, eps {eps:g})"
    for step in range(steps):
        g = H @ w + c
        got = t.unpack("adagrad_step returns (w, s)", ns.call("adagrad_step", w, g, s, **hyper), 2)
        if got is None:
            return
        grads["w"][...] = g
        ref.step()
        ref_ws.append(params["w"].copy())
        s_ref = s_ref + g * g
        for d, rule in wrong.items():
            ww, ws, path = wrong_state[d]
            ww, ws = rule(ww, g, ws)
            wrong_state[d] = (ww, ws, path + [ww])
        if not (isinstance(got[0], np.ndarray) and got[0].shape == w.shape):
            t.close(f"{label}: w after step {step + 1}", got[0], ref_ws[-1])
            return
        w, s = np.asarray(got[0], dtype=float), got[1]
        got_ws.append(w)
    t.close(f"{label}: the whole {steps}-step trajectory of w", np.stack(got_ws), np.stack(ref_ws), rtol=1e-9,
            atol=1e-12, known_wrong={d: np.stack(p) for d, (_, _, p) in wrong_state.items()})
    t.close(f"{label}: the sum of squares s after {steps} steps", s, s_ref, rtol=1e-9, atol=1e-12)


def adagrad_matches_reference(ns, t):
    _adagrad_trajectory(ns, t, 0.1, 1e-2, lr=0.1, eps=1e-2)   # a large eps: where it sits shows


def adagrad_defaults_and_inputs(ns, t):
    _adagrad_trajectory(ns, t, 0.01, 1e-10)
    w0, g0, s0 = t.rng.normal(size=5), t.rng.normal(size=5), t.rng.uniform(0.5, 1.0, size=5)
    a = t.unpack("adagrad_step returns (w, s)", ns.call("adagrad_step", w0, g0, s0, lr=0.5), 2)
    if a is not None:
        t.close("adagrad_step from a non-zero sum of squares", a[0], w0 - 0.5 * g0 / (np.sqrt(s0 + g0 * g0) + 1e-10),
                rtol=1e-9, atol=1e-12)


# -- symmetry ------------------------------------------------------------------------------------------------
def _ref_train_tiny(W1, b1, W2, b2, X, Y, lr, steps):
    for _ in range(steps):
        h = np.tanh(X @ W1 + b1)
        out = h @ W2 + b2
        dout = 2.0 * (out - Y) / Y.size
        dW2, db2 = h.T @ dout, dout.sum(axis=0)
        dz = (dout @ W2.T) * (1.0 - h ** 2)
        dW1, db1 = X.T @ dz, dz.sum(axis=0)
        W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
    return W1, b1, W2, b2


def _tiny_case(t, D=3, H=5, N=20):
    X, Y = t.rng.normal(size=(N, D)), t.rng.normal(size=(N, 1))
    init = (t.rng.normal(size=(D, H)), t.rng.normal(size=H), t.rng.normal(size=(H, 1)), t.rng.normal(size=1))
    return X, Y, init


def train_tiny_matches_reference(ns, t):
    X, Y, init = _tiny_case(t)
    got = t.unpack("train_tiny returns (W1, b1, W2, b2)", ns.call("train_tiny", *init, X, Y, 0.1, 25), 4)
    if got is None:
        return
    ref = _ref_train_tiny(*init, X, Y, 0.1, 25)
    sum_loss = _ref_train_tiny_sum(*init, X, Y, 0.1, 25)
    for name, g, r, s in zip(("W1", "b1", "W2", "b2"), got, ref, sum_loss):
        t.close(f"train_tiny (N=20, D=3, H=5, lr 0.1, 25 steps): {name}", g, r, rtol=1e-9, atol=1e-12,
                known_wrong={"the sum of squared errors instead of their mean (or 2 (out - Y) without / N)": s})


def _ref_train_tiny_sum(W1, b1, W2, b2, X, Y, lr, steps):
    return _ref_train_tiny(W1, b1, W2, b2, X * 1.0, Y, lr * Y.size, steps)


def distinct_units_counts(ns, t):
    D, H = 3, 6
    base = t.rng.normal(size=(D + 1, 3))
    for cols, expected in (([0, 1, 2, 0, 1, 2], 3), ([0, 0, 0, 0, 0, 0], 1), ([0, 1, 2, 2, 1, 1], 3)):
        W1, b1 = base[:D, cols].copy(), base[D, cols].copy()
        t.equal(f"distinct_units of a ({D}, {H}) W1 whose columns repeat {len(set(cols))} patterns",
                ns.call("distinct_units", W1, b1), expected)
    W1, b1 = t.rng.normal(size=(D, H)), t.rng.normal(size=H)
    W1[:, 1], b1[1] = W1[:, 0], b1[0] + 1.0          # the same weights but another bias: a different unit
    t.equal("distinct_units counts a unit whose weights match another's but whose bias differs",
            ns.call("distinct_units", W1, b1), H)


def symmetry_experiment(ns, t):
    """The notebook's experiment, run with the student's train_tiny and distinct_units."""
    from nnkit import data

    x, y = data.make_regression_1d(100, seed=1)
    H = 8
    rng = np.random.default_rng(0)
    inits = {"zeros": (np.zeros((1, H)), np.zeros(H), np.zeros((H, 1)), np.zeros(1)),
             "constant 0.5": (np.full((1, H), 0.5), np.full(H, 0.5), np.full((H, 1), 0.5), np.full(1, 0.5)),
             "random N(0, 1)": (rng.normal(size=(1, H)), rng.normal(size=H), rng.normal(size=(H, 1)), np.zeros(1))}
    expected = {"zeros": 1, "constant 0.5": 1, "random N(0, 1)": H}
    for name, init in inits.items():
        got = t.unpack("train_tiny returns (W1, b1, W2, b2)", ns.call("train_tiny", *init, x, y, 0.05, 2000), 4)
        if got is None:
            return
        t.equal(f"1-8-1 net from {name} weights, 2000 steps: distinct hidden units",
                ns.call("distinct_units", got[0], got[1]), expected[name])


def equal_start_stays_symmetric(ns, t):
    X, Y, _ = _tiny_case(t, D=2, H=4, N=16)
    c = float(t.rng.uniform(0.2, 0.8))
    init = (np.full((2, 4), c), np.full(4, c), np.full((4, 1), c), np.zeros(1))
    got = t.unpack("train_tiny returns (W1, b1, W2, b2)", ns.call("train_tiny", *init, X, Y, 0.05, 40), 4)
    if got is None:
        return
    W1 = got[0]
    if t.true("train_tiny from equal weights returns W1 of shape (2, 4)", isinstance(W1, np.ndarray)
              and W1.shape == (2, 4)):
        t.true("from equal weights all hidden units stay identical (symmetry is never broken)",
               bool(np.allclose(W1, W1[:, :1], rtol=0, atol=1e-12)), f"W1 = {np.round(W1, 6).tolist()}")
    zero = (np.zeros((2, 4)), np.zeros(4), np.zeros((4, 1)), np.zeros(1))
    got = t.unpack("train_tiny returns (W1, b1, W2, b2)", ns.call("train_tiny", *zero, X, Y, 0.05, 40), 4)
    if got is not None:
        ref = _ref_train_tiny(*zero, X, Y, 0.05, 40)
        for name, g, r in zip(("W1", "W2", "b2"), (got[0], got[2], got[3]), (ref[0], ref[2], ref[3])):
            t.close(f"from all-zero weights: {name} after 40 steps", g, r, rtol=1e-9, atol=1e-12)


# -- the training loop -----------------------------------------------------------------------------------------
def _he(d, m, seed):
    return np.random.default_rng(seed).normal(0.0, np.sqrt(2.0 / d), size=(d, m))


def _ce(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    d = np.exp(logp)
    d[rows, y] -= 1.0
    return float(-logp[rows, y].mean()), d / len(y)


def _ref_forward(params, X, p_drop=0.0, rng=None):
    h, caches = np.asarray(X, dtype=float), []
    for k, (W, b) in enumerate(params):
        z = h @ W + b
        if k == len(params) - 1:
            caches.append((h, None, None))
            return z, caches
        relu, drop = z > 0, None
        out = z * relu
        if p_drop > 0 and rng is not None:
            keep = np.random.default_rng(int(rng.integers(2**31))).random(out.shape) >= p_drop
            drop = keep / (1.0 - p_drop)
            out = out * drop
        caches.append((h, relu, drop))
        h = out


def _ref_backward(params, caches, dout):
    grads = [None] * len(params)
    for k in reversed(range(len(params))):
        grads[k] = (caches[k][0].T @ dout, dout.sum(axis=0))
        dout = dout @ params[k][0].T
        if k > 0:
            _, relu, drop = caches[k - 1]
            if drop is not None:
                dout = dout * drop
            dout = dout * relu
    return grads


def _adam(w, g, m, v, k, lr):
    k += 1
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    return w - lr * (m / (1 - 0.9 ** k)) / (np.sqrt(v / (1 - 0.999 ** k)) + 1e-8), m, v, k


def _ref_fit(X, y, X_val, y_val, *, hidden=(64,), n_classes=10, lr=1e-3, batch_size=32, weight_decay=0.0,
             p_drop=0.0, epochs=20, patience=None, seed=0, decay_biases=False, restore=True, train_mode_eval=False):
    """The recipe of the notebook; the last three flags replay common deviations for the diagnosis."""
    sizes = [X.shape[1], *hidden, n_classes]
    params = [(_he(d, m, seed + k), np.zeros(m)) for k, (d, m) in enumerate(zip(sizes[:-1], sizes[1:]))]
    state = [[(np.zeros_like(a), np.zeros_like(a), 0) for a in pair] for pair in params]
    rng = np.random.default_rng(seed)
    hist = {"train_loss": [], "val_loss": [], "val_accuracy": [], "best_epoch": 0, "stop_epoch": None}
    best_params, best = params, np.inf
    for epoch in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            scores, caches = _ref_forward(params, X[idx], p_drop, rng)
            grads = _ref_backward(params, caches, _ce(scores, y[idx])[1])
            new = []
            for k, ((W, b), (dW, db)) in enumerate(zip(params, grads)):
                dW = dW + weight_decay * W
                if decay_biases:
                    db = db + weight_decay * b
                (mW, vW, tW), (mb, vb, tb) = state[k]
                W, mW, vW, tW = _adam(W, dW, mW, vW, tW, lr)
                b, mb, vb, tb = _adam(b, db, mb, vb, tb, lr)
                state[k] = [(mW, vW, tW), (mb, vb, tb)]
                new.append((W, b))
            params = new
        eval_rng = np.random.default_rng(0) if train_mode_eval else None
        hist["train_loss"].append(_ce(_ref_forward(params, X, p_drop, eval_rng)[0], y)[0])
        val_scores = _ref_forward(params, X_val, p_drop, eval_rng)[0]
        hist["val_loss"].append(_ce(val_scores, y_val)[0])
        hist["val_accuracy"].append(float(np.mean(np.argmax(val_scores, axis=1) == y_val)))
        if patience is None:
            continue
        if hist["val_loss"][-1] < best:
            best, hist["best_epoch"], best_params = hist["val_loss"][-1], epoch, params
        elif epoch - hist["best_epoch"] >= patience:
            hist["stop_epoch"] = epoch
            break
    if patience is None:
        hist["best_epoch"] = int(np.argmin(hist["val_loss"]))
        return params, hist
    return (best_params if restore else params), hist


def _digits_subset(t, n_train, n_val):
    from nnkit import data

    splits = data.digits_splits()
    i = t.rng.permutation(len(splits["X_train"]))
    return (splits["X_train"][i[:n_train]], splits["y_train"][i[:n_train]],
            splits["X_train"][i[n_train:n_train + n_val]], splits["y_train"][i[n_train:n_train + n_val]])


def _compare_fit(ns, t, label, data_, wrong_flags=None, **hyper):
    X, y, Xv, yv = data_
    got = t.unpack("fit_mlp returns (params, history)", ns.call("fit_mlp", X, y, Xv, yv, **hyper), 2)
    if got is None:
        return
    params, hist = got
    ref_params, ref_hist = _ref_fit(X, y, Xv, yv, **hyper)
    wrongs = {d: _ref_fit(X, y, Xv, yv, **hyper, **flags) for d, flags in (wrong_flags or {}).items()}
    if not isinstance(hist, dict):
        t.fail(f"{label}: history", f"expected a dict, got {type(hist).__name__}")
        return
    for key in ("train_loss", "val_loss", "val_accuracy"):
        got_curve = hist.get(key)
        if isinstance(got_curve, list):
            got_curve = np.asarray(got_curve, dtype=float) if all(
                isinstance(v, (int, float)) for v in got_curve) else got_curve
        t.close(f"{label}: history[{key!r}] (one value per epoch run)", got_curve, np.asarray(ref_hist[key]),
                rtol=1e-7, atol=1e-10, known_wrong={d: np.asarray(w[1][key]) for d, w in wrongs.items()
                                                    if len(w[1][key]) == len(ref_hist[key])})
    for key in ("best_epoch", "stop_epoch"):
        t.equal(f"{label}: history[{key!r}]", hist.get(key), ref_hist[key])
    if not (isinstance(params, list) and len(params) == len(ref_params)):
        t.fail(f"{label}: params", f"expected a list of {len(ref_params)} (W, b) pairs, got "
                                    f"{type(params).__name__} of length {len(params) if hasattr(params, '__len__') else '?'}")
        return
    for k, (pair, (W, b)) in enumerate(zip(params, ref_params)):
        known = {d: w[0][k][0] for d, w in wrongs.items()}
        t.close(f"{label}: params[{k}][0] (W of layer {k})", pair[0] if isinstance(pair, (tuple, list)) else pair,
                W, rtol=1e-7, atol=1e-10, known_wrong=known)


def mlp_forward_backward(ns, t):
    params = [(t.rng.normal(size=(5, 4)), t.rng.normal(size=4)), (t.rng.normal(size=(4, 3)), t.rng.normal(size=3)),
              (t.rng.normal(size=(3, 2)), t.rng.normal(size=2))]
    X = t.rng.normal(size=(6, 5))
    got = t.unpack("mlp_forward returns (scores, caches)", ns.call("mlp_forward", params, X), 2)
    if got is None:
        return
    ref_scores, ref_caches = _ref_forward(params, X)
    t.close("mlp_forward (5 -> 4 -> 3 -> 2, ReLU between): scores", got[0], ref_scores,
            known_wrong={"ReLU after the last layer too": np.maximum(ref_scores, 0)})
    dout = t.rng.normal(size=ref_scores.shape)
    grads = ns.call("mlp_backward", params, got[1], dout)
    ref = _ref_backward(params, ref_caches, dout)
    if not (isinstance(grads, list) and len(grads) == 3):
        t.fail("mlp_backward returns [(dW, db), ...], one pair per layer", f"got {type(grads).__name__}")
        return
    for k, (pair, (dW, db)) in enumerate(zip(grads, ref)):
        if t.unpack(f"mlp_backward: entry {k} is a (dW, db) pair", pair, 2) is None:
            return
        t.close(f"mlp_backward: dW of layer {k}", pair[0], dW, kind="backward")
        t.close(f"mlp_backward: db of layer {k}", pair[1], db, kind="backward",
                known_wrong={"db averaged over the batch (the loss already did that)": db / len(X)})
    W0 = params[0][0]

    def loss_of_W0(W):
        out = ns.call("mlp_forward", [(W, params[0][1])] + params[1:], X)
        return out[0] if isinstance(out, tuple) else out

    t.grad_matches_numeric("mlp_backward: dW of layer 0 against numeric differentiation of your mlp_forward",
                           loss_of_W0, W0, dout, grads[0][0])
    labels = ns.call("mlp_predict", params, X)
    t.equal("mlp_predict: the argmax of the scores", labels, np.argmax(ref_scores, axis=1))


def fit_plain(ns, t):
    d = _digits_subset(t, 120, 60)
    _compare_fit(ns, t, "fit_mlp(hidden=(16,), lr 3e-3, batch 32, 3 epochs)", d, hidden=(16,), lr=3e-3,
                 batch_size=32, epochs=3, seed=int(t.rng.integers(100)))
    _compare_fit(ns, t, "fit_mlp with weight_decay 0.05", d,
                 wrong_flags={"weight decay on the biases too": {"decay_biases": True}},
                 hidden=(16,), lr=3e-3, batch_size=40, epochs=2, weight_decay=0.05, seed=1)
    _compare_fit(ns, t, "fit_mlp with patience 2 on 40 examples (stops early)", _digits_subset(t, 40, 60),
                 wrong_flags={"the last epoch's weights returned instead of the best epoch's": {"restore": False}},
                 hidden=(32,), lr=3e-2, batch_size=10, epochs=20, patience=2, seed=4)


def fit_dropout_and_early_stopping(ns, t):
    d = _digits_subset(t, 60, 80)
    _compare_fit(ns, t, "fit_mlp with p_drop 0.3 and two hidden layers", d,
                 wrong_flags={"losses measured with dropout on (evaluate without dropout)": {"train_mode_eval": True}},
                 hidden=(24, 12), lr=1e-2, batch_size=16, epochs=3, p_drop=0.3, seed=2)
    _compare_fit(ns, t, "fit_mlp with patience 2 (an over-fitting run that stops early)", d,
                 wrong_flags={"the last epoch's weights returned instead of the best epoch's": {"restore": False}},
                 hidden=(64,), lr=3e-2, batch_size=10, epochs=25, patience=2, seed=3)


# -- the hyperparameter search ---------------------------------------------------------------------------------
_CONFIGS = [{"lr": 1e-4, "batch_size": 32}, {"lr": 1e-2, "batch_size": 16}]
_FIT_KW = {"hidden": (16,), "epochs": 2, "seed": 0}


def _ref_scores(X, y, Xv, yv, configs):
    fitted = [_ref_fit(X, y, Xv, yv, **_FIT_KW, **c)[0] for c in configs]
    return fitted, [float(np.mean(np.argmax(_ref_forward(p, Xv)[0], axis=1) == yv)) for p in fitted]


def select_config_matches_replay(ns, t):
    X, y, Xv, yv = _digits_subset(t, 100, 60)
    got = t.unpack("select_config returns (best_config, scores)",
                   ns.call("select_config", _CONFIGS, X, y, Xv, yv, **_FIT_KW), 2)
    if got is None:
        return
    _, ref = _ref_scores(X, y, Xv, yv, _CONFIGS)
    scores = np.asarray(got[1], dtype=float) if isinstance(got[1], list) else got[1]
    t.close("select_config: the validation accuracy of each config (2 configs, 2 epochs)", scores, np.asarray(ref),
            rtol=0, atol=1e-12)
    t.equal("select_config: the chosen config is the first with the best score", got[0],
            _CONFIGS[int(np.argmax(ref))])


def select_config_follows_the_validation_data(ns, t):
    """Two validation label sets, each made to favour a different config: the choice must follow the one given."""
    X, y, Xv, _ = _digits_subset(t, 100, 60)
    fitted, _ = _ref_scores(X, y, Xv, np.zeros(len(Xv), dtype=int), _CONFIGS)
    preds = [np.argmax(_ref_forward(p, Xv)[0], axis=1) for p in fitted]
    if np.array_equal(preds[0], preds[1]):   # cannot happen with these configs, but never grade on a tie
        return
    for k in (0, 1):
        got = t.unpack("select_config returns (best_config, scores)",
                       ns.call("select_config", _CONFIGS, X, y, Xv, preds[k], **_FIT_KW), 2)
        if got is None:
            return
        ok = got[0] == _CONFIGS[k]
        t.record(f"with validation labels that favour config {k}, select_config chooses config {k}",
                 1.0 if ok else 0.0, [] if ok else [f"expected {_CONFIGS[k]}, got {got[0]!r}"],
                 [] if ok else ["the choice must be made on the (X_val, y_val) passed in: not on the training "
                                "data, not on the test split, and not on a fixed split read from nnkit.data"])


def digits_validation(ns, t):
    score_digits_split(ns, t, "validation", full=0.95, zero=0.80)


def digits_test(ns, t):
    score_digits_split(ns, t, "held-out test", full=0.95, zero=0.80)


# -- schedules and clipping ------------------------------------------------------------------------------------
def schedules_match(ns, t):
    base, drop, every = float(t.rng.choice([0.1, 0.05])), 0.5, int(t.rng.integers(3, 7))
    epochs = list(range(0, 3 * every + 2))
    got = [ns.call("step_decay_lr", e, base, drop=drop, every=every) for e in epochs]
    exp = [base * drop ** (e // every) for e in epochs]
    t.close(f"step_decay_lr(epoch, {base}, drop={drop}, every={every}) for epochs 0..{epochs[-1]}",
            _floats(got), np.array(exp), rtol=1e-12, atol=0,
            known_wrong={"drop ** (epoch / every) (no floor: a smooth decay, not steps)":
                         np.array([base * drop ** (e / every) for e in epochs]),
                         "the first drop one epoch early ((epoch + 1) // every)":
                         np.array([base * drop ** ((e + 1) // every) for e in epochs])})
    total, lo = int(t.rng.integers(10, 30)), float(t.rng.choice([0.0, 1e-3]))
    steps = list(range(total + 1))
    got = [ns.call("cosine_lr", s, base, total, min_lr=lo) for s in steps]
    exp = [lo + 0.5 * (base - lo) * (1 + np.cos(np.pi * s / total)) for s in steps]
    t.close(f"cosine_lr(step, {base}, total={total}, min_lr={lo}) for steps 0..{total}", _floats(got),
            np.array(exp), rtol=1e-12, atol=1e-15,
            known_wrong={"min_lr ignored": np.array([0.5 * base * (1 + np.cos(np.pi * s / total)) for s in steps]),
                         "cos(step / total) without pi": np.array(
                             [lo + 0.5 * (base - lo) * (1 + np.cos(s / total)) for s in steps])})


def _floats(values):
    try:
        return np.array([float(v) for v in values])
    except (TypeError, ValueError):
        return values[0] if values else None


def _clip_case(ns, t, grads, max_norm, label):
    from nnkit.optim import clip_grad_norm_

    copies = [g.copy() for g in grads]
    total = clip_grad_norm_(copies, max_norm)
    got = t.unpack("clip_by_global_norm returns (clipped, total_norm)", ns.call("clip_by_global_norm", grads,
                                                                                  max_norm), 2)
    if got is None:
        return
    clipped, norm = got
    t.close(f"{label}: the norm before clipping", np.asarray(norm) if isinstance(norm, float) else norm,
            np.asarray(total), rtol=1e-12, atol=0)
    if not (isinstance(clipped, list) and len(clipped) == len(grads)):
        t.fail(f"{label}: clipped", f"expected a list of {len(grads)} arrays, got {type(clipped).__name__}")
        return
    per_array = [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads]
    always = [g * max_norm / (total + 1e-6) for g in grads]
    for k, (c, e) in enumerate(zip(clipped, copies)):
        t.close(f"{label}: clipped array {k}", c, e, rtol=1e-9, atol=1e-15,
                known_wrong={"each array clipped by its own norm (clip by the global norm of all arrays)": per_array[k],
                             "scaled to max_norm even when the norm is already smaller": always[k]})


def clipping_matches_torch_rule(ns, t):
    grads = [t.rng.normal(size=(4, 3)) * 10, t.rng.normal(size=3) * 10, t.rng.normal(size=(3, 2))]
    _clip_case(ns, t, grads, 1.0, "clip_by_global_norm(three arrays with norm ~40, max_norm 1)")
    small = [t.rng.normal(size=(2, 2)) * 0.01, t.rng.normal(size=2) * 0.01]
    _clip_case(ns, t, small, 5.0, "clip_by_global_norm(norm ~0.03 below max_norm 5: unchanged)")


def clipping_edge_cases(ns, t):
    grads = [t.rng.normal(size=(3, 3)) * 100, t.rng.normal(size=(5,)) * 0.1]
    _clip_case(ns, t, grads, float(t.rng.uniform(0.5, 2.0)), "clip_by_global_norm (one large and one small array)")
    _clip_case(ns, t, [np.zeros((2, 3))], 1.0, "clip_by_global_norm of a zero gradient")
    raises_value_error(ns, t, "clip_by_global_norm with max_norm 0 raises ValueError", "clip_by_global_norm",
                        [np.ones(2)], 0.0)


ITEMS = [
    Item("u4_adagrad", 2, "adagrad_step", names=("adagrad_step",), checks=(adagrad_matches_reference,),
         hidden_checks=(adagrad_defaults_and_inputs, adagrad_matches_reference)),
    Item("u4_symmetry", 2, "train_tiny and the symmetry of equal starts", names=("train_tiny", "distinct_units"),
         checks=(train_tiny_matches_reference, distinct_units_counts, symmetry_experiment),
         hidden_checks=(equal_start_stays_symmetric, distinct_units_counts)),
    Item("u4_fit", 5, "your training loop (mlp_forward, mlp_backward, mlp_predict, fit_mlp)",
         names=("mlp_forward", "mlp_backward", "mlp_predict", "fit_mlp"),
         checks=(mlp_forward_backward, fit_plain), hidden_checks=(fit_dropout_and_early_stopping, fit_plain),
         timeout=60),
    Item("u4_search", 3, "select_config chooses on the validation data", names=("select_config",),
         checks=(select_config_matches_replay,), hidden_checks=(select_config_follows_the_validation_data,),
         timeout=60),
    Item("u4_search_digits", 4, "the chosen network on held-out digits", names=("predict_digits",),
         checks=(digits_validation,), hidden_checks=(digits_test,)),
    Item("u4_schedule_clip", 3, "step_decay_lr, cosine_lr and clip_by_global_norm",
         names=("step_decay_lr", "cosine_lr", "clip_by_global_norm"),
         checks=(schedules_match, clipping_matches_torch_rule), hidden_checks=(clipping_edge_cases, schedules_match)),
]
