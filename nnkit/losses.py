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

def _target_rows(labels, shape: tuple[int, int], func: str, *, soft: bool = False) -> np.ndarray:
    """Labels (N,) int, or rows (N, C) -> float64 target rows (N, C), validated.

    Rows must be one-hot, or with ``soft`` class probabilities (entries in [0, 1], each row summing to 1).
    """
    n, c = shape
    if np.ndim(labels) == 1:
        onehot = np.zeros(shape)
        onehot[np.arange(n), check.class_indices(labels, c, func, n=n)] = 1.0
        return onehot
    rows = real_array(labels, func, "labels", ("(N,)", "(N, C)"), sizes={"N": n, "C": c}, within=(0.0, 1.0))
    return _rows_sum_to_one(rows, func, "labels", one_hot=not soft)


def _rows_sum_to_one(rows: np.ndarray, func: str, arg: str, one_hot: bool = False) -> np.ndarray:
    sums = rows.sum(axis=1)
    bad = (np.abs(sums - 1.0) > _ROW_SUM_TOL) | (((rows != 0) & (rows != 1)).any(axis=1) if one_hot else False)
    if bad.any():
        i = int(np.argmax(bad))
        expected = "one-hot (one 1 per row, 0 elsewhere)" if one_hot else "rows that each sum to 1"
        raise ValueError(f"{func}: {arg} must be {expected}, got row {i} = {rows[i].tolist()} (sum {float(sums[i])!r})")
    return rows


def _reduce(total: float, grad: np.ndarray, count: int, reduction: str, func: str) -> tuple[float, np.ndarray]:
    choice(reduction, ("mean", "sum"), func, "reduction")
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
    pred, target = check.arrays("mse", pred=(pred, "(...)"), target=(target, "(...)"), empty=False)
    diff = pred - target
    return _reduce(np.sum(diff * diff), 2.0 * diff, diff.size, reduction, "mse")


def mae(pred: ArrayLike, target: ArrayLike, reduction: str = "mean") -> LossResult:
    """Mean absolute error ``sum(|pred - target|) / n`` (PyTorch's ``l1_loss``).

    The gradient is ``sign(pred - target) / n`` with ``sign(0) = 0`` where the
    prediction is exact, as in PyTorch (this is not the step ``sign`` of
    :mod:`nnkit.activations`). Shapes and ``reduction`` as in :func:`mse`.
    """
    pred, target = check.arrays("mae", pred=(pred, "(...)"), target=(target, "(...)"), empty=False)
    diff = pred - target
    return _reduce(np.sum(np.abs(diff)), np.sign(diff), diff.size, reduction, "mae")


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
    p, t = check.arrays(func, probs=(probs, "(...)"), target=(target, "(...)"), empty=False, within=(0.0, 1.0))
    with np.errstate(divide="ignore"):  # log(0) = -inf is clamped on the next line
        log_p = np.maximum(np.log(p), _LOG_FLOOR)
        log_1mp = np.maximum(np.log1p(-p), _LOG_FLOOR)
    total = -np.sum(t * log_p + (1.0 - t) * log_1mp)
    grad = (p - t) / np.maximum(p * (1.0 - p), _EPS)
    return _reduce(total, grad, p.size, reduction, func)


def binary_cross_entropy_with_logits(logits: ArrayLike, target: ArrayLike, reduction: str = "mean") -> LossResult:
    """Binary cross-entropy of ``sigmoid(logits)``, fused so it is stable for any logit.

    Per element ``max(x, 0) - x t + log(1 + exp(-|x|))``, which equals
    ``-[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]`` without computing either
    log. The gradient is ``sigmoid(x) - t``. Shapes and ``reduction`` as in
    :func:`binary_cross_entropy`; ``target`` in [0, 1].
    """
    func = "binary_cross_entropy_with_logits"
    x, t = check.arrays(func, logits=(logits, "(...)"), target=(target, "(...)"), empty=False)
    real_array(t, func, "target", within=(0.0, 1.0))
    e = np.exp(-np.abs(x))
    total = np.sum(np.maximum(x, 0.0) - x * t + np.log1p(e))
    sig = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return _reduce(total, sig - t, x.size, reduction, func)


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
    z = real_array(logits, func, "logits", "(N, C)", empty=False)
    y = _target_rows(labels, z.shape, func, soft=True)
    shifted = z - z.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    total = -np.sum(y * log_probs)
    return _reduce(total, np.exp(log_probs) - y, z.shape[0], reduction, func)


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
    p = _rows_sum_to_one(real_array(probs, func, "probs", "(N, C)", empty=False, within=(0.0, 1.0)), func, "probs")
    y = _target_rows(labels, p.shape, func)
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), _LOG_FLOOR)
    total = -np.sum(y * log_p)
    return _reduce(total, -y / np.maximum(p, _EPS), p.shape[0], reduction, func)


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
    lp = real_array(log_probs, func, "log_probs", "(N, C)", empty=False, within=(-np.inf, 0.0))
    y = _target_rows(labels, lp.shape, func)
    return _reduce(-np.sum(y * lp), -y, lp.shape[0], reduction, func)


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
    return _LOSSES[check.known(name, _LOSSES, "losses.get", "loss")]
