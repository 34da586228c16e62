"""Regularising layers: Dropout, GaussianNoise, and Monte Carlo dropout prediction."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from nnkit import _validate as check
from nnkit.layers.base import Layer


class Dropout(Layer):
    """Inverted dropout: zero each unit with probability ``p``, scale the rest by ``1/(1-p)``.

    Parameters
    ----------
    p : float, default 0.5
        Probability of *dropping* a unit, in [0, 1) (DESIGN §3, as in PyTorch).
    seed, rng : int or numpy.random.Generator, optional
        Where the masks come from (pass one, not both).

    Attributes
    ----------
    mask : np.ndarray of bool or None
        The keep-mask of the last forward, shaped like its input: True where a
        unit was kept. ``None`` when the last forward was the identity.
    mc_dropout : bool
        When True, dropout stays on even after ``eval()``. Set by
        :func:`mc_predict`; leave it False otherwise.

    Notes
    -----
    Training: ``out = x * mask / (1 - p)`` with ``mask ~ Bernoulli(1 - p)``, so
    ``E[out] = x`` and nothing needs rescaling at test time; the gradient is
    ``dx = dout * mask / (1 - p)`` with the same mask. After ``eval()`` the
    layer is the identity.
    """

    def __init__(self, p: float = 0.5, *, seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.p = check.probability(p, "Dropout", "p")
        self.rng = check.generator("Dropout", seed, rng)
        self.mask: np.ndarray | None = None
        self.mc_dropout = False
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return ``x * mask / (1 - p)`` when training (or in MC mode), else ``x``."""
        x = check.real_array(x, "Dropout.forward", ndarray=True, finite=False)
        self._shape = x.shape
        if not (self.training or self.mc_dropout) or self.p == 0.0:
            self.mask = None
            return x
        self.mask = self.rng.random(x.shape) >= self.p
        return x * self.mask / (1.0 - self.p)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Return ``dout * mask / (1 - p)`` (or ``dout`` after an identity forward)."""
        dout = check.dout(dout, self._shape, "Dropout.backward")
        if self.mask is None:
            return dout
        return dout * self.mask / (1.0 - self.p)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


class GaussianNoise(Layer):
    """Add zero-mean Gaussian noise while training (noise injection).

    Parameters
    ----------
    std : float
        Standard deviation of the noise, >= 0.
    seed, rng : int or numpy.random.Generator, optional
        Where the noise comes from (pass one, not both).

    Attributes
    ----------
    noise : np.ndarray or None
        The noise added by the last training forward; ``None`` after an eval forward.

    Notes
    -----
    Training: ``out = x + std * e`` with ``e ~ N(0, 1)`` elementwise; the noise
    does not depend on ``x``, so ``dx = dout``. After ``eval()`` the layer is
    the identity (as Keras's ``GaussianNoise``).
    """

    def __init__(self, std: float, *, seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.std = check.number(std, "GaussianNoise", "std", low=0.0, finite=True)
        self.rng = check.generator("GaussianNoise", seed, rng)
        self.noise: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return ``x + std * noise`` when training, else ``x``."""
        x = check.real_array(x, "GaussianNoise.forward", ndarray=True, finite=False)
        self._shape = x.shape
        if not self.training or self.std == 0.0:
            self.noise = None
            return x
        self.noise = self.std * self.rng.standard_normal(x.shape)
        return x + self.noise

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Return ``dout``: additive noise passes the gradient through unchanged."""
        return check.dout(dout, self._shape, "GaussianNoise.backward")

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std})"


def mc_predict(
    model: Layer,
    x: np.ndarray,
    T: int = 100,
    *,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo dropout: average ``T`` predictions with dropout left on.

    Parameters
    ----------
    model : Layer
        A trained model containing dropout layers (any layer with a
        ``mc_dropout`` attribute, searched through ``.layers`` recursively).
    x : np.ndarray
        The inputs, e.g. (N, D).
    T : int, default 100
        Number of stochastic forward passes.
    transform : callable, optional
        Applied to each pass's output before averaging, e.g.
        :func:`nnkit.activations.softmax` to average class probabilities.

    Returns
    -------
    mean, std : np.ndarray
        Elementwise mean and (population) standard deviation over the ``T``
        passes, each shaped like one output. ``std`` is a simple uncertainty
        estimate.

    Notes
    -----
    The model is put in eval mode (``model.eval()``): batch norm uses its
    running statistics and noise layers are off. Only dropout stays on. Each
    dropout layer's ``mc_dropout`` flag and every layer's ``training`` flag are
    restored afterwards, even on error.
    """
    T = check.positive_int(T, "mc_predict", "T")
    layers = list(_walk(model))
    dropouts = [layer for layer in layers if hasattr(layer, "mc_dropout")]
    if not dropouts:
        raise ValueError(f"mc_predict: the model has no dropout layer, so all {T} passes would be identical")
    previous = [(layer, layer.mc_dropout) for layer in dropouts]
    modes = [(layer, getattr(layer, "training", True)) for layer in layers]
    try:
        for layer in dropouts:
            layer.mc_dropout = True
        model.eval()
        outputs = np.stack([_one_pass(model, x, transform) for _ in range(T)])  # (T, *output shape)
    finally:
        for layer, flag in previous:
            layer.mc_dropout = flag
        for layer, mode in modes:
            layer.training = mode
    return outputs.mean(axis=0), outputs.std(axis=0)


def _one_pass(model: Layer, x: np.ndarray, transform: Callable[[np.ndarray], np.ndarray] | None) -> np.ndarray:
    out = model.forward(x)
    return out if transform is None else transform(out)


def _walk(layer: Layer) -> Iterator[Layer]:
    yield layer
    for child in layer.children() if callable(getattr(layer, "children", None)) else ():
        yield from _walk(child)
