"""Spatial dropout: drop whole feature maps instead of single pixels.

Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels barely regularises a
convolutional layer: the missing value can be read off its neighbours. Spatial dropout (PyTorch's
``nn.Dropout2d``) drops each channel of each sample as a whole, with probability ``p``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nnkit import _validate as check
from nnkit.layers.base import Layer


class SpatialDropoutCache(NamedTuple):
    keep: np.ndarray   # (N, C, 1, 1) bool, True where the feature map was kept
    p: float
    x_shape: tuple[int, int, int, int]


def _check_keep(x: np.ndarray, keep, func: str) -> np.ndarray:
    if not isinstance(keep, np.ndarray) or keep.dtype != bool:
        got = keep.dtype if isinstance(keep, np.ndarray) else type(keep).__name__
        raise TypeError(f"{func}: keep must be a bool numpy array of shape (N, C, 1, 1), got {got}")
    if keep.shape != x.shape[:2] + (1, 1):
        raise ValueError(f"{func}: keep must have shape {x.shape[:2] + (1, 1)} for x.shape={x.shape}, "
                         f"got {keep.shape}")
    return keep.copy()


def spatial_dropout2d_forward(x: np.ndarray, keep: np.ndarray, p: float) -> tuple[np.ndarray, SpatialDropoutCache]:
    """Apply a given channel keep-mask with inverted scaling.

    Parameters
    ----------
    x : np.ndarray, shape (N, C, H, W)
    keep : np.ndarray of bool, shape (N, C, 1, 1)
        True where feature map ``x[n, c]`` is kept. The layer draws it as ``rng.random((N, C, 1, 1)) >= p``;
        passing it in keeps this function deterministic and checkable.
    p : float in [0, 1)
        Drop probability, used for the scaling.

    Returns
    -------
    out : np.ndarray, shape (N, C, H, W)
        ``x * keep / (1 - p)``: kept maps scaled by ``1/(1-p)`` so that ``E[out] = x``, dropped maps all zero.
    cache : SpatialDropoutCache
    """
    x = check.real_array(x, "spatial_dropout2d_forward", ndim=4, layout="(N, C, H, W)", ndarray=True, finite=False)
    p = check.probability(p, "spatial_dropout2d_forward", "p")
    keep = _check_keep(x, keep, "spatial_dropout2d_forward")
    return x * keep / (1.0 - p), SpatialDropoutCache(keep, p, x.shape)


def spatial_dropout2d_backward(dout: np.ndarray, cache: SpatialDropoutCache) -> np.ndarray:
    """Gradient of :func:`spatial_dropout2d_forward`: ``dout * keep / (1 - p)`` with the same mask."""
    check.cache(cache, SpatialDropoutCache, "spatial_dropout2d_backward", "spatial_dropout2d_forward")
    dout = check.dout(dout, cache.x_shape, "spatial_dropout2d_backward")
    return dout * cache.keep / (1.0 - cache.p)


class SpatialDropout2d(Layer):
    """Drop whole feature maps while training (PyTorch's ``nn.Dropout2d``).

    Parameters
    ----------
    p : float, default 0.5
        Probability of *dropping* a feature map, in [0, 1) (DESIGN.md §3).
    seed, rng : int or numpy.random.Generator, optional
        Where the masks come from (pass one, not both).

    Attributes
    ----------
    mask : np.ndarray of bool, shape (N, C, 1, 1), or None
        The keep-mask of the last forward: True where feature map ``x[n, c]`` was kept. ``None`` when the last
        forward was the identity (after ``eval()``, or ``p == 0``).
    mc_dropout : bool
        When True, dropout stays on even after ``eval()`` (Monte Carlo dropout), as for ``Dropout``.

    Notes
    -----
    Training: ``out = x * mask / (1 - p)`` with ``mask[n, c] ~ Bernoulli(1 - p)`` broadcast over (H, W), and
    ``dx = dout * mask / (1 - p)``. Evaluation: the identity.
    """

    def __init__(self, p: float = 0.5, *, seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.p = check.probability(p, "SpatialDropout2d", "p")
        self.rng = check.generator("SpatialDropout2d", seed, rng)
        self.mask: np.ndarray | None = None
        self.mc_dropout = False
        self._cache: SpatialDropoutCache | None = None
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, C, H, W) -> (N, C, H, W): whole maps zeroed, the rest scaled by ``1/(1-p)``; identity in eval."""
        x = check.real_array(x, "SpatialDropout2d.forward", "x", "(N, C, H, W)", ndarray=True, finite=False)
        self._shape = x.shape
        if not (self.training or self.mc_dropout) or self.p == 0.0:
            self.mask, self._cache = None, None
            return x
        self.mask = self.rng.random(x.shape[:2] + (1, 1)) >= self.p
        self._cache = SpatialDropoutCache(self.mask, self.p, x.shape)   # inputs already checked: no second pass
        return x * self.mask / (1.0 - self.p)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """``dout * mask / (1 - p)``, or ``dout`` itself after an identity forward."""
        dout = check.dout(dout, self._shape, "SpatialDropout2d.backward")
        if self._cache is None:
            return dout
        return dout * self._cache.keep / (1.0 - self.p)

    def __repr__(self) -> str:
        return f"SpatialDropout2d(p={self.p})"
