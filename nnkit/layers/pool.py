"""Max and average pooling: loop versions to read, vectorised versions to use, and the two layers.

Conventions (as in PyTorch's ``max_pool2d`` / ``avg_pool2d`` without padding):

- images are ``(N, C, H, W)``; each channel is pooled on its own;
- ``kernel_size`` is an int or a pair ``(KH, KW)``; ``stride`` likewise, and defaults to the kernel size;
  stride and kernel may differ, and windows overlap when the stride is smaller than the kernel;
- the output height is ``H' = 1 + (H - KH) // SH`` (the same for the width); rows/columns that do not fill a
  last window are dropped (floor, PyTorch's default ``ceil_mode=False``) and get zero gradient;
- max-pool ties: the whole gradient goes to the *first* maximum of the window in row-major order (DESIGN.md §3;
  PyTorch's CPU kernel does the same). Where windows overlap, an input gets the sum over every window it wins.

Pure pairs: ``*_forward(x, kernel_size, stride=None) -> (out, cache)`` and ``*_backward(dout, cache) -> dx``.
Inputs must be finite: NaN or inf raises ``ValueError`` here rather than spreading through the network.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nnkit.layers._checks import no_forward_yet
from nnkit.layers.base import Layer
from nnkit.layers.conv import _as_float_array, _as_pair, _check_dout, _check_images, _output_size


class PoolCache(NamedTuple):
    made_by: str                         # the forward function that made it, e.g. "maxpool2d_forward"
    x_shape: tuple[int, int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    out_hw: tuple[int, int]
    x: np.ndarray | None = None          # naive versions keep the input to find each window's maximum again
    first_max: np.ndarray | None = None  # fast max-pool: (KH, KW, N, C, H', W') bool, see maxpool2d_forward


def _offset(p: int, q: int, stride: tuple[int, int], out_hw: tuple[int, int]) -> tuple[slice, ...]:
    """Index of the inputs at offset (p, q) of every window: ``x[_offset(...)]`` is (N, C, H', W').

    Element (n, c, i, j) of that view is ``x[n, c, i*SH + p, j*SW + q]``. The fast versions loop over the
    KH*KW offsets and do whole-array work for each, instead of looping over the N*C*H'*W' windows.
    """
    (sh, sw), (H_out, W_out) = stride, out_hw
    return (slice(None), slice(None), slice(p, p + sh * (H_out - 1) + 1, sh), slice(q, q + sw * (W_out - 1) + 1, sw))


def _check_pool(x, kernel_size, stride, func: str):
    x = _as_float_array(x, func, "x", 4, "(N, C, H, W)")
    if min(x.shape) == 0:
        raise ValueError(f"{func}: x is empty (x.shape={x.shape})")
    kernel = _as_pair(kernel_size, func, "kernel_size", minimum=1)
    stride = kernel if stride is None else _as_pair(stride, func, "stride", minimum=1)
    out_hw = (_output_size(x.shape[2], (0, 0), kernel[0], stride[0], func, "height"),
              _output_size(x.shape[3], (0, 0), kernel[1], stride[1], func, "width"))
    return x, kernel, stride, out_hw


def _check_cache(cache, func: str, forward: str) -> PoolCache:
    if not isinstance(cache, PoolCache) or cache.made_by != forward:
        got = f"a cache from {cache.made_by}" if isinstance(cache, PoolCache) else type(cache).__name__
        raise TypeError(f"{func}: cache must come from {forward}, got {got}")
    return cache


# --------------------------------------------------------------------------------------------------------------
# max pooling
# --------------------------------------------------------------------------------------------------------------
def maxpool2d_forward_naive(x: np.ndarray, kernel_size: int | tuple[int, int],
                            stride: int | tuple[int, int] | None = None) -> tuple[np.ndarray, PoolCache]:
    """Max pooling with loops, written to be read.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    kernel_size : int or (KH, KW)
    stride : int or (SH, SW), optional
        Defaults to ``kernel_size``.

    Returns
    -------
    out : np.ndarray, shape (N, C, H', W') with ``H' = 1 + (H - KH) // SH`` and ``W' = 1 + (W - KW) // SW``
    cache : PoolCache

    Notes
    -----
    ``out[n, c, i, j] = max over p < KH, q < KW of x[n, c, i*SH + p, j*SW + q]``.
    """
    x, (kh, kw), (sh, sw), (H_out, W_out) = _check_pool(x, kernel_size, stride, "maxpool2d_forward_naive")
    N, C = x.shape[:2]
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = np.max(x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out, PoolCache("maxpool2d_forward_naive", x.shape, (kh, kw), (sh, sw), (H_out, W_out), x=x)


def maxpool2d_backward_naive(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Gradient of :func:`maxpool2d_forward_naive`: each window's dout goes to its first maximum.

    Parameters
    ----------
    dout : np.ndarray, shape (N, C, H', W')
    cache : PoolCache

    Returns
    -------
    dx : np.ndarray, shape (N, C, H, W)
    """
    cache = _check_cache(cache, "maxpool2d_backward_naive", "maxpool2d_forward_naive")
    x, (kh, kw), (sh, sw), out_hw = cache.x, cache.kernel, cache.stride, cache.out_hw
    N, C = x.shape[:2]
    dout = _check_dout(dout, (N, C) + out_hw, "maxpool2d_backward_naive")
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(out_hw[0]):
                for j in range(out_hw[1]):
                    window = x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    p, q = np.unravel_index(np.argmax(window), window.shape)   # argmax: first max, row-major
                    dx[n, c, i * sh + p, j * sw + q] += dout[n, c, i, j]       # += : windows may overlap
    return dx


def maxpool2d_forward(x: np.ndarray, kernel_size: int | tuple[int, int],
                      stride: int | tuple[int, int] | None = None) -> tuple[np.ndarray, PoolCache]:
    """Max pooling, vectorised over the windows (same contract as :func:`maxpool2d_forward_naive`).

    Returns
    -------
    out : np.ndarray, shape (N, C, H', W')
    cache : PoolCache
        ``first_max[p, q, n, c, i, j]`` is True when ``x[n, c, i*SH + p, j*SW + q]`` is the first maximum of
        window (i, j) in row-major order.

    Notes
    -----
    The loops run over the KH*KW offsets of a window, not over the windows: ``out`` is the running maximum of
    the KH*KW strided views ``x[:, :, p::SH, q::SW]``. Walking the offsets in row-major order and keeping only
    the first view equal to the maximum gives the tie rule.
    """
    x, (kh, kw), stride, out_hw = _check_pool(x, kernel_size, stride, "maxpool2d_forward")
    out = x[_offset(0, 0, stride, out_hw)].copy()
    for p in range(kh):
        for q in range(kw):
            np.maximum(out, x[_offset(p, q, stride, out_hw)], out=out)
    first_max = np.empty((kh, kw) + out.shape, dtype=bool)
    unclaimed = np.ones(out.shape, dtype=bool)            # windows whose first maximum is still to be found
    for p in range(kh):
        for q in range(kw):
            hit = first_max[p, q]
            np.equal(x[_offset(p, q, stride, out_hw)], out, out=hit)
            hit &= unclaimed
            unclaimed &= ~hit
    return out, PoolCache("maxpool2d_forward", x.shape, (kh, kw), stride, out_hw, first_max=first_max)


def maxpool2d_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Gradient of :func:`maxpool2d_forward`.

    Parameters
    ----------
    dout : np.ndarray, shape (N, C, H', W')
    cache : PoolCache

    Returns
    -------
    dx : np.ndarray, shape (N, C, H, W)

    Notes
    -----
    For each offset (p, q), the windows whose first maximum sits there send their dout to
    ``dx[:, :, p::SH, q::SW]``. The ``+=`` adds up overlapping windows.
    """
    cache = _check_cache(cache, "maxpool2d_backward", "maxpool2d_forward")
    (N, C, H, W), (kh, kw), stride, out_hw = cache.x_shape, cache.kernel, cache.stride, cache.out_hw
    dout = _check_dout(dout, (N, C) + out_hw, "maxpool2d_backward")
    dx = np.zeros((N, C, H, W))
    for p in range(kh):
        for q in range(kw):
            dx[_offset(p, q, stride, out_hw)] += dout * cache.first_max[p, q]
    return dx


# --------------------------------------------------------------------------------------------------------------
# average pooling
# --------------------------------------------------------------------------------------------------------------
def avgpool2d_forward_naive(x: np.ndarray, kernel_size: int | tuple[int, int],
                            stride: int | tuple[int, int] | None = None) -> tuple[np.ndarray, PoolCache]:
    """Average pooling with loops, written to be read.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    kernel_size : int or (KH, KW)
    stride : int or (SH, SW), optional
        Defaults to ``kernel_size``.

    Returns
    -------
    out : np.ndarray, shape (N, C, H', W') with ``H' = 1 + (H - KH) // SH`` and ``W' = 1 + (W - KW) // SW``
    cache : PoolCache

    Notes
    -----
    ``out[n, c, i, j] = mean over p < KH, q < KW of x[n, c, i*SH + p, j*SW + q]``.
    """
    x, (kh, kw), (sh, sw), (H_out, W_out) = _check_pool(x, kernel_size, stride, "avgpool2d_forward_naive")
    N, C = x.shape[:2]
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = np.mean(x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out, PoolCache("avgpool2d_forward_naive", x.shape, (kh, kw), (sh, sw), (H_out, W_out), x=x)


def avgpool2d_backward_naive(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Gradient of :func:`avgpool2d_forward_naive`: each window shares its dout equally, ``dout / (KH*KW)``.

    Returns
    -------
    dx : np.ndarray, shape (N, C, H, W)
    """
    cache = _check_cache(cache, "avgpool2d_backward_naive", "avgpool2d_forward_naive")
    (N, C, H, W), (kh, kw), (sh, sw), out_hw = cache.x_shape, cache.kernel, cache.stride, cache.out_hw
    dout = _check_dout(dout, (N, C) + out_hw, "avgpool2d_backward_naive")
    dx = np.zeros((N, C, H, W))
    for n in range(N):
        for c in range(C):
            for i in range(out_hw[0]):
                for j in range(out_hw[1]):
                    dx[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw] += dout[n, c, i, j] / (kh * kw)
    return dx


def avgpool2d_forward(x: np.ndarray, kernel_size: int | tuple[int, int],
                      stride: int | tuple[int, int] | None = None) -> tuple[np.ndarray, PoolCache]:
    """Average pooling, vectorised over the windows (same contract as :func:`avgpool2d_forward_naive`).

    Notes
    -----
    ``out`` is the sum of the KH*KW strided views ``x[:, :, p::SH, q::SW]``, divided by KH*KW.
    """
    x, (kh, kw), stride, out_hw = _check_pool(x, kernel_size, stride, "avgpool2d_forward")
    out = np.zeros(x.shape[:2] + out_hw)
    for p in range(kh):
        for q in range(kw):
            out += x[_offset(p, q, stride, out_hw)]
    out /= kh * kw
    return out, PoolCache("avgpool2d_forward", x.shape, (kh, kw), stride, out_hw)


def avgpool2d_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Gradient of :func:`avgpool2d_forward`: every input of a window gets ``dout / (KH*KW)``; ``+=`` adds
    up overlapping windows."""
    cache = _check_cache(cache, "avgpool2d_backward", "avgpool2d_forward")
    (N, C, H, W), (kh, kw), stride, out_hw = cache.x_shape, cache.kernel, cache.stride, cache.out_hw
    share = _check_dout(dout, (N, C) + out_hw, "avgpool2d_backward") / (kh * kw)
    dx = np.zeros((N, C, H, W))
    for p in range(kh):
        for q in range(kw):
            dx[_offset(p, q, stride, out_hw)] += share
    return dx


# --------------------------------------------------------------------------------------------------------------
# the layers
# --------------------------------------------------------------------------------------------------------------
class _Pool2D(Layer):
    """Shared body of the pooling layers; a subclass names its pure pair in ``_forward`` and ``_backward``."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _as_pair(kernel_size, name, "kernel_size", minimum=1)
        self.stride = self.kernel_size if stride is None else _as_pair(stride, name, "stride", minimum=1)
        self._cache: PoolCache | None = None

    def forward(self, x: np.ndarray, *, training: bool = True) -> np.ndarray:
        _check_images(x, f"{type(self).__name__}.forward")
        out, self._cache = self._forward(x, self.kernel_size, self.stride)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise no_forward_yet(f"{type(self).__name__}.backward")
        return self._backward(dout, self._cache)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2D(_Pool2D):
    """Max pooling layer over :func:`maxpool2d_forward` / :func:`maxpool2d_backward`; no parameters.

    Parameters
    ----------
    kernel_size : int or (KH, KW)
    stride : int or (SH, SW), optional
        Defaults to ``kernel_size`` (non-overlapping windows).

    Notes
    -----
    (N, C, H, W) -> (N, C, H', W') with ``H' = 1 + (H - KH) // SH``. Ties send the gradient to the first
    maximum of the window in row-major order.
    """

    _forward = staticmethod(maxpool2d_forward)
    _backward = staticmethod(maxpool2d_backward)


class AvgPool2D(_Pool2D):
    """Average pooling layer over :func:`avgpool2d_forward` / :func:`avgpool2d_backward`; no parameters.

    Parameters
    ----------
    kernel_size : int or (KH, KW)
    stride : int or (SH, SW), optional
        Defaults to ``kernel_size`` (non-overlapping windows).

    Notes
    -----
    (N, C, H, W) -> (N, C, H', W') with ``H' = 1 + (H - KH) // SH``; every input of a window gets ``1/(KH*KW)``
    of its gradient.
    """

    _forward = staticmethod(avgpool2d_forward)
    _backward = staticmethod(avgpool2d_backward)
