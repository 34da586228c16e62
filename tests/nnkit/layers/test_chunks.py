"""Big batches in chunks on a small thread pool (nnkit.layers._chunks), used by the fast conv and pool.

The conv and pool results in chunks are compared with the naive loops in test_conv.py and test_pool.py.
"""

import pytest

from nnkit.layers import _chunks


# ``chunked`` (three threads, tiny chunks) is in conftest.py


def test_in_batch_chunks_covers_every_image_once_and_passes_errors_on(chunked):
    seen = []
    chunked.in_batch_chunks(lambda batch: seen.extend(range(7)[batch]), 7, 10**6)    # 7 chunks, 3 threads
    assert sorted(seen) == list(range(7))

    def fail(batch):
        raise RuntimeError(f"chunk {batch}")

    with pytest.raises(RuntimeError, match="chunk"):
        chunked.in_batch_chunks(fail, 7, 10**6)
    calls = []
    chunked.CHUNK_SIZE = 100
    chunked.in_batch_chunks(calls.append, 7, 199)            # less than two chunks' worth: one call
    assert calls == [slice(0, 7)]
    chunked.set_num_threads(1)                               # one thread: the chunks in order, on this thread
    chunked.in_batch_chunks(calls.append, 7, 300)
    assert calls[1:] == [slice(0, 2), slice(2, 4), slice(4, 7)]


def test_a_small_job_is_split_between_threads_only_when_its_products_are_heavy(chunked, monkeypatch):
    monkeypatch.setattr(chunked, "CHUNK_SIZE", 10**9)           # no chunks for the cache: only threads split
    calls = []
    chunked.in_batch_chunks(calls.append, 6, chunked.PARALLEL_SIZE - 1, macs=chunked.PARALLEL_MACS - 1)
    assert calls == [slice(0, 6)]                              # small and light: one call on this thread
    calls.clear()
    chunked.in_batch_chunks(calls.append, 6, chunked.PARALLEL_SIZE - 1, macs=chunked.PARALLEL_MACS)
    assert sorted((c.start, c.stop) for c in calls) == [(0, 2), (2, 4), (4, 6)]     # one chunk per thread
    calls.clear()
    chunked.set_num_threads(1)
    chunked.in_batch_chunks(calls.append, 6, chunked.PARALLEL_SIZE - 1, macs=chunked.PARALLEL_MACS)
    assert calls == [slice(0, 6)]                              # heavy, but one thread: nothing to split for


def test_chunks_that_call_blas_run_it_on_one_thread_and_restore_it(chunked):
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return max(info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas")

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before, inside = blas_threads(), []
        chunked.in_batch_chunks(lambda batch: inside.append(blas_threads()), 4, 10**6, blas=True)
        assert inside == [1] * 4
        assert blas_threads() == before
        chunked.in_batch_chunks(lambda batch: inside.append(blas_threads()), 4, 10**6)     # pooling: untouched
        assert inside[4:] == [before] * 4


def test_set_num_threads_rejects_zero():
    with pytest.raises(ValueError, match="set_num_threads: n"):
        _chunks.set_num_threads(0)
