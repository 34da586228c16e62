"""Optimizers, weight penalties, the max-norm constraint and gradient clipping.

Optimizers follow ``torch.optim``: the same argument names, defaults and update
order, so a trajectory matches PyTorch's to rounding error. They see a network
only as ``(params, grads)`` pairs of dicts (the Layer protocol)::

    opt = Adam(model, lr=1e-3)          # or Adam([(layer.params, layer.grads), ...])
    for xb, yb in batches:
        loss = ...                      # forward, then backward fills the grads
        clip_grad_norm_(model, 5.0)     # optional
        opt.step()                      # updates every params[k] in place
        max_norm_(layer.params["W"], 3.0)   # optional constraint

One difference from PyTorch, fixed by DESIGN §3: ``weight_decay`` and the
penalties leave biases alone unless asked. The keyword ``decay`` chooses the
arrays: ``"weights"`` (default, arrays with 2 or more dimensions), ``"all"``
(PyTorch's behaviour) or a collection of param names.

Each class docstring states its update; :class:`SGD` explains how PyTorch's
momentum relates to the lecture notes' ``v <- gamma v + eta g; w <- w - v``.
"""

from nnkit.optim.adam import Adam, AdamW
from nnkit.optim.adaptive import Adadelta, Adagrad, RMSprop
from nnkit.optim.base import Optimizer
from nnkit.optim.clip import clip_grad_norm_, clip_grad_value_
from nnkit.optim.regularize import l1_penalty, l2_penalty, max_norm_
from nnkit.optim.sgd import SGD

__all__ = [
    "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Optimizer",
    "l1_penalty", "l2_penalty", "max_norm_", "clip_grad_norm_", "clip_grad_value_",
]
