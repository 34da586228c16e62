"""Sequential: a stack of layers that is itself a layer."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nnkit.layers.base import Layer


class Sequential(Layer):
    """Run layers one after another; backward runs them in reverse.

    Parameters
    ----------
    *layers : Layer
        The layers in order, as separate arguments (``Sequential(Linear(2, 3), ReLU())``, as PyTorch; for a
        list write ``Sequential(*layers)``). Anything with ``forward(x)``, ``backward(dout)`` and
        ``parameters()`` works; a Sequential may contain Sequentials.

    Attributes
    ----------
    layers : list of Layer
    params, grads : dict[str, np.ndarray]
        Read-only views named ``"layer{i}.{name}"`` (e.g. ``"layer0.W"``),
        built on each access. The arrays are the children's own, so an
        in-place update through ``params`` changes the model. These names are
        the ones :meth:`state_dict` and :func:`nnkit.train.save_checkpoint` use. (PyTorch names them
        ``"0.weight"``; nnkit's ``W`` is also the transpose of PyTorch's ``weight``.)
    training : bool
        ``train()`` and ``eval()`` set it here and on every layer inside.

    Notes
    -----
    The chain rule, layer by layer: ``forward`` computes
    ``x -> layer0 -> layer1 -> ... -> out``; ``backward(dout)`` hands each
    layer the gradient of the one above it and returns dL/dx.
    """

    def __init__(self, *layers: Layer) -> None:
        # Layer.__init__ is not called: params and grads are views of the
        # children here, not dicts of our own.
        for i, layer in enumerate(layers):
            missing = [m for m in ("forward", "backward", "parameters") if not hasattr(layer, m)]
            if missing:
                hint = "; pass the layers as separate arguments, Sequential(*layers)" if isinstance(
                    layer, (list, tuple)) else ""
                raise TypeError(f"Sequential: layers[{i}] must be a layer, got {type(layer).__name__} "
                                f"(it lacks {', '.join(missing)}){hint}")
        self.layers: list[Layer] = list(layers)
        self.training = True

    def children(self) -> list[Layer]:
        return self.layers

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self._named("params")

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return self._named("grads")

    def _named(self, attr: str) -> dict[str, np.ndarray]:
        return {
            f"layer{i}.{name}": value
            for i, layer in enumerate(self.layers)
            for name, value in getattr(layer, attr, {}).items()
        }

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Pass ``x`` through every layer in order; return the last output."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Pass ``dout`` back through every layer in reverse; return dL/dx."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def parameters(self) -> list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
        """The children's ``(params, grads)`` pairs, in layer order."""
        pairs = []
        for layer in self.layers:
            pairs.extend(layer.parameters())
        return pairs

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def num_parameters(self) -> int:
        """How many trainable numbers (weights and biases) the model has."""
        return sum(value.size for params, _ in self.parameters() for value in params.values())

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __repr__(self) -> str:
        lines = [f"  ({i}) {layer!r}".replace("\n", "\n  ") for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"

