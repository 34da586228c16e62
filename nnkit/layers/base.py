"""The Layer protocol: the seeds' "layered view" of a network.

Any object with ``params``, ``grads``, ``forward`` and ``backward`` as below can
be plugged into :class:`nnkit.layers.Sequential`, trained by the optimizers in
:mod:`nnkit.optim`, and gradient-checked by :mod:`nnkit.gradcheck`.
"""

from __future__ import annotations

import numpy as np


class Layer:
    """Base class for differentiable layers.

    Attributes
    ----------
    params : dict[str, np.ndarray]
        Trainable arrays by name, for example ``{"W": ..., "b": ...}``.
        Optimizers update these arrays in place.
    grads : dict[str, np.ndarray]
        Same keys and shapes as ``params``; (re)written by every ``backward``.

    Notes
    -----
    ``forward(x, training=...)`` computes the output and keeps what ``backward``
    needs (the cache of the *last* call only). ``backward(dout)`` takes
    dL/d(output), stores dL/d(param) in ``grads`` and returns dL/dx.
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, *, training: bool = True) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def __call__(self, x: np.ndarray, *, training: bool = True) -> np.ndarray:
        return self.forward(x, training=training)

    def parameters(self) -> list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
        """The ``(params, grads)`` pairs an optimizer needs; empty for parameter-free layers."""
        return [(self.params, self.grads)] if self.params else []

    def zero_grad(self) -> None:
        """Set every stored gradient to zero (shapes kept)."""
        for name, value in self.params.items():
            self.grads[name] = np.zeros_like(value)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v.shape}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"
