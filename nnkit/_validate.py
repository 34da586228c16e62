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

import functools
import math
import numbers

import numpy as np


def _got(value: object) -> str:
    """The type, and the value itself when it is short (``float 1.5``, ``str 'mean'``, ``ndarray``)."""
    text = repr(value)
    short = len(text) <= 40 and not isinstance(value, np.ndarray)
    return f"{type(value).__name__} {text}" if short else type(value).__name__


def _axes(layout: str) -> list[str]:
    return [a.strip() for a in layout.strip("()").split(",") if a.strip()]


@functools.lru_cache(maxsize=256)
def _layouts(layout: str | tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The layouts' axes, parsed once per layout: the checks run on every forward and backward of a layer."""
    return tuple(tuple(_axes(s)) for s in ((layout,) if isinstance(layout, str) else layout) if s)


@functools.lru_cache(maxsize=256)
def _plain(axes: tuple[str, ...]) -> bool:
    """True if every axis is a distinct plain name (``(N, C, H, W)``): any shape of that rank then fits."""
    return len(set(axes)) == len(axes) and all(a.isidentifier() for a in axes)


def _shape_text(arg: str, arr: np.ndarray) -> str:
    return f"{arg}.shape={arr.shape}" if arg.isidentifier() else f"shape {arr.shape}"


def _text(axes: list[str], values: list | None = None) -> str:
    items = [str(v) for v in (values or axes)]
    return f"({', '.join(items)}{',' if len(items) == 1 and items[0] != '...' else ''})"


def _bind(shape: tuple[int, ...], axes: list[str], sizes: dict) -> dict | None:
    """``sizes`` with the axes of ``shape`` bound to their names, or None if the shape does not fit the layout.

    An axis is a name (``N``; the same name in two layouts must have one size), a name plus a number (``D+1``),
    a number, or one ``...`` (any number of axes, the same in every layout that has one).
    """
    new = dict(sizes)
    if "..." in axes:
        k, tail = axes.index("..."), len(axes) - axes.index("...") - 1
        middle = shape[k:len(shape) - tail]
        if len(shape) < len(axes) - 1 or new.setdefault("...", middle) != middle:
            return None
        axes, shape = axes[:k] + axes[k + 1:], shape[:k] + shape[len(shape) - tail:]
    for axis, n in zip(axes, shape):
        name, _, offset = axis.partition("+")
        want = int(name) if name.isdigit() else new.setdefault(name, n - int(offset or 0)) + int(offset or 0)
        if n != want:
            return None
    return new if len(axes) == len(shape) else None


def _expected(axes: list[str], sizes: dict) -> str:
    """``(N, D+1) = (4, 3)``: the layout, then the sizes already bound (names left where unbound)."""
    values: list = []
    for axis in axes:
        n, _, o = axis.partition("+")
        values += list(sizes.get(n, [n])) if n == "..." else [sizes[n] + int(o or 0) if n in sizes else axis]
    return _text(axes) if values == axes else f"{_text(axes)} = {_text(axes, values)}"


def real_array(x: object, func: str, arg: str = "x", layout: str | tuple[str, ...] = "", *,
               sizes: dict | None = None, ndim: int | None = None, finite: bool = True, ndarray: bool = False,
               copy: bool = False, empty: bool = True, within: tuple[float, float] | None = None) -> np.ndarray:
    """``x`` as float64 (a new array only when the dtype changes, or with ``copy``), checked in one call.

    ``ndarray=True`` refuses lists and scalars (layers take arrays). ``layout`` is the expected shape in the
    docstrings' vocabulary, e.g. ``"(N, D)"``, or a tuple of allowed layouts; the names in it are bound in
    ``sizes``, so arrays checked with the same dict must agree (see :func:`arrays`). ``ndim`` alone checks only
    the rank. ``empty=False`` refuses an array without elements; ``within=(low, high)`` refuses entries outside.
    """
    if ndarray and not isinstance(x, np.ndarray):
        raise TypeError(f"{func}: {arg} must be a numpy array, got {_got(x)}")
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{func}: {arg} must hold real numbers, got dtype {arr.dtype}")
    layouts = [list(a) for a in _layouts(layout)]
    ranks = [ndim] if ndim is not None else [len(a) for a in layouts if "..." not in a]
    if ranks and len(ranks) == len(layouts or ranks) and arr.ndim not in ranks:
        hint = " (for one sample use x[None])" if arg == "x" and len(ranks) == 1 and arr.ndim == ranks[0] - 1 else ""
        expected = " or ".join(f"{len(a)}-D {_text(a)}" for a in layouts) or f"{ndim}-D"
        raise ValueError(f"{func}: {arg} must be {expected}, got {_shape_text(arg, arr)}{hint}")
    if sizes is None and len(layouts) == 1 and _plain(tuple(layouts[0])):
        pass                            # the rank fits (checked above), and nothing else is asked of the shape
    elif layouts:
        sizes = {} if sizes is None else sizes
        bound = next((b for b in (_bind(arr.shape, a, sizes) for a in layouts) if b is not None), None)
        if bound is None:
            expected = " or ".join(_expected(a, sizes) for a in layouts)
            ravel = arr.shape[-1:] == (1,) and any(_bind(arr.shape[:-1], a, sizes) is not None for a in layouts)
            hint = f" (a trailing axis of 1 does not broadcast; pass {arg}.ravel())" if ravel else ""
            raise ValueError(f"{func}: {arg} must have shape {expected}, got {_shape_text(arg, arr)}{hint}")
        sizes.update(bound)
    if not empty and arr.size == 0:
        raise ValueError(f"{func}: {arg} must not be empty, got {_shape_text(arg, arr)}")
    arr = np.array(arr, dtype=np.float64) if copy else arr.astype(np.float64, copy=False)
    if within is None and (not finite or np.isfinite(arr).all()):
        return arr                      # nothing to report: skip building the mask (conv/pool call this per batch)
    bad, expected = (~np.isfinite(arr) if finite else np.zeros(arr.shape, bool)), "be finite"
    if within is not None and not bad.any():
        low, high = within
        bad = ~((arr >= low) & (arr <= high))
        expected = f"lie in [{low:g}, {high:g}]" if math.isfinite(low) else f"be <= {high:g}"
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{func}: {arg} must {expected}, found {arr[where]} at index {where} (shape {arr.shape})")
    return arr


def arrays(func: str, *, finite: bool = True, copy: bool = False, empty: bool = True, within=None,
           **named: tuple[object, str | tuple[str, ...]]) -> list[np.ndarray]:
    """Several arrays whose shapes must agree, as float64: ``X, y = arrays("fit", X=(X, "(N, D)"), y=(y, "(N,)"))``.

    Each keyword is an argument's name and its ``(value, layout)``; an axis name that appears in two layouts
    must have the same size in both (the message says which). Checked in the order given.
    """
    sizes: dict = {}
    return [real_array(value, func, arg, layout, sizes=sizes, finite=finite, copy=copy, empty=empty, within=within)
            for arg, (value, layout) in named.items()]


def in_place(value: object, func: str, arg: str) -> np.ndarray:
    """An array the function changes in place: a writeable float ndarray."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        got = f"dtype {value.dtype}" if isinstance(value, np.ndarray) else _got(value)
        raise TypeError(f"{func}: {arg} must be a float numpy array (it is changed in place), got {got}")
    if not value.flags.writeable:
        raise ValueError(f"{func}: {arg} is read-only, it must be changed in place")
    return value


def shape(x: np.ndarray, expected: tuple[int, ...], func: str, arg: str, what: str = "") -> np.ndarray:
    """``x`` itself if its shape is ``expected``; ``what`` says where the expected shape comes from."""
    if x.shape != tuple(expected):
        raise ValueError(f"{func}: {arg} must have the shape {what}{tuple(expected)}, got {arg}.shape={x.shape}")
    return x


def dout(value: object, expected: tuple[int, ...] | None, func: str) -> np.ndarray:
    """An upstream gradient: a real array with the shape of the last forward's output (None: no forward yet)."""
    if expected is None:
        raise no_forward_yet(func)
    arr = real_array(value, func, "dout", ndarray=True, finite=False)
    return shape(arr, expected, func, "dout", "of the last forward's output ")


def number(value: object, func: str, arg: str, *, low: float = -math.inf, high: float = math.inf,
           low_open: bool = False, high_open: bool = False, finite: bool = False) -> float:
    """A real number (not a bool) in the interval; NaN is never inside, and infinity only without ``finite``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: {arg} must be a real number, got {_got(value)}")
    x = float(value)
    inside = (x > low if low_open else x >= low) and (x < high if high_open else x <= high)   # False for NaN
    if not inside or (finite and math.isinf(x)):
        bounds = [f"{op} {v:g}" for op, v in ((">" if low_open else ">=", low), ("<" if high_open else "<=", high))
                  if not math.isinf(v)]
        expected = (f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}" if len(bounds) == 2
                    else f"{'a finite number' if finite else 'a number'} {bounds[0]}" if bounds else "finite")
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


def class_indices(labels: object, num_classes: int, func: str, arg: str = "labels", n: int | None = None) -> np.ndarray:
    """Integer class labels of shape (N,) (``(n,)`` if given), each in [0, num_classes)."""
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{func}: {arg} must be class indices with an integer dtype, got dtype {arr.dtype} "
                        f"(convert with {arg}.astype(np.int64))")
    if arr.ndim != 1 or (n is not None and len(arr) != n):
        expected = "(N,)" if n is None else f"(N,) = ({n},)"
        raise ValueError(f"{func}: {arg} must be class indices of shape {expected}, got {arg}.shape={arr.shape}")
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
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"{func}: rng must be a numpy.random.Generator, got {_got(rng)}")
    if rng is not None or isinstance(seed, np.random.Generator):
        return rng if rng is not None else seed
    return np.random.default_rng(None if seed is None else integer(seed, func, "seed", minimum=0))


def known(name: object, options, func: str, what: str) -> str:
    """The key of ``options`` (a registry) that ``name`` spells, ignoring case and surrounding spaces."""
    if not isinstance(name, str):
        raise TypeError(f"{func}: name must be a str, got {_got(name)}")
    key = next((k for k in options if k.lower() == name.strip().lower()), None)
    if key is None:
        raise ValueError(f"{func}: unknown {what} {name!r}; known: {', '.join(options)}")
    return key


def function(value: object, func: str, arg: str) -> object:
    """``value`` itself if it can be called."""
    if not callable(value):
        raise TypeError(f"{func}: {arg} must be callable, got {_got(value)}")
    return value


def cache(value: object, kind: type, func: str, forward: str) -> object:
    """A cache made by ``forward``: an instance of its named structure ``kind``."""
    if not isinstance(value, kind):
        raise TypeError(f"{func}: cache must come from {forward}, got {_got(value)}")
    return value


def no_forward_yet(func: str) -> RuntimeError:
    """The error for a ``backward`` call with no ``forward`` to go back through."""
    return RuntimeError(f"{func}: called before forward; run {func.split('.')[0]}.forward(x) first")
