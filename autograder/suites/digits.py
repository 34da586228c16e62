"""Hidden-split evaluation on the digits, shared by the units that train a digits classifier.

The grader sends the images of one split of :func:`nnkit.data.digits_splits` into the worker, gets back the
student's predicted labels, and computes the accuracy itself: the labels never leave the grader.
"""

from __future__ import annotations

import numpy as np

SPLITS = {"validation": ("X_val", "y_val"), "held-out test": ("X_test", "y_test")}


def score_digits_split(ns, t, split: str, *, full: float, zero: float, fn: str = "predict_digits") -> None:
    """One sub-check: ``fn``'s accuracy on ``split``, mapped linearly to credit.

    Accuracy >= ``full`` earns all of the sub-check's credit, <= ``zero`` none, linear in between. A result that
    is not one integer label per image scores 0 with a message saying what was expected.
    """
    from nnkit import data

    x_key, y_key = SPLITS[split]
    splits = data.digits_splits()
    X, y = splits[x_key], splits[y_key]
    what = f"{split} accuracy (>= {full:.0%} full credit, linear down to 0 at {zero:.0%})"
    pred = ns.call(fn, X)
    if not (isinstance(pred, np.ndarray) and pred.shape == y.shape and pred.dtype.kind in "iu"):
        shape = getattr(pred, "shape", type(pred).__name__)
        t.fail(what, f"{fn} must return {len(y)} integer labels of shape {y.shape}, got {shape} "
                     f"{getattr(pred, 'dtype', '')} (use np.argmax(scores, axis=1))")
        return
    acc = float(np.mean(pred == y))
    fraction = float(np.clip((acc - zero) / (full - zero), 0.0, 1.0))
    t.score_fraction(what, fraction, f"your {split} accuracy is {acc:.1%}: {fraction:.0%} of the credit")
