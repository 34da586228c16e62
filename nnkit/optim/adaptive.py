"""Per-coordinate adaptive learning rates: Adagrad, Adadelta and RMSprop."""

from __future__ import annotations

import numpy as np

from nnkit import _validate as check
from nnkit.optim.base import Optimizer


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al. 2011), as ``torch.optim.Adagrad``.

    Parameters
    ----------
    parameters : Layer or list of (dict, dict)
        A Layer-like object with ``parameters()``, or ``(params, grads)`` pairs.
    lr : float, default 1e-2
        Learning rate, ``>= 0``.
    lr_decay : float, default 0
        Learning-rate decay, ``>= 0``.
    weight_decay : float, default 0
        L2 coefficient, ``>= 0``: adds ``weight_decay * w`` to the gradient.
    initial_accumulator_value : float, default 0
        Starting value of every entry of the sum of squares ``s``, ``>= 0``.
    eps : float, default 1e-10
        Added to the denominator, ``>= 0``.
    decay : {"weights", "all"} or collection of str, default "weights"
        Which arrays ``weight_decay`` applies to (see :class:`nnkit.optim.SGD`).
    maximize : bool, default False
        Follow the gradient uphill, ``g <- -g`` before anything else (as in PyTorch).

    Notes
    -----
    With ``s = initial_accumulator_value`` everywhere before the first step,
    step ``t = 1, 2, ...`` does::

        g <- -g                                    (if maximize)
        g <- g + weight_decay * w                  (if w is decayed)
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s <- s + g * g
        w <- w - lr_t * g / (sqrt(s) + eps)

    ``s`` is kept as ``"sum"`` in the state, with the step count ``"step"``.
    ``eps`` sits outside the square root, as in PyTorch. ``lr_decay`` is
    PyTorch's addition; the paper has a fixed learning rate.
    """

    HYPERPARAMETERS = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize")

    def __init__(self, parameters: object, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, decay: object = "weights",
                 maximize: bool = False) -> None:
        self.lr, self.lr_decay, self.weight_decay = lr, lr_decay, weight_decay
        self.initial_accumulator_value, self.eps = initial_accumulator_value, eps
        super().__init__(parameters, decay, maximize)

    def _check_hyperparameters(self) -> None:
        for name in self.HYPERPARAMETERS[:-1]:   # every number; maximize is checked by the base class
            setattr(self, name, check.number(getattr(self, name), "Adagrad", name, low=0.0))

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, decayed: bool) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = np.full(param.shape, self.initial_accumulator_value)
        state["step"] += 1
        if self.weight_decay != 0 and decayed:
            grad = grad + self.weight_decay * param
        lr_t = self.lr / (1 + (state["step"] - 1) * self.lr_decay)
        state["sum"] += grad * grad
        param -= lr_t * (grad / (np.sqrt(state["sum"]) + self.eps))


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012), as ``torch.optim.Adadelta``.

    Parameters
    ----------
    parameters : Layer or list of (dict, dict)
        A Layer-like object with ``parameters()``, or ``(params, grads)`` pairs.
    lr : float, default 1.0
        Scale applied to the step, ``>= 0``.
    rho : float, default 0.9
        Decay rate of both running averages, in ``[0, 1]``.
    eps : float, default 1e-6
        Added inside both square roots, ``>= 0``.
    weight_decay : float, default 0
        L2 coefficient, ``>= 0``: adds ``weight_decay * w`` to the gradient.
    decay : {"weights", "all"} or collection of str, default "weights"
        Which arrays ``weight_decay`` applies to (see :class:`nnkit.optim.SGD`).
    maximize : bool, default False
        Follow the gradient uphill, ``g <- -g`` before anything else (as in PyTorch).

    Notes
    -----
    With the running averages ``a`` (of squared gradients) and ``u`` (of
    squared updates) starting at zero, one step does::

        g <- -g                                    (if maximize)
        g <- g + weight_decay * w                  (if w is decayed)
        a <- rho * a + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(a + eps) * g
        u <- rho * u + (1 - rho) * delta * delta
        w <- w - lr * delta

    In the state, ``a`` is ``"square_avg"`` and ``u`` is ``"acc_delta"``.
    ``eps`` is inside both square roots (as in the paper). The paper has no
    ``lr``; PyTorch adds it, and ``lr=1.0`` gives the paper's method.
    """

    HYPERPARAMETERS = ("lr", "rho", "eps", "weight_decay", "maximize")

    def __init__(self, parameters: object, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, decay: object = "weights", maximize: bool = False) -> None:
        self.lr, self.rho, self.eps, self.weight_decay = lr, rho, eps, weight_decay
        super().__init__(parameters, decay, maximize)

    def _check_hyperparameters(self) -> None:
        self.lr = check.number(self.lr, "Adadelta", "lr", low=0.0)
        self.rho = check.number(self.rho, "Adadelta", "rho", low=0.0, high=1.0)
        self.eps = check.number(self.eps, "Adadelta", "eps", low=0.0)
        self.weight_decay = check.number(self.weight_decay, "Adadelta", "weight_decay", low=0.0)

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, decayed: bool) -> None:
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros(param.shape)
            state["acc_delta"] = np.zeros(param.shape)
        state["step"] += 1
        if self.weight_decay != 0 and decayed:
            grad = grad + self.weight_decay * param
        square_avg, acc_delta, rho = state["square_avg"], state["acc_delta"], self.rho
        square_avg *= rho
        square_avg += (1 - rho) * (grad * grad)
        std = np.sqrt(square_avg + self.eps)
        delta = np.sqrt(acc_delta + self.eps) / std * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * (delta * delta)
        param -= self.lr * delta


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e), as ``torch.optim.RMSprop``.

    Parameters
    ----------
    parameters : Layer or list of (dict, dict)
        A Layer-like object with ``parameters()``, or ``(params, grads)`` pairs.
    lr : float, default 1e-2
        Learning rate, ``>= 0``.
    alpha : float, default 0.99
        Decay rate of the running averages, in ``[0, 1]``.
    eps : float, default 1e-8
        Added to the denominator, ``>= 0``.
    weight_decay : float, default 0
        L2 coefficient, ``>= 0``: adds ``weight_decay * w`` to the gradient.
    momentum : float, default 0
        Momentum factor, ``>= 0``; 0 turns momentum off.
    centered : bool, default False
        Divide by an estimate of the gradient's standard deviation instead of
        its root mean square.
    decay : {"weights", "all"} or collection of str, default "weights"
        Which arrays ``weight_decay`` applies to (see :class:`nnkit.optim.SGD`).
    maximize : bool, default False
        Follow the gradient uphill, ``g <- -g`` before anything else (as in PyTorch).

    Notes
    -----
    With ``a`` (mean square), ``m`` (mean, centered only) and ``b`` (momentum
    buffer) starting at zero, one step does::

        g <- -g                                    (if maximize)
        g <- g + weight_decay * w                  (if w is decayed)
        a <- alpha * a + (1 - alpha) * g * g
        if centered:
            m <- alpha * m + (1 - alpha) * g
            d = sqrt(a - m * m) + eps
        else:
            d = sqrt(a) + eps
        if momentum > 0:
            b <- momentum * b + g / d
            w <- w - lr * b
        else:
            w <- w - lr * g / d

    In the state: ``a`` is ``"square_avg"``, ``m`` ``"grad_avg"``, ``b``
    ``"momentum_buffer"``. ``eps`` is outside the square root, as in
    PyTorch; some libraries (for example TensorFlow 1's ``RMSPropOptimizer``)
    add it inside, which changes what a given ``eps`` means. Hinton's lecture
    uses a decay of 0.9 where PyTorch's default ``alpha`` is 0.99.
    ``centered`` is Graves (2013).
    """

    HYPERPARAMETERS = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")

    def __init__(self, parameters: object, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 decay: object = "weights", maximize: bool = False) -> None:
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.weight_decay, self.momentum, self.centered = weight_decay, momentum, centered
        super().__init__(parameters, decay, maximize)

    def _check_hyperparameters(self) -> None:
        self.lr = check.number(self.lr, "RMSprop", "lr", low=0.0)
        self.alpha = check.number(self.alpha, "RMSprop", "alpha", low=0.0, high=1.0)
        self.eps = check.number(self.eps, "RMSprop", "eps", low=0.0)
        self.weight_decay = check.number(self.weight_decay, "RMSprop", "weight_decay", low=0.0)
        self.momentum = check.number(self.momentum, "RMSprop", "momentum", low=0.0)
        self.centered = check.flag(self.centered, "RMSprop", "centered")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, decayed: bool) -> None:
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros(param.shape)
        state["step"] += 1
        if self.weight_decay != 0 and decayed:
            grad = grad + self.weight_decay * param
        alpha, square_avg = self.alpha, state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (grad * grad)
        if self.centered:
            grad_avg = state.setdefault("grad_avg", np.zeros(param.shape))
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            denom = np.sqrt(square_avg - grad_avg * grad_avg) + self.eps
        else:
            denom = np.sqrt(square_avg) + self.eps
        if self.momentum > 0:
            buf = state.setdefault("momentum_buffer", np.zeros(param.shape))
            buf *= self.momentum
            buf += grad / denom
            param -= self.lr * buf
        else:
            param -= self.lr * (grad / denom)
