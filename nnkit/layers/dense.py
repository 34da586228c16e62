"""The fully connected (dense) layer."""

from __future__ import annotations

import numpy as np

from nnkit import _validate as check
from nnkit.layers.base import Layer


class Linear(Layer):
    """Fully connected layer ``y = x @ W + b``.

    Parameters
    ----------
    in_features : int
        D, the width of each input row.
    out_features : int
        M, the width of each output row.
    init : str, default "kaiming_uniform"
        How ``W`` is drawn: ``"kaiming_uniform"`` is PyTorch's default for
        ``nn.Linear``, ``U(-1/sqrt(D), 1/sqrt(D))``; any other name of
        :func:`nnkit.init.get` also works. ``b`` starts at zero.
    seed, rng : int or numpy.random.Generator, optional
        Where the initial weights come from (pass one, not both).

    Attributes
    ----------
    params : dict
        ``W`` of shape (D, M) and ``b`` of shape (M,).
    grads : dict
        ``W`` and ``b`` after ``backward``, summed over the batch.

    Notes
    -----
    ``W`` is stored as (D, M), inputs times outputs, so the forward pass is a
    plain ``x @ W``. PyTorch stores the transpose: ``nn.Linear.weight`` is
    (M, D) and computes ``x @ weight.T + bias``. PyTorch also draws the bias
    from the weights' uniform range; nnkit starts it at zero, as the lecture
    notes advise (and as the conv layer does). PyTorch's ``nn.Linear`` also takes
    inputs (*, D) and maps the last axis; nnkit takes only (N, D), so that the
    backward pass below is three plain matrix products, and says so when
    another rank arrives (reshape to (-1, D) first).

    For ``y = x @ W + b`` with ``x`` (N, D) and upstream gradient ``dout`` (N, M)::

        dx = dout @ W.T        (N, D)
        dW = x.T @ dout        (D, M)
        db = dout.sum(axis=0)  (M,)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: str = "kaiming_uniform",
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check.positive_int(in_features, "Linear", "in_features")
        self.out_features = check.positive_int(out_features, "Linear", "out_features")
        self.init = init
        generator = check.generator("Linear", seed, rng)
        W, b = initial_weights(init, self.in_features, self.out_features, generator)
        self.params = {"W": W, "b": b}
        self.zero_grad()
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Map ``x`` (N, D) to ``x @ W + b`` (N, M)."""
        if np.ndim(x) > 2:   # torch maps the last axis of (*, D); say so rather than guess
            raise ValueError(f"Linear.forward: x must be 2-D (N, D), got x.shape={np.shape(x)}; PyTorch's nn.Linear "
                             f"would map the last axis, here reshape first: x.reshape(-1, {self.in_features})")
        x = check.real_array(x, "Linear.forward", "x", "(N, D)", sizes={"D": self.in_features}, ndarray=True,
                             finite=False)
        self._x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Store ``dW`` (D, M) and ``db`` (M,) in ``grads`` and return ``dx`` (N, D)."""
        x = self._x
        dout = check.dout(dout, None if x is None else (x.shape[0], self.out_features), "Linear.backward")
        self.grads["W"] = x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}, init={self.init!r})"


def initial_weights(init: str, fan_in: int, fan_out: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Initial ``W`` (fan_in, fan_out) and ``b`` (fan_out,) for :class:`Linear`."""
    from nnkit import init as initializers

    W = initializers.get(init)((fan_in, fan_out), rng=rng)
    return W, np.zeros(fan_out)
