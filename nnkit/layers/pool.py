"""Max and average pooling: loop versions to read, vectorised versions to use, and the two layers.

Conventions (as in PyTorch's ``max_pool2d`` / ``avg_pool2d`` without padding):

- images are ``(N, C, H, W)``; each channel is pooled on its own;
- ``kernel_size`` is an int or a pair ``(HH, WW)`` (the window's height and width, named as conv's kernel);
  ``stride`` likewise, and defaults to the kernel size; stride and kernel may differ, and windows overlap
  when the stride is smaller than the kernel;
- the output height is ``H' = 1 + (H - HH) // SH`` (the same for the width); rows/columns that do not fill a
  last window are dropped (floor, PyTorch's default ``ceil_mode=False``) and get zero gradient;
- max-pool ties: the whole gradient goes to the *first* maximum of the window in row-major order (DESIGN.md §3;
  PyTorch's CPU kernel does the same). Where windows overlap, an input gets the sum over every window it wins.

Pure pairs: ``*_forward(x, kernel_size, stride=None) -> (out, cache)`` and ``*_backward(dout, cache) -> dx``.
They check their arguments once (:mod:`nnkit._validate`; NaN or inf raises ``ValueError``); the layers check
``x`` once and call the unchecked fast versions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nnkit import _validate as check
from nnkit.layers._chunks import in_batch_chunks
from nnkit.layers.base import Layer
from nnkit.layers.conv import _as_pair, _check_dout, _check_images, _loop_order, _output_size


class PoolCache(NamedTuple):
    made_by: str                         # the forward function that made it, e.g. "maxpool2d_forward"
    x_shape: tuple[int, int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    out_hw: tuple[int, int]
    x: np.ndarray | None = None          # naive versions keep the input to find each window's maximum again
    col_arg: np.ndarray | None = None    # fast max-pool, (N, C, H, WQ) uint8: see maxpool2d_forward
    row_arg: np.ndarray | None = None    # fast max-pool, (N, C, H', W') uint8


def _check_cache(cache, func: str, forward: str) -> PoolCache:
    if not isinstance(cache, PoolCache) or cache.made_by != forward:
        got = f"a cache from {cache.made_by}" if isinstance(cache, PoolCache) else type(cache).__name__
        raise TypeError(f"{func}: cache must come from {forward}, got {got}")
    return cache

def _check_pool(x, kernel_size, stride, func: str):
    x = check.real_array(x, func, "x", "(N, C, H, W)", empty=False)
    kernel = _as_pair(kernel_size, func, "kernel_size", minimum=1)
    stride = kernel if stride is None else _as_pair(stride, func, "stride", minimum=1)
    return x, kernel, stride, _pool_size(x.shape, kernel, stride, func)


def _pool_size(x_shape: tuple, kernel: tuple[int, int], stride: tuple[int, int], func: str) -> tuple[int, int]:
    return (_output_size(x_shape[2], (0, 0), kernel[0], stride[0], func, "height"),
            _output_size(x_shape[3], (0, 0), kernel[1], stride[1], func, "width"))


# --------------------------------------------------------------------------------------------------------------
# max pooling, loops
# --------------------------------------------------------------------------------------------------------------
def maxpool2d_forward_naive(x: np.ndarray, kernel_size: int | tuple[int, int],
                            stride: int | tuple[int, int] | None = None) -> tuple[np.ndarray, PoolCache]:
    """Max pooling with loops, written to be read.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    kernel_size : int or (HH, WW)
    stride : int or (SH, SW), optional
        Defaults to ``kernel_size``.

    Returns
    -------
    out : np.ndarray, shape (N, C, H', W') with ``H' = 1 + (H - HH) // SH`` and ``W' = 1 + (W - WW) // SW``
    cache : PoolCache

    Notes
    -----
    ``out[n, c, i, j] = max over p < HH, q < WW of x[n, c, i*SH + p, j*SW + q]``.
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


# --------------------------------------------------------------------------------------------------------------
# average pooling, loops
# --------------------------------------------------------------------------------------------------------------
def avgpool2d_forward_naive(x: np.ndarray, kernel_size: int | tuple[int, int],
                            stride: int | tuple[int, int] | None = None) -> tuple[np.ndarray, PoolCache]:
    """Average pooling with loops, written to be read.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    kernel_size : int or (HH, WW)
    stride : int or (SH, SW), optional
        Defaults to ``kernel_size``.

    Returns
    -------
    out : np.ndarray, shape (N, C, H', W') with ``H' = 1 + (H - HH) // SH`` and ``W' = 1 + (W - WW) // SW``
    cache : PoolCache

    Notes
    -----
    ``out[n, c, i, j] = mean over p < HH, q < WW of x[n, c, i*SH + p, j*SW + q]``.
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
    """Gradient of :func:`avgpool2d_forward_naive`: each window shares its dout equally, ``dout / (HH*WW)``.

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


# --------------------------------------------------------------------------------------------------------------
# the fast versions: two separable stages over strided views
# --------------------------------------------------------------------------------------------------------------
class _Stages(NamedTuple):
    """Layout of the fast pools' two stages for one chunk of n images (see :func:`maxpool2d_forward`).

    Stage 1 treats the chunk's rows, padded on the right to ``W_full = SW * WQ`` columns, as one long row
    and takes a window at every SW-th element: ``n_starts`` windows, written to an (n, C, H, WQ) array whose
    columns j < W' are the real windows (the others straddle two rows or the padding and are dropped).
    Stage 2 pools that array along its height.
    """
    W_full: int
    WQ: int
    n_starts: int


def _stages(n: int, x_shape: tuple, kernel: tuple[int, int], stride: tuple[int, int]) -> _Stages:
    _, C, H, W = x_shape
    WQ = -(-W // stride[1])
    W_full = stride[1] * WQ
    return _Stages(W_full, WQ, (n * C * H * W_full - kernel[1]) // stride[1] + 1)


def _span(start: int, step: int, count: int) -> slice:
    """The slice ``start, start + step, ...`` with ``count`` items."""
    return slice(start, start + step * (count - 1) + 1, step)


def _window_views(a: np.ndarray, k: int, s: int, n_out: int) -> list[np.ndarray]:
    """For ``a`` (B, L, R): ``views[q]`` (B, n_out, R) holds element q of each window along axis 1."""
    return [a[:, _span(q, s, n_out)] for q in range(k)]


def _flat_rows(x: np.ndarray, W_full: int) -> np.ndarray:
    """Images (n, C, H, W) as one long row (1, n*C*H*W_full, 1), zero-padded on the right to W_full columns."""
    if x.shape[3] != W_full:
        x = np.pad(x, ((0, 0), (0, 0), (0, 0), (0, W_full - x.shape[3])))
    return np.ascontiguousarray(x).reshape(1, -1, 1)


def _running_max(views: list[np.ndarray], out: np.ndarray, arg: np.ndarray, order: str = "K") -> None:
    """Write the elementwise maximum of ``views`` to ``out`` and the index of the first view holding it to ``arg``.

    Strictly greater replaces, so ties keep the earlier view. (A masked ``np.copyto(arg, q, where=...)``
    reads more plainly but was 50 times slower on random data than the branch-free maximum used here.)
    ``order`` is the ufuncs' loop order (:func:`_loop_order`).
    """
    if len(views) == 1:
        np.copyto(out, views[0])
        arg.fill(0)
        return
    np.greater(views[1], views[0], out=arg.view(np.bool_), order=order)     # 1 where the second wins, else 0
    np.maximum(views[0], views[1], out=out, order=order)
    for q in range(2, len(views)):
        later = np.greater(views[q], out, order=order).view(np.uint8)
        np.maximum(arg, later * np.uint8(q), out=arg, order=order)  # arg < q so far, so this sets q where later
        np.maximum(out, views[q], out=out, order=order)


def _route_back(d: np.ndarray, arg: np.ndarray, targets: list[np.ndarray], overlap: bool, order: str = "K") -> None:
    """Adjoint of :func:`_running_max`: ``d`` goes to ``targets[arg]``, elementwise.

    The targets start at zero. Windows that do not overlap share no element, so each offset's share is
    written straight into place; overlapping ones add up. ``order`` as in :func:`_running_max`.

    Two offsets without overlap (the usual 2x2 pool) take two passes instead of four: ``arg`` is 0 or 1, so
    ``d * arg`` is the second offset's share and ``d`` minus it the first's (exact: ``d - d`` is 0).
    """
    if len(targets) == 2 and not overlap:
        np.multiply(d, arg, out=targets[1], order=order)
        np.subtract(d, targets[1], out=targets[0], order=order)
        return
    for q, target in enumerate(targets):
        won = np.equal(arg, q, order=order)
        if overlap:
            np.add(target, np.multiply(d, won, order=order), out=target, order=order)
        else:
            np.multiply(d, won, out=target, order=order)


def _spread(d: np.ndarray, targets: list[np.ndarray], overlap: bool, order: str = "K") -> None:
    """Adjoint of a window sum: every target (starting at zero) gets ``d``; overlapping windows add up."""
    for target in targets:
        if overlap:
            np.add(target, d, out=target, order=order)
        else:
            np.positive(d, out=target, order=order)      # a copy, in the given loop order


def _tiles(x_shape: tuple, kernel: tuple[int, int], stride: tuple[int, int]) -> bool:
    """True if the windows tile the images exactly (no overlap, no gaps, nothing left over): every input is
    in exactly one window, so a backward pass writes every element of its result and needs no zeros first."""
    return kernel == stride and x_shape[2] % stride[0] == 0 and x_shape[3] % stride[1] == 0


def maxpool2d_forward(x: np.ndarray, kernel_size: int | tuple[int, int],
                      stride: int | tuple[int, int] | None = None) -> tuple[np.ndarray, PoolCache]:
    """Max pooling, vectorised (same contract as :func:`maxpool2d_forward_naive`).

    Returns
    -------
    out : np.ndarray, shape (N, C, H', W')
    cache : PoolCache
        ``col_arg`` (N, C, H, WQ) and ``row_arg`` (N, C, H', W'), the winners of the two stages below.

    Notes
    -----
    A window's maximum is a maximum of row maxima, so the pool runs in two separable stages:

    1. along the width: ``rowmax[n, c, r, j]`` is the maximum of ``x[n, c, r, j*SW + q]`` over ``q < WW``,
       and ``col_arg`` the first ``q`` that holds it;
    2. along the height: ``out[n, c, i, j]`` is the maximum of ``rowmax[n, c, i*SH + p, j]`` over ``p < HH``,
       and ``row_arg`` the first ``p`` that holds it.

    The first maximum in row-major order sits in the first row that holds the maximum, at that row's first
    maximum: keeping the earlier offset on ties in both stages gives the tie rule. Each stage is a running
    maximum over WW (then HH) strided views, about HH + WW passes instead of HH*WW.

    Speed: stage 1 runs over all rows as one long row (:class:`_Stages`), so NumPy's inner loops are long
    even when W' is small; the few windows that straddle two rows land in columns ``j >= W'``, which stage 2
    never reads. Stage 2 writes straight into ``out``.
    """
    x, kernel, stride, out_hw = _check_pool(x, kernel_size, stride, "maxpool2d_forward")
    return _maxpool2d_forward(x, kernel, stride, out_hw)


def _maxpool2d_forward(x: np.ndarray, kernel, stride, out_hw) -> tuple[np.ndarray, PoolCache]:
    (kh, kw), (sh, sw), (H_out, W_out) = kernel, stride, out_hw
    N, C, H, W = x.shape
    WQ = _stages(N, x.shape, kernel, stride).WQ
    out = np.empty((N, C, H_out, W_out))
    col_arg = np.empty((N, C, H, WQ), dtype=np.uint8)
    row_arg = np.empty((N, C, H_out, W_out), dtype=np.uint8)

    def pool(batch: slice) -> None:
        n = len(range(N)[batch])
        st = _stages(n, x.shape, kernel, stride)
        rowmax = np.empty((n * C, H, WQ))
        starts = slice(0, st.n_starts)
        _running_max(_window_views(_flat_rows(x[batch], st.W_full), kw, sw, st.n_starts),
                     rowmax.reshape(1, -1, 1)[:, starts], col_arg[batch].reshape(1, -1, 1)[:, starts])
        _running_max(_window_views(rowmax[:, :, :W_out], kh, sh, H_out), out[batch].reshape(n * C, H_out, W_out),
                     row_arg[batch].reshape(n * C, H_out, W_out), _loop_order(W_out))

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
    return _maxpool2d_backward(_check_dout(dout, cache.x_shape[:2] + cache.out_hw, "maxpool2d_backward"), cache)


def _maxpool2d_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    (N, C, H, W), (kh, kw), (sh, sw), (H_out, W_out) = cache.x_shape, cache.kernel, cache.stride, cache.out_hw
    WQ = cache.col_arg.shape[3]
    start = np.empty if _tiles(cache.x_shape, cache.kernel, cache.stride) else np.zeros
    dx = start((N, C, H, W))

    def unpool(batch: slice) -> None:
        n = len(range(N)[batch])
        st = _stages(n, cache.x_shape, cache.kernel, cache.stride)
        drowmax = start((n * C, H, WQ))        # zeros unless tiled: stage 1 reads the columns j >= W' as well
        _route_back(dout[batch].reshape(n * C, H_out, W_out), cache.row_arg[batch].reshape(n * C, H_out, W_out),
                    _window_views(drowmax[:, :, :W_out], kh, sh, H_out), overlap=sh < kh, order=_loop_order(W_out))
        dxf = dx[batch].reshape(1, -1, 1) if st.W_full == W else np.zeros((1, n * C * H * st.W_full, 1))
        starts = slice(0, st.n_starts)
        _route_back(drowmax.reshape(1, -1, 1)[:, starts], cache.col_arg[batch].reshape(1, -1, 1)[:, starts],
                    _window_views(dxf, kw, sw, st.n_starts), overlap=sw < kw)
        if st.W_full != W:
            dx[batch] = dxf.reshape(n, C, H, st.W_full)[..., :W]

    in_batch_chunks(unpool, N, dx.size)
    return dx


def avgpool2d_forward(x: np.ndarray, kernel_size: int | tuple[int, int],
                      stride: int | tuple[int, int] | None = None) -> tuple[np.ndarray, PoolCache]:
    """Average pooling, vectorised (same contract as :func:`avgpool2d_forward_naive`).

    Notes
    -----
    Separable, with the same two stages as :func:`maxpool2d_forward`: every row's window sums along the
    width (WW strided views added up), then those sums added along the height (HH views), divided by HH*WW.
    """
    x, kernel, stride, out_hw = _check_pool(x, kernel_size, stride, "avgpool2d_forward")
    return _avgpool2d_forward(x, kernel, stride, out_hw)


def _avgpool2d_forward(x: np.ndarray, kernel, stride, out_hw) -> tuple[np.ndarray, PoolCache]:
    (kh, kw), (sh, sw), (H_out, W_out) = kernel, stride, out_hw
    N, C, H, W = x.shape
    out = np.empty((N, C, H_out, W_out))

    def pool(batch: slice) -> None:
        n = len(range(N)[batch])
        st = _stages(n, x.shape, kernel, stride)
        rowsum = np.empty((n * C, H, st.WQ))
        _running_sum(_window_views(_flat_rows(x[batch], st.W_full), kw, sw, st.n_starts),
                     rowsum.reshape(1, -1, 1)[:, :st.n_starts])
        pooled = out[batch].reshape(n * C, H_out, W_out)
        _running_sum(_window_views(rowsum[:, :, :W_out], kh, sh, H_out), pooled, _loop_order(W_out))
        pooled /= kh * kw

    in_batch_chunks(pool, N, x.size)
    return out, PoolCache("avgpool2d_forward", x.shape, kernel, stride, out_hw)


def _running_sum(views: list[np.ndarray], out: np.ndarray, order: str = "K") -> None:
    if len(views) == 1:
        np.positive(views[0], out=out, order=order)          # a copy, in the given loop order
        return
    np.add(views[0], views[1], out=out, order=order)
    for view in views[2:]:
        np.add(out, view, out=out, order=order)


def avgpool2d_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Gradient of :func:`avgpool2d_forward`: every input of a window gets ``dout / (HH*WW)``; overlapping
    windows add up. The two stages run backwards: the share goes down the HH rows of each window, then
    across its WW columns."""
    cache = _check_cache(cache, "avgpool2d_backward", "avgpool2d_forward")
    return _avgpool2d_backward(_check_dout(dout, cache.x_shape[:2] + cache.out_hw, "avgpool2d_backward"), cache)


def _avgpool2d_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    (N, C, H, W), (kh, kw), (sh, sw), (H_out, W_out) = cache.x_shape, cache.kernel, cache.stride, cache.out_hw
    start = np.empty if _tiles(cache.x_shape, cache.kernel, cache.stride) else np.zeros
    dx = start((N, C, H, W))

    def unpool(batch: slice) -> None:
        n = len(range(N)[batch])
        st = _stages(n, cache.x_shape, cache.kernel, cache.stride)
        drowsum = start((n * C, H, st.WQ))     # zeros unless tiled: stage 1 reads the columns j >= W' as well
        share = dout[batch].reshape(n * C, H_out, W_out) / (kh * kw)
        _spread(share, _window_views(drowsum[:, :, :W_out], kh, sh, H_out),
                overlap=sh < kh, order=_loop_order(W_out))
        dxf = dx[batch].reshape(1, -1, 1) if st.W_full == W else np.zeros((1, n * C * H * st.W_full, 1))
        _spread(drowsum.reshape(1, -1, 1)[:, :st.n_starts], _window_views(dxf, kw, sw, st.n_starts),
                overlap=sw < kw)
        if st.W_full != W:
            dx[batch] = dxf.reshape(n, C, H, st.W_full)[..., :W]

    in_batch_chunks(unpool, N, dx.size)
    return dx


# --------------------------------------------------------------------------------------------------------------
# the layers
# --------------------------------------------------------------------------------------------------------------
class _Pool2d(Layer):
    """Shared body of the pooling layers; a subclass names its unchecked fast pair in ``_forward``/``_backward``."""

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _as_pair(kernel_size, name, "kernel_size", minimum=1)
        self.stride = self.kernel_size if stride is None else _as_pair(stride, name, "stride", minimum=1)
        self._cache: PoolCache | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        where = f"{type(self).__name__}.forward"
        x = _check_images(x, where)
        out_hw = _pool_size(x.shape, self.kernel_size, self.stride, where)
        out, self._cache = self._forward(x, self.kernel_size, self.stride, out_hw)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        where = f"{type(self).__name__}.backward"
        if self._cache is None:
            raise check.no_forward_yet(where)
        return self._backward(_check_dout(dout, self._cache.x_shape[:2] + self._cache.out_hw, where), self._cache)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2d(_Pool2d):
    """Max pooling layer over :func:`maxpool2d_forward` / :func:`maxpool2d_backward`; no parameters.

    Parameters
    ----------
    kernel_size : int or (HH, WW)
    stride : int or (SH, SW), optional
        Defaults to ``kernel_size`` (non-overlapping windows).

    Notes
    -----
    (N, C, H, W) -> (N, C, H', W') with ``H' = 1 + (H - HH) // SH``. Ties send the gradient to the first
    maximum of the window in row-major order.
    """

    _forward = staticmethod(_maxpool2d_forward)
    _backward = staticmethod(_maxpool2d_backward)


class AvgPool2d(_Pool2d):
    """Average pooling layer over :func:`avgpool2d_forward` / :func:`avgpool2d_backward`; no parameters.

    Parameters
    ----------
    kernel_size : int or (HH, WW)
    stride : int or (SH, SW), optional
        Defaults to ``kernel_size`` (non-overlapping windows).

    Notes
    -----
    (N, C, H, W) -> (N, C, H', W') with ``H' = 1 + (H - HH) // SH``; every input of a window gets ``1/(HH*WW)``
    of its gradient.
    """

    _forward = staticmethod(_avgpool2d_forward)
    _backward = staticmethod(_avgpool2d_backward)
