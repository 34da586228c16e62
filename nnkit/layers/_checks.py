"""Input checks shared by the layers (private).

Every layer validates at its boundary and raises an error that names the
layer's method, the argument, what was expected and what arrived.
"""

from __future__ import annotations

import numbers

import numpy as np


def make_rng(seed: int | None, rng: np.random.Generator | None, where: str) -> np.random.Generator:
    """The generator a layer draws from: ``rng`` itself, or a new one seeded with ``seed``."""
    if seed is not None and rng is not None:
        raise ValueError(f"{where}: pass seed or rng, not both (got seed={seed!r} and an rng)")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{where}: rng must be a numpy.random.Generator, got {type(rng).__name__}")
        return rng
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"{where}: seed must be an int or None, got {type(seed).__name__} {seed!r}")
    return np.random.default_rng(seed)


def as_float_array(x: object, where: str, name: str = "x") -> np.ndarray:
    """``x`` as a float64 ndarray (a copy only when the dtype changes).

    Integers and booleans are converted (truth tables, one-hot labels); anything
    that is not real numbers raises ``TypeError``.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{where}: {name} must be a numpy array, got {type(x).__name__}")
    if x.dtype == np.float64:
        return x
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {name} must hold real numbers, got dtype {x.dtype}")
    return x.astype(np.float64)


def check_features(x: np.ndarray, expected: int, where: str, layout: str = "(N, D)") -> None:
    """Raise unless ``x`` is 2-D with ``expected`` columns."""
    if x.ndim != 2:
        hint = " (for one sample use x[None, :])" if x.ndim == 1 else ""
        raise ValueError(f"{where}: x must be 2-D {layout}, got x.shape={x.shape}{hint}")
    if x.shape[1] != expected:
        raise ValueError(
            f"{where}: x has {x.shape[1]} features, the layer expects {expected} (x.shape={x.shape})"
        )


def check_dout(dout: object, shape: tuple[int, ...], where: str) -> np.ndarray:
    """``dout`` as float64, which must have the shape of the last forward's output."""
    dout = as_float_array(dout, where, "dout")
    if dout.shape != shape:
        raise ValueError(
            f"{where}: dout must have the shape of the last forward's output {shape}, got dout.shape={dout.shape}"
        )
    return dout


def no_forward_yet(where: str) -> RuntimeError:
    """The error for a backward call that has no forward to go back through."""
    layer = where.split(".")[0]
    return RuntimeError(f"{where}: called before forward; run {layer}.forward(x) first")


def check_positive_int(value: object, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
    return int(value)


def check_probability(value: object, where: str, name: str, *, allow_one: bool = False) -> float:
    """A float in [0, 1) (or [0, 1] with ``allow_one``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__}")
    upper_ok = value <= 1 if allow_one else value < 1
    if not (0 <= value and upper_ok):
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{where}: {name} must be in {interval}, got {value!r}")
    return float(value)
