"""Activation functions, their derivatives, and lookup by name.

Every function takes an array ``z`` of any shape and returns a new float64
array of the same shape; the input is never modified. ``<name>_grad(z)`` is the
elementwise derivative d<name>/dz evaluated at ``z``. ``softmax`` and
``log_softmax`` act over the last axis, so their Jacobian is not diagonal; they
have ``softmax_vjp(z, dout)`` and ``log_softmax_vjp(z, dout)`` instead, which
return dL/dz given the upstream gradient ``dout`` = dL/d(output).

Input rules (all functions)
---------------------------
- ``z`` may be a scalar, a list or an array of real numbers. Integer and boolean
  inputs are converted to float64; the result is always a float64 ``np.ndarray``
  (0-d for a scalar input).
- NaN or infinite entries raise ``ValueError`` naming the function, the argument
  and the first bad index. Complex, string or object input raises ``TypeError``.

Conventions at kinks (DESIGN.md §3; elsewhere PyTorch's choices)
----------------------------------------------------------------
- ``relu'(0) = 0``; ``leaky_relu'(0) = alpha``; ``relu6'`` is 0 at both 0 and 6.
- ``heaviside(z) = 1`` for ``z > 0`` and 0 otherwise, so ``heaviside(0) = 0``.
- ``sign(z) = 1`` for ``z > 0`` and -1 otherwise, so ``sign(0) = -1`` (never 0).
- The step functions' derivative is taken as 0 everywhere (including the jump).
- ``elu'(0) = alpha`` and ``celu'(0) = 1``; ``hardswish'(-3) = 0`` and
  ``hardswish'(3) = 1``, as in PyTorch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

from nnkit import _validate as check
from nnkit._validate import number, real_array

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _as_real(z, func: str) -> np.ndarray:
    return real_array(z, func, "z")


# ---- linear and step functions -------------------------------------------------

def identity(z: ArrayLike) -> np.ndarray:
    """Identity ``f(z) = z`` (a copy); the usual output activation for regression."""
    return _as_real(z, "identity").copy()


def identity_grad(z: ArrayLike) -> np.ndarray:
    """Derivative of identity: ones shaped like ``z``."""
    return np.ones_like(_as_real(z, "identity_grad"))


def heaviside(z: ArrayLike) -> np.ndarray:
    """Unit step: 1 where ``z > 0``, 0 otherwise (so ``heaviside(0) = 0``, DESIGN.md §3)."""
    return (_as_real(z, "heaviside") > 0).astype(np.float64)


def heaviside_grad(z: ArrayLike) -> np.ndarray:
    """Derivative of heaviside: 0 everywhere; the jump at 0 is taken as 0 too."""
    return np.zeros_like(_as_real(z, "heaviside_grad"))


def sign(z: ArrayLike) -> np.ndarray:
    """Bipolar step: 1 where ``z > 0``, -1 otherwise (so ``sign(0) = -1``, DESIGN.md §3).

    Unlike ``np.sign`` this never returns 0, so a threshold unit always fires one way.
    """
    return np.where(_as_real(z, "sign") > 0, 1.0, -1.0)


def sign_grad(z: ArrayLike) -> np.ndarray:
    """Derivative of sign: 0 everywhere; the jump at 0 is taken as 0 too."""
    return np.zeros_like(_as_real(z, "sign_grad"))


# ---- smooth squashing functions ------------------------------------------------

def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp(-|z|) never overflows; the two branches are the same function rearranged.
    e = np.exp(-np.abs(z))
    s = 1.0 / (1.0 + e)
    return np.where(z >= 0, s, e * s)


def sigmoid(z: ArrayLike) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-z))``, stable for any finite ``z``.

    Example from the notes: ``sigmoid(1 + 3*(-1) - 2*2) = sigmoid(-6) ≈ 0.00247``.
    """
    return _sigmoid(_as_real(z, "sigmoid"))


def sigmoid_grad(z: ArrayLike) -> np.ndarray:
    """``sigmoid'(z) = s (1 - s)`` with ``s = sigmoid(z)``."""
    s = _sigmoid(_as_real(z, "sigmoid_grad"))
    return s * (1.0 - s)


def tanh(z: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(_as_real(z, "tanh"))


def tanh_grad(z: ArrayLike) -> np.ndarray:
    """``tanh'(z) = 1 - tanh(z)**2``."""
    t = np.tanh(_as_real(z, "tanh_grad"))
    return 1.0 - t * t


# ---- rectifiers ----------------------------------------------------------------

def relu(z: ArrayLike) -> np.ndarray:
    """Rectified linear unit ``max(z, 0)``."""
    return np.maximum(_as_real(z, "relu"), 0.0)


def relu_grad(z: ArrayLike) -> np.ndarray:
    """1 where ``z > 0``, else 0; ``relu'(0) = 0`` (DESIGN.md §3, as in PyTorch)."""
    return (_as_real(z, "relu_grad") > 0).astype(np.float64)


def relu6(z: ArrayLike) -> np.ndarray:
    """``min(max(z, 0), 6)``."""
    return np.clip(_as_real(z, "relu6"), 0.0, 6.0)


def relu6_grad(z: ArrayLike) -> np.ndarray:
    """1 where ``0 < z < 6``, else 0 (0 at both kinks, as in PyTorch)."""
    z = _as_real(z, "relu6_grad")
    return ((z > 0) & (z < 6)).astype(np.float64)


def leaky_relu(z: ArrayLike, alpha: float = 0.01) -> np.ndarray:
    """``z`` where ``z > 0``, ``alpha * z`` otherwise (PyTorch's ``negative_slope``)."""
    z, alpha = _as_real(z, "leaky_relu"), number(alpha, "leaky_relu", "alpha", finite=True)
    return np.where(z > 0, z, alpha * z)


def leaky_relu_grad(z: ArrayLike, alpha: float = 0.01) -> np.ndarray:
    """1 where ``z > 0``, ``alpha`` otherwise (so the derivative at 0 is ``alpha``)."""
    z, alpha = _as_real(z, "leaky_relu_grad"), number(alpha, "leaky_relu_grad", "alpha", finite=True)
    return np.where(z > 0, 1.0, alpha)


def elu(z: ArrayLike, alpha: float = 1.0) -> np.ndarray:
    """``z`` where ``z > 0``, ``alpha * (exp(z) - 1)`` otherwise."""
    z, alpha = _as_real(z, "elu"), number(alpha, "elu", "alpha", finite=True)
    # np.where evaluates both branches: clip first so exp never overflows.
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))


def elu_grad(z: ArrayLike, alpha: float = 1.0) -> np.ndarray:
    """1 where ``z > 0``, ``alpha * exp(z)`` otherwise (``alpha`` at 0, as in PyTorch)."""
    z, alpha = _as_real(z, "elu_grad"), number(alpha, "elu_grad", "alpha", finite=True)
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))


def _celu_alpha(alpha, func: str) -> float:
    if number(alpha, func, "alpha", finite=True) == 0.0:
        raise ValueError(f"{func}: alpha must be non-zero (it divides z), got {alpha!r}")
    return float(alpha)


def celu(z: ArrayLike, alpha: float = 1.0) -> np.ndarray:
    """``max(0, z) + min(0, alpha * (exp(z / alpha) - 1))``; equals elu when ``alpha = 1``."""
    z, alpha = _as_real(z, "celu"), _celu_alpha(alpha, "celu")
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0) / alpha))


def celu_grad(z: ArrayLike, alpha: float = 1.0) -> np.ndarray:
    """1 where ``z > 0``, ``exp(z / alpha)`` otherwise (1 at 0)."""
    z, alpha = _as_real(z, "celu_grad"), _celu_alpha(alpha, "celu_grad")
    return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0) / alpha))


# ---- smooth rectifiers ---------------------------------------------------------

def _normal_cdf(z: np.ndarray) -> np.ndarray:
    # Phi(z) = erfc(-z / sqrt 2) / 2 keeps full relative precision in the left tail,
    # where 1 + erf(z / sqrt 2) would cancel. math.erfc is exact to an ulp or two.
    return 0.5 * np.asarray(_erfc(-z / _SQRT_2), dtype=np.float64)


def gelu(z: ArrayLike) -> np.ndarray:
    """Gaussian error linear unit, exact form ``z * Phi(z)``.

    ``Phi`` is the standard normal CDF, computed with ``math.erfc`` (no tanh
    approximation); this is PyTorch's ``gelu(approximate="none")``.
    """
    z = _as_real(z, "gelu")
    return z * _normal_cdf(z)


def gelu_grad(z: ArrayLike) -> np.ndarray:
    """``Phi(z) + z * phi(z)``, with ``phi`` the standard normal density."""
    z = _as_real(z, "gelu_grad")
    return _normal_cdf(z) + z * _INV_SQRT_2PI * np.exp(-0.5 * z * z)


def _softplus_params(beta, threshold, func: str) -> tuple[float, float]:
    beta = number(beta, func, "beta", low=0.0, low_open=True, finite=True)
    return beta, number(threshold, func, "threshold", finite=True)


def _softplus(z: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    bz = beta * z
    # Above the threshold log1p(exp(bz)) equals bz to float64 precision (PyTorch's rule).
    return np.where(bz > threshold, z, np.log1p(np.exp(np.minimum(bz, threshold))) / beta)


def softplus(z: ArrayLike, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """``log(1 + exp(beta * z)) / beta``, returning ``z`` itself where ``beta * z > threshold``.

    Defaults and the threshold rule are PyTorch's (``beta=1``, ``threshold=20``).
    """
    beta, threshold = _softplus_params(beta, threshold, "softplus")
    return _softplus(_as_real(z, "softplus"), beta, threshold)


def softplus_grad(z: ArrayLike, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """``sigmoid(beta * z)``, and 1 where ``beta * z > threshold`` (PyTorch's rule)."""
    beta, threshold = _softplus_params(beta, threshold, "softplus_grad")
    bz = beta * _as_real(z, "softplus_grad")
    return np.where(bz > threshold, 1.0, _sigmoid(bz))


def hardswish(z: ArrayLike) -> np.ndarray:
    """``z * relu6(z + 3) / 6``: 0 for ``z <= -3``, ``z`` for ``z >= 3``."""
    z = _as_real(z, "hardswish")
    return z * np.clip(z + 3.0, 0.0, 6.0) / 6.0


def hardswish_grad(z: ArrayLike) -> np.ndarray:
    """0 for ``z <= -3``, ``z / 3 + 1/2`` for ``-3 < z < 3``, 1 for ``z >= 3`` (PyTorch's kinks)."""
    z = _as_real(z, "hardswish_grad")
    return np.where(z <= -3.0, 0.0, np.where(z < 3.0, z / 3.0 + 0.5, 1.0))


def mish(z: ArrayLike) -> np.ndarray:
    """``z * tanh(softplus(z))``."""
    z = _as_real(z, "mish")
    return z * np.tanh(_softplus(z))


def mish_grad(z: ArrayLike) -> np.ndarray:
    """``tanh(sp) + z * (1 - tanh(sp)**2) * sigmoid(z)`` with ``sp = softplus(z)``."""
    z = _as_real(z, "mish_grad")
    t = np.tanh(_softplus(z))
    return t + z * (1.0 - t * t) * _sigmoid(z)


# ---- softmax family (last axis) ------------------------------------------------

def _as_logits(z, func: str) -> np.ndarray:
    return real_array(z, func, "z", "(..., C)", empty=False)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)  # the largest entry becomes 0: exp cannot overflow
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(z: ArrayLike) -> np.ndarray:
    """``exp(z_i) / sum_j exp(z_j)`` over the last axis, shape ``(..., C)`` -> ``(..., C)``.

    The row maximum is subtracted first, so large logits (even 1000) do not overflow.
    """
    z = _as_logits(z, "softmax")
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z: ArrayLike) -> np.ndarray:
    """``z_i - log sum_j exp(z_j)`` over the last axis, computed with the max-shift trick."""
    return _log_softmax(_as_logits(z, "log_softmax"))


def softmax_vjp(z: ArrayLike, dout: ArrayLike) -> np.ndarray:
    """dL/dz for ``s = softmax(z)``: ``s * (dout - sum(dout * s))``, sums over the last axis.

    Parameters
    ----------
    z : array of shape (..., C)
        The logits the forward pass saw.
    dout : array of shape (..., C)
        Upstream gradient dL/ds.
    """
    z, dout = check.arrays("softmax_vjp", z=(z, "(..., C)"), dout=(dout, "(..., C)"), empty=False)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    s = e / e.sum(axis=-1, keepdims=True)
    return s * (dout - (dout * s).sum(axis=-1, keepdims=True))


def log_softmax_vjp(z: ArrayLike, dout: ArrayLike) -> np.ndarray:
    """dL/dz for ``y = log_softmax(z)``: ``dout - softmax(z) * sum(dout)`` over the last axis.

    Shapes as in :func:`softmax_vjp`.
    """
    z, dout = check.arrays("log_softmax_vjp", z=(z, "(..., C)"), dout=(dout, "(..., C)"), empty=False)
    return dout - np.exp(_log_softmax(z)) * dout.sum(axis=-1, keepdims=True)


# ---- lookup by name --------------------------------------------------------------

@dataclass(frozen=True)
class Activation:
    """An activation bundled with its derivative, as returned by :func:`get`.

    Attributes
    ----------
    name : str
        The registry name, e.g. ``"leaky_relu"``.
    kwargs : dict
        The extra keyword arguments bound at lookup, e.g. ``{"alpha": 0.2}``.
    """

    name: str
    kwargs: dict
    _forward: Callable
    _grad: Callable | None
    _vjp: Callable | None = None

    def forward(self, z: ArrayLike) -> np.ndarray:
        """The activation applied to ``z``."""
        return self._forward(z, **self.kwargs)

    def vjp(self, z: ArrayLike, dout: ArrayLike) -> np.ndarray:
        """dL/dz given ``dout`` = dL/d(output); works for every activation."""
        if self._vjp is not None:
            return self._vjp(z, dout)
        z, dout = check.arrays(f"{self.name} vjp", z=(z, "(...)"), dout=(dout, "(...)"))
        return dout * self._grad(z, **self.kwargs)

    @property
    def grad(self) -> Callable | None:
        """The elementwise derivative ``z -> f'(z)``; ``None`` for softmax and log_softmax."""
        if self._grad is None:
            return None
        return lambda z: self._grad(z, **self.kwargs)


# name: (function, elementwise derivative or None, vjp or None, allowed keyword arguments)
_REGISTRY: dict[str, tuple[Callable, Callable | None, Callable | None, tuple[str, ...]]] = {
    "identity": (identity, identity_grad, None, ()),
    "heaviside": (heaviside, heaviside_grad, None, ()),
    "sign": (sign, sign_grad, None, ()),
    "sigmoid": (sigmoid, sigmoid_grad, None, ()),
    "tanh": (tanh, tanh_grad, None, ()),
    "relu": (relu, relu_grad, None, ()),
    "relu6": (relu6, relu6_grad, None, ()),
    "leaky_relu": (leaky_relu, leaky_relu_grad, None, ("alpha",)),
    "elu": (elu, elu_grad, None, ("alpha",)),
    "celu": (celu, celu_grad, None, ("alpha",)),
    "gelu": (gelu, gelu_grad, None, ()),
    "softplus": (softplus, softplus_grad, None, ("beta", "threshold")),
    "hardswish": (hardswish, hardswish_grad, None, ()),
    "mish": (mish, mish_grad, None, ()),
    "softmax": (softmax, None, softmax_vjp, ()),
    "log_softmax": (log_softmax, None, log_softmax_vjp, ()),
}


def names() -> list[str]:
    """The names :func:`get` accepts, in a fixed order."""
    return list(_REGISTRY)


def get(name: str, **kwargs) -> Activation:
    """Look an activation up by name, binding its extra arguments.

    Examples
    --------
    >>> act = get("leaky_relu", alpha=0.2)
    >>> act.forward([-1.0, 2.0])
    array([-0.2,  2. ])
    """
    key = check.known(name, _REGISTRY, "activations.get", "activation")
    forward, grad, vjp, allowed = _REGISTRY[key]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no keyword arguments"
        raise TypeError(f"activations.get: {key} takes {takes}, got {', '.join(unknown)}")
    forward(np.zeros(1), **kwargs)  # validate the bound values now, not at first use
    return Activation(key, dict(kwargs), forward, grad, vjp)
