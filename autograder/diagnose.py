"""Recognising common mistakes from an expected and a wrong result.

``diagnose(got, expected, known_wrong=None, batch_size=None)`` returns short
sentences for the feedback: a result that is exactly k times the expected (2x,
0.5x, 1/N "averaged instead of summed", N "not averaged over the batch"), a
flipped sign, a transposed result, and any "known wrong answer" a check passes
in, e.g. ``{"convolution with a flipped kernel": wrong_value}``. Non-finite values
where the expected is finite are reported as a probable overflow.
"""

from __future__ import annotations

import numpy as np

_MATCH = dict(rtol=1e-6, atol=1e-9)


def _matches(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all(np.isclose(a, b, **_MATCH)))


def scale_factor(got: np.ndarray, expected: np.ndarray) -> float | None:
    """The k with ``got ≈ k * expected`` (least squares, then verified), or None."""
    e = expected.astype(np.float64).ravel()
    g = got.astype(np.float64).ravel()
    energy = float(e @ e)
    if e.size == 0 or energy == 0.0 or not np.all(np.isfinite(g)):
        return None
    k = float(g @ e) / energy
    if k == 0.0 or not _matches(g, k * e):
        return None
    return k


def _describe_factor(k: float, batch_size: int | None) -> str:
    if np.isclose(k, -1.0, rtol=1e-6):
        return "the sign is flipped: your result is exactly -1x the expected"
    if batch_size and batch_size > 1 and np.isclose(k, batch_size, rtol=1e-6):
        return (f"your result is exactly {batch_size}x the expected: it looks like you summed over the "
                f"batch instead of averaging (divide by N={batch_size})")
    if batch_size and batch_size > 1 and np.isclose(k, 1.0 / batch_size, rtol=1e-6):
        return (f"your result is exactly 1/{batch_size} of the expected: it looks like you divided by the "
                f"batch size N={batch_size} once too often")
    for n in range(2, 65):
        if np.isclose(k, n, rtol=1e-6):
            return f"your result is exactly {n}x the expected"
        if np.isclose(k, 1.0 / n, rtol=1e-6):
            return f"your result is exactly 1/{n} of the expected ({k:g}x)"
    return f"your result is exactly {k:.6g}x the expected"


def diagnose(got: np.ndarray, expected: np.ndarray, known_wrong: dict | None = None,
             batch_size: int | None = None) -> list[str]:
    """Sentences naming the probable mistake; empty when nothing is recognised."""
    notes: list[str] = []
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.dtype.kind not in "biufc" or expected.dtype.kind not in "biufc":
        return notes
    for description, wrong in (known_wrong or {}).items():
        wrong = np.asarray(wrong)
        if wrong.dtype.kind in "biufc" and _matches(got, wrong) and not _matches(wrong, expected):
            notes.append(f"this looks like {description}")
    if got.shape == expected.shape:
        bad = ~np.isfinite(got) & np.isfinite(expected)
        if np.any(bad):
            notes.append("your result has NaN/inf where the expected is finite: probably an overflow "
                         "(exp of a large input? for softmax, subtract the row max first)")
        k = scale_factor(got, expected)
        if k is not None and not np.isclose(k, 1.0, rtol=1e-6):
            notes.append(_describe_factor(k, batch_size))
    transposed = got.ndim == 2 and got.shape == expected.T.shape and _matches(got, expected.T)
    if transposed:
        notes.append(f"your result is the transpose of the expected (shape {got.shape} instead of "
                     f"{expected.shape})")
    elif got.shape != expected.shape and got.size == expected.size \
            and _matches(got.reshape(expected.shape), expected):
        notes.append(f"the values are right but the shape is {got.shape}, expected {expected.shape} "
                     "(reshape before returning)")
    return notes
