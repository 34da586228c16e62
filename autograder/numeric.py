"""Numeric differentiation by central differences: pure functions, no grader state.

For a scalar function ``f`` of an array ``x`` and a flat coordinate ``c``::

    df/dx[c] ~ (f(x + eps e_c) - f(x - eps e_c)) / (2 eps)

The grader splits this in two so that it can send every perturbed input to the student's side in
one request (``autograder.handle.evaluate_many``): ``perturbed_inputs`` makes the inputs,
``central_differences`` turns the values ``f`` took at them into the gradient, and ``sample_coords``
picks the coordinates of a large input (``tolerance.NUMERIC_MAX_COORDS``). All run in the
trusted grader: the worker never chooses a perturbation, the step or the quotient.
``numeric_gradient`` is the two together, for a plain Python ``f``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from autograder import tolerance


def _flat_coords(x: np.ndarray, coords) -> np.ndarray:
    if coords is None:
        return np.arange(x.size)
    coords = np.asarray(coords)
    if coords.ndim != 1 or coords.dtype.kind not in "iu" or np.any(coords < 0) or np.any(coords >= x.size):
        raise ValueError(f"numeric: coords must be flat indices into an array of {x.size} entries, "
                         f"got {coords!r}")
    return coords


def sample_coords(size: int, rng: np.random.Generator,
                  limit: int = tolerance.NUMERIC_MAX_COORDS) -> np.ndarray:
    """The flat coordinates to differentiate: all of them, or ``limit`` drawn from ``rng`` (sorted) when there
    are more."""
    if size <= limit:
        return np.arange(size)
    return np.sort(rng.choice(size, limit, replace=False))


def perturbed_inputs(x: np.ndarray, coords=None, eps: float = tolerance.NUMERIC_EPS) -> list[np.ndarray]:
    """``[x + eps e_c0, x - eps e_c0, x + eps e_c1, x - eps e_c1, ...]``, fresh float64 copies.

    Parameters
    ----------
    x : np.ndarray
        The point, any shape; never modified.
    coords : sequence of int, optional
        Flat indices to perturb (default: every entry, in order).
    eps : float
        The step (``tolerance.NUMERIC_EPS`` by default).
    """
    x = np.array(x, dtype=np.float64)
    inputs = []
    for flat in _flat_coords(x, coords):
        for step in (eps, -eps):
            shifted = x.copy()
            shifted.flat[flat] += step
            inputs.append(shifted)
    return inputs


def central_differences(values: Sequence[float], eps: float = tolerance.NUMERIC_EPS) -> np.ndarray:
    """The difference quotients of ``values``, taken at ``perturbed_inputs`` (so + and - interleaved).

    Returns
    -------
    np.ndarray
        Shape (len(values) // 2,): ``(values[2j] - values[2j + 1]) / (2 eps)``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size % 2:
        raise ValueError(f"central_differences: values must be a flat sequence of +/- pairs, "
                         f"got shape {values.shape}")
    return (values[0::2] - values[1::2]) / (2 * eps)


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, coords=None,
                     eps: float = tolerance.NUMERIC_EPS) -> np.ndarray:
    """Central differences of the scalar ``f`` at ``x``, at ``coords`` (default: all, same shape as x).

    With ``coords`` the result is flat, one entry per coordinate, in the order given.
    """
    x = np.asarray(x, dtype=np.float64)
    grad = central_differences([float(f(v)) for v in perturbed_inputs(x, coords, eps)], eps)
    return grad.reshape(x.shape) if coords is None else grad
