"""Activation layers: one nonlinearity from :mod:`nnkit.activations` as a layer.

``Activation(name, **kwargs)`` wraps any function known to
:func:`nnkit.activations.get`; the named classes below (``ReLU``, ``Sigmoid``,
...) are the same layer with the name filled in. They have no parameters.
"""

from __future__ import annotations

import numpy as np

from nnkit import activations
from nnkit import _validate as check
from nnkit.layers.base import Layer


class Activation(Layer):
    """Apply an activation function; the layer keeps its input for ``backward``.

    Parameters
    ----------
    name : str
        A name from :func:`nnkit.activations.names`, e.g. ``"relu"``.
    **kwargs
        Extra arguments of that function, e.g. ``alpha=0.1`` for ``"leaky_relu"``.

    Notes
    -----
    Elementwise activations accept any shape; ``softmax`` and ``log_softmax``
    act over the last axis. ``backward(dout)`` returns the vector-Jacobian
    product ``dL/dx`` at the input of the last ``forward``; for elementwise
    functions that is ``f'(x) * dout``, for softmax it mixes the last axis.
    """

    def __init__(self, name: str, **kwargs: float) -> None:
        super().__init__()
        self.function = activations.get(name, **kwargs)
        self.name = name
        self.kwargs = dict(kwargs)
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Return ``f(x)``, same shape as ``x``."""
        x = check.real_array(x, f"{type(self).__name__}.forward", ndarray=True, finite=False)
        self._x = x
        return self.function.forward(x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Return ``dx``, the gradient with respect to the last input (same shape)."""
        dout = check.dout(dout, None if self._x is None else self._x.shape, f"{type(self).__name__}.backward")
        return self.function.vjp(self._x, dout)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        if type(self) is Activation:
            return f"Activation({self.name!r}{extra})"
        return f"{type(self).__name__}({extra[2:]})"


class Identity(Activation):
    """``f(x) = x``; the output layer of a regression network."""

    def __init__(self) -> None:
        super().__init__("identity")


class Heaviside(Activation):
    """Step: 1 for x > 0, else 0 (DESIGN §3). Its gradient is 0 everywhere."""

    def __init__(self) -> None:
        super().__init__("heaviside")


class Sign(Activation):
    """1 for x > 0, else -1 (DESIGN §3). Its gradient is 0 everywhere."""

    def __init__(self) -> None:
        super().__init__("sign")


class Sigmoid(Activation):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow."""

    def __init__(self) -> None:
        super().__init__("sigmoid")


class Tanh(Activation):
    """Hyperbolic tangent."""

    def __init__(self) -> None:
        super().__init__("tanh")


class ReLU(Activation):
    """``max(0, x)``, with derivative 0 at x = 0 (DESIGN §3)."""

    def __init__(self) -> None:
        super().__init__("relu")


class ReLU6(Activation):
    """``min(max(0, x), 6)``."""

    def __init__(self) -> None:
        super().__init__("relu6")


class LeakyReLU(Activation):
    """``x`` for x > 0, else ``alpha * x`` (PyTorch calls alpha ``negative_slope``)."""

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__("leaky_relu", alpha=alpha)


class ELU(Activation):
    """``x`` for x > 0, else ``alpha * (exp(x) - 1)``."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__("elu", alpha=alpha)


class CELU(Activation):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__("celu", alpha=alpha)


class GELU(Activation):
    """Gaussian error linear unit ``x * Phi(x)``."""

    def __init__(self) -> None:
        super().__init__("gelu")


class Softplus(Activation):
    """``log(1 + exp(beta * x)) / beta``, a smooth ReLU; linear where ``beta * x > threshold`` (PyTorch)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__("softplus", beta=beta, threshold=threshold)


class Hardswish(Activation):
    """``x * relu6(x + 3) / 6``."""

    def __init__(self) -> None:
        super().__init__("hardswish")


class Mish(Activation):
    """``x * tanh(softplus(x))``."""

    def __init__(self) -> None:
        super().__init__("mish")


class Softmax(Activation):
    """Softmax over the last axis; each row of the output sums to 1."""

    def __init__(self) -> None:
        super().__init__("softmax")


class LogSoftmax(Activation):
    """``log(softmax(x))`` over the last axis, computed stably."""

    def __init__(self) -> None:
        super().__init__("log_softmax")
