"""Unit 4: the student's training loop, graded by replay.

``solutions/unit4/unit4.ipynb`` spells out the recipe of ``fit_mlp`` (initialisation, shuffling, dropout seeds,
Adam, L2 on weights only, early stopping), and ``ref_fit`` below follows it in float64 with its own NumPy code,
so the student's history and weights can be compared value by value. A few recognisable deviations from the
recipe are replayed too, for the diagnosis. ``unit4_search`` reuses the replay to grade the hyperparameter search.

===============================================  ==========================================================
``mlp_forward(params, X, p_drop=0, rng=None)``    -> (scores, caches); params [(W, b), ...], ReLU between
``mlp_backward(params, caches, dout)``            -> [(dW, db), ...]
``mlp_predict(params, X)``                        the argmax of the scores
``fit_mlp(X, y, X_val, y_val, **hyper)``          -> (params, history)
===============================================  ==========================================================
"""

from __future__ import annotations

import numpy as np


def _he(d, m, seed):
    return np.random.default_rng(seed).normal(0.0, np.sqrt(2.0 / d), size=(d, m))


def ref_cross_entropy(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    d = np.exp(logp)
    d[rows, y] -= 1.0
    return float(-logp[rows, y].mean()), d / len(y)


def ref_forward(params, X, p_drop=0.0, rng=None, drop_scores=False):
    h, caches = np.asarray(X, dtype=float), []
    for k, (W, b) in enumerate(params):
        z = h @ W + b
        if k == len(params) - 1:
            last = None
            if drop_scores and p_drop > 0 and rng is not None:   # a mistake replayed for the diagnosis
                last = (np.random.default_rng(int(rng.integers(2**31))).random(z.shape) >= p_drop) / (1 - p_drop)
                z = z * last
            caches.append((h, None, last))
            return z, caches
        relu, drop = z > 0, None
        out = z * relu
        if p_drop > 0 and rng is not None:
            keep = np.random.default_rng(int(rng.integers(2**31))).random(out.shape) >= p_drop
            drop = keep / (1.0 - p_drop)
            out = out * drop
        caches.append((h, relu, drop))
        h = out


def ref_backward(params, caches, dout, relu=True):
    grads = [None] * len(params)
    if caches[-1][2] is not None:                          # dropout on the scores (a replayed mistake)
        dout = dout * caches[-1][2]
    for k in reversed(range(len(params))):
        grads[k] = (caches[k][0].T @ dout, dout.sum(axis=0))
        dout = dout @ params[k][0].T
        if k > 0:
            _, relu_mask, drop = caches[k - 1]
            if drop is not None:
                dout = dout * drop
            dout = dout * relu_mask if relu else dout
    return grads


def _adam(w, g, m, v, k, lr):
    k += 1
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    return w - lr * (m / (1 - 0.9 ** k)) / (np.sqrt(v / (1 - 0.999 ** k)) + 1e-8), m, v, k


def ref_fit(X, y, X_val, y_val, *, hidden=(64,), n_classes=10, lr=1e-3, batch_size=32, weight_decay=0.0,
             p_drop=0.0, epochs=20, patience=None, seed=0, decay_biases=False, restore=True, train_mode_eval=False,
             shuffle=True, batch_train_loss=False, reset_adam=False, drop_last=False, decoupled=False,
             shuffle_once=False, drop_scores=False, legacy_shuffle=False, rng_per_epoch=False, same_init_seed=False,
             adam_default_lr=False):
    """The recipe of the notebook; the flags after ``seed`` replay common deviations for the diagnosis
    (``train_mode_eval``: True evaluates with dropout from a fresh generator, "shared" from the training one)."""
    sizes = [X.shape[1], *hidden, n_classes]
    params = [(_he(d, m, seed + (0 if same_init_seed else k)), np.zeros(m))
              for k, (d, m) in enumerate(zip(sizes[:-1], sizes[1:]))]
    step_lr = 1e-3 if adam_default_lr else lr
    legacy = np.random.RandomState(seed) if legacy_shuffle else None
    state = [[(np.zeros_like(a), np.zeros_like(a), 0) for a in pair] for pair in params]
    rng = np.random.default_rng(seed)
    hist = {"train_loss": [], "val_loss": [], "val_accuracy": [], "best_epoch": 0, "stop_epoch": None}
    best_params, best = params, np.inf
    first_order = rng.permutation(len(X)) if shuffle_once else None
    for epoch in range(epochs):
        if reset_adam:
            state = [[(np.zeros_like(a), np.zeros_like(a), 0) for a in pair] for pair in params]
        if rng_per_epoch:
            rng = np.random.default_rng(seed)
        order = (first_order if shuffle_once else legacy.permutation(len(X)) if legacy is not None
                 else rng.permutation(len(X)) if shuffle else np.arange(len(X)))
        batch_losses = []
        for start in range(0, len(X) - (batch_size - 1 if drop_last else 0), batch_size):
            idx = order[start:start + batch_size]
            scores, caches = ref_forward(params, X[idx], p_drop, rng, drop_scores)
            loss, dout = ref_cross_entropy(scores, y[idx])
            batch_losses.append(loss * len(idx))
            grads = ref_backward(params, caches, dout)
            new = []
            for k, ((W, b), (dW, db)) in enumerate(zip(params, grads)):
                W_old = W
                if not decoupled:
                    dW = dW + weight_decay * W
                if decay_biases:
                    db = db + weight_decay * b
                (mW, vW, tW), (mb, vb, tb) = state[k]
                W, mW, vW, tW = _adam(W, dW, mW, vW, tW, step_lr)
                b, mb, vb, tb = _adam(b, db, mb, vb, tb, step_lr)
                if decoupled:
                    W = W - lr * weight_decay * W_old
                state[k] = [(mW, vW, tW), (mb, vb, tb)]
                new.append((W, b))
            params = new
        eval_rng = rng if train_mode_eval == "shared" else np.random.default_rng(0) if train_mode_eval else None
        train_loss = ref_cross_entropy(ref_forward(params, X, p_drop, eval_rng)[0], y)[0]
        hist["train_loss"].append(sum(batch_losses) / len(X) if batch_train_loss else train_loss)
        val_scores = ref_forward(params, X_val, p_drop, eval_rng)[0]
        hist["val_loss"].append(ref_cross_entropy(val_scores, y_val)[0])
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


def digits_subset(t, n_train, n_val):
    from nnkit import data

    splits = data.digits_splits()
    i = t.rng.permutation(len(splits["X_train"]))
    return (splits["X_train"][i[:n_train]], splits["y_train"][i[:n_train]],
            splits["X_train"][i[n_train:n_train + n_val]], splits["y_train"][i[n_train:n_train + n_val]])


def _same_twice(t, label, first, second):
    """A second call with the same seed must give the same history (a global random state does not)."""
    try:
        curves = [np.asarray(h["train_loss"], dtype=float) for h in (first, second)]
    except (TypeError, KeyError, ValueError):
        return   # no usable history: the comparison with the reference says what is wrong with it
    same = curves[0].shape == curves[1].shape and bool(np.array_equal(curves[0], curves[1]))
    t.true(f"{label}: the same seed twice gives the same history", same,
           "two calls with the same seed and data trained differently: something draws from NumPy's global random "
           "state (np.random.permutation, np.random.rand, ...); draw every random number from "
           "rng = np.random.default_rng(seed) (or the first call changed X or y in place)")


def _compare_fit(ns, t, label, data_, wrong_flags=None, twice=False, **hyper):
    X, y, Xv, yv = data_
    got = t.unpack("fit_mlp returns (params, history)", ns.call("fit_mlp", X, y, Xv, yv, **hyper), 2)
    if got is None:
        return
    params, hist = got
    if twice:
        again = ns.call("fit_mlp", X, y, Xv, yv, **hyper)
        _same_twice(t, label, hist, again[1] if isinstance(again, (tuple, list)) and len(again) == 2 else None)
    ref_params, ref_hist = ref_fit(X, y, Xv, yv, **hyper)
    wrongs = {d: ref_fit(X, y, Xv, yv, **{**hyper, **flags}) for d, flags in (wrong_flags or {}).items()}
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
    ref_scores, ref_caches = ref_forward(params, X)
    t.close("mlp_forward (5 -> 4 -> 3 -> 2, ReLU between): scores", got[0], ref_scores,
            known_wrong={"ReLU after the last layer too": np.maximum(ref_scores, 0)})
    dout = t.rng.normal(size=ref_scores.shape)
    grads = ns.call("mlp_backward", params, got[1], dout)
    ref = ref_backward(params, ref_caches, dout)
    no_relu = ref_backward(params, ref_caches, dout, relu=False)
    relu_missing = "the ReLU is missing in the backward: after each hidden layer multiply dout by its mask (z > 0)"
    if not (isinstance(grads, list) and len(grads) == 3):
        t.fail("mlp_backward returns [(dW, db), ...], one pair per layer", f"got {type(grads).__name__}")
        return
    for k, (pair, (dW, db)) in enumerate(zip(grads, ref)):
        if t.unpack(f"mlp_backward: entry {k} is a (dW, db) pair", pair, 2) is None:
            return
        t.close(f"mlp_backward: dW of layer {k}", pair[0], dW, kind="backward",
                known_wrong={relu_missing: no_relu[k][0]})
        t.close(f"mlp_backward: db of layer {k}", pair[1], db, kind="backward",
                known_wrong={"db averaged over the batch (the loss already did that)": db / len(X),
                             relu_missing: no_relu[k][1]})
    W0 = params[0][0]

    def loss_of_W0(W):
        out = ns.call("mlp_forward", [(W, params[0][1])] + params[1:], X)
        return out[0] if isinstance(out, (tuple, list)) and len(out) == 2 else out   # (scores, caches), as a list too

    t.grad_matches_numeric("mlp_backward: dW of layer 0 against numeric differentiation of your mlp_forward",
                           loss_of_W0, W0, dout, grads[0][0])
    labels = ns.call("mlp_predict", params, X)
    t.equal("mlp_predict: the argmax of the scores", labels, np.argmax(ref_scores, axis=1))


PLAIN_MISTAKES = {
    "the data not shuffled: each epoch draws order = rng.permutation(len(X))": {"shuffle": False},
    "the data shuffled once, before the first epoch: each epoch draws a new order = rng.permutation(len(X))":
        {"shuffle_once": True},
    "train_loss averaged over the batches during the epoch; the recipe measures it on all of X after the epoch":
        {"batch_train_loss": True},
    "the Adam state (m, v, t) reset every epoch: create it once, before the first epoch": {"reset_adam": True},
    "the last, smaller batch dropped: range(0, len(X), batch_size) keeps it": {"drop_last": True},
    "shuffled with NumPy's legacy global state (np.random.seed(seed), np.random.permutation): draw the order "
    "from rng = np.random.default_rng(seed)": {"legacy_shuffle": True},
    "the generator re-created every epoch (every epoch repeats the same order): create "
    "rng = np.random.default_rng(seed) once, before the first epoch": {"rng_per_epoch": True},
    "every layer initialised with the same seed: layer k uses he_normal(d, m, seed + k)": {"same_init_seed": True},
    "adam_step called without lr=lr: it ran with its default learning rate 1e-3": {"adam_default_lr": True}}
DECAY_MISTAKES = {
    "weight decay on the biases too": {"decay_biases": True},
    "weight decay is ignored in the update: add the L2 gradient weight_decay * W to dW (the penalty in the loss "
    "alone does not change the step)": {"weight_decay": 0.0},
    "decoupled weight decay (AdamW: W -= lr * weight_decay * W after the step); the recipe adds weight_decay * W "
    "to dW before adam_step (L2, coupled)": {"decoupled": True}}


def fit_plain(ns, t):
    d = digits_subset(t, 120, 60)
    _compare_fit(ns, t, "fit_mlp(hidden=(16,), lr 3e-3, batch 32, 3 epochs)", d, wrong_flags=PLAIN_MISTAKES,
                 twice=True, hidden=(16,), lr=3e-3, batch_size=32, epochs=3, seed=int(t.rng.integers(100)))
    _compare_fit(ns, t, "fit_mlp with weight_decay 0.05", d, wrong_flags=DECAY_MISTAKES,
                 hidden=(16,), lr=3e-3, batch_size=40, epochs=2, weight_decay=0.05, seed=1)
    _compare_fit(ns, t, "fit_mlp with patience 2 on 40 examples (stops early)", digits_subset(t, 40, 60),
                 wrong_flags={"the last epoch's weights returned instead of the best epoch's": {"restore": False}},
                 hidden=(32,), lr=3e-2, batch_size=10, epochs=20, patience=2, seed=4)


def fit_dropout_and_early_stopping(ns, t):
    d = digits_subset(t, 60, 80)
    _compare_fit(ns, t, "fit_mlp with p_drop 0.3 and two hidden layers", d, twice=True,
                 wrong_flags={"losses measured with dropout on (evaluate without dropout)": {"train_mode_eval": True},
                              "losses measured with dropout on, drawn from the training generator rng (evaluate "
                              "without dropout: mlp_forward(params, X))": {"train_mode_eval": "shared"},
                              "dropout on the scores too: it follows the hidden ReLUs only, never the last layer":
                                  {"drop_scores": True}},
                 hidden=(24, 12), lr=1e-2, batch_size=16, epochs=3, p_drop=0.3, seed=2)
    _compare_fit(ns, t, "fit_mlp with patience 2 (an over-fitting run that stops early)", d,
                 wrong_flags={"the last epoch's weights returned instead of the best epoch's": {"restore": False}},
                 hidden=(64,), lr=3e-2, batch_size=10, epochs=25, patience=2, seed=3)
