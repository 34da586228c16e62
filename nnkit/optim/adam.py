"""Adam and AdamW: momentum plus per-coordinate scaling, with bias correction."""

from __future__ import annotations

import math

import numpy as np

from nnkit import _validate as check
from nnkit.optim.base import Optimizer


class Adam(Optimizer):
    r"""Adam (Kingma and Ba 2015), as ``torch.optim.Adam``.

    Parameters
    ----------
    parameters : Layer or list of (dict, dict)
        A Layer-like object with ``parameters()``, or ``(params, grads)`` pairs.
    lr : float, default 1e-3
        Learning rate, ``>= 0``.
    betas : (float, float), default (0.9, 0.999)
        Decay rates ``(beta1, beta2)`` of the first and second moment
        estimates, each in ``[0, 1)``.
    eps : float, default 1e-8
        Added to the denominator, outside the square root, ``>= 0``.
    weight_decay : float, default 0
        L2 coefficient, ``>= 0``: adds ``weight_decay * w`` to the gradient
        (coupled; see :class:`AdamW` for the decoupled form).
    amsgrad : bool, default False
        Use the running maximum of the second moment (Reddi et al. 2018).
    decay : {"weights", "all"} or collection of str, default "weights"
        Which arrays ``weight_decay`` applies to (see :class:`nnkit.optim.SGD`).
    maximize : bool, default False
        Follow the gradient uphill, ``g <- -g`` before anything else (as in PyTorch).

    Notes
    -----
    With ``m``, ``v`` (and ``v_max``) starting at zero and ``t = 0``, one step
    does, with ``beta1, beta2 = betas``::

        t <- t + 1                                 (before it is used)
        g <- -g                                    (if maximize)
        g <- g + weight_decay * w                  (if w is decayed)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g * g
        v_max <- maximum(v_max, v)                 (amsgrad only; then v_max replaces v below)
        m_hat = m / (1 - beta1**t)
        w <- w - lr * m_hat / (sqrt(v / (1 - beta2**t)) + eps)

    The state holds ``"step"`` (t), ``"exp_avg"`` (m), ``"exp_avg_sq"`` (v)
    and ``"max_exp_avg_sq"`` (v_max). As DESIGN §3 fixes it, ``t`` is
    incremented before use, both moments are bias-corrected, and ``eps`` is
    added outside the square root of the *corrected* ``v``: the paper's
    Algorithm 1. The paper's
    "efficient version" (end of its section 2), which TensorFlow/Keras use,
    folds the corrections into the step size and adds ``eps`` to the
    *uncorrected* ``sqrt(v)``: the same method with a rescaled ``eps``.
    """

    HYPERPARAMETERS = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")

    def __init__(self, parameters: object, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 decay: object = "weights", maximize: bool = False) -> None:
        self.lr, self.betas, self.eps = lr, betas, eps
        self.weight_decay, self.amsgrad = weight_decay, amsgrad
        super().__init__(parameters, decay, maximize)

    def _check_hyperparameters(self) -> None:
        where = type(self).__name__
        self.lr = check.number(self.lr, where, "lr", low=0.0)
        betas = self.betas
        if isinstance(betas, np.ndarray):
            betas = betas.tolist()
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {self.betas!r}")
        self.betas = (check.number(betas[0], where, "betas[0]", low=0.0, high=1.0, high_open=True),
                      check.number(betas[1], where, "betas[1]", low=0.0, high=1.0, high_open=True))
        self.eps = check.number(self.eps, where, "eps", low=0.0)
        self.weight_decay = check.number(self.weight_decay, where, "weight_decay", low=0.0)
        self.amsgrad = check.flag(self.amsgrad, where, "amsgrad")

    def _decay_gradient(self, param: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Coupled L2: fold ``weight_decay * w`` into the gradient (AdamW overrides this)."""
        return grad + self.weight_decay * param

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, decayed: bool) -> None:
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros(param.shape)
            state["exp_avg_sq"] = np.zeros(param.shape)
        state["step"] += 1
        t = state["step"]
        if self.weight_decay != 0 and decayed:
            grad = self._decay_gradient(param, grad)
        beta1, beta2 = self.betas
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (grad * grad)
        if self.amsgrad:
            max_sq = state.setdefault("max_exp_avg_sq", np.zeros(param.shape))
            np.maximum(max_sq, exp_avg_sq, out=max_sq)
            exp_avg_sq = max_sq
        step_size = self.lr / (1 - beta1**t)
        denom = np.sqrt(exp_avg_sq) / math.sqrt(1 - beta2**t) + self.eps
        param -= step_size * (exp_avg / denom)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov and Hutter 2019), as ``torch.optim.AdamW``.

    Same parameters as :class:`Adam`, except that ``weight_decay`` (default
    ``1e-2``, PyTorch's) shrinks the weights directly instead of entering the
    gradient, and so never passes through ``m`` and ``v``.

    Notes
    -----
    One step is Adam's with no L2 term in ``g``, preceded by::

        w <- w * (1 - lr * weight_decay)           (if w is decayed)

    The decay is scaled by ``lr``, as in PyTorch; the paper writes
    ``w <- w - eta_t * lambda * w`` with a separate schedule multiplier
    ``eta_t``, which is ``lr`` here.
    """

    def __init__(self, parameters: object, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 decay: object = "weights", maximize: bool = False) -> None:
        super().__init__(parameters, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         decay=decay, maximize=maximize)

    def _decay_gradient(self, param: np.ndarray, grad: np.ndarray) -> np.ndarray:
        param *= 1 - self.lr * self.weight_decay
        return grad
