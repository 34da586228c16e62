"""The Layer protocol: the seeds' "layered view" of a network, with PyTorch's habits.

Any object with ``params``, ``grads``, ``forward`` and ``backward`` as below can
be plugged into :class:`nnkit.layers.Sequential`, trained by the optimizers in
:mod:`nnkit.optim`, and gradient-checked by :mod:`nnkit.gradcheck`. Subclasses of
:class:`Layer` also get ``train()``/``eval()``, ``named_parameters()`` and
``state_dict()``/``load_state_dict()`` for free.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nnkit._validate import flag, real_array


class Layer:
    """Base class for differentiable layers.

    Attributes
    ----------
    params : dict[str, np.ndarray]
        Trainable arrays by name, for example ``{"W": ..., "b": ...}``.
        Optimizers update these arrays in place.
    grads : dict[str, np.ndarray]
        Same keys and shapes as ``params``; (re)written by every ``backward``.
    buffers : dict[str, np.ndarray]
        State that is saved but not trained (batch norm's running statistics); empty for most layers.
    training : bool
        True after ``train()`` (the default), False after ``eval()``. ``forward`` follows it: dropout and noise
        are on only in training, batch norm uses the batch statistics in training and the running ones in eval.

    Notes
    -----
    ``forward(x)`` computes the output and keeps what ``backward`` needs (the
    cache of the *last* call only). ``backward(dout)`` takes dL/d(output),
    stores dL/d(param) in ``grads`` and returns dL/dx.

    As in PyTorch, the mode is a property of the model, not an argument of ``forward``:
    ``model.eval()`` before evaluating, ``model.train()`` before training again.
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # ---- mode -----------------------------------------------------------------------
    def children(self) -> list[Layer]:
        """The layers inside this one (a Sequential's layers); empty for a plain layer."""
        return []

    def train(self, mode: bool = True) -> Layer:
        """Set ``training`` on this layer and every layer inside it; returns the layer (as PyTorch)."""
        mode = flag(mode, f"{type(self).__name__}.train", "mode")
        self.training = mode
        for child in self.children():
            if hasattr(child, "train"):
                child.train(mode)
            else:   # a duck-typed layer: only the attribute
                child.training = mode
        return self

    def eval(self) -> Layer:
        """``train(False)``: evaluation mode for this layer and every layer inside it."""
        return self.train(False)

    # ---- parameters and state -------------------------------------------------------
    def parameters(self) -> list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
        """The ``(params, grads)`` pairs an optimizer needs; empty for parameter-free layers.

        This is where nnkit differs from PyTorch on purpose: an optimizer sees dict pairs, so it can read the
        gradient a ``backward`` just wrote. :meth:`named_parameters` gives PyTorch's view, name and array.
        """
        return [(self.params, self.grads)] if self.params else []

    def named_parameters(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(name, array)`` for every trainable array, e.g. ``("W", ...)`` or ``("layer0.W", ...)``."""
        for name, holder, key in self._named_arrays(("params",)):
            yield name, holder[key]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every param and buffer by name (``"W"``, ``"layer2.running_mean"``, ...)."""
        return {name: holder[key].copy() for name, holder, key in self._named_arrays(("params", "buffers"))}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` into the layer's own arrays, in place, so optimizers keep their references.

        Names and shapes must match exactly (``ValueError`` naming the missing, unexpected or misshapen ones);
        nothing is changed unless everything matches.
        """
        func = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, dict):
            raise TypeError(f"{func}: state must be a dict of arrays, got {type(state).__name__}")
        targets = {name: (holder, key) for name, holder, key in self._named_arrays(("params", "buffers"))}
        missing, unexpected = sorted(set(targets) - set(state)), sorted(set(state) - set(targets))
        if missing or unexpected:
            raise ValueError(f"{func}: the names do not match the model; "
                             f"missing: {missing or 'none'}, unexpected: {unexpected or 'none'}")
        # every array is checked before any is changed
        values = {name: real_array(state[name], func, name, str(holder[key].shape), finite=False)
                  for name, (holder, key) in targets.items()}
        for name, (holder, key) in targets.items():
            np.copyto(holder[key], values[name])

    def _named_arrays(self, kinds: tuple[str, ...]) -> Iterator[tuple[str, dict, str]]:
        return _named_arrays(self, kinds, "")

    def zero_grad(self) -> None:
        """Set every stored gradient to zero (shapes kept)."""
        for name, value in self.params.items():
            self.grads[name] = np.zeros_like(value)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v.shape}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"


def _named_arrays(layer: object, kinds: tuple[str, ...], prefix: str) -> Iterator[tuple[str, dict, str]]:
    """(name, owning dict, key) of every array of the given kinds; a child's names start ``layer{i}.``.

    Works on duck-typed layers too (anything with ``params``, optionally ``buffers`` and ``children()``).
    """
    children = layer.children() if callable(getattr(layer, "children", None)) else []
    if children:
        for i, child in enumerate(children):
            yield from _named_arrays(child, kinds, f"{prefix}layer{i}.")
        return
    for kind in kinds:
        holder = getattr(layer, kind, None) or {}
        for key in holder:
            yield f"{prefix}{key}", holder, key
