"""Weight penalties (L1, L2) and the max-norm constraint.

The penalties are added to the loss by the caller: ``loss + value``, and each
returned gradient is added to the matching entry of ``grads`` before the
optimizer's step. Which arrays are penalised is chosen with ``decay``, exactly
as for the optimizers' ``weight_decay``:

- ``"weights"`` (default): arrays with two or more dimensions, so dense
  ``W (D, M)`` and conv ``W (F, C, HH, WW)`` but not biases ``b (M,)`` or batch
  norm's ``gamma``/``beta`` (DESIGN §3: biases are not decayed unless asked);
- ``"all"``: every array;
- a collection of param names, e.g. ``{"W", "b"}``.

A bare array is always penalised: passing it is the request.
"""

from __future__ import annotations

import numbers

import numpy as np

from nnkit import _validate as check
from nnkit.optim.base import decay_selector, resolve_pairs


def l2_penalty(params: object, lam: float, *, decay: object = "weights") -> tuple[float, object]:
    r"""The L2 penalty ``(lam / 2) * sum(w ** 2)`` and its gradient ``lam * w``.

    Parameters
    ----------
    params : np.ndarray, dict[str, np.ndarray], Layer or list of (dict, dict)
        One array, one layer's ``params`` dict, or a Layer-like object / list
        of ``(params, grads)`` pairs (only the params are read).
    lam : float
        Penalty strength ``lambda >= 0``.
    decay : {"weights", "all"} or collection of str, default "weights"
        Which arrays of a dict or layer are penalised (module docstring).

    Returns
    -------
    value : float
        ``(lam / 2) * sum over penalised arrays of sum(w ** 2)``.
    grads : np.ndarray, dict or list of dict
        Shaped like ``params``: an array for an array, a dict with every key of
        the dict (zeros for arrays not penalised), or one such dict per pair.

    Notes
    -----
    The factor 1/2 makes the gradient ``lam * w``, the term that
    ``weight_decay=lam`` adds inside the optimizers and in PyTorch. So for
    plain SGD, adding this gradient is the same as ``SGD(weight_decay=lam)``.
    """
    return _penalty("l2_penalty", params, lam, decay,
                    lambda w, lam: (0.5 * lam * float(np.sum(w * w)), lam * w))


def l1_penalty(params: object, lam: float, *, decay: object = "weights") -> tuple[float, object]:
    r"""The L1 penalty ``lam * sum(|w|)`` and its (sub)gradient ``lam * sign(w)``.

    Parameters and returns are those of :func:`l2_penalty`.

    Notes
    -----
    ``|w|`` has no derivative at 0; the subgradient used there is 0 (``sign(0)
    = 0``, as ``torch.abs`` backpropagates), so weights that are exactly zero
    stay put. The penalty pushes every weight towards 0 by the same amount,
    which is why L1 gives sparse weights and L2 only small ones.
    """
    return _penalty("l1_penalty", params, lam, decay,
                    lambda w, lam: (lam * float(np.sum(np.abs(w))), lam * np.sign(w)))


def _penalty(where: str, params: object, lam: float, decay: object, term) -> tuple[float, object]:
    lam = check.number(lam, where, "lam", low=0.0, finite=True)
    if isinstance(params, np.ndarray):
        return term(check.real_array(params, where, "params", ndarray=True, finite=False), lam)
    selected = decay_selector(decay, where)
    if isinstance(params, dict):
        return _penalty_dict(where, params, lam, selected, term, "params")
    try:
        pairs = resolve_pairs(params, where)
    except TypeError:
        raise TypeError(f"{where}: params must be a numpy array, a dict of arrays, a Layer or a list of "
                        f"(params, grads) pairs, got {type(params).__name__}") from None
    total, grads = 0.0, []
    for i, (pair_params, _) in enumerate(pairs):
        value, pair_grads = _penalty_dict(where, pair_params, lam, selected, term, f"parameters[{i}]")
        total += value
        grads.append(pair_grads)
    return total, grads


def _penalty_dict(where, params, lam, selected, term, label) -> tuple[float, dict]:
    total, grads = 0.0, {}
    for name, value in params.items():
        w = check.real_array(value, where, f"{label}[{name!r}]", ndarray=True, finite=False)
        if selected(name, w):
            part, grads[name] = term(w, lam)
            total += part
        else:
            grads[name] = np.zeros(w.shape)
    return total, grads




def max_norm_(W: np.ndarray, max_norm: float, axis: int | tuple[int, ...] = 0) -> np.ndarray:
    r"""Rescale, in place, every unit's weight vector whose L2 norm exceeds ``max_norm``.

    Parameters
    ----------
    W : np.ndarray
        Float weights, changed in place (the trailing underscore says so), e.g.
        dense ``(D, M)`` or conv ``(F, C, HH, WW)``.
    max_norm : float
        The largest allowed norm ``c > 0``.
    axis : int or tuple of int, default 0
        The axes a norm is taken over. For dense ``W (D, M)`` use ``0``: each
        column is one output unit's incoming weights. For conv ``W (F, C, HH,
        WW)`` use ``(1, 2, 3)``: one norm per filter.

    Returns
    -------
    np.ndarray
        ``W`` itself, after the rescaling.

    Notes
    -----
    For each slice ``w`` (all entries sharing the indices not in ``axis``)::

        w <- w * c / ||w||    if ||w|| > c,   else w is unchanged

    so a rescaled slice has norm exactly ``c``. Apply it after each
    optimizer step (Srivastava et al. 2014). Keras' ``MaxNorm(axis=0)`` is the
    same constraint; ``torch.renorm(W, 2, dim, c)`` names the *other* axis (the
    one indexing the slices) and divides by ``||w|| + 1e-7``.
    """
    where = "max_norm_"
    W = check.in_place(W, where, "W")
    max_norm = check.number(max_norm, where, "max_norm", low=0.0, low_open=True, finite=True)
    axes = (axis,) if isinstance(axis, numbers.Integral) and not isinstance(axis, bool) else axis
    if (not isinstance(axes, tuple) or not axes
            or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes)):
        raise TypeError(f"{where}: axis must be an int or a non-empty tuple of ints, got {axis!r}")
    if any(not -W.ndim <= a < W.ndim for a in axes) or len({a % W.ndim for a in axes}) != len(axes):
        raise ValueError(f"{where}: axis {axis!r} is not a set of distinct axes of W with W.shape={W.shape}")
    norms = np.sqrt(np.sum(W * W, axis=axes, keepdims=True))
    too_long = norms > max_norm
    W *= np.where(too_long, max_norm / np.where(too_long, norms, 1.0), 1.0)
    return W
