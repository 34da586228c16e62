"""nnkit._malloc: the fast layers' temporaries are reused, not page-faulted in from the OS on every call.

Counted in page faults (deterministic), not in seconds: a fresh interpreter without torch (torch's start-up
raises glibc's thresholds by itself and would hide the effect) runs 30 conv forward+backward passes after a
warm-up and reports the minor page faults per pass.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nnkit import _malloc

GLIBC = bool(os.confstr("CS_GNU_LIBC_VERSION")) if "CS_GNU_LIBC_VERSION" in os.confstr_names else False

_CHILD = """
import resource, sys
import numpy as np
from nnkit import _malloc
from nnkit.layers.conv import conv2d_backward, conv2d_forward
if "torch" in sys.modules:
    raise SystemExit("torch must not be imported here")
rng = np.random.default_rng(0)
x, W, b = rng.normal(size=(32, 1, 8, 8)), rng.normal(size=(16, 1, 3, 3)), rng.normal(size=16)
dout = rng.normal(size=(32, 16, 8, 8))
for _ in range(5):
    conv2d_backward(dout, conv2d_forward(x, W, b, 1, 1)[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(30):
    conv2d_backward(dout, conv2d_forward(x, W, b, 1, 1)[1])
print(_malloc.tune(), (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 30)
"""


def faults_per_pass(tuning: str) -> tuple[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | {"NNKIT_MALLOC_TUNING": tuning}
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    state, faults = done.stdout.split()
    return state, float(faults)


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds are a glibc feature; elsewhere tune() does nothing")
def test_conv_passes_reuse_memory_instead_of_faulting_pages_in():
    state, tuned = faults_per_pass("1")
    assert state == "tuned"
    assert tuned < 2, f"{tuned} page faults per conv pass with the thresholds raised"
    # The same passes with the allocator left alone fault every temporary's pages in again: this is what
    # the tuning removes (about 190 faults per forward+backward on this shape).
    state, untuned = faults_per_pass("0")
    assert state == "off"
    assert untuned > 50, f"only {untuned} page faults per pass without the tuning: the check above proves nothing"


def test_tune_runs_once_and_reports_what_it_did():
    assert _malloc.tune() in {"tuned", "off", "unsupported"}
    assert _malloc.tune() == _malloc.tune()            # applied once per process, then remembered


def test_layers_import_and_run_where_ctypes_is_refused():
    # The autograder's worker refuses ctypes; a unit that provides nnkit.layers must still import them.
    code = ("import sys; sys.modules['ctypes'] = None\n"
            "import numpy as np\n"
            "from nnkit import _malloc\n"
            "from nnkit.layers.conv import conv2d_forward\n"
            "out, _ = conv2d_forward(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), np.zeros(2), 1, 1)\n"
            "print(_malloc.tune(), out[0, 0, 1, 1])")
    env = {k: v for k, v in os.environ.items()} | {"NNKIT_MALLOC_TUNING": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["unsupported", "9.0"]
