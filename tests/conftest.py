"""Shared pytest helpers.

Comparisons against PyTorch may skip, with a visible reason, only when torch is
not installed and we are not in CI. With ``CI=true`` a missing torch is an error.
"""

import importlib
import os

import pytest


def _import_torch():
    try:
        torch = importlib.import_module("torch")
    except ImportError as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI", "").lower() == "true":
            raise RuntimeError("CI=true but torch is not installed; .ci/run installs torch==2.13.0") from exc
        return None
    torch.set_default_dtype(torch.float64)
    return torch


@pytest.fixture(scope="session")
def torch():
    """The torch module (float64 default), or a skip when it is absent outside CI."""
    module = _import_torch()
    if module is None:
        pytest.skip("torch is not installed; the PyTorch comparisons are skipped (pip install torch==2.13.0)")
    return module


def require_namespaces() -> None:
    """Namespace isolation must work here: a skip outside CI when it cannot, an error under CI=true."""
    from autograder.isolation import namespace_problem

    problem = namespace_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CI=true but namespace isolation does not work: {problem}")
    pytest.skip(f"namespace isolation is unavailable here: {problem}")


@pytest.fixture()
def namespaces():
    """Use in every test of the namespace sandbox: it runs for real in CI and never skips there."""
    require_namespaces()
