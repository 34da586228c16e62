"""Input checks shared by the reference modules (private; imports nothing from nnkit)."""

from __future__ import annotations

import numpy as np


def as_real(x, func: str, arg: str) -> np.ndarray:
    """``x`` as a float64 array; rejects non-real dtypes (TypeError) and NaN/inf entries (ValueError).

    Messages name the function, the argument, and the first offending index with the array's shape.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{func}: {arg} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not finite.all():
        where = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"{func}: {arg} must be finite, found {arr[where]} at index {where} (shape {arr.shape})")
    return arr
