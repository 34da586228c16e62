"""Unit 4: the hyperparameter search and the network it chooses.

``select_config`` is replayed with ``unit4_fit``'s reference training loop, and checked to follow the
validation data it is given (never the test split); ``predict_digits`` is scored on the digits splits.

===============================================  ==========================================================
``select_config(configs, Xtr, ytr, Xv, yv, **k)`` -> (best_config, scores)
``predict_digits(X)``                             (N, 64) -> (N,) integer labels
===============================================  ==========================================================
"""

from __future__ import annotations

import numpy as np

from autograder.suites.digits import score_digits_split
from autograder.suites.unit4_fit import digits_subset, ref_fit, ref_forward

# -- the hyperparameter search ---------------------------------------------------------------------------------
_CONFIGS = [{"lr": 1e-4, "batch_size": 32}, {"lr": 1e-2, "batch_size": 16}]
_FIT_KW = {"hidden": (16,), "epochs": 2, "seed": 0}


def _ref_scores(X, y, Xv, yv, configs):
    fitted = [ref_fit(X, y, Xv, yv, **_FIT_KW, **c)[0] for c in configs]
    return fitted, [float(np.mean(np.argmax(ref_forward(p, Xv)[0], axis=1) == yv)) for p in fitted]


def select_config_matches_replay(ns, t):
    X, y, Xv, yv = digits_subset(t, 100, 60)
    got = t.unpack("select_config returns (best_config, scores)",
                   ns.call("select_config", _CONFIGS, X, y, Xv, yv, **_FIT_KW), 2)
    if got is None:
        return
    fitted, ref = _ref_scores(X, y, Xv, yv, _CONFIGS)
    on_train = [float(np.mean(np.argmax(ref_forward(p, X)[0], axis=1) == y)) for p in fitted]
    scores = got[1]
    if isinstance(scores, (list, tuple)) and all(isinstance(s, (int, float, np.integer, np.floating))
                                                 for s in scores):
        scores = np.asarray(scores, dtype=float)   # the task's list, or a tuple: the same accuracies
    # accuracies are multiples of 1/60 here: 1e-6 tells every two apart and accepts float32 ones
    t.close("select_config: the validation accuracy of each config (2 configs, 2 epochs)", scores, np.asarray(ref),
            rtol=0, atol=1e-6, known_wrong={"the accuracy on the training data: score each config on the "
                                             "(X_val, y_val) passed in": np.asarray(on_train)})
    t.equal("select_config: the chosen config is the first with the best score", got[0],
            _CONFIGS[int(np.argmax(ref))])


def select_config_follows_the_validation_data(ns, t):
    """Two validation label sets, each made to favour a different config: the choice must follow the one given."""
    X, y, Xv, _ = digits_subset(t, 100, 60)
    fitted, _ = _ref_scores(X, y, Xv, np.zeros(len(Xv), dtype=int), _CONFIGS)
    preds = [np.argmax(ref_forward(p, Xv)[0], axis=1) for p in fitted]
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
