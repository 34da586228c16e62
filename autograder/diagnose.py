"""Recognising common mistakes from an expected and a wrong result.

``diagnose(got, expected, known_wrong=None, batch_size=None, factors=None)``
returns short sentences for the feedback, each naming a probable cause:

- a *known wrong answer* that the check computed, e.g.
  ``{"convolution with a flipped kernel": wrong_value}``;
- NaN/inf where the expected is finite (a probable overflow);
- a result that is exactly k times the expected, **only for a meaningful k**:
  -1, 2 and 1/2 always; the batch size N and 1/N when the check passes
  ``batch_size``; and any factor a check passes in ``factors`` with its cause
  (``{4: "you summed over the 2x2 window instead of averaging"}``). Any other
  factor says nothing: a single wrong number is always *some* multiple of the
  right one, and "exactly 1.06942x" is noise;
- a transposed result, or the right values in the wrong shape.

Two results "match" when they agree within ``MATCH`` (elementwise
``numpy.isclose``); a factor is "exactly" k within ``FACTOR_RTOL``.
"""

from __future__ import annotations

import numpy as np

MATCH = dict(rtol=1e-6, atol=1e-9)
FACTOR_RTOL = 1e-6

SIGN_FLIPPED = ("the sign is flipped (your result is exactly -1x the expected): check the order of a "
                "subtraction (y - a instead of a - y) or a minus sign lost in the chain rule")
TWICE = ("your result is exactly 2x the expected: a term is counted twice, or a factor 2 (from the "
         "derivative of a square) is applied where there is none")
HALF = ("your result is exactly 1/2 of the expected: a factor 2 is missing (d/dx x**2 = 2x), or one of "
        "two equal contributions is lost (a gradient overwritten with = instead of accumulated with +=)")


def _matches(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and elementwise close; NaN matches NaN (a known wrong answer may be NaN where the mistake
    divides by zero)."""
    return a.shape == b.shape and bool(np.all(np.isclose(a, b, equal_nan=True, **MATCH)))


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


def meaningful_factors(batch_size: int | None = None, factors: dict | None = None) -> dict[float, str]:
    """The factors worth reporting, each with the sentence that names its cause."""
    table = {-1.0: SIGN_FLIPPED, 2.0: TWICE, 0.5: HALF}
    if batch_size is not None and batch_size > 1:
        n = int(batch_size)
        table[float(n)] = (f"your result is exactly {n}x the expected: you summed over the batch instead "
                           f"of averaging (divide by N={n})")
        table[1.0 / n] = (f"your result is exactly 1/{n} of the expected: you divided by the batch size "
                          f"N={n} once too often (or averaged where the sum is wanted)")
    for k, cause in (factors or {}).items():
        table[float(k)] = cause
    return table


def describe_factor(k: float, batch_size: int | None = None, factors: dict | None = None) -> str | None:
    """The cause of a result ``k`` times the expected, or None when k is not a meaningful factor."""
    for factor, cause in meaningful_factors(batch_size, factors).items():
        if abs(k - factor) <= FACTOR_RTOL * abs(factor):
            return cause
    return None


def diagnose(got: np.ndarray, expected: np.ndarray, known_wrong: dict | None = None,
             batch_size: int | None = None, factors: dict | None = None) -> list[str]:
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
        if np.any(bad) and not notes:
            notes.append("your result has NaN/inf where the expected is finite: probably an overflow "
                         "(exp of a large input? for softmax, subtract the row max first) or a division by 0")
        k = scale_factor(got, expected)
        cause = None if k is None else describe_factor(k, batch_size, factors)
        if cause is not None and not notes:
            notes.append(cause)
    transposed = got.ndim == 2 and got.shape == expected.T.shape and _matches(got, expected.T) \
        and not _matches(got, expected)
    if transposed:
        shapes = f" (shape {got.shape} instead of {expected.shape})" if got.shape != expected.shape else ""
        notes.append(f"your result is the transpose of the expected{shapes}")
    elif got.shape != expected.shape and got.size == expected.size \
            and _matches(got.reshape(expected.shape), expected):
        notes.append(f"the values are right but the shape is {got.shape}, expected {expected.shape} "
                     "(reshape before returning)")
    return notes
