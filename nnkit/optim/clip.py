"""Gradient clipping, by global norm and by value, as ``torch.nn.utils``.

Both functions change the gradient arrays in place (the trailing underscore
says so) and are called between ``backward`` and the optimizer's ``step``.
"""

from __future__ import annotations

import math

import numpy as np

from nnkit import _validate as check
from nnkit.optim.base import resolve_pairs


def clip_grad_norm_(grads: object, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    r"""Scale all gradients together so that their global norm is at most ``max_norm``.

    Parameters
    ----------
    grads : np.ndarray, list of np.ndarray, dict[str, np.ndarray], Layer or list of (dict, dict)
        The gradient arrays, changed in place: an array, a list of arrays, a
        ``grads`` dict, or a Layer-like object / ``(params, grads)`` pairs
        (then every array in every ``grads`` dict).
    max_norm : float
        The largest allowed global norm, ``>= 0``.
    norm_type : float, default 2.0
        The ``p`` of the p-norm, ``> 0``, or ``float("inf")`` for the max-norm.
    error_if_nonfinite : bool, default False
        Raise ``ValueError`` if the global norm is NaN or infinite, instead of
        scaling by a NaN (PyTorch's default behaviour, kept here).

    Returns
    -------
    float
        The global norm *before* clipping, which is worth logging.

    Notes
    -----
    With ``g_1, ..., g_K`` all gradient arrays, as in ``torch.nn.utils``::

        total = || (||g_1||_p, ..., ||g_K||_p) ||_p     (= max_k max|g_k| for p = inf)
        c = min(1, max_norm / (total + 1e-6))
        g_k <- c * g_k   for every k

    One factor for all arrays keeps the direction of the whole update; the
    1e-6 keeps a zero gradient from dividing by zero.
    """
    where = "clip_grad_norm_"
    arrays = _grad_arrays(grads, where)
    max_norm = check.number(max_norm, where, "max_norm", low=0.0)
    norm_type = check.number(norm_type, where, "norm_type", low=0.0)
    error_if_nonfinite = check.flag(error_if_nonfinite, where, "error_if_nonfinite")
    if norm_type == 0:
        raise ValueError(f"{where}: norm_type must be positive or inf, got {norm_type!r}")
    if not arrays:
        return 0.0
    norms = np.array([_vector_norm(g, norm_type) for g in arrays])
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise ValueError(f"{where}: the total {norm_type:g}-norm of the gradients is {total}; "
                         "some gradient holds NaN or inf")
    coef = min(max_norm / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
    for g in arrays:
        g *= coef
    return total


def clip_grad_value_(grads: object, clip_value: float) -> None:
    r"""Clip every gradient entry, in place, to ``[-clip_value, clip_value]``.

    Parameters
    ----------
    grads : np.ndarray, list of np.ndarray, dict[str, np.ndarray], Layer or list of (dict, dict)
        The gradient arrays, changed in place (see :func:`clip_grad_norm_`).
    clip_value : float
        The largest allowed magnitude, ``>= 0``.

    Notes
    -----
    ``g <- min(max(g, -clip_value), clip_value)`` entrywise. Unlike
    :func:`clip_grad_norm_` this changes the direction of the update.
    """
    where = "clip_grad_value_"
    arrays = _grad_arrays(grads, where)
    clip_value = check.number(clip_value, where, "clip_value", low=0.0)
    for g in arrays:
        np.clip(g, -clip_value, clip_value, out=g)


def _vector_norm(x: np.ndarray, p: float) -> float:
    a = np.abs(x.ravel())
    if a.size == 0:
        return 0.0
    if p == math.inf:
        return float(a.max())
    if p == 2.0:
        return float(np.sqrt(np.sum(a * a)))
    if p == 1.0:
        return float(np.sum(a))
    return float(np.sum(a**p) ** (1.0 / p))


def _grad_arrays(grads: object, where: str) -> list[np.ndarray]:
    if isinstance(grads, np.ndarray):
        arrays = [grads]
    elif isinstance(grads, dict):
        arrays = list(grads.values())
    elif isinstance(grads, (list, tuple)) and all(isinstance(g, np.ndarray) for g in grads):
        arrays = list(grads)
    else:
        arrays = [g for _, pair_grads in resolve_pairs(grads, where) for g in pair_grads.values()]
    return [check.in_place(g, where, f"gradient {i}") for i, g in enumerate(arrays)]
