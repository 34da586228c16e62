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
from nnkit.layers.conv import _as_float_array, _as_pair, _check_dout, _check_images, _output_size, in_batch_chunks


class PoolCache(NamedTuple):
    made_by: str                         # the forward function that made it, e.g. "maxpool2d_forward"
    x_shape: tuple[int, int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    out_hw: tuple[int, int]
    x: np.ndarray | None = None          # naive versions keep the input to find each window's maximum again
    col_arg: np.ndarray | None = None    # fast max-pool, (N, C, H_used, W') uint8: see maxpool2d_forward
    row_arg: np.ndarray | None = None    # fast max-pool, (N, C, H', W') uint8


def _span(start: int, step: int, count: int) -> slice:
    """The slice ``start, start + step, ...`` with ``count`` items."""
    return slice(start, start + step * (count - 1) + 1, step)


def _along(axis: int, index: slice) -> tuple[slice, ...]:
    """``a[_along(axis, index)]`` is ``a`` indexed by ``index`` on ``axis`` and whole on the axes before it."""
    return (slice(None),) * axis + (index,)


def _running_max(views: list[np.ndarray], out: np.ndarray, arg: np.ndarray) -> None:
    """Write the elementwise maximum of ``views`` to ``out`` and the index of the first view holding it to ``arg``.

    Strictly greater replaces, so ties keep the earlier view. The fast pooling functions use it along one axis
    at a time: ``views[q]`` is the q-th element of every window along that axis.
    """
    np.copyto(out, views[0])
    arg.fill(0)
    for q in range(1, len(views)):
        np.copyto(arg, q, where=np.greater(views[q], out))
        np.maximum(out, views[q], out=out)


def _route_back(d: np.ndarray, arg: np.ndarray, dst: np.ndarray, k: int, s: int, axis: int) -> None:
    """Adjoint of one :func:`_running_max` stage: add ``d`` to ``dst`` at each window's winner along ``axis``.

    ``dst`` must start at zero where windows do not reach. Windows apart by at least their size (s >= k)
    never share an element, so each offset's share is written straight into place; otherwise it is added.
    """
    n_out = d.shape[axis]
    for q in range(k):
        target = dst[_along(axis, _span(q, s, n_out))]
        if s >= k:
            np.multiply(d, arg == q, out=target)
        else:
            target += d * (arg == q)


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
    """Max pooling, vectorised (same contract as :func:`maxpool2d_forward_naive`).

    Returns
    -------
    out : np.ndarray, shape (N, C, H', W')
    cache : PoolCache
        ``col_arg`` (N, C, H_used, W') and ``row_arg`` (N, C, H', W'), the winners of the two stages below.

    Notes
    -----
    A window's maximum is a maximum of row maxima, so the pool runs in two separable stages:

    1. along the width: ``rowmax[n, c, r, j]`` is the maximum of ``x[n, c, r, j*SW + q]`` over ``q < KW``,
       and ``col_arg`` the first ``q`` that holds it;
    2. along the height: ``out[n, c, i, j]`` is the maximum of ``rowmax[n, c, i*SH + p, j]`` over ``p < KH``,
       and ``row_arg`` the first ``p`` that holds it.

    The first maximum in row-major order sits in the first row that holds the maximum, at that row's first
    maximum: keeping the earlier offset on ties in both stages gives the tie rule. Each stage is a running
    maximum over KW (then KH) strided views, so the work is about KH + KW passes instead of KH*KW.
    """
    x, kernel, stride, out_hw = _check_pool(x, kernel_size, stride, "maxpool2d_forward")
    (kh, kw), (sh, sw), (H_out, W_out) = kernel, stride, out_hw
    N, C = x.shape[:2]
    H_used = sh * (H_out - 1) + kh                       # rows below the last window are never read
    out = np.empty((N, C, H_out, W_out))
    col_arg = np.empty((N, C, H_used, W_out), dtype=np.uint8)
    row_arg = np.empty((N, C, H_out, W_out), dtype=np.uint8)

    def pool(batch: slice) -> None:
        rowmax = np.empty((len(range(N)[batch]), C, H_used, W_out))
        _running_max([x[batch, :, :H_used, _span(q, sw, W_out)] for q in range(kw)], rowmax, col_arg[batch])
        _running_max([rowmax[:, :, _span(p, sh, H_out)] for p in range(kh)], out[batch], row_arg[batch])

    in_batch_chunks(pool, N, x.size)
    return out, PoolCache("maxpool2d_forward", x.shape, kernel, stride, out_hw, col_arg=col_arg, row_arg=row_arg)


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
    The two stages backwards: ``dout[n, c, i, j]`` goes to ``drowmax[n, c, i*SH + p, j]`` for the winning
    ``p = row_arg[n, c, i, j]``, then ``drowmax[n, c, r, j]`` goes to ``dx[n, c, r, j*SW + q]`` for the
    winning ``q = col_arg[n, c, r, j]``. Overlapping windows add up.
    """
    cache = _check_cache(cache, "maxpool2d_backward", "maxpool2d_forward")
    (N, C, H, W), (kh, kw), (sh, sw), out_hw = cache.x_shape, cache.kernel, cache.stride, cache.out_hw
    dout = _check_dout(dout, (N, C) + out_hw, "maxpool2d_backward")
    H_used = cache.col_arg.shape[2]
    dx = np.zeros((N, C, H, W))

    def unpool(batch: slice) -> None:
        drowmax = np.zeros((len(range(N)[batch]), C, H_used, out_hw[1]))
        _route_back(dout[batch], cache.row_arg[batch], drowmax, kh, sh, axis=2)
        _route_back(drowmax, cache.col_arg[batch], dx[batch, :, :H_used], kw, sw, axis=3)

    in_batch_chunks(unpool, N, dx.size)
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
    """Average pooling, vectorised (same contract as :func:`avgpool2d_forward_naive`).

    Notes
    -----
    Separable, like :func:`maxpool2d_forward`: first every row's window sums along the width (KW strided
    views added up), then those sums added along the height (KH views), then divided by KH*KW.
    """
    x, kernel, stride, out_hw = _check_pool(x, kernel_size, stride, "avgpool2d_forward")
    (kh, kw), (sh, sw), (H_out, W_out) = kernel, stride, out_hw
    N, C = x.shape[:2]
    H_used = sh * (H_out - 1) + kh
    out = np.empty((N, C, H_out, W_out))

    def pool(batch: slice) -> None:
        rowsum = x[batch, :, :H_used, _span(0, sw, W_out)].copy()                # (n, C, H_used, W')
        for q in range(1, kw):
            rowsum += x[batch, :, :H_used, _span(q, sw, W_out)]
        np.copyto(out[batch], rowsum[:, :, _span(0, sh, H_out)])
        for p in range(1, kh):
            out[batch] += rowsum[:, :, _span(p, sh, H_out)]
        out[batch] /= kh * kw

    in_batch_chunks(pool, N, x.size)
    return out, PoolCache("avgpool2d_forward", x.shape, kernel, stride, out_hw)


def avgpool2d_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Gradient of :func:`avgpool2d_forward`: every input of a window gets ``dout / (KH*KW)``; overlapping
    windows add up. The two separable stages run backwards: the share is spread down the KH rows of each
    window, then across its KW columns."""
    cache = _check_cache(cache, "avgpool2d_backward", "avgpool2d_forward")
    (N, C, H, W), (kh, kw), (sh, sw), (H_out, W_out) = cache.x_shape, cache.kernel, cache.stride, cache.out_hw
    share = _check_dout(dout, (N, C, H_out, W_out), "avgpool2d_backward") / (kh * kw)
    H_used = sh * (H_out - 1) + kh
    dx = np.zeros((N, C, H, W))

    def unpool(batch: slice) -> None:
        drowsum = np.zeros((len(range(N)[batch]), C, H_used, W_out))
        _spread(share[batch], drowsum, kh, sh, axis=2)
        _spread(drowsum, dx[batch, :, :H_used], kw, sw, axis=3)

    in_batch_chunks(unpool, N, dx.size)
    return dx


def _spread(d: np.ndarray, dst: np.ndarray, k: int, s: int, axis: int) -> None:
    """Adjoint of a window sum along ``axis``: every one of the k window elements gets ``d`` (zeros start)."""
    n_out = d.shape[axis]
    for q in range(k):
        target = dst[_along(axis, _span(q, s, n_out))]
        if s >= k:
            np.copyto(target, d)
        else:
            target += d


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
