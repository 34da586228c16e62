"""A process pool that stops when asked and dies with the grader.

The batch grades submissions in ``spawn``-ed pool processes (``run``). Their lifecycle:

- In the main process, inside ``signals_raise_interrupted()``, SIGINT and SIGTERM raise
  ``Interrupted``. ``run`` then starts nothing more (queued work is cancelled), asks the pool
  processes to stop with SIGTERM -- each unwinds the submission it is grading, which closes
  its sandbox, runs its exit handlers (they remove its temp folder) and exits -- and kills
  those still running after ``STOP_GRACE_SECONDS``.
- Pool processes ignore SIGINT: Ctrl-C reaches the whole process group, and the main
  process alone decides, so in-flight work never turns into error rows.
- Each pool process asks the kernel to SIGKILL it when the main process dies
  (``PR_SET_PDEATHSIG``), and exits at once if the main process died before it could ask
  (``getppid``). So SIGKILL of the grader, or of its process group, leaves no pool process;
  each sandboxed worker in turn dies with its pool process (bubblewrap's ``--die-with-parent``).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1           # <linux/prctl.h>
STOP_GRACE_SECONDS = 2.0       # how long stopped pool processes get to clean up before SIGKILL


class Interrupted(BaseException):
    """SIGINT or SIGTERM stopped the batch; ``signum`` says which (a shell reports 128 + signum)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def signals_raise_interrupted():
    """In the main thread: SIGINT and SIGTERM raise ``Interrupted`` (once; later ones are ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = []

    def handler(signum, frame):
        if not stopping:
            stopping.append(signum)
            raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run(fn, tasks: dict, workers: int, done) -> None:
    """Call ``fn(*args)`` for each ``tasks[n] = args`` in ``workers`` processes; ``done(n, outcome)`` as each
    finishes, ``outcome()`` returning its value or raising its exception. Any exception here, ``done``'s
    or ``Interrupted``, stops the pool before it propagates."""
    context = multiprocessing.get_context("spawn")
    before = set(multiprocessing.active_children())
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_process_init,
                                   initargs=(os.getpid(),))
    try:
        futures = {executor.submit(_call, fn, *args): n for n, args in tasks.items()}
        for future in as_completed(futures):
            done(futures[future], future.result)
    except BaseException:
        _stop(executor, [p for p in multiprocessing.active_children() if p not in before])
        raise
    executor.shutdown()


def _stop(executor: ProcessPoolExecutor, processes) -> None:
    """Start nothing more; ask the pool processes to stop, then kill those still running."""
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(1.0)


# -- inside a pool process -----------------------------------------------------------------------
_busy = False          # running a task right now


class _Stop(BaseException):
    """SIGTERM while running a task: unwind it (closing its sandbox), then exit."""


def _process_init(parent_pid: int) -> None:
    """Runs first in each pool process: die with the main process, leave Ctrl-C to it, stop on SIGTERM."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass   # not Linux: no parent-death signal
    if os.getppid() != parent_pid:   # the main process died before prctl took effect
        os._exit(1)
    signal.signal(signal.SIGINT, _ignore_signal)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)


def _ignore_signal(signum, frame) -> None:
    """A handler that does nothing (SIG_IGN would be inherited by the sandboxed worker; this is not)."""


def _stop_on_sigterm(signum, frame) -> None:
    # Once is enough: the executor sends its own SIGTERM when it sees another pool process go, and a
    # second stop must not cut short the clean-up of the first (the main process kills after a grace time).
    signal.signal(signal.SIGTERM, _ignore_signal)
    if _busy:
        raise _Stop()
    _exit_now(128 + signum)


def _exit_now(code: int) -> None:
    """Leave this pool process now, but run its exit handlers first: they remove its temp folders.

    ``sys.exit`` would not do: the executor's loop catches it and takes the next task.
    """
    try:
        atexit._run_exitfuncs()
    finally:
        os._exit(code)


def _call(fn, *args):
    global _busy
    _busy = True
    try:
        return fn(*args)
    except _Stop:
        _exit_now(128 + signal.SIGTERM)
    finally:
        _busy = False
