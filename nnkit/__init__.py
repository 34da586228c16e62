"""nnkit: a readable, pure-NumPy reference library for a neural-network course.

Every module here is meant to be read. Conventions used throughout:

- Arrays are batch first: ``(N, D)`` for dense data, ``(N, C, H, W)`` for images.
- ``dout`` is the upstream gradient dL/d(output) handed to a ``backward`` call;
  ``dx``, ``dW``, ``db`` are the gradients a layer returns or stores.
- Everything is float64. Every random draw takes an explicit ``rng``
  (``np.random.Generator``) or ``seed``; the global NumPy state is never used.

The package imports no submodule eagerly, so ``import nnkit.data`` loads only
the data module. The autograder relies on this: it can allow the data helpers in
a student's notebook while refusing the graded reference modules.
"""

__version__ = "0.1.0"
