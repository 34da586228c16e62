"""Weight initialisers: small normal, Xavier/Glorot, He/Kaiming, and PyTorch's layer default.

Every initialiser is called as ``init(shape, *, rng=None, seed=None)`` and
returns a new float64 array. Pass ``rng`` (a ``np.random.Generator``, which is
advanced) or ``seed`` (``seed=s`` draws exactly what ``rng=np.random.default_rng(s)``
would), not both; with neither, a fresh unseeded generator is used and the
result is not reproducible. The global NumPy random state is never touched.

Fans follow nnkit's layouts (DESIGN §3):

- dense ``W (D, M)``: ``fan_in = D``, ``fan_out = M``. This is the *transpose*
  of PyTorch's ``nn.Linear.weight (M, D)``, so ``init((D, M))`` here draws from
  the same distribution as ``torch.nn.init.*_(torch.empty(M, D))``.
- conv ``W (F, C, HH, WW)``: ``fan_in = C * HH * WW``, ``fan_out = F * HH * WW``,
  the same layout as PyTorch.

Biases start at zero: use :func:`zeros` (``nn.Linear`` draws its bias from the
same uniform as its weights; nnkit does not).

Which one to use: He (``he_*``) before ReLU-family activations, Xavier
(``xavier_*``) before tanh/sigmoid, both keep the variance of the signal
roughly constant from layer to layer. ``small_normal`` is the classic
``N(0, 0.01^2)``, fine for shallow nets and a good way to *see* vanishing
signals in deep ones.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable

import numpy as np

from nnkit import _validate as check

__all__ = [
    "calculate_gain", "compute_fans", "zeros", "small_normal", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "he_uniform", "he_normal", "get", "names",
]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    Parameters
    ----------
    nonlinearity : str
        ``"linear"``, ``"identity"``, ``"conv2d"``, ``"sigmoid"`` (gain 1),
        ``"tanh"`` (5/3), ``"relu"`` (sqrt 2), ``"leaky_relu"``
        (``sqrt(2 / (1 + a**2))``) or ``"selu"`` (3/4).
    param : float, optional
        The negative slope ``a`` of ``"leaky_relu"`` (default 0.01, PyTorch's).
    """
    where = "calculate_gain"
    if nonlinearity in ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4.0
    if nonlinearity == "leaky_relu":
        slope = check.number(0.01 if param is None else param, where, "param (the negative slope)", finite=True)
        return math.sqrt(2.0 / (1 + slope**2))
    known = ["linear", "identity", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
    raise ValueError(f"{where}: unknown nonlinearity {nonlinearity!r}; known: {known}")


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a dense ``(D, M)`` or conv ``(F, C, HH, WW)`` weight shape.

    Dense: ``(D, M)``. Conv (any number of kernel axes): ``(C * HH * WW, F * HH * WW)``.
    """
    shape = _check_shape(shape, "compute_fans")
    if len(shape) < 2:
        raise ValueError(f"compute_fans: fans need a weight of at least 2 dimensions, dense (D, M) or conv "
                         f"(F, C, HH, WW), got shape {shape}; biases start at zero (nnkit.init.zeros)")
    if len(shape) == 2:
        fan_in, fan_out = shape
    else:
        receptive = math.prod(shape[2:])
        fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    if fan_in == 0 or fan_out == 0:
        raise ValueError(f"compute_fans: shape {shape} has a zero fan (fan_in={fan_in}, fan_out={fan_out})")
    return fan_in, fan_out


def zeros(shape: tuple[int, ...], *, rng: np.random.Generator | None = None, seed: int | None = None) -> np.ndarray:
    """All zeros, the start for biases. ``rng``/``seed`` are accepted for a uniform call and not used."""
    return np.zeros(_check_shape(shape, "zeros"))


def small_normal(shape: tuple[int, ...], *, std: float = 0.01, rng: np.random.Generator | None = None,
                 seed: int | None = None) -> np.ndarray:
    """``N(0, std**2)`` entries, ``std = 0.01`` by default (the lecture notes' ``N(0, sigma^2)``)."""
    std = check.number(std, "small_normal", "std", low=0.0, low_open=True, finite=True)
    return check.generator("small_normal", seed, rng).normal(0.0, std, size=_check_shape(shape, "small_normal"))


def xavier_uniform(shape: tuple[int, ...], *, gain: float = 1.0, rng: np.random.Generator | None = None,
                   seed: int | None = None) -> np.ndarray:
    """Glorot and Bengio (2010) uniform, as ``torch.nn.init.xavier_uniform_``.

    Notes
    -----
    ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``, so the
    variance is ``gain**2 * 2 / (fan_in + fan_out)``.
    """
    fan_in, fan_out = compute_fans(shape)
    gain = check.number(gain, "xavier_uniform", "gain", low=0.0, low_open=True, finite=True)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return check.generator("xavier_uniform", seed, rng).uniform(-bound, bound, size=tuple(shape))


def xavier_normal(shape: tuple[int, ...], *, gain: float = 1.0, rng: np.random.Generator | None = None,
                  seed: int | None = None) -> np.ndarray:
    """Glorot and Bengio (2010) normal, as ``torch.nn.init.xavier_normal_``.

    Notes
    -----
    ``N(0, std**2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``.
    """
    fan_in, fan_out = compute_fans(shape)
    gain = check.number(gain, "xavier_normal", "gain", low=0.0, low_open=True, finite=True)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return check.generator("xavier_normal", seed, rng).normal(0.0, std, size=tuple(shape))


def kaiming_uniform(shape: tuple[int, ...], *, a: float = math.sqrt(5.0), mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", rng: np.random.Generator | None = None,
                    seed: int | None = None) -> np.ndarray:
    """He et al. (2015) uniform; by default PyTorch's initialisation of ``nn.Linear`` and ``nn.Conv2d`` weights.

    Parameters
    ----------
    shape : tuple of int
        Dense ``(D, M)`` or conv ``(F, C, HH, WW)``.
    a : float, default sqrt(5)
        Negative slope used by the ``"leaky_relu"`` gain.
    mode : {"fan_in", "fan_out"}
        ``"fan_in"`` keeps the forward signal's variance, ``"fan_out"`` the backward one's.
    nonlinearity : str, default "leaky_relu"
        Passed to :func:`calculate_gain` (with ``a``).

    Notes
    -----
    ``U(-bound, bound)`` with ``bound = gain * sqrt(3 / fan)``, variance
    ``gain**2 / fan``. The default ``a = sqrt(5)`` gives ``gain = sqrt(1/3)``
    and ``bound = 1 / sqrt(fan_in)``: exactly what ``nn.Linear`` and
    ``nn.Conv2d`` do in ``reset_parameters``, and what the layers' default
    ``init="kaiming_uniform"`` means. Note that ``torch.nn.init.kaiming_uniform_``
    itself defaults to ``a=0`` (gain sqrt 2); that is :func:`he_uniform` here.
    """
    std = _kaiming_std(shape, a, mode, nonlinearity, "kaiming_uniform")
    bound = math.sqrt(3.0) * std
    return check.generator("kaiming_uniform", seed, rng).uniform(-bound, bound, size=tuple(shape))


def kaiming_normal(shape: tuple[int, ...], *, a: float = 0.0, mode: str = "fan_in",
                   nonlinearity: str = "leaky_relu", rng: np.random.Generator | None = None,
                   seed: int | None = None) -> np.ndarray:
    """He et al. (2015) normal, as ``torch.nn.init.kaiming_normal_`` (same defaults).

    Notes
    -----
    ``N(0, std**2)`` with ``std = gain / sqrt(fan)``; with the defaults
    (``a=0``, so the ReLU gain sqrt 2, and ``fan_in``) that is ``sqrt(2 / fan_in)``.
    """
    std = _kaiming_std(shape, a, mode, nonlinearity, "kaiming_normal")
    return check.generator("kaiming_normal", seed, rng).normal(0.0, std, size=tuple(shape))


def he_uniform(shape: tuple[int, ...], *, rng: np.random.Generator | None = None,
               seed: int | None = None) -> np.ndarray:
    """He uniform for ReLU layers: ``U(-sqrt(6 / fan_in), sqrt(6 / fan_in))``, variance ``2 / fan_in``.

    The same as ``torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")``.
    """
    return kaiming_uniform(shape, a=0.0, nonlinearity="relu", rng=rng, seed=seed)


def he_normal(shape: tuple[int, ...], *, rng: np.random.Generator | None = None,
              seed: int | None = None) -> np.ndarray:
    """He normal for ReLU layers: ``N(0, 2 / fan_in)``.

    The same as ``torch.nn.init.kaiming_normal_(w, nonlinearity="relu")``.
    """
    return kaiming_normal(shape, a=0.0, nonlinearity="relu", rng=rng, seed=seed)


_REGISTRY: dict[str, Callable[..., np.ndarray]] = {
    "zeros": zeros,
    "small_normal": small_normal,
    "xavier_uniform": xavier_uniform,
    "glorot_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "glorot_normal": xavier_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal,
}


def names() -> list[str]:
    """The names :func:`get` knows."""
    return sorted(_REGISTRY)


def get(name: str, **kwargs) -> Callable[..., np.ndarray]:
    """The initialiser called ``name``, with ``kwargs`` (e.g. ``gain=5/3``) bound.

    The result is called as ``init(shape, rng=..., seed=...)``. The
    ``"glorot_*"`` names are aliases of ``"xavier_*"``. ``"kaiming_uniform"``
    is PyTorch's layer default (bound ``1/sqrt(fan_in)``); ``"he_uniform"`` and
    ``"he_normal"`` are the ReLU versions.
    """
    name = check.known(name, _REGISTRY, "nnkit.init.get", "initialiser")
    return functools.partial(_REGISTRY[name], **kwargs) if kwargs else _REGISTRY[name]


def _kaiming_std(shape, a, mode, nonlinearity, where) -> float:
    fan_in, fan_out = compute_fans(shape)
    check.choice(mode, ("fan_in", "fan_out"), where, "mode")
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def _check_shape(shape: object, where: str) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if (not isinstance(shape, (tuple, list))
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0 for s in shape)):
        raise ValueError(f"{where}: shape must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(s) for s in shape)

