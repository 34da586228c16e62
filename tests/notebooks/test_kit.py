"""The notebook tests' own machinery (``tests/notebooks/_kit.py``): results shared by the pytest-xdist workers and
the single-threaded kernel environment."""

import os
import threading

import pytest

from tests.notebooks import _kit


def test_shared_json_does_free_work_while_another_worker_holds_the_lock_then_reads_that_workers_result(tmp_path):
    held = _kit._try_lock(tmp_path / "a.lock")          # "another worker" is computing a
    assert held is not None and _kit._try_lock(tmp_path / "a.lock") is None
    calls = []

    def b_then_the_other_worker_finishes_a():
        calls.append("b")
        (tmp_path / "a.json").write_text('{"from": "the other worker"}')
        _kit._unlock(held)
        return {"b": 1}

    out = {}
    worker = threading.Thread(target=lambda: out.update(result=_kit.shared_json(
        tmp_path, "a", lambda: calls.append("a"),
        meanwhile=[("a", lambda: calls.append("a again")), ("b", b_then_the_other_worker_finishes_a)])))
    worker.start()
    worker.join(timeout=30)
    if worker.is_alive():                               # it waited instead of doing b: let it finish, then fail
        _kit._unlock(held)
        worker.join()
        pytest.fail(f"shared_json waited for the lock on 'a' instead of computing 'b' (calls: {calls})")
    assert out.get("result") == {"from": "the other worker"} and calls == ["b"], (out, calls)
    assert _kit.shared_json(tmp_path, "b", lambda: calls.append("b again")) == {"b": 1} and calls == ["b"]


def test_shared_json_stores_a_failure_and_reraises_it_without_computing_again(tmp_path):
    calls = []

    def fails():
        calls.append(1)
        raise ValueError("nbgrader exploded")

    for _ in range(2):
        with pytest.raises(RuntimeError, match="(?s)shared result 'x' failed.*nbgrader exploded"):
            _kit.shared_json(tmp_path, "x", fails)
    assert calls == [1]


def test_kernel_env_adds_single_threading_without_touching_this_process(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    env = _kit.kernel_env()
    assert {k: env[k] for k in _kit.SINGLE_THREADED} == _kit.SINGLE_THREADED == {
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    assert os.environ["OMP_NUM_THREADS"] == "8"
