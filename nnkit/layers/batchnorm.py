"""Batch normalisation for dense features (BatchNorm1d) and images (BatchNorm2d).

Both layers share one pure function pair, ``batchnorm_forward`` /
``batchnorm_backward``; they differ only in which axes are averaged over:
(N,) for ``(N, D)`` inputs, (N, H, W) for ``(N, C, H, W)`` inputs. Either way
there is one mean and one variance per feature or channel (axis 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnkit import _validate as check
from nnkit.layers.base import Layer


@dataclass
class BatchNormCache:
    """What ``batchnorm_backward`` needs from the forward pass (arrays broadcast against x)."""

    xhat: np.ndarray      # normalised input, shaped like x
    inv_std: np.ndarray   # 1 / sqrt(var + eps), shaped (1, C) or (1, C, 1, 1)
    gamma: np.ndarray     # scale, same broadcast shape as inv_std
    axes: tuple[int, ...]  # the axes that were averaged over
    batch_stats: bool     # True if mean and var came from this batch (training)


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    *,
    axes: tuple[int, ...],
    eps: float = 1e-5,
    mean: np.ndarray | None = None,
    var: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, BatchNormCache]:
    """Normalise per channel (axis 1), then scale and shift.

    Parameters
    ----------
    x : np.ndarray
        (N, C) or (N, C, H, W).
    gamma, beta : np.ndarray
        (C,) scale and shift.
    axes : tuple of int
        Axes to average over: ``(0,)`` for (N, C), ``(0, 2, 3)`` for (N, C, H, W).
    eps : float
        Added to the variance before the square root.
    mean, var : np.ndarray, optional
        (C,) statistics to normalise with (eval mode). When omitted the batch's
        own mean and *biased* variance are used (training mode).

    Returns
    -------
    out : np.ndarray
        Shaped like ``x``: ``gamma * (x - mean) / sqrt(var + eps) + beta``.
    mean, var : np.ndarray
        (C,) the statistics used (the batch's in training mode).
    cache : BatchNormCache
    """
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    batch_stats = mean is None
    if batch_stats:
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)  # biased (divides by m), as DESIGN §3 and PyTorch
    inv_std = 1.0 / np.sqrt(var.reshape(shape) + eps)
    xhat = (x - mean.reshape(shape)) * inv_std
    out = gamma.reshape(shape) * xhat + beta.reshape(shape)
    return out, mean, var, BatchNormCache(xhat, inv_std, gamma.reshape(shape), axes, batch_stats)


def batchnorm_backward(dout: np.ndarray, cache: BatchNormCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`batchnorm_forward`.

    Returns
    -------
    dx : np.ndarray
        Shaped like ``x``.
    dgamma, dbeta : np.ndarray
        (C,).

    Notes
    -----
    With ``dxhat = dout * gamma`` and means taken over the averaged axes, the
    training-mode gradient (the batch statistics depend on x) is::

        dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))

    In eval mode the statistics are constants and ``dx = dxhat * inv_std``.
    """
    xhat, axes = cache.xhat, cache.axes
    dgamma = (dout * xhat).sum(axis=axes)
    dbeta = dout.sum(axis=axes)
    dxhat = dout * cache.gamma
    if not cache.batch_stats:
        return dxhat * cache.inv_std, dgamma, dbeta
    dxhat_mean = dxhat.mean(axis=axes, keepdims=True)
    dxhat_xhat_mean = (dxhat * xhat).mean(axis=axes, keepdims=True)
    dx = cache.inv_std * (dxhat - dxhat_mean - xhat * dxhat_xhat_mean)
    return dx, dgamma, dbeta


class _BatchNorm(Layer):
    """Shared state and logic of BatchNorm1d and BatchNorm2d."""

    axes: tuple[int, ...] = (0,)
    layout: str = "(N, C)"
    what: str = "features"

    def __init__(self, num_features: int, *, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = check.positive_int(num_features, name, "num_features")
        self.eps = check.number(eps, name, "eps", low=0.0, low_open=True, finite=True)
        self.momentum = check.number(momentum, name, "momentum", low=0.0, high=1.0, low_open=True)
        self.params = {"gamma": np.ones(num_features), "beta": np.zeros(num_features)}
        self.zero_grad()
        self.buffers = {"running_mean": np.zeros(num_features), "running_var": np.ones(num_features)}
        self._cache: BatchNormCache | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalise with the batch statistics (``training``) or the running ones (after ``eval()``)."""
        where = f"{type(self).__name__}.forward"
        if self.axes == (0,) and np.ndim(x) == 3:   # torch's BatchNorm1d also takes (N, C, L)
            raise ValueError(f"{where}: x must be 2-D (N, D), got x.shape={np.shape(x)}; PyTorch's BatchNorm1d "
                             "would also average over L of (N, C, L), here move L into the batch first: "
                             "x.transpose(0, 2, 1).reshape(-1, C)")
        sizes = {"D" if self.axes == (0,) else "C": self.num_features}
        x = check.real_array(x, where, "x", self.layout, sizes=sizes, ndarray=True, finite=False)
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not self.training:
            out, _, _, self._cache = batchnorm_forward(
                x, gamma, beta, axes=self.axes, eps=self.eps,
                mean=self.buffers["running_mean"], var=self.buffers["running_var"],
            )
            return out
        count = x.size // self.num_features  # values per channel
        if count < 2:
            raise ValueError(f"{where}: training needs more than 1 value per {self.what[:-1]} to estimate a "
                             f"variance, got x.shape={x.shape}; call eval() first to use the running statistics")
        out, mean, var, self._cache = batchnorm_forward(x, gamma, beta, axes=self.axes, eps=self.eps)
        m = self.momentum
        unbiased_var = var * count / (count - 1)
        # New arrays rather than in-place updates: a caller holding the old
        # buffers (a checkpoint, a test) keeps what it saw.
        self.buffers["running_mean"] = (1 - m) * self.buffers["running_mean"] + m * mean
        self.buffers["running_var"] = (1 - m) * self.buffers["running_var"] + m * unbiased_var
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Store ``dgamma``, ``dbeta`` (C,) in ``grads``; return ``dx`` shaped like x."""
        where = f"{type(self).__name__}.backward"
        dout = check.dout(dout, None if self._cache is None else self._cache.xhat.shape, where)
        dx, self.grads["gamma"], self.grads["beta"] = batchnorm_backward(dout, self._cache)
        return dx

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_features}, eps={self.eps}, momentum={self.momentum})"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of dense features, input (N, D).

    Parameters
    ----------
    num_features : int
        D, the number of features.
    eps : float, default 1e-5
    momentum : float, default 0.1
        Weight ``m`` of the new batch in the running statistics.

    Attributes
    ----------
    params : dict
        ``gamma`` (D,) initialised to 1 and ``beta`` (D,) initialised to 0
        (PyTorch's ``weight`` and ``bias``).
    buffers : dict
        ``running_mean`` (D,) from 0 and ``running_var`` (D,) from 1; not trained.

    Notes
    -----
    Conventions of DESIGN §3, the same as PyTorch's. Training: each feature is
    normalised with the batch mean and the *biased* batch variance,
    ``y = gamma * (x - mean) / sqrt(var + eps) + beta``, and the running
    statistics move as ``r <- (1 - m) * r + m * batch`` where the running
    variance takes the *unbiased* batch variance (divided by N - 1). After
    ``eval()`` the running statistics replace the batch ones.

    PyTorch's ``nn.BatchNorm1d`` also takes (N, C, L) and averages over N and L;
    nnkit's takes only (N, D) (use :class:`BatchNorm2d` for images).
    """

    axes = (0,)
    layout = "(N, D)"
    what = "features"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of image channels, input (N, C, H, W).

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float, default 1e-5
    momentum : float, default 0.1

    Notes
    -----
    Exactly :class:`BatchNorm1d` with one mean and variance per channel taken
    over all N * H * W positions (the unbiased running variance divides by
    N * H * W - 1). ``params``: ``gamma``, ``beta`` (C,); ``buffers``:
    ``running_mean``, ``running_var`` (C,).
    """

    axes = (0, 2, 3)
    layout = "(N, C, H, W)"
    what = "channels"
