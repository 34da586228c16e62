"""Input checks for nnkit's public entry points: one module, one message style, one exception per mistake.

Every message reads ``"<function>: <argument> must be <what was expected>, got <what arrived>"``. The kind of
mistake decides the exception, everywhere in nnkit:

- ``TypeError``: the wrong kind of object (not an array, not a number, a non-real dtype, a bool for a number);
- ``ValueError``: the right kind with a wrong value (a shape, a range, NaN or inf, an unknown name);
- ``RuntimeError``: calls in the wrong order (``backward`` before ``forward``).

Public functions validate once, where the caller's data comes in; the private helpers they call trust their
inputs. Imports nothing from nnkit.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def _got(value: object) -> str:
    """The type, and the value itself when it is short (``float 1.5``, ``str 'mean'``, ``ndarray``)."""
    text = repr(value)
    short = len(text) <= 40 and not isinstance(value, np.ndarray)
    return f"{type(value).__name__} {text}" if short else type(value).__name__


def real_array(x: object, func: str, arg: str = "x", *, ndim: int | tuple[int, ...] | None = None,
               layout: str = "", finite: bool = True, ndarray: bool = False, copy: bool = False) -> np.ndarray:
    """``x`` as float64 (a new array only when the dtype changes, or with ``copy``).

    ``ndarray=True`` refuses lists and scalars (layers take arrays); ``ndim`` is an int or the allowed ints;
    ``layout`` names the axes in the message, e.g. ``"(N, D)"``.
    """
    if ndarray and not isinstance(x, np.ndarray):
        raise TypeError(f"{func}: {arg} must be a numpy array, got {_got(x)}")
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{func}: {arg} must hold real numbers, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        dims = ndim if isinstance(ndim, int) else " or ".join(map(str, ndim))
        hint = " (for one sample use x[None])" if isinstance(ndim, int) and arr.ndim == ndim - 1 else ""
        expected = f"{dims}-D {layout}".rstrip()
        raise ValueError(f"{func}: {arg} must be {expected}, got {arg}.shape={arr.shape}{hint}")
    arr = np.array(arr, dtype=np.float64) if copy else arr.astype(np.float64, copy=False)
    if finite:
        bad = ~np.isfinite(arr)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{func}: {arg} must be finite, found {arr[where]} at index {where} (shape {arr.shape})")
    return arr


def shape(x: np.ndarray, expected: tuple[int, ...], func: str, arg: str, what: str = "") -> np.ndarray:
    """``x`` itself if its shape is ``expected``; ``what`` says where the expected shape comes from."""
    if x.shape != tuple(expected):
        raise ValueError(f"{func}: {arg} must have the shape {what}{tuple(expected)}, got {arg}.shape={x.shape}")
    return x


def dout(value: object, expected: tuple[int, ...], func: str) -> np.ndarray:
    """An upstream gradient: a real array with the shape of the last forward's output."""
    arr = real_array(value, func, "dout", ndarray=True, finite=False)
    return shape(arr, expected, func, "dout", "of the last forward's output ")


def number(value: object, func: str, arg: str, *, low: float = -math.inf, high: float = math.inf,
           low_open: bool = False, high_open: bool = False, finite: bool = False) -> float:
    """A real number (not a bool) in the interval; NaN is never inside, and infinity only without ``finite``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: {arg} must be a real number, got {_got(value)}")
    x = float(value)
    above = x > low if low_open else x >= low
    below = x < high if high_open else x <= high
    if not (above and below) or math.isnan(x) or (finite and math.isinf(x)):
        kind = "a finite number" if finite else "a number"
        if math.isinf(low) and math.isinf(high):
            expected = "finite"
        elif math.isinf(high):
            expected = f"{kind} {'>' if low_open else '>='} {low:g}"
        elif math.isinf(low):
            expected = f"{kind} {'<' if high_open else '<='} {high:g}"
        else:
            expected = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{func}: {arg} must be {expected}, got {value!r}")
    return x


def integer(value: object, func: str, arg: str, *, minimum: int | None = None) -> int:
    """An int (not a bool), at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{func}: {arg} must be an int, got {_got(value)}")
    if minimum is not None and value < minimum:
        expected = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"{func}: {arg} must be {expected}, got {value!r}")
    return int(value)


def positive_int(value: object, func: str, arg: str) -> int:
    return integer(value, func, arg, minimum=1)


def probability(value: object, func: str, arg: str, *, allow_one: bool = False) -> float:
    """A number in [0, 1), or [0, 1] with ``allow_one``."""
    return number(value, func, arg, low=0.0, high=1.0, high_open=not allow_one)


def class_indices(labels: object, num_classes: int, func: str, arg: str = "labels") -> np.ndarray:
    """Integer class labels of shape (N,), each in [0, num_classes)."""
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{func}: {arg} must be class indices with an integer dtype, got dtype {arr.dtype} "
                        f"(convert with {arg}.astype(np.int64))")
    if arr.ndim != 1:
        raise ValueError(f"{func}: {arg} must be class indices of shape (N,), got {arg}.shape={arr.shape}")
    bad = (arr < 0) | (arr >= num_classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{func}: {arg} must be class indices in [0, {num_classes - 1}], "
                         f"found {arr[i]} at index {i}")
    return arr


def flag(value: object, func: str, arg: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{func}: {arg} must be True or False, got {_got(value)}")
    return bool(value)


def choice(value: object, options: tuple[str, ...], func: str, arg: str) -> str:
    """One of ``options`` (strings)."""
    if not isinstance(value, str) or value not in options:
        names = [repr(o) for o in options]
        expected = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        raise ValueError(f"{func}: {arg} must be {expected}, got {value!r}")
    return value


def generator(func: str, seed: object = None, rng: object = None) -> np.random.Generator:
    """The generator to draw from: ``rng`` itself, or a new one from ``seed`` (an int or a Generator)."""
    if seed is not None and rng is not None:
        raise ValueError(f"{func}: pass seed or rng, not both (got seed={seed!r} and an rng)")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{func}: rng must be a numpy.random.Generator, got {_got(rng)}")
        return rng
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None:
        seed = integer(seed, func, "seed", minimum=0)
    return np.random.default_rng(seed)


def no_forward_yet(func: str) -> RuntimeError:
    """The error for a ``backward`` call with no ``forward`` to go back through."""
    return RuntimeError(f"{func}: called before forward; run {func.split('.')[0]}.forward(x) first")
