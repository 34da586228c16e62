"""Keep freed array memory for reuse instead of handing it back to the OS after every call (glibc only).

Why: the fast conv and pool functions allocate a few arrays of 100 KiB to a few MiB per call (the im2col
columns, the padded images, the gradients) and free them when the call returns. With glibc's default
settings a block of 128 KiB or more is mapped fresh from the OS, and free memory at the top of the heap
beyond 128 KiB is returned to it, so every call pays a page fault for each 4 KiB page it touches. Measured
on the unit 5 CNN's first conv (N=32, C=1, 8x8, 16 filters): 96 page faults per forward, which made the
forward 2.2 times slower (682 us against 314 us) than in a process where the thresholds had risen.

glibc raises both thresholds by itself once a large mapped block is freed (up to 32 MiB and 64 MiB), which
is why the same code is fast after ``import torch``: torch's start-up happens to free such blocks. Here the
thresholds are set to those same values explicitly, once, when a fast layer module is imported: blocks below
32 MiB come from the heap, and up to 64 MiB of free heap is kept for the next call. The cost is that a
process may hold up to 64 MiB it no longer uses.

Set the environment variable ``NNKIT_MALLOC_TUNING=0`` to leave the allocator's settings alone. On other C
libraries (macOS, musl), or where ``ctypes`` cannot be imported (the autograder's sandboxed worker refuses
it), nothing happens and the layers work as before, only with the slower allocation.
"""

from __future__ import annotations

import os

M_TRIM_THRESHOLD = -1        # mallopt parameter numbers, from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20    # glibc's own upper limit for the threshold it adjusts by itself (64-bit)
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD   # glibc keeps the trim threshold at twice the mmap threshold

_state: str | None = None    # "tuned", "off" (the environment variable) or "unsupported"; None until tried


def tune() -> str:
    """Raise glibc's mmap and trim thresholds once per process; returns what happened (see ``_state``)."""
    global _state
    if _state is None:
        _state = _apply()
    return _state


def _apply() -> str:
    if os.environ.get("NNKIT_MALLOC_TUNING", "1").strip() == "0":
        return "off"
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return "unsupported"
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (ImportError, AttributeError, OSError, ValueError):
        return "unsupported"
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return "tuned" if done else "unsupported"
