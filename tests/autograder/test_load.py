"""Scores do not depend on machine load: a correct unit-5 notebook gets full marks on a busy machine.

The CNN training cell of unit 5 takes several CPU-seconds. Budgets are in the worker's own CPU time, so
sharing the cores with a dozen busy processes makes grading slower but never changes a score (the old
wall-clock limit gave 15/20 at a load of 20).
"""

import os
import signal
import subprocess
import sys

from autograder.grader import grade_submission
from autograder.sandbox import Limits

BUSY = 12


def test_a_correct_unit5_notebook_gets_full_marks_on_a_busy_machine(namespaces):
    busy = [subprocess.Popen([sys.executable, "-c", "while True:\n    pass\n"], start_new_session=True,
                             stdin=subprocess.DEVNULL) for _ in range(BUSY)]
    try:
        result = grade_submission("solutions/unit5/unit5.ipynb", limits=Limits(isolation="namespace"))
        load = os.getloadavg()[0]
    finally:
        for proc in busy:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    autograded = [i for i in result.items if not i.manual]
    assert result.error is None and result.flags == [], (result.error, result.flags)
    assert all(c["status"] == "ok" for c in result.cells), [c for c in result.cells if c["status"] != "ok"]
    assert [(i.grade_id, i.score) for i in autograded] == [(i.grade_id, i.points) for i in autograded], \
        "\n".join(i.render() for i in autograded if i.score != i.points)
    print(f"unit 5 graded at a load average of {load:.1f}: {result.score:g}/{result.max_score:g} "
          f"in {result.seconds:.0f} s")
