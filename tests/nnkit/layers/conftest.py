"""Shared fixtures of the layer tests."""

import pytest

from nnkit.layers import _chunks


@pytest.fixture
def chunked(monkeypatch):
    """Three threads and a tiny chunk size, so even a batch of 5 small images is cut into chunks."""
    before = _chunks.get_num_threads()
    monkeypatch.setattr(_chunks, "CHUNK_SIZE", 1)
    _chunks.set_num_threads(3)
    yield _chunks
    _chunks.set_num_threads(before)
