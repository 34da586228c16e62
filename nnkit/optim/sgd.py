"""Stochastic gradient descent, with momentum and Nesterov momentum."""

from __future__ import annotations

import numpy as np

from nnkit import _validate as check
from nnkit.optim.base import Optimizer


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, as ``torch.optim.SGD``.

    Parameters
    ----------
    parameters : Layer or list of (dict, dict)
        A Layer-like object with ``parameters()``, or ``(params, grads)`` pairs.
    lr : float, default 1e-3
        Learning rate, ``>= 0`` (PyTorch's default).
    momentum : float, default 0
        Momentum factor ``mu``, ``>= 0``; 0 turns momentum off.
    dampening : float, default 0
        Dampening ``tau`` in ``[0, 1]`` for the momentum buffer.
    nesterov : bool, default False
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    weight_decay : float, default 0
        L2 coefficient ``lambda``, ``>= 0``: adds ``lambda * w`` to the gradient.
    decay : {"weights", "all"} or collection of str, default "weights"
        Which arrays ``weight_decay`` applies to: ``"weights"`` means arrays
        with 2 or more dimensions (not biases, as DESIGN §3 asks), ``"all"``
        every array (PyTorch's behaviour), or the named params, e.g. ``{"W"}``.

    Notes
    -----
    One step, for each param ``w`` with gradient ``g`` (``t`` counts steps from 1)::

        g <- -g                                         (if maximize)
        g <- g + weight_decay * w                       (if w is decayed)
        if momentum != 0:
            b <- g                                      (t == 1)
            b <- momentum * b + (1 - dampening) * g     (t > 1)
            g <- g + momentum * b   if nesterov   else   g <- b
        w <- w - lr * g

    The buffer ``b`` starts as the first gradient itself, undamped; it is
    ``state[i][name]["momentum_buffer"]``.

    This is PyTorch's convention, ``v <- mu v + g; w <- w - lr v``. The lecture
    notes (and Sutskever et al. 2013) write ``v <- gamma v + eta g; w <- w - v``.
    With a constant learning rate that is the same update: their ``v`` is
    ``lr`` times ours, ``gamma = momentum`` and ``eta = lr``. (The two differ
    only when ``lr`` changes during training.) The Nesterov form is PyTorch's
    "look-ahead gradient" rewrite, again with ``lr`` outside the buffer.

    Examples
    --------
    >>> params = {"W": np.ones((2, 2))}; grads = {"W": np.full((2, 2), 0.5)}
    >>> opt = SGD([(params, grads)], lr=0.1, momentum=0.9)
    >>> opt.step(); print(params["W"][0, 0])
    0.95
    """

    HYPERPARAMETERS = ("lr", "momentum", "dampening", "nesterov", "weight_decay", "maximize")

    def __init__(self, parameters: object, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, *, decay: object = "weights",
                 maximize: bool = False) -> None:
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.nesterov, self.weight_decay = nesterov, weight_decay
        super().__init__(parameters, decay, maximize)

    def _check_hyperparameters(self) -> None:
        where = "SGD"
        self.lr = check.number(self.lr, where, "lr", low=0.0)
        self.momentum = check.number(self.momentum, where, "momentum", low=0.0)
        self.dampening = check.number(self.dampening, where, "dampening", low=0.0, high=1.0)
        self.nesterov = check.flag(self.nesterov, where, "nesterov")
        self.weight_decay = check.number(self.weight_decay, where, "weight_decay", low=0.0)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening == 0, "
                             f"got momentum={self.momentum!r}, dampening={self.dampening!r}")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, decayed: bool) -> None:
        if self.weight_decay != 0 and decayed:
            grad = grad + self.weight_decay * param
        if self.momentum != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += (1 - self.dampening) * grad
            buf = state["momentum_buffer"]
            grad = grad + self.momentum * buf if self.nesterov else buf
        param -= self.lr * grad
