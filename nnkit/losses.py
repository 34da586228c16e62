"""Loss functions that return their value and their gradient.

Every loss is called as ``loss(prediction, target, reduction="mean")`` and
returns ``(value, grad)``: ``value`` is a Python float and ``grad`` is
dvalue/dprediction, a new float64 array shaped like the first argument. Nothing
the caller passes is modified.

Reductions follow PyTorch:

- ``mse``, ``mae`` and the two binary cross-entropies are elementwise; ``"mean"``
  divides the summed loss by the number of elements, ``"sum"`` does not.
- ``cross_entropy``, ``categorical_cross_entropy`` and ``nll_loss`` take
  ``(N, C)`` scores and one label per row; ``"mean"`` divides by ``N``.

Labels for the multi-class losses are either class indices of shape ``(N,)``
and an integer dtype, or one-hot rows of shape ``(N, C)``; ``cross_entropy``
also takes class probabilities (soft targets) there, as PyTorch does. Labels of shape
``(N, 1)`` are refused unless ``C == 1``: they would otherwise broadcast against
``(N, C)`` and give a wrong loss without any error.

All inputs must be finite; NaN or infinity raises ``ValueError``. Shapes must
match exactly; there is no broadcasting.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from nnkit import _validate as check
from nnkit._validate import choice, real_array

LossResult = tuple[float, np.ndarray]  # (value, dvalue/dfirst_argument)

_LOG_FLOOR = -100.0  # PyTorch's binary_cross_entropy clamps log(p) at -100
_EPS = 1e-12  # and keeps p (1 - p) at least this large in its gradient
_ROW_SUM_TOL = 1e-4  # rows of probabilities must sum to 1 within this


# ---- input checks ------------------------------------------------------------------

def _as_real(x, func: str, arg: str) -> np.ndarray:
    arr = real_array(x, func, arg)
    if arr.size == 0:
        raise ValueError(f"{func}: {arg} is empty (shape {arr.shape}); a loss needs at least one element")
    return arr


def _pair(a, b, func: str, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_real(a, func, names[0]), _as_real(b, func, names[1])
    if a.shape != b.shape:
        raise ValueError(
            f"{func}: {names[0]} and {names[1]} must have the same shape, "
            f"got {names[0]}.shape={a.shape} and {names[1]}.shape={b.shape}"
        )
    return a, b


def _in_unit_interval(x: np.ndarray, func: str, arg: str) -> None:
    bad = (x < 0) | (x > 1)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{func}: {arg} must lie in [0, 1], found {x[where]} at index {where}")


def _scores(x, func: str, arg: str) -> np.ndarray:
    x = _as_real(x, func, arg)
    if x.ndim != 2:
        raise ValueError(f"{func}: {arg} must have shape (N, C), got shape {x.shape}")
    return x


def _target_rows(labels, shape: tuple[int, int], func: str, *, soft: bool = False) -> np.ndarray:
    """Labels (N,) int, or rows (N, C) -> float64 target rows (N, C), validated.

    Rows must be one-hot, or with ``soft`` class probabilities (entries in [0, 1], each row summing to 1).
    """
    n, c = shape
    arr = np.asarray(labels)
    if arr.ndim == 1:
        if arr.shape[0] != n:
            raise ValueError(f"{func}: labels has {arr.shape[0]} entries for {n} rows (labels.shape={arr.shape}, "
                             f"scores shape {shape})")
        arr = check.class_indices(arr, c, func)
        onehot = np.zeros(shape)
        onehot[np.arange(n), arr] = 1.0
        return onehot
    if arr.shape != shape:
        hint = " (labels of shape (N, 1) do not broadcast; pass labels.ravel())" if arr.shape == (n, 1) else ""
        raise ValueError(f"{func}: labels must have shape ({n},) or {shape}, got labels.shape={arr.shape}{hint}")
    rows = _as_real(arr, func, "labels")
    if soft:
        off = np.flatnonzero(((rows < 0) | (rows > 1)).any(axis=1) | (np.abs(rows.sum(axis=1) - 1) > _ROW_SUM_TOL))
        if off.size:
            raise ValueError(f"{func}: (N, C) labels must be class probabilities (entries in [0, 1], each row "
                             f"summing to 1), got row {off[0]} = {rows[off[0]].tolist()}")
        return rows
    off = np.flatnonzero(((rows != 0) & (rows != 1)).any(axis=1) | (rows.sum(axis=1) != 1))
    if off.size:
        raise ValueError(f"{func}: one-hot labels need exactly one 1 per row and 0 elsewhere; "
                         f"row {off[0]} is {rows[off[0]].tolist()}")
    return rows


def _reduce(total: float, grad: np.ndarray, count: int, reduction: str) -> tuple[float, np.ndarray]:
    if reduction == "mean":
        return float(total) / count, grad / count
    return float(total), grad


# ---- regression --------------------------------------------------------------------------

def mse(pred: ArrayLike, target: ArrayLike, reduction: str = "mean") -> LossResult:
    """Mean squared error ``sum((pred - target)**2) / n``.

    Parameters
    ----------
    pred, target : arrays of the same shape, e.g. (N, M)
    reduction : {"mean", "sum"}
        ``"mean"`` divides by the number of elements ``n`` (PyTorch's ``mse_loss``).

    Returns
    -------
    value : float
    grad : array shaped like ``pred``, ``2 (pred - target) / n``
    """
    choice(reduction, ("mean", "sum"), "mse", "reduction")
    pred, target = _pair(pred, target, "mse", ("pred", "target"))
    diff = pred - target
    return _reduce(np.sum(diff * diff), 2.0 * diff, diff.size, reduction)


def mae(pred: ArrayLike, target: ArrayLike, reduction: str = "mean") -> LossResult:
    """Mean absolute error ``sum(|pred - target|) / n`` (PyTorch's ``l1_loss``).

    The gradient is ``sign(pred - target) / n`` with ``sign(0) = 0`` where the
    prediction is exact, as in PyTorch (this is not the step ``sign`` of
    :mod:`nnkit.activations`). Shapes and ``reduction`` as in :func:`mse`.
    """
    choice(reduction, ("mean", "sum"), "mae", "reduction")
    pred, target = _pair(pred, target, "mae", ("pred", "target"))
    diff = pred - target
    return _reduce(np.sum(np.abs(diff)), np.sign(diff), diff.size, reduction)


# ---- binary classification ------------------------------------------------------------------

def binary_cross_entropy(probs: ArrayLike, target: ArrayLike, reduction: str = "mean") -> LossResult:
    """Binary cross-entropy from probabilities, ``-[t log p + (1 - t) log(1 - p)]`` per element.

    Parameters
    ----------
    probs : array of any shape, e.g. (N,) or (N, 1), values in [0, 1]
    target : array of the same shape, values in [0, 1] (soft targets allowed)
    reduction : {"mean", "sum"}
        ``"mean"`` divides by the number of elements (PyTorch).

    Notes
    -----
    As in PyTorch, each log is clamped at -100, so ``p = 0`` or ``p = 1`` gives a
    large finite loss, and the gradient ``(p - t) / (p (1 - p))`` uses
    ``max(p (1 - p), 1e-12)`` in the denominator. Prefer
    :func:`binary_cross_entropy_with_logits`, which needs neither fix.
    """
    func = "binary_cross_entropy"
    choice(reduction, ("mean", "sum"), func, "reduction")
    p, t = _pair(probs, target, func, ("probs", "target"))
    _in_unit_interval(p, func, "probs")
    _in_unit_interval(t, func, "target")
    with np.errstate(divide="ignore"):  # log(0) = -inf is clamped on the next line
        log_p = np.maximum(np.log(p), _LOG_FLOOR)
        log_1mp = np.maximum(np.log1p(-p), _LOG_FLOOR)
    total = -np.sum(t * log_p + (1.0 - t) * log_1mp)
    grad = (p - t) / np.maximum(p * (1.0 - p), _EPS)
    return _reduce(total, grad, p.size, reduction)


def binary_cross_entropy_with_logits(logits: ArrayLike, target: ArrayLike, reduction: str = "mean") -> LossResult:
    """Binary cross-entropy of ``sigmoid(logits)``, fused so it is stable for any logit.

    Per element ``max(x, 0) - x t + log(1 + exp(-|x|))``, which equals
    ``-[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]`` without computing either
    log. The gradient is ``sigmoid(x) - t``. Shapes and ``reduction`` as in
    :func:`binary_cross_entropy`; ``target`` in [0, 1].
    """
    func = "binary_cross_entropy_with_logits"
    choice(reduction, ("mean", "sum"), func, "reduction")
    x, t = _pair(logits, target, func, ("logits", "target"))
    _in_unit_interval(t, func, "target")
    e = np.exp(-np.abs(x))
    total = np.sum(np.maximum(x, 0.0) - x * t + np.log1p(e))
    sig = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return _reduce(total, sig - t, x.size, reduction)


# ---- multi-class classification ---------------------------------------------------------------

def cross_entropy(logits: ArrayLike, labels: ArrayLike, reduction: str = "mean") -> LossResult:
    """Softmax cross-entropy from raw scores: ``log_softmax`` and NLL fused (PyTorch's ``cross_entropy``).

    Parameters
    ----------
    logits : array of shape (N, C)
    labels : int array of shape (N,) with values in [0, C), or target rows (N, C): one-hot, or class
        probabilities (soft targets: entries in [0, 1], each row summing to 1), as torch's probability targets
    reduction : {"mean", "sum"}
        ``"mean"`` divides by ``N``.

    Returns
    -------
    value : float, ``-sum_n sum_c y[n, c] log_softmax(logits)[n, c]`` (divided by N for "mean")
    grad : array of shape (N, C), ``softmax(logits) - y`` (divided by N for "mean"), with ``y`` the target rows

    Notes
    -----
    The row maximum is subtracted before exponentiating, so logits of +-1000 are fine. Soft targets (label
    smoothing, distillation) give the same formulas: ``softmax - y`` holds because each row of ``y`` sums to 1.
    """
    func = "cross_entropy"
    choice(reduction, ("mean", "sum"), func, "reduction")
    z = _scores(logits, func, "logits")
    y = _target_rows(labels, z.shape, func, soft=True)
    shifted = z - z.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    total = -np.sum(y * log_probs)
    return _reduce(total, np.exp(log_probs) - y, z.shape[0], reduction)


def categorical_cross_entropy(probs: ArrayLike, labels: ArrayLike, reduction: str = "mean") -> LossResult:
    """Cross-entropy from class probabilities: ``-sum_n log probs[n, y_n]``.

    Parameters
    ----------
    probs : array of shape (N, C), entries in [0, 1], each row summing to 1 (within 1e-4, loose
        enough for float32 softmax output and for numeric gradient checks that nudge one entry)
    labels : int array (N,) or one-hot array (N, C)
    reduction : {"mean", "sum"}
        ``"mean"`` divides by ``N``.

    Returns
    -------
    value : float
    grad : array of shape (N, C), ``-one_hot(labels) / probs`` (divided by N for "mean")

    Notes
    -----
    Like :func:`binary_cross_entropy`, ``log(p)`` is clamped at -100 and the
    gradient divides by ``max(p, 1e-12)``, so a zero probability on the true class
    gives a large finite loss. ``cross_entropy`` on logits is the stable choice.
    """
    func = "categorical_cross_entropy"
    choice(reduction, ("mean", "sum"), func, "reduction")
    p = _scores(probs, func, "probs")
    _in_unit_interval(p, func, "probs")
    row_sums = p.sum(axis=1)
    off = np.flatnonzero(np.abs(row_sums - 1.0) > _ROW_SUM_TOL)
    if off.size:
        raise ValueError(f"{func}: each row of probs must sum to 1, row {off[0]} sums to {float(row_sums[off[0]])!r} "
                         f"(pass logits to cross_entropy instead?)")
    y = _target_rows(labels, p.shape, func)
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), _LOG_FLOOR)
    total = -np.sum(y * log_p)
    return _reduce(total, -y / np.maximum(p, _EPS), p.shape[0], reduction)


def nll_loss(log_probs: ArrayLike, labels: ArrayLike, reduction: str = "mean") -> LossResult:
    """Negative log-likelihood from log-probabilities: ``-sum_n log_probs[n, y_n]`` (PyTorch's ``nll_loss``).

    Parameters
    ----------
    log_probs : array of shape (N, C), entries <= 0 (for example ``log_softmax(logits)``)
    labels : int array (N,) or one-hot array (N, C)
    reduction : {"mean", "sum"}
        ``"mean"`` divides by ``N``.

    Returns
    -------
    value : float
    grad : array of shape (N, C), ``-one_hot(labels)`` (divided by N for "mean")

    Notes
    -----
    A positive entry cannot be a log-probability; it usually means probabilities
    or raw logits were passed, so it raises ``ValueError``.
    """
    func = "nll_loss"
    choice(reduction, ("mean", "sum"), func, "reduction")
    lp = _scores(log_probs, func, "log_probs")
    if (lp > 0).any():
        where = tuple(int(i) for i in np.argwhere(lp > 0)[0])
        raise ValueError(f"{func}: log_probs must be <= 0 (log-probabilities), found {lp[where]} at index "
                         f"{where}; pass log_softmax(logits), or the logits to cross_entropy")
    y = _target_rows(labels, lp.shape, func)
    return _reduce(-np.sum(y * lp), -y, lp.shape[0], reduction)


# ---- lookup by name ------------------------------------------------------------------------

_LOSSES: dict[str, Callable] = {
    "mse": mse,
    "mae": mae,
    "binary_cross_entropy": binary_cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "cross_entropy": cross_entropy,
    "categorical_cross_entropy": categorical_cross_entropy,
    "nll_loss": nll_loss,
}


def names() -> list[str]:
    """The names :func:`get` accepts."""
    return list(_LOSSES)


def get(name: str) -> Callable:
    """Look a loss function up by name, e.g. ``get("cross_entropy")``."""
    if not isinstance(name, str):
        raise TypeError(f"losses.get: name must be a str, got {type(name).__name__}")
    key = name.strip().lower()
    if key not in _LOSSES:
        raise ValueError(f"losses.get: unknown loss {name!r}; known names: {', '.join(_LOSSES)}")
    return _LOSSES[key]
