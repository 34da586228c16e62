"""Numeric gradient checks: central differences, the relative-error metric, function and layer checks.

The idea: an analytic gradient (from a backward pass) must agree with the slope
measured by nudging each input a little,

    df/dx_i  ≈  (f(x + eps e_i) - f(x - eps e_i)) / (2 eps),

the *central* difference, whose error shrinks like eps**2 (a one-sided difference
only shrinks like eps). Everything is computed in float64 with ``eps = 1e-6`` by
default: small enough that the eps**2 truncation error is ~1e-12, large enough
that float64 round-off (~1e-16 / eps = 1e-10) stays well below the 1e-6 tolerance.

A function with a non-scalar output ``y = f(x)`` is checked through the scalar
``L = sum(dout * f(x))`` with a random upstream gradient ``dout`` (all ones would
hide bugs such as a transposed or permuted gradient). Then dL/dx is exactly what
a backward pass computes from ``dout``.

Inputs are never modified: every evaluation gets a fresh, perturbed copy. Keep
inputs away from kinks (relu at 0, max-pool ties): within ``eps`` of a kink the
numeric slope is meaningless.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np

from nnkit import _validate as check

_FLOOR = 1e-8  # rel_error's denominator floor: near-zero gradients are compared absolutely


def numeric_grad(f: Callable[[np.ndarray], float], x, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function, one coordinate at a time.

    Parameters
    ----------
    f : callable
        ``f(x) -> scalar``. It receives perturbed copies, never ``x`` itself.
    x : array of any shape
        Where to differentiate; converted to float64 and not modified.
    eps : float, default 1e-6
        The step: ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``.

    Returns
    -------
    array shaped like ``x`` (float64)
    """
    eps = check.number(eps, "numeric_grad", "eps", low=0.0, high=1.0, low_open=True, high_open=True)
    x = check.real_array(x, "numeric_grad", copy=True)
    grad = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        grad[idx] = (_scalar(f(plus)) - _scalar(f(minus))) / (2.0 * eps)
    return grad


def _scalar(value) -> float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != 1:
        raise ValueError(f"numeric_grad: f must return a scalar, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def _elementwise_rel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b) / np.maximum(_FLOOR, np.abs(a) + np.abs(b))


def rel_error(a, b) -> float:
    """Largest elementwise relative error ``|a - b| / max(1e-8, |a| + |b|)``.

    About 1e-7 or less means agreement for float64 gradients; 1e-2 or more
    means a bug. The 1e-8 floor keeps two tiny values from counting as far apart.
    Shapes must match exactly (``ValueError`` otherwise).
    """
    a, b = check.arrays("rel_error", a=(a, "(...)"), b=(b, "(...)"), empty=False)
    return float(_elementwise_rel(a, b).max())


@dataclass
class GradcheckResult:
    """The outcome of checking one gradient.

    Attributes
    ----------
    name : str
        What was checked, e.g. ``"x"`` or ``"W"``.
    analytic : array
        The analytic gradient (full shape).
    numeric : array
        The numeric gradient, same shape, NaN at coordinates that were not sampled.
    max_rel_error : float
        Largest :func:`rel_error` over the checked coordinates.
    worst_index : tuple of int
        Where that largest error is.
    tol : float
        The tolerance ``ok`` was judged against.
    n_checked : int
        How many coordinates were checked (all of them, or a random sample).
    direction_rel_error : float or None
        For sampled checks: the largest relative error of directional derivatives
        along random directions, which see every coordinate at once.
    """

    name: str
    analytic: np.ndarray
    numeric: np.ndarray
    max_rel_error: float
    worst_index: tuple
    tol: float
    n_checked: int
    direction_rel_error: float | None = None

    @property
    def ok(self) -> bool:
        """True when every checked error is at most ``tol``."""
        worst = max(self.max_rel_error, self.direction_rel_error or 0.0)
        return bool(worst <= self.tol)

    def rel_errors(self) -> np.ndarray:
        """Elementwise relative errors, NaN at coordinates that were not checked."""
        checked = ~np.isnan(self.numeric)
        out = np.full(self.analytic.shape, np.nan)
        out[checked] = _elementwise_rel(self.analytic[checked], self.numeric[checked])
        return out

    def __str__(self) -> str:
        a, n = self.analytic[self.worst_index], self.numeric[self.worst_index]
        text = (f"gradcheck {self.name}: {'ok' if self.ok else 'FAILED'}, max rel error {self.max_rel_error:.2e} "
                f"at index {self.worst_index} (analytic {a:.6g}, numeric {n:.6g}); tol {self.tol:.0e}, "
                f"{self.n_checked} of {self.analytic.size} coordinates checked")
        if self.direction_rel_error is not None:
            text += f", random-direction rel error {self.direction_rel_error:.2e}"
        return text + self._hint()

    def _hint(self) -> str:
        checked = ~np.isnan(self.numeric) & (np.abs(self.numeric) > 1e-6)
        if self.ok or not checked.any():
            return ""
        ratio = self.analytic[checked] / self.numeric[checked]
        if self.max_rel_error <= self.tol:
            return ("; every sampled coordinate agrees, so the error sits at coordinates that were not "
                    "sampled (check all of them with a larger max_coords)")
        if np.ptp(ratio) <= 1e-4 * abs(ratio[0]):
            return f"; the analytic gradient is {ratio[0]:.4g} times the numeric one everywhere checked"
        return ""


def _compare(name, analytic, shifted, dout, *, rng, eps, tol, max_coords, n_directions) -> GradcheckResult:
    """Compare ``analytic`` with central differences of ``sum(dout * shifted(delta))``.

    ``shifted(delta)`` evaluates the output with the checked array moved by ``delta``.
    """
    size = analytic.size
    if size == 0:
        raise ValueError(f"gradcheck: {name} is empty (shape {analytic.shape}); nothing to check")

    def slope(direction: np.ndarray) -> float:
        up, down = shifted(eps * direction), shifted(-eps * direction)
        return float(np.sum(dout * (up - down))) / (2.0 * eps)

    if max_coords is None:
        max_coords = size if size <= 1000 else max(20, 2_000_000 // size)
    if size <= max_coords:
        flat = np.arange(size)
    else:  # the first and last entries catch off-by-one slicing; the rest are random
        middle = rng.choice(np.arange(1, size - 1), size=max_coords - 2, replace=False)
        flat = np.sort(np.concatenate([[0, size - 1], middle]))
    numeric = np.full(analytic.shape, np.nan)
    for i in flat:
        idx = np.unravel_index(i, analytic.shape)
        unit = np.zeros(analytic.shape)
        unit[idx] = 1.0
        numeric[idx] = slope(unit)
    errors = _elementwise_rel(analytic.ravel()[flat], numeric.ravel()[flat])
    worst = tuple(int(i) for i in np.unravel_index(flat[int(np.argmax(errors))], analytic.shape))
    direction_error = None
    if size > max_coords and n_directions > 0:
        direction_error = 0.0
        for _ in range(n_directions):
            v = rng.standard_normal(analytic.shape)
            a, n = float(np.sum(analytic * v)), slope(v)
            direction_error = max(direction_error, abs(a - n) / max(_FLOOR, abs(a) + abs(n)))
    return GradcheckResult(name, analytic, numeric, float(errors.max()), worst, tol, len(flat), direction_error)


def _check_options(rng, eps, tol, max_coords, n_directions, func: str) -> float:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{func}: rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}")
    check.number(tol, func, "tol", low=0.0, low_open=True)
    check.integer(n_directions, func, "n_directions", minimum=0)
    check.integer(2 if max_coords is None else max_coords, func, "max_coords", minimum=2)
    return check.number(eps, func, "eps", low=0.0, high=1.0, low_open=True, high_open=True)


def _output(value, func: str, what: str) -> np.ndarray:
    out = np.asarray(value, dtype=np.float64)
    if not np.isfinite(out).all():
        raise ValueError(f"{func}: {what} returned NaN or inf (shape {out.shape})")
    return out


def _require_deterministic(first: np.ndarray, second: np.ndarray, func: str, what: str) -> None:
    if first.shape != second.shape or not np.array_equal(first, second):
        raise ValueError(f"{func}: {what} gave different outputs for the same input, so numeric differences "
                         f"are meaningless; check random layers (Dropout, GaussianNoise) with training=False")


def _random_dout(shape, dout, rng, func: str) -> np.ndarray:
    if dout is None:
        return rng.standard_normal(shape)
    return check.real_array(dout, func, "dout", str(shape), copy=True)  # the output's shape


def check_function(f: Callable, df: Callable, x, *, rng: np.random.Generator, eps: float = 1e-6,
                   tol: float = 1e-6, max_coords: int | None = None, n_directions: int = 3,
                   dout=None) -> GradcheckResult:
    """Check ``df`` (a vector-Jacobian product) against central differences of ``f``.

    Parameters
    ----------
    f : callable
        ``f(x) -> y``, any output shape.
    df : callable
        ``df(x, dout) -> dx``: dL/dx for ``L = sum(dout * f(x))``, shaped like ``x``.
    x : array of any shape
        The point to check at; never modified (``f`` and ``df`` get copies).
    rng : numpy.random.Generator
        Draws ``dout`` (standard normal) and, for large ``x``, the sample.
    eps : float, default 1e-6
        Central-difference step.
    tol : float, default 1e-6
        ``ok`` means every checked relative error is at most ``tol``.
    max_coords : int or None, default None
        If ``x`` has more elements, only this many coordinates are checked (the
        first, the last and a random sample), plus ``n_directions`` directional
        derivatives along random directions ``v``: ``sum(dx * v)`` against
        ``(L(x + eps v) - L(x - eps v)) / (2 eps)``, which catch an error at any
        coordinate. Each costs two calls of ``f``. ``None`` checks every
        coordinate of arrays up to 1000 elements and ``max(20, 2e6 // size)``
        sampled coordinates of larger ones, so a 10**5-element check makes
        about 50 calls of ``f``.
    n_directions : int, default 3
        Random directions used when coordinates are sampled.
    dout : array, optional
        A fixed upstream gradient instead of a random one.

    Returns
    -------
    GradcheckResult
    """
    func = "check_function"
    eps = _check_options(rng, eps, tol, max_coords, n_directions, func)
    x = check.real_array(x, func, copy=True)
    y = _output(f(x.copy()), func, "f")
    _require_deterministic(y, _output(f(x.copy()), func, "f"), func, "f")
    dout = _random_dout(y.shape, dout, rng, func)
    dx = check.real_array(df(x.copy(), dout.copy()), func, "df(x, dout)", str(x.shape))

    def shifted(delta):
        return _output(f(x + delta), func, "f")

    return _compare("x", dx, shifted, dout, rng=rng, eps=eps, tol=tol, max_coords=max_coords,
                    n_directions=n_directions)


def check_layer(layer, x, *, rng: np.random.Generator, eps: float = 1e-6, tol: float = 1e-6,
                max_coords: int | None = None, n_directions: int = 3, training: bool = True,
                copy_layer: bool = True) -> dict[str, GradcheckResult]:
    """Check a layer's ``backward``: dL/dx and every parameter gradient.

    One forward pass at ``x`` and a backward pass with a random ``dout`` give the
    analytic gradients; each is compared with central differences of
    ``sum(dout * layer.forward(...))``, perturbing ``x`` or one parameter array.

    Parameters
    ----------
    layer : Layer
        Anything following :class:`nnkit.layers.base.Layer`. Its forward pass must
        be deterministic (check Dropout in eval mode, ``training=False``).
    x : array
        The input, e.g. (N, D) or (N, C, H, W); never modified.
    rng, eps, tol, max_coords, n_directions
        As in :func:`check_function`.
    training : bool, default True
        The mode the layer is checked in (``layer.train(training)``); a layer checked in place gets its own
        mode back afterwards.
    copy_layer : bool, default True
        Run every pass on a deep copy, leaving ``layer`` (its params, grads,
        caches and running statistics) untouched. With ``False`` the layer itself
        is used: each parameter is perturbed in place and restored bit for bit
        afterwards, even if ``forward`` raises; its grads and caches are those of
        the last pass.

    Returns
    -------
    dict
        ``{"x": GradcheckResult, "<param name>": GradcheckResult, ...}``, with
        the names of ``layer.params`` (e.g. ``"W"``, ``"b"``, or
        ``"layer0.W"`` for a Sequential).
    """
    func = "check_layer"
    eps = _check_options(rng, eps, tol, max_coords, n_directions, func)
    x = check.real_array(x, func, copy=True)
    probe = copy.deepcopy(layer) if copy_layer else layer
    previous_mode = probe.training
    probe.train(training)
    try:
        return _layer_results(probe, x, func, dict(rng=rng, eps=eps, tol=tol, max_coords=max_coords,
                                                              n_directions=n_directions))
    finally:
        probe.train(previous_mode)


def _layer_results(probe, x: np.ndarray, func: str, options: dict) -> dict[str, GradcheckResult]:
    rng = options["rng"]
    out = _output(probe.forward(x.copy()), func, "layer.forward")
    again = _output(probe.forward(x.copy()), func, "layer.forward")
    _require_deterministic(out, again, func, "layer.forward")
    dout = rng.standard_normal(out.shape)
    dx = check.real_array(probe.backward(dout.copy()), func, "layer.backward(dout)", str(x.shape))
    params, grads = probe.params, probe.grads
    missing = [name for name in params if name not in grads]
    if missing:
        raise ValueError(f"{func}: layer.grads has no entry for {', '.join(missing)} after backward")
    analytic = {name: check.real_array(grads[name], func, f"grads[{name!r}]", str(params[name].shape), copy=True)
                for name in params}

    def shifted_x(delta):
        return _output(probe.forward(x + delta), func, "layer.forward")

    results = {"x": _compare("x", dx, shifted_x, dout, **options)}
    for name, param in params.items():
        saved = param.copy()

        def shifted_param(delta, param=param, saved=saved):
            param[...] = saved + delta  # in place: the layer holds this very array
            return _output(probe.forward(x.copy()), func, "layer.forward")

        try:
            results[name] = _compare(name, analytic[name], shifted_param, dout, **options)
        finally:  # restore bit for bit, also when forward raised mid-perturbation
            np.copyto(param, saved)
    return results
