"""The grader's one tolerance policy.

Every comparison the checks make goes through these numbers; nothing relies on a
person reading "around 1e-8".

Forward values (``FORWARD``)
    The student's result is compared with the float64 reference elementwise:
    ``|got - expected| <= atol + rtol * |expected|`` (``numpy.isclose``). Two
    correct float64 implementations of the same formula (say, softmax with and
    without the max shift at moderate inputs) agree to ~1e-15 relative, so
    ``rtol=1e-7, atol=1e-9`` accepts every correct route and rejects float32
    arithmetic, dropped terms and off-by-one indexing.

Backward values against the reference (``BACKWARD``)
    Same test with ``rtol=1e-6, atol=1e-8``: analytic gradients are products of
    several float64 factors, so they get one extra digit of slack.

Backward values against numeric differentiation of the student's own forward
    ``L(x) = sum(forward(x) * dout)`` with a random upstream gradient ``dout``
    (never all ones: that hides transposes and wrong sums), differentiated by
    central differences with step ``NUMERIC_EPS``. The error is normwise:
    ``max|analytic - numeric| / max(max|analytic|, max|numeric|, NUMERIC_FLOOR)``
    and must be at most ``NUMERIC_MAX_REL_ERROR = 1e-6``. (An elementwise relative
    error blows up at entries whose true gradient is 0, where central differences
    leave ~1e-10 of rounding noise; the normwise form does not.) Inputs are drawn at
    least ``KINK_MARGIN`` away from kinks (relu at 0, heaviside at 0, ...), where
    central differences are meaningless. Arrays with more than ``NUMERIC_MAX_COORDS``
    entries are checked on a seeded random sample of that many coordinates.

The relative error shown in feedback (``report_rel_error``)
    Only for explaining a mismatch, never for deciding one: elementwise
    ``|got - expected| / max(|expected|, |got|, REPORT_FLOOR)``, maximised over the
    finite entries. It is symmetric and bounded by 2 (an opposite sign), so an
    expected 0 reads as a relative error of 1 instead of dividing by ~0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """Elementwise ``|got - expected| <= atol + rtol * |expected|``."""

    rtol: float
    atol: float


FORWARD = Tolerance(rtol=1e-7, atol=1e-9)
BACKWARD = Tolerance(rtol=1e-6, atol=1e-8)
KINDS = {"forward": FORWARD, "backward": BACKWARD}

NUMERIC_EPS = 1e-6
NUMERIC_MAX_REL_ERROR = 1e-6
NUMERIC_FLOOR = 1e-8
NUMERIC_MAX_COORDS = 64
KINK_MARGIN = 1e-2
REPORT_FLOOR = 1e-300


def tolerance_for(kind: str, rtol: float | None = None, atol: float | None = None) -> Tolerance:
    """The policy's tolerance for ``kind`` ("forward" or "backward"), with optional overrides."""
    if kind not in KINDS:
        raise ValueError(f"tolerance_for: kind must be one of {sorted(KINDS)}, got {kind!r}")
    base = KINDS[kind]
    return Tolerance(base.rtol if rtol is None else float(rtol), base.atol if atol is None else float(atol))


def normwise_rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``max|a - n| / max(max|a|, max|n|, NUMERIC_FLOOR)``; 0.0 for empty arrays."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(n))), NUMERIC_FLOOR)
    return float(np.max(np.abs(a - n)) / scale)


def report_rel_error(got: np.ndarray, expected: np.ndarray) -> float:
    """Max over finite entries of ``|got - expected| / max(|expected|, |got|, REPORT_FLOOR)``.

    ``got`` and ``expected`` have the same shape (N, ...); NaN when no entry is finite.
    """
    g = np.asarray(got)
    e = np.asarray(expected)
    if g.shape != e.shape:
        raise ValueError(f"report_rel_error: got and expected must have the same shape, got {g.shape} "
                         f"and {e.shape}")
    work = np.complex128 if g.dtype.kind == "c" or e.dtype.kind == "c" else np.float64
    with np.errstate(all="ignore"):
        g, e = g.astype(work), e.astype(work)
        err = np.abs(g - e)
        rel = err / np.maximum(np.maximum(np.abs(e), np.abs(g)), REPORT_FLOOR)
    finite = np.isfinite(rel)
    return float(np.max(rel[finite])) if np.any(finite) else float("nan")


def away_from_kinks(rng: np.random.Generator, shape, *, kinks=(0.0,), scale: float = 1.0,
                    margin: float = KINK_MARGIN) -> np.ndarray:
    """Standard-normal draws times ``scale``, each at least ``margin`` from every kink."""
    x = rng.normal(size=shape) * scale
    for kink in kinks:
        near = np.abs(x - kink) < margin
        # push a near-kink draw out to the margin, keeping its side of the kink
        x[near] = kink + np.where(x[near] >= kink, margin, -margin) * 2.0
    return x
