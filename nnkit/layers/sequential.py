"""Sequential: a stack of layers that is itself a layer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from nnkit.layers.base import Layer


class Sequential(Layer):
    """Run layers one after another; backward runs them in reverse.

    Parameters
    ----------
    layers : sequence of Layer
        Anything with ``forward(x, *, training)``, ``backward(dout)`` and
        ``parameters()``; a Sequential may contain Sequentials.

    Attributes
    ----------
    layers : list of Layer
    params, grads : dict[str, np.ndarray]
        Read-only views named ``"layer{i}.{name}"`` (e.g. ``"layer0.W"``),
        built on each access. The arrays are the children's own, so an
        in-place update through ``params`` changes the model. These names are
        the ones :func:`nnkit.train.save_checkpoint` writes.

    Notes
    -----
    The chain rule, layer by layer: ``forward`` computes
    ``x -> layer0 -> layer1 -> ... -> out``; ``backward(dout)`` hands each
    layer the gradient of the one above it and returns dL/dx.
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        # Layer.__init__ is not called: params and grads are views of the
        # children here, not dicts of our own.
        if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
            raise TypeError(
                f"Sequential: layers must be a list of layers, got {type(layers).__name__}; "
                "write Sequential([layer1, layer2, ...])"
            )
        for i, layer in enumerate(layers):
            missing = [m for m in ("forward", "backward", "parameters") if not hasattr(layer, m)]
            if missing:
                raise TypeError(
                    f"Sequential: layers[{i}] ({type(layer).__name__}) is not a layer; it lacks {', '.join(missing)}"
                )
        self.layers: list[Layer] = list(layers)

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

    def forward(self, x: np.ndarray, *, training: bool = True) -> np.ndarray:
        """Pass ``x`` through every layer in order; return the last output."""
        for layer in self.layers:
            x = layer.forward(x, training=training)
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

