"""Old import path of three checks, kept while conv.py and pool.py still import them from here.

The checks themselves live in :mod:`nnkit._validate`; import them from there.
"""

from __future__ import annotations

import numpy as np

from nnkit._validate import generator, no_forward_yet, positive_int

__all__ = ["check_positive_int", "make_rng", "no_forward_yet"]


def check_positive_int(value: object, where: str, name: str) -> int:
    return positive_int(value, where, name)


def make_rng(seed: int | None, rng: np.random.Generator | None, where: str) -> np.random.Generator:
    return generator(where, seed, rng)
