"""2-D convolution: a loop version to read, a vectorised version to use, and the Conv2d layer.

Conventions (DESIGN.md §3, as in PyTorch's ``conv2d``):

- images are ``(N, C, H, W)`` (batch, channels, height, width), weights ``(F, C, HH, WW)``, bias ``(F,)``;
- the operation is a *cross-correlation*: the kernel is not flipped;
- ``stride`` is an int or a pair ``(SH, SW)``; ``padding`` is an int, a pair ``(PH, PW)``, ``"valid"`` (no
  padding) or ``"same"`` (stride 1 only; output the size of the input). Padding adds zeros;
- the output height is ``H' = 1 + (H + 2P - HH) // S`` (the same for the width). When the stride does not fit
  exactly, the floor drops the last rows/columns of the padded input, as PyTorch does; they get zero gradient.

Both versions are pure pairs: ``*_forward(...) -> (out, cache)`` and ``*_backward(dout, cache) -> (dx, dW, db)``.
They check their arguments once (:mod:`nnkit._validate`; NaN or inf raises ``ValueError``); the layer checks
``x`` once and calls the unchecked fast pair. The geometry helpers here are shared with :mod:`nnkit.layers.pool`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from nnkit import _validate as check
from nnkit import init as initializers
from nnkit.layers._chunks import get_num_threads, in_batch_chunks, set_num_threads  # noqa: F401 (re-export)
from nnkit.layers.base import Layer

Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))


# --------------------------------------------------------------------------------------------------------------
# arguments and geometry, shared with pool.py
# --------------------------------------------------------------------------------------------------------------
def _as_pair(value, func: str, name: str, *, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= minimum, as a tuple ``(for H, for W)``."""
    items = value if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items):
        raise TypeError(f"{func}: {name} must be an int or a pair of ints, got {value!r}")
    if min(items) < minimum:
        raise ValueError(f"{func}: {name} must be >= {minimum}, got {value!r}")
    return int(items[0]), int(items[1])


def _check_images(x, func: str) -> np.ndarray:
    """A layer's check of its input: a non-empty, finite 4-D (N, C, H, W) numpy array, as float64."""
    return check.real_array(x, func, "x", "(N, C, H, W)", ndarray=True, empty=False)


def _check_dout(dout, expected_shape: tuple, func: str) -> np.ndarray:
    return check.dout(dout, tuple(expected_shape), func)


def _resolve_padding(padding, kernel: tuple[int, int], stride: tuple[int, int], func: str) -> Pads:
    """``((top, bottom), (left, right))`` zeros to add for an int, a pair, ``"valid"`` or ``"same"``."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{func}: padding='same' needs stride 1, got stride={stride}")
            # PyTorch's rule: total k - 1; the odd extra zero of an even kernel goes to the bottom/right.
            (kh, kw) = kernel
            return ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)
        raise ValueError(f"{func}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    ph, pw = _as_pair(padding, func, "padding", minimum=0)
    return (ph, ph), (pw, pw)


def _output_size(size: int, pad: tuple[int, int], k: int, s: int, func: str, axis: str) -> int:
    padded = size + pad[0] + pad[1]
    if k > padded:
        raise ValueError(f"{func}: kernel {axis} {k} is larger than the padded input {axis} {padded} "
                         f"(input {size} + padding {pad[0]} + {pad[1]})")
    return 1 + (padded - k) // s


def _padded_hw(hw: tuple[int, int], pads: Pads) -> tuple[int, int]:
    """Height and width of an image of size ``hw`` once ``pads`` zeros are added around it."""
    (top, bottom), (left, right) = pads
    return hw[0] + top + bottom, hw[1] + left + right


def _pad(x: np.ndarray, pads: Pads) -> np.ndarray:
    if pads == ((0, 0), (0, 0)):
        return x
    (top, _), (left, _) = pads
    N, C, H, W = x.shape
    xpad = np.zeros((N, C) + _padded_hw((H, W), pads))      # np.pad does the same, 10x slower on small x
    xpad[:, :, top:top + H, left:left + W] = x
    return xpad


def _unpad(dxp: np.ndarray, pads: Pads, hw: tuple[int, int]) -> np.ndarray:
    (top, _), (left, _) = pads
    return dxp[:, :, top:top + hw[0], left:left + hw[1]]


class _ConvGeometry(NamedTuple):
    stride: tuple[int, int]
    pads: Pads
    out_hw: tuple[int, int]


def _geometry(hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], padding, func: str):
    pads = _resolve_padding(padding, kernel, stride, func)
    out_hw = (_output_size(hw[0], pads[0], kernel[0], stride[0], func, "height"),
              _output_size(hw[1], pads[1], kernel[1], stride[1], func, "width"))
    return _ConvGeometry(stride, pads, out_hw)


def _check_conv(x, W, b, stride, padding, func: str):
    x, W, b = check.arrays(func, empty=False, x=(x, "(N, C, H, W)"), W=(W, "(F, C, HH, WW)"), b=(b, "(F,)"))
    stride = _as_pair(stride, func, "stride", minimum=1)
    return x, W, b, _geometry(x.shape[2:], W.shape[2:], stride, padding, func)


# --------------------------------------------------------------------------------------------------------------
# naive version: four loops, one dot product per output number
# --------------------------------------------------------------------------------------------------------------
class Conv2dNaiveCache(NamedTuple):
    x: np.ndarray          # (N, C, H, W), the input as given (float64)
    W: np.ndarray          # (F, C, HH, WW)
    stride: tuple[int, int]
    pads: Pads
    out_hw: tuple[int, int]


def conv2d_forward_naive(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int | tuple[int, int] = 1,
                         padding: int | tuple[int, int] | str = 0) -> tuple[np.ndarray, Conv2dNaiveCache]:
    """2-D cross-correlation with loops, written to be read.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    W : np.ndarray, shape (F, C, HH, WW)
        F filters, each spanning all C input channels.
    b : np.ndarray, shape (F,)
    stride : int or (SH, SW)
    padding : int, (PH, PW), "valid" or "same"
        Zeros added on each side. ``"same"`` (stride 1 only) pads ``HH - 1`` rows in total, the extra row of
        an even kernel at the bottom (and the extra column at the right), as PyTorch does.

    Returns
    -------
    out : np.ndarray, shape (N, F, H', W')
        ``H' = 1 + (H + 2*PH - HH) // SH`` and ``W' = 1 + (W + 2*PW - WW) // SW``.
    cache : Conv2dNaiveCache

    Notes
    -----
    ``out[n, f, i, j] = b[f] + sum over c, p, q of  xpad[n, c, i*SH + p, j*SW + q] * W[f, c, p, q]``.
    The kernel is not flipped (cross-correlation, as in PyTorch).
    """
    x, W, b, geo = _check_conv(x, W, b, stride, padding, "conv2d_forward_naive")
    (sh, sw), (H_out, W_out) = geo.stride, geo.out_hw
    F, _, HH, WW = W.shape
    xpad = _pad(x, geo.pads)
    out = np.zeros((x.shape[0], F, H_out, W_out))
    for n in range(x.shape[0]):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = xpad[n, :, i * sh:i * sh + HH, j * sw:j * sw + WW]    # (C, HH, WW)
                    out[n, f, i, j] = np.sum(window * W[f]) + b[f]
    return out, Conv2dNaiveCache(x, W, geo.stride, geo.pads, geo.out_hw)


def conv2d_backward_naive(dout: np.ndarray, cache: Conv2dNaiveCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d_forward_naive`, with the same loops.

    Parameters
    ----------
    dout : np.ndarray, shape (N, F, H', W')
        dL/d(out).
    cache : Conv2dNaiveCache
        From the matching forward call.

    Returns
    -------
    dx : np.ndarray, shape (N, C, H, W)
    dW : np.ndarray, shape (F, C, HH, WW)
    db : np.ndarray, shape (F,)

    Notes
    -----
    Each output number used one window of ``xpad`` and the whole filter ``W[f]``, so it sends
    ``dout[n, f, i, j] * W[f]`` back to that window and ``dout[n, f, i, j] * window`` to ``dW[f]``.
    Windows overlap when the stride is smaller than the kernel, hence ``+=``. Padding is cut off at the end.
    """
    if not isinstance(cache, Conv2dNaiveCache):
        raise TypeError(f"conv2d_backward_naive: cache must come from conv2d_forward_naive, got {type(cache).__name__}")
    x, W, (sh, sw), pads, (H_out, W_out) = cache
    N, F, HH, WW = x.shape[0], W.shape[0], W.shape[2], W.shape[3]
    xpad = _pad(x, pads)
    dout = _check_dout(dout, (N, F, H_out, W_out), "conv2d_backward_naive")
    dxpad = np.zeros_like(xpad)
    dW = np.zeros_like(W)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    rows, cols = slice(i * sh, i * sh + HH), slice(j * sw, j * sw + WW)
                    dW[f] += dout[n, f, i, j] * xpad[n, :, rows, cols]
                    dxpad[n, :, rows, cols] += dout[n, f, i, j] * W[f]
    db = dout.sum(axis=(0, 2, 3))
    return _unpad(dxpad, pads, x.shape[2:]), dW, db


# --------------------------------------------------------------------------------------------------------------
# fast version: im2col + one matrix product
# --------------------------------------------------------------------------------------------------------------
class Conv2dCache(NamedTuple):
    cols: np.ndarray       # (C*HH*WW + 1, N*H'*W'): column n*H'*W' + p is the window under output position p of
                           # image n, then a 1 that multiplies the bias
    W: np.ndarray          # (F, C, HH, WW)
    x_shape: tuple[int, int, int, int]
    stride: tuple[int, int]
    pads: Pads
    out_hw: tuple[int, int]


def _windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]) -> np.ndarray:
    """Read-only view (C, HH, WW, N, H', W') of the padded images: ``[c, p, q, n, i, j] = xp[n, c, i*SH + p, j*SW + q]``."""
    sN, sC, sH, sW = xp.strides
    shape = (xp.shape[1],) + kernel + (xp.shape[0],) + out_hw
    return as_strided(xp, shape, (sC, sH, sW, sN, sH * stride[0], sW * stride[1]), writeable=False)


def _loop_order(width: int) -> str:
    """The order in which ufuncs walk image-shaped views whose rows hold only ``width`` numbers.

    NumPy's default ("K") follows memory, so its innermost loop runs along one row; for rows of at most 4
    numbers the per-loop overhead dominates, and "F" (the batch axis innermost) was faster: 2.7 times for
    pooling 4x4 images to 2x2 (N=32 C=32), about 2 times for col2im on 4x4 images. For wider rows "K" wins
    (3.5 times faster at 8 numbers), since "F" would touch a new cache line at every step.
    """
    return "F" if width <= 4 else "K"


def _col2im(dcols: np.ndarray, dxp: np.ndarray, stride: tuple[int, int]) -> None:
    """Adjoint of im2col: add window gradients ``dcols`` (C, HH, WW, n, H', W') onto the padded images ``dxp``.

    One strided slice-add per kernel offset (HH*WW of them) instead of ``np.add.at`` over every element;
    overlapping windows (stride < kernel) accumulate because each offset is added in turn.

    On small images the adds walk the batch axis innermost (:func:`_loop_order`; on the digits CNN's second
    conv, N=32 C=32 4x4, 0.58 ms instead of 1.26 ms).
    """
    _, HH, WW, _, H_out, W_out = dcols.shape
    sh, sw = stride
    order = _loop_order(W_out)
    for p in range(HH):
        for q in range(WW):
            target = dxp[:, :, p:p + sh * (H_out - 1) + 1:sh, q:q + sw * (W_out - 1) + 1:sw]
            np.add(target, dcols[:, p, q].transpose(1, 0, 2, 3), out=target, order=order)


def _fold_rows(rows: np.ndarray, n: int, pads: Pads, hw: tuple[int, int]) -> np.ndarray:
    """:func:`_col2im` for stride 1, from window gradients laid on the padded grid; dx (n, C, H, W), a view.

    ``rows`` (C, HH, WW, n*Hp*Wp): for each channel and kernel offset, the window gradients of the n images
    as one long row, the images' padded grids laid end to end, each output position ``(i, j)`` at grid
    element ``(i, j)`` and zeros elsewhere. With stride 1, the window under output position ``(i, j)`` at
    kernel offset ``(p, q)`` covers the padded input element ``p*Wp + q`` further along that row than
    ``(i, j)`` itself. So each kernel offset is ONE add of a long contiguous stretch, shifted by
    ``p*Wp + q``, instead of a strided add over short rows. (The zeros that shift past a row's end land on
    padding or on the next row, and add nothing; the real positions never shift past their own image.)
    """
    C, HH, WW, length = rows.shape
    (top, _), (left, _) = pads
    Hp, Wp = _padded_hw(hw, pads)
    dxp = rows[:, 0, 0].copy()                                   # offset (0, 0): no shift
    for p in range(HH):
        for q in range(WW):
            shift = p * Wp + q
            if shift:
                np.add(dxp[:, shift:], rows[:, p, q, :length - shift], out=dxp[:, shift:])
    return dxp.reshape(C, n, Hp, Wp)[:, :, top:top + hw[0], left:left + hw[1]].transpose(1, 0, 2, 3)


def _fold_flat(dcols: np.ndarray, pads: Pads, hw: tuple[int, int]) -> np.ndarray:
    """dx (n, C, H, W) for stride 1 from ``dcols`` (C, HH, WW, n, H', W'), copied onto the padded grid first.

    Used where it measured faster than :func:`_col2im`, in paired runs of the whole backward: 0.90-0.93 on
    one-channel 8x8 digits, 0.97 on 32x32 RGB images. With 16 or more channels it was 1.00-1.02, and on 4x4
    images (where the grid is 2.25 times the data) the fold alone was 1.3 times slower, so those keep
    :func:`_col2im`.
    """
    C, HH, WW, n, H_out, W_out = dcols.shape
    grid = np.zeros((C, HH, WW, n) + _padded_hw(hw, pads))
    grid[..., :H_out, :W_out] = dcols
    return _fold_rows(grid.reshape(C, HH, WW, -1), n, pads, hw)


def _fold_dout_grid(d: np.ndarray, W: np.ndarray, pads: Pads, hw: tuple[int, int]) -> np.ndarray:
    """dx (n, C, H, W) for stride 1, with ``dout`` (n, F, H', W') put on the padded grid instead of ``dcols``.

    The product ``W.reshape(F, -1).T @ grid`` then writes the window gradients straight onto the grid, ready for
    :func:`_fold_rows`: no copy of ``dcols`` (C*HH*WW rows) onto a zeroed grid, only one of ``dout`` (F rows).
    Used for stride 1 and W' >= 8 where that moves fewer numbers (``F*Hp*Wp < C*HH*WW*H'*W'``, few filters
    for the window size): the backward of the unit-5 demo conv (N=16 C=3 32x32 F=8) took 0.72-0.79 of the
    time of :func:`_fold_flat`'s, paired, at 1 and 2 threads; on 16x16 images with 16 channels, 0.95-0.98.
    On 4x4 images it was 1.13-1.33 times slower (the grid is 2.25 times the data), so they keep :func:`_col2im`.
    """
    n, F, H_out, W_out = d.shape
    grid = np.zeros((F, n) + _padded_hw(hw, pads))
    grid[:, :, :H_out, :W_out] = d.transpose(1, 0, 2, 3)
    rows = (W.reshape(F, -1).T @ grid.reshape(F, -1)).reshape(W.shape[1:] + (-1,))   # (C, HH, WW, n*Hp*Wp)
    return _fold_rows(rows, n, pads, hw)


def conv2d_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int | tuple[int, int] = 1,
                   padding: int | tuple[int, int] | str = 0) -> tuple[np.ndarray, Conv2dCache]:
    """2-D cross-correlation, vectorised with im2col (same contract as :func:`conv2d_forward_naive`).

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    W : np.ndarray, shape (F, C, HH, WW)
    b : np.ndarray, shape (F,)
    stride : int or (SH, SW)
    padding : int, (PH, PW), "valid" or "same" (stride 1 only; PyTorch's split for even kernels)

    Returns
    -------
    out : np.ndarray, shape (N, F, H', W') with ``H' = 1 + (H + 2*PH - HH) // SH``, ``W' = 1 + (W + 2*PW - WW) // SW``
    cache : Conv2dCache

    Notes
    -----
    im2col copies the window under every output position of every image into a column of ``cols``
    (C*HH*WW + 1, N*H'*W'), read from a strided view of the padded images (no copy until then); the last row
    is ones, so the bias is one more column of the filter matrix and no pass of its own. The whole
    convolution is then one matrix product, ``[W.reshape(F, -1) | b] @ cols`` (F, N*H'*W'), run by BLAS; one
    more pass puts it in (N, F, H', W') order. One product for the batch, rather than one per image,
    matters for small images: a product of a few hundred numbers costs about as much as one of thousands.
    Where each image has many output positions and few numbers per window (H'*W' >= 64 and C*HH*WW <=
    2*H'*W'), one product per image straight into ``out`` is faster instead, since it skips the reordering
    pass (``np.matmul`` over the images, reading ``cols`` in place): measured 0.72-0.83 of the time on 8x8
    one-channel digits and 0.87-0.92 on 32x32 and 16x16 images, but 1.24-1.38 on 4x4 images.

    A big batch is cut into chunks of images that run on a small thread pool, with BLAS kept on one thread
    (:func:`nnkit.layers._chunks.in_batch_chunks`), rather than one batch-wide product on BLAS's own threads:
    that one wins on a quiet machine but was ten times slower on a busy one (BLAS threads spinning while
    they wait for cores held by other processes).
    """
    x, W, b, geo = _check_conv(x, W, b, stride, padding, "conv2d_forward")
    return _conv2d_forward(x, W, b, geo)


def _conv2d_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, geo: _ConvGeometry):
    N, C = x.shape[:2]
    F, _, HH, WW = W.shape
    P = geo.out_hw[0] * geo.out_hw[1]                                   # output positions per image
    K = C * HH * WW                                                     # numbers per window
    cols = np.empty((K + 1, N * P))
    cols[K] = 1.0                                                       # the bias's input
    window_rows = cols[:K].reshape((C, HH, WW, N) + geo.out_hw)         # the rows im2col fills, a view
    Wb = np.concatenate([W.reshape(F, K), b[:, None]], axis=1)         # (F, K+1): the filters, then the bias
    out = np.empty((N, F, P))
    per_image = P >= 64 and K <= 2 * P

    def convolve(batch: slice) -> None:
        n, pos = batch.stop - batch.start, slice(batch.start * P, batch.stop * P)   # these images' columns
        windows = _windows(_pad(x[batch], geo.pads), (HH, WW), geo.stride, geo.out_hw)   # (C, HH, WW, n, H', W')
        window_rows[:, :, :, batch] = windows
        these = cols[:, pos]                                                               # (K+1, n*H'*W')
        if per_image:
            np.matmul(Wb, these.reshape(K + 1, n, P).transpose(1, 0, 2), out=out[batch])   # (n, F, H'*W')
        else:
            prod = Wb @ these                                                              # (F, n*H'*W')
            out[batch] = prod.reshape(F, n, P).transpose(1, 0, 2)                          # (n, F, H'*W')

    in_batch_chunks(convolve, N, K * N * P, blas=True, macs=K * N * P * F)
    cache = Conv2dCache(cols, W, x.shape, geo.stride, geo.pads, geo.out_hw)
    return out.reshape((N, F) + geo.out_hw), cache


def conv2d_backward(dout: np.ndarray, cache: Conv2dCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d_forward`.

    Parameters
    ----------
    dout : np.ndarray, shape (N, F, H', W')
    cache : Conv2dCache

    Returns
    -------
    dx : np.ndarray, shape (N, C, H, W)
    dW : np.ndarray, shape (F, C, HH, WW)
    db : np.ndarray, shape (F,)

    Notes
    -----
    With ``dout`` laid out like the forward's product, ``dout2`` (F, N*H'*W'): ``out2 = [Wmat | b] @ cols``
    (``cols`` ends with a row of ones), so ``[dWmat | db] = dout2 @ cols.T`` (the ones sum dout over images and
    positions into ``db``) and ``dcols = Wmat.T @ dout2``.
    col2im then folds ``dcols`` back onto the padded images with one strided slice-add per kernel offset
    (overlapping windows add up), and the padding is cut off. With stride 1 on images of W' >= 8, the fold is
    one contiguous add per kernel offset on the padded grid instead (:func:`_fold_rows`), with either
    ``dcols`` (:func:`_fold_flat`) or, where there are few filters for the window size, ``dout``
    (:func:`_fold_dout_grid`) copied onto that grid first, whichever moves fewer numbers. Chunks of the batch (see :func:`conv2d_forward`)
    each pad, fold back and cut their own images and sum their own part of ``dW`` and ``db``; the parts are
    added in batch order, so the result does not depend on the threads' timing. (The chunking depends on the
    shapes and on :func:`set_num_threads`, so a different thread count may change the last bits of ``dW``.)
    """
    if not isinstance(cache, Conv2dCache):
        raise TypeError(f"conv2d_backward: cache must come from conv2d_forward, got {type(cache).__name__}")
    N, F = cache.x_shape[0], cache.W.shape[0]
    return _conv2d_backward(_check_dout(dout, (N, F) + cache.out_hw, "conv2d_backward"), cache)


def _conv2d_backward(dout: np.ndarray, cache: Conv2dCache):
    cols, W, (N, C, H, W_in), stride, pads, (H_out, W_out) = cache
    F, _, HH, WW = W.shape
    P, K = H_out * W_out, C * HH * WW
    Wmat = W.reshape(F, K)
    padded = pads != ((0, 0), (0, 0))
    Hp, Wp = _padded_hw((H, W_in), pads)
    if stride == (1, 1) and W_out >= 8 and F * Hp * Wp < K * P:
        fold = "dout grid"                                       # _fold_dout_grid
    elif stride == (1, 1) and W_out >= 8 and C <= 4:
        fold = "dcols grid"                                      # _fold_flat
    else:
        fold = "col2im"
    # NumPy's matmul keeps the GIL for a product of at most 500 numbers, so two threads could not compute
    # their dW parts at once (measured: the other thread ran at half speed). One product per image, summed,
    # gives a bigger product that releases it; it needs no transposed copy of dout, which "dout grid" lacks.
    per_image_dW = fold == "dout grid" and F * (K + 1) <= 500
    dx = np.empty((N, C, H, W_in))
    parts: dict[int, np.ndarray] = {}      # each chunk's share of (dW | db), (F, C*HH*WW + 1), by first image

    def backprop(batch: slice) -> None:
        n, pos = batch.stop - batch.start, slice(batch.start * P, batch.stop * P)   # these images' columns
        d = dout[batch].reshape(n, F, P)
        if per_image_dW:
            windows = cols[:, pos].reshape(K + 1, n, P).transpose(1, 2, 0)            # (n, H'*W', C*HH*WW + 1)
            parts[batch.start] = (d @ windows).sum(axis=0)
        else:
            dout2 = d.transpose(1, 0, 2).reshape(F, n * P)                          # a copy, (F, n*H'*W')
            parts[batch.start] = dout2 @ cols[:, pos].T                            # the last column is db
        if fold == "dout grid":
            dx[batch] = _fold_dout_grid(dout[batch], W, pads, (H, W_in))
            return
        dcols = (Wmat.T @ dout2).reshape(C, HH, WW, n, H_out, W_out)               # (C*HH*WW, n*H'*W')
        if fold == "dcols grid":
            dx[batch] = _fold_flat(dcols, pads, (H, W_in))
        elif padded:
            dxp = np.zeros((n, C, Hp, Wp))
            _col2im(dcols, dxp, stride)
            dx[batch] = _unpad(dxp, pads, (H, W_in))
        else:                                                    # no padding: fold straight into dx
            dx[batch] = 0.0
            _col2im(dcols, dx[batch], stride)

    in_batch_chunks(backprop, N, K * N * P, blas=True, macs=2 * K * N * P * F)
    grads = sum(parts[start] for start in sorted(parts))
    return dx, np.ascontiguousarray(grads[:, :K]).reshape(W.shape), grads[:, K].copy()


# --------------------------------------------------------------------------------------------------------------
# the layer
# --------------------------------------------------------------------------------------------------------------
class Conv2d(Layer):
    """2-D convolution layer (cross-correlation, NCHW) on top of :func:`conv2d_forward` / :func:`conv2d_backward`.

    Parameters
    ----------
    in_channels : int
        C, the channels of each input image.
    out_channels : int
        F, the number of filters (output channels).
    kernel_size : int or (HH, WW)
    stride : int or (SH, SW), default 1
    padding : int, (PH, PW), "valid" or "same", default 0
        ``"same"`` needs stride 1; an even kernel gets its extra zero row/column at the bottom/right (PyTorch).
    init : str, default "kaiming_uniform"
        How ``W`` is drawn, a name for :func:`nnkit.init.get`; the fan-in of a filter is ``C*HH*WW``.
    seed, rng : int or numpy.random.Generator, optional
        Where the initial weights come from (pass one, not both).

    Attributes
    ----------
    params : dict
        ``W`` of shape (F, C, HH, WW) and ``b`` of shape (F,), the bias starting at zero.
    grads : dict
        ``W`` and ``b`` after ``backward``, summed over the batch.

    Notes
    -----
    Output shape (N, F, H', W') with ``H' = 1 + (H + 2*PH - HH) // SH`` (and likewise W'). A stride that does
    not fit exactly drops the last rows/columns (floor, as PyTorch does). The layer checks ``x`` and calls the
    fast pair without checking its own parameters again.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0, *,
                 init: str = "kaiming_uniform", seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.in_channels = check.positive_int(in_channels, "Conv2d", "in_channels")
        self.out_channels = check.positive_int(out_channels, "Conv2d", "out_channels")
        self.kernel_size = _as_pair(kernel_size, "Conv2d", "kernel_size", minimum=1)
        self.stride = _as_pair(stride, "Conv2d", "stride", minimum=1)
        _resolve_padding(padding, self.kernel_size, self.stride, "Conv2d")   # reject bad padding now
        self.padding = padding
        self.init = init
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.params = {"W": initializers.get(init)(shape, rng=check.generator("Conv2d", seed, rng)),
                       "b": np.zeros(self.out_channels)}
        self.zero_grad()
        self._cache: Conv2dCache | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Convolve ``x`` (N, C, H, W) with every filter: (N, F, H', W')."""
        x = _check_images(x, "Conv2d.forward")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d.forward: x has {x.shape[1]} channels, the layer expects "
                             f"{self.in_channels} (x.shape={x.shape})")
        geo = _geometry(x.shape[2:], self.kernel_size, self.stride, self.padding, "Conv2d.forward")
        out, self._cache = _conv2d_forward(x, self.params["W"], self.params["b"], geo)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Store ``dW`` (F, C, HH, WW) and ``db`` (F,) in ``grads`` and return ``dx`` (N, C, H, W)."""
        if self._cache is None:
            raise check.no_forward_yet("Conv2d.backward")
        N, F = self._cache.x_shape[0], self.out_channels
        dout = _check_dout(dout, (N, F) + self._cache.out_hw, "Conv2d.backward")
        dx, self.grads["W"], self.grads["b"] = _conv2d_backward(dout, self._cache)
        return dx

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r})")
