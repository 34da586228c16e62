"""Unit 4: zero initialisation and symmetry. ``train_tiny`` (full-batch gradient descent of a tanh D-H-1 net) is
replayed by a NumPy reference, and ``distinct_units`` counts the hidden units that differ.

===============================================  ==========================================================
``train_tiny(W1, b1, W2, b2, X, Y, lr, steps)``  -> (W1, b1, W2, b2) after full-batch GD of a tanh D-H-1 net
``distinct_units(W1, b1)``                        the number of different hidden units (to 9 decimals)
===============================================  ==========================================================
"""

from __future__ import annotations

import numpy as np


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


def _ref_distinct_units(W1, b1) -> int:
    """The number of different hidden units (weights and bias, to 9 decimals), counted by the grader."""
    units = np.round(np.vstack([W1, b1[None, :]]).T, 9) + 0.0        # + 0.0: -0.0 and 0.0 are one value
    return len(np.unique(units, axis=0))


def symmetry_experiment(ns, t):
    """The notebook's experiment, with the student's train_tiny, judged by the grader.

    The inputs are public, so the grader trusts neither the student's counts nor a ``train_tiny`` that could
    know them: it replays the 2000 steps with its own reference, compares the weights the student's
    ``train_tiny`` returns, and counts their distinct hidden units itself.
    """
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
        ref = _ref_train_tiny(*init, x, y, 0.05, 2000)
        what = f"1-8-1 net from {name} weights, 2000 steps"
        matches = all([t.close(f"{what}: {part} as the reference trains it", g, r, rtol=1e-6, atol=1e-9)
                       for part, g, r in zip(("W1", "b1", "W2", "b2"), got, ref)])
        counted = _ref_distinct_units(np.asarray(got[0]), np.asarray(got[1])) if matches else None
        t.equal(f"{what}: distinct hidden units (counted by the grader)", counted, expected[name])


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
