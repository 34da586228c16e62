"""Flatten: the bridge from convolutional feature maps (N, C, H, W) to dense layers (N, D).

Flatten has no maths, only bookkeeping: the forward pass is a reshape that keeps the batch axis, and the
backward pass reshapes the gradient back. The order of the features is C-order (row-major), so feature
``c*H*W + h*W + w`` of the output is ``x[n, c, h, w]``, exactly as ``torch.flatten(x, 1)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nnkit import _validate as check
from nnkit.layers.base import Layer


class FlattenCache(NamedTuple):
    x_shape: tuple[int, ...]   # (N, C, H, W), or any (N, ...) with at least two axes


def flatten_forward(x: np.ndarray) -> tuple[np.ndarray, FlattenCache]:
    """Flatten every axis after the batch axis.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W) (or any (N, ...) with at least 2 axes)

    Returns
    -------
    out : np.ndarray, shape (N, C*H*W)
        Row-major order: ``out[n, c*H*W + h*W + w] = x[n, c, h, w]``.
    cache : FlattenCache
    """
    x = check.real_array(x, "flatten_forward", "x", "(N, D, ...)", ndarray=True, finite=False)   # a batch axis and more
    out = x.reshape(x.shape[0], -1).copy()   # a copy, so a caller editing out never edits x
    return out, FlattenCache(x.shape)


def flatten_backward(dout: np.ndarray, cache: FlattenCache) -> np.ndarray:
    """Gradient of :func:`flatten_forward`: ``dout`` (N, C*H*W) reshaped back to (N, C, H, W)."""
    check.cache(cache, FlattenCache, "flatten_backward", "flatten_forward")
    N = cache.x_shape[0]
    dout = check.dout(dout, (N, int(np.prod(cache.x_shape[1:]))), "flatten_backward")
    return dout.reshape(cache.x_shape).copy()


class Flatten(Layer):
    """Layer form of :func:`flatten_forward` / :func:`flatten_backward`: (N, C, H, W) -> (N, C*H*W).

    Notes
    -----
    No parameters. The feature order is row-major (C, then H, then W), the same as PyTorch's ``nn.Flatten()``,
    so a Linear layer after it sees the same features in both libraries.
    """

    def __init__(self) -> None:
        super().__init__()
        self._cache: FlattenCache | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, self._cache = flatten_forward(x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise check.no_forward_yet("Flatten.backward")
        return flatten_backward(dout, self._cache)

    def __repr__(self) -> str:
        return "Flatten()"
