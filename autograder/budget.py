"""The time budgets of the worker's requests, measured by the grader alone.

A request's budget is CPU time of the worker, which load on the machine does not change: the grader reads
it from ``/proc/<pid>/stat`` itself (``sandbox.Worker.cpu_seconds``) and never asks the worker. Two
wall-clock guards catch code that does not compute at all: no CPU used for ``idle_seconds`` (asleep or
blocked), and ``wall_factor`` x the CPU budget + ``wall_slack`` in all.

A ``call_many`` request of n operations is timed as the n requests it stands for: each operation gets
the single-call budget, counted from the end of the one before, and all of them share what is left of the
item's budget (``Allowance``). The worker marks the ends with progress frames (``protocol.Progress``:
"k operations have ended"); the grader takes nothing from a frame but that count, and reads the CPU
clock itself when the frame arrives (``Meter.progress``). Operations quicker than
``worker.PROGRESS_EVERY`` (10 ms of CPU) send no frame and share the next one's budget, so a batch of
quick calls costs no frames, and a call is stopped at most those 10 ms before a single call would be.

A frame is a claim the grader cannot verify: student code runs in the worker and can write one. So frames
only *split* a request's time, they never add to it. Their counts must rise, stay below n, and not pass
what the reply says ran: at most n - 1 frames, so a batch never gets more than n call budgets (what its n
calls could use one by one) nor more than the item has left. Any other frame is a protocol error, which
fails only the check that sent the batch; a worker that sends no frames gets one call budget for the
whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from autograder.handle import OutOfTime
from autograder.protocol import ProtocolError

POLL = 0.05       # seconds between looks at a busy worker's CPU time, at first
POLL_MAX = 0.25   # ... and at most, for a request that has run a while (never above a quarter of what is left)


@dataclass
class Budget:
    """One operation's time: ``cpu`` seconds of the worker's CPU, for a ``what`` ("cell", "call", ...)."""

    what: str
    cpu: float


@dataclass
class Allowance:
    """What one request may use: ``step`` for each of its ``steps`` operations (several for ``call_many``),
    and ``shared`` CPU seconds over all of them: what is left of a larger budget, named ``shared_what`` (the
    item's, the notebook's cells' or the submission's; None when no larger budget is nearer than the step's)."""

    step: Budget
    steps: int = 1
    shared: float | None = None
    shared_what: str = "item"

    def budget(self, used: float) -> Budget:
        """The next operation's budget, after the operations before it used ``used`` CPU seconds."""
        if self.shared is not None and self.shared - used < self.step.cpu:
            return Budget(self.shared_what, self.shared - used)
        return self.step


@dataclass
class Backstops:
    """The wall-clock guards (``sandbox.Limits`` has the defaults)."""

    idle_seconds: float
    wall_factor: float
    wall_slack: float


class Meter:
    """The clock of one request: the budget of the operation running now, and what the request cost.

    ``cpu`` and ``now`` are always the grader's own readings: the worker's CPU seconds and
    ``time.monotonic()``.
    """

    def __init__(self, allowance: Allowance, backstops: Backstops, cpu: float, now: float):
        self.allowance, self.backstops = allowance, backstops
        self.start_cpu = cpu
        self.ended = 0              # operations that ended (progress frames accepted)
        self.stopped: OutOfTime | None = None
        self.end_cpu: float | None = None
        self._begin(cpu, now)

    def _begin(self, cpu: float, now: float) -> None:
        self.budget = self.allowance.budget(cpu - self.start_cpu)
        self.wall = self.budget.cpu * self.backstops.wall_factor + self.backstops.wall_slack
        self.step_cpu, self.step_start = cpu, now
        self.seen_cpu, self.seen_change = cpu, now   # for the idle guard

    def progress(self, ended: int, cpu: float, now: float) -> None:
        """A progress frame says ``ended`` operations have ended: the next one's budget starts now.

        ``ProtocolError`` unless the count rises and the request has an operation left to start."""
        if not self.ended < ended < self.allowance.steps:
            raise ProtocolError(f"progress frame {ended!r} after {self.ended} in a request of "
                                f"{self.allowance.steps} operation{'s' * (self.allowance.steps != 1)}")
        self.ended = ended
        self._begin(cpu, now)

    def overrun(self, cpu: float, now: float) -> OutOfTime | None:
        """The limit the running operation has passed, if any (then kept in ``stopped``)."""
        what, idle = self.budget.what, self.backstops.idle_seconds
        if cpu - self.step_cpu > self.budget.cpu:
            self.stopped = OutOfTime(what, "cpu", self.budget.cpu)
        elif cpu > self.seen_cpu:
            self.seen_cpu, self.seen_change = cpu, now
        elif now - self.seen_change > idle:
            self.stopped = OutOfTime(what, "idle", idle)
        if self.stopped is None and now - self.step_start > self.wall:
            self.stopped = OutOfTime(what, "wall", self.wall)
        return self.stopped

    def cpu_left(self, cpu: float) -> float:
        """CPU seconds the running operation has left."""
        return self.budget.cpu - (cpu - self.step_cpu)

    def finish(self, cpu: float) -> None:
        """The reply came, at ``cpu``."""
        self.end_cpu = cpu

    @property
    def cost(self) -> float:
        """CPU seconds to take from the item, as the same operations made one by one would take.

        A reply: all the request used. Otherwise what the operations that ended used, plus, when the
        running one overran its CPU budget, that whole budget (as for a single call stopped there)."""
        if self.end_cpu is not None:
            return max(0.0, self.end_cpu - self.start_cpu)
        spent = self.step_cpu - self.start_cpu
        if self.stopped is not None and self.stopped.kind == "cpu":
            spent += self.budget.cpu
        return spent


def next_poll(interval: float, cpu_left: float, idle_seconds: float) -> float:
    """The next wait between looks at a busy worker: 1.5x the last, but at most ``POLL_MAX``, a quarter of
    the CPU left and a quarter of the idle limit (and at least ``POLL``). So a CPU budget is still overrun
    by at most ``POLL`` of one thread's CPU, as with a fixed ``POLL``, and the idle and wall limits by at
    most ``POLL_MAX``; a long cell is looked at 4 times a second instead of 20."""
    return max(POLL, min(interval * 1.5, POLL_MAX, cpu_left / 4, idle_seconds / 4))
