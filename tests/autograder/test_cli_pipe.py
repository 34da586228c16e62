"""`nnkit check ... | head` must not report an internal grader error when the reader closes the pipe."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_closed_output_pipe_is_not_an_internal_error():
    proc = subprocess.Popen([sys.executable, "-m", "autograder.cli", "check", "solutions/unit1/unit1.ipynb"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()   # the reader is gone before the report is printed, like a `| head` that already exited
    with proc.stderr:
        stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "internal error" not in stderr and "Traceback" not in stderr, stderr
    assert proc.returncode == 141, (proc.returncode, stderr)
