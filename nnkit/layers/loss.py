"""The fused softmax + cross-entropy loss layer."""

from __future__ import annotations

import numpy as np

from nnkit import losses
from nnkit._validate import choice, no_forward_yet


class SoftmaxCrossEntropy:
    """Softmax over the last axis followed by cross-entropy, as one layer.

    Use it on top of a network that outputs raw scores (logits); do not put a
    ``Softmax`` layer before it. PyTorch's ``nn.CrossEntropyLoss`` is the same.

    Parameters
    ----------
    reduction : {"mean", "sum"}, default "mean"
        ``"mean"`` divides the summed loss by N.

    Notes
    -----
    With ``p = softmax(logits)`` and target rows ``y`` (N, C), one-hot or class
    probabilities (soft targets, as torch's probability targets)::

        L = -(1/N) * sum_i sum_c y[i, c] log p[i, c]
        dL/dlogits = (p - y) / N

    Fusing the two keeps the gradient this simple and avoids ``log(0)``: the
    log-probabilities come from a stable log-softmax. Unlike the other layers,
    ``forward`` takes the labels and returns a float, and ``backward`` needs no
    upstream gradient (the loss is the end of the chain).
    """

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = choice(reduction, ("mean", "sum"), "SoftmaxCrossEntropy", "reduction")
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._dlogits: np.ndarray | None = None

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        """Return the loss.

        Parameters
        ----------
        logits : np.ndarray
            (N, C) raw class scores.
        labels : np.ndarray
            (N,) integer class indices, or (N, C) one-hot rows or class probabilities (soft targets).
        """
        value, self._dlogits = losses.cross_entropy(logits, labels, reduction=self.reduction)
        return float(value)

    __call__ = forward

    def backward(self, dout: float = 1.0) -> np.ndarray:
        """Return dL/dlogits (N, C) for the last forward, times ``dout`` (default 1)."""
        if self._dlogits is None:
            raise no_forward_yet("SoftmaxCrossEntropy.backward")
        if dout == 1.0:
            return self._dlogits.copy()
        return self._dlogits * float(dout)

    def parameters(self) -> list:
        return []

    def __repr__(self) -> str:
        return f"SoftmaxCrossEntropy(reduction={self.reduction!r})"
