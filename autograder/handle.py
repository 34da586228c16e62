"""Handles onto a student's namespace: the one interface every check is written against.

A check never touches student objects directly. It asks a ``Handle``::

    ns.has("heaviside")                         -> bool
    ns.call("heaviside", z)                     -> plain data (arrays are copies)
    layer = ns.new("Linear", 4, 3)              -> Ref (the object stays with the student)
    ns.method(layer, "forward", x)              -> plain data
    ns.get(layer, "params")                     -> {"W": array, "b": array}
    ns.set(layer, "training", False); ns.setitem(layer, "params", "W", W)

Plain data is ``np.ndarray`` of a bool/int/uint/float/complex dtype, exact Python
scalars, numpy scalars, str, None, and lists, tuples and str-keyed dicts of those.
Every other object comes back as a ``Ref``. Arrays are copied in both
directions, so neither side can alias (or later mutate) the other's arrays.

``LocalHandle`` serves a namespace dict in this process (a notebook's
``globals()``); ``RemoteHandle`` serves the sandboxed worker's namespace over the
wire protocol (see ``autograder.sandbox``). The same checks run on both.

``ns.call_many([(op, args), ...])`` performs many operations in one request, and
``evaluate_many(forward, inputs)`` uses it to evaluate a forward (a function of the
grader's that makes handle operations) on many inputs, such as the perturbed inputs of
a numeric gradient check, in one round trip instead of one per input.
"""

from __future__ import annotations

import contextvars

import numpy as np

from autograder.namespace import BATCHABLE_OPS, NamespaceError, NamespaceServer, Ref, StudentCodeError
from autograder.protocol import BatchReply, ProtocolError

__all__ = ["Handle", "LocalHandle", "RemoteHandle", "Ref", "StudentCodeError", "NamespaceError", "WorkerFailure",
           "OutOfTime", "evaluate_many"]

# The batch (``_Recorder`` or ``_Replay``) that a handle operation goes through while ``evaluate_many`` runs.
_PIPELINE: contextvars.ContextVar = contextvars.ContextVar("autograder_pipeline", default=None)


class WorkerFailure(Exception):
    """The sandboxed worker died, timed out or broke the protocol while serving a request."""


class OutOfTime(WorkerFailure):
    """A time budget ran out: ``what`` ("cell", "call", "item", "notebook", "submission", "start-up") and
    ``kind``:

    - ``"cpu"``: the worker used more CPU time than the budget (load on the machine does not count);
    - ``"idle"``: the worker used no CPU at all for ``seconds`` of wall-clock time (asleep or blocked);
    - ``"wall"``: the generous wall-clock backstop.
    """

    MESSAGES = {
        "cpu": "used more than {seconds:g} s of CPU time for this {what} (an infinite loop?)",
        "idle": "used no CPU for {seconds:g} s while running this {what} (sleeping, or waiting for something "
                "that never comes?)",
        "wall": "ran for more than {seconds:g} s of wall-clock time for this {what}",
    }

    def __init__(self, what: str, kind: str, seconds: float):
        super().__init__(self.MESSAGES[kind].format(what=what, seconds=seconds))
        self.what, self.kind, self.seconds = what, kind, seconds


class Handle:
    """The operations a check may perform on the student's namespace (see the module docstring).

    ``batches``: whether ``evaluate_many`` may send many operations in one ``call_many``; when False
    every operation is its own request (the path a batch must grade exactly like)."""

    batches = True

    def _op(self, op: str, *args):
        pipeline = _PIPELINE.get()
        if pipeline is not None:
            return pipeline.op(self, op, args)
        return self._serve(op, args)

    def _serve(self, op: str, args: tuple):
        """Have the student's side perform one operation (``LocalHandle``, ``RemoteHandle``)."""
        raise NotImplementedError

    def call_many(self, ops: list) -> BatchReply:
        """Perform ``ops`` (``[(op, args), ...]``, each as ``_op`` takes it) in order, in one request.

        The student's side runs each exactly as if it were its own request (argument copies, the
        in-place and warning watch, the call report) and stops at the first that raises: the reply
        holds one value per operation before it and that operation's error.
        """
        wire = [[op, list(args)] for op, args in ops]
        try:
            return BatchReply.from_wire(self._serve("call_many", (wire,)), len(wire))
        except ProtocolError as exc:
            raise WorkerFailure(f"the worker broke the protocol ({exc})") from None

    def has(self, name: str) -> bool:
        """Whether ``name`` is defined at the top level of the student's notebook."""
        return self._op("has", name) is True   # not bool(): a forged reply may hold an array

    def call(self, target, *args, **kwargs):
        """Call a top-level function (by name) or a returned callable (by ``Ref``)."""
        return self._op("call", target, args, kwargs)

    def new(self, class_name: str, *args, **kwargs) -> Ref:
        """Instantiate a student class; the instance stays with the student."""
        return self._op("new", class_name, args, kwargs)

    def method(self, ref, method_name: str, *args, **kwargs):
        """Call ``ref.method_name(*args, **kwargs)``."""
        return self._op("method", ref, method_name, args, kwargs)

    def get(self, target, attr: str = ""):
        """A top-level variable (``target`` a name) or an attribute path of an object (``"a.b"``)."""
        return self._op("get", target, attr)

    def set(self, ref, attr: str, value) -> None:
        """``setattr`` along an attribute path."""
        self._op("set", ref, attr, value)

    def setitem(self, ref, attr: str, key, value) -> None:
        """``getattr(ref, attr)[key] = value``, e.g. ``setitem(layer, "params", "W", W)``."""
        self._op("setitem", ref, attr, key, value)


class LocalHandle(Handle):
    """A handle onto a namespace dict in this process, e.g. ``LocalHandle(globals())``."""

    def __init__(self, namespace: dict):
        if not isinstance(namespace, dict):
            raise TypeError(f"LocalHandle: namespace must be a dict such as globals(), "
                            f"got {type(namespace).__name__}")
        self._server = NamespaceServer(namespace)

    def _serve(self, op: str, args: tuple):
        # The server copies arrays on the way in (resolve) and on the way out (export).
        return getattr(self._server, op)(*args)


class RemoteHandle(Handle):
    """A handle onto the worker's namespace; ``transport.request(op, args)`` does the round trip.

    ``batch=False`` sends every operation as its own request (see ``Handle.batches``)."""

    def __init__(self, transport, batch: bool = True):
        self._transport = transport
        self.batches = batch

    def _serve(self, op: str, args: tuple):
        return self._transport.request(op, list(args))


# -- many evaluations in one request ------------------------------------------------------------------
def evaluate_many(forward, inputs: list) -> list:
    """``[forward(x) for x in inputs]``, where ``forward`` makes handle operations, in few round trips.

    ``forward`` runs live for ``inputs[0]`` and ``inputs[1]`` while its operations are written
    down. When both runs made the same operations on one handle, differing only where the input
    itself is passed (by identity), the operations for every other input are built by putting that
    input in its place and sent in one ``call_many`` request. ``forward`` then runs for each of
    them as usual, and each operation it makes is answered from the reply, after checking that it
    is exactly the operation that was sent; anything else is served live. The student's side thus
    sees the same operations in the same order as ``[forward(x) for x in inputs]`` would make, and
    the grader keeps every input, and every use of the values, to itself.
    """
    if len(inputs) < 3 or _PIPELINE.get() is not None:
        return [forward(x) for x in inputs]
    first = _Recorder()
    out0 = first.run(forward, inputs[0])
    second = _Recorder()
    out1 = second.run(forward, inputs[1])
    if not first.replays_as(second, inputs[0], inputs[1]) or not first.handles[0].batches:
        return [out0, out1] + [forward(x) for x in inputs[2:]]
    ops = [(op, _swap(args, inputs[0], x)) for x in inputs[2:] for op, args in first.ops]
    handle = first.handles[0]
    replay = _Replay(handle, ops, handle.call_many(ops))
    token = _PIPELINE.set(replay)
    try:
        rest = [forward(x) for x in inputs[2:]]
    finally:
        _PIPELINE.reset(token)
    return [out0, out1] + rest


class _Recorder:
    """Serves a forward's operations live and writes them down."""

    def __init__(self):
        self.handles, self.ops, self.refs_made = [], [], set()

    def run(self, forward, x):
        token = _PIPELINE.set(self)
        try:
            return forward(x)
        finally:
            _PIPELINE.reset(token)

    def op(self, handle, op: str, args: tuple):
        value = handle._serve(op, args)
        self.handles.append(handle)
        self.ops.append((op, args))
        self.refs_made |= _refs(value)
        return value

    def replays_as(self, other: "_Recorder", x, y) -> bool:
        """Whether ``other`` (run on ``y``) made this run's operations with ``y`` in place of ``x``, on one
        handle, with ``x`` passed somewhere, and with no object made during the run passed back in."""
        if not self.ops or len(other.ops) != len(self.ops):
            return False
        if any(h is not self.handles[0] for h in self.handles + other.handles):
            return False
        if any(op not in BATCHABLE_OPS for op, _ in self.ops) or any(_refs(a) & self.refs_made for _, a in self.ops):
            return False
        if not any(_contains(args, x) for _, args in self.ops):
            return False
        return all(_same(mine, theirs) for mine, theirs in
                   zip([(op, _swap(args, x, y)) for op, args in self.ops], other.ops))


class _Replay:
    """Answers a forward's operations from a ``call_many`` reply while they are the ones that were sent."""

    def __init__(self, handle, ops: list, reply: BatchReply):
        self.handle, self.ops, self.reply = handle, ops, reply
        self.next = 0
        self.live = False   # once a forward leaves the plan, everything is served live

    def op(self, handle, op: str, args: tuple):
        i = self.next
        if not self.live and handle is self.handle and i < len(self.ops) and _same((op, args), self.ops[i]):
            self.next += 1
            if i < len(self.reply.values):
                return self.reply.values[i]
            if i == len(self.reply.values) and self.reply.error is not None:
                raise _error(self.reply.error)
        self.live = True
        return handle._serve(op, args)


def _error(error: dict) -> Exception:
    """The exception that a failed operation raises (as ``autograder.sandbox`` makes it for one request)."""
    if error["kind"] == "student":
        return StudentCodeError(error["where"], error["exc_type"], error["message"], error.get("bases", ""))
    return NamespaceError(error["message"])


def _swap(value, old, new):
    """``value`` with every occurrence of the object ``old`` (by identity) replaced by ``new``."""
    if value is old:
        return new
    kind = type(value)
    if kind is list or kind is tuple:
        return kind(_swap(v, old, new) for v in value)
    if kind is dict:
        return {k: _swap(v, old, new) for k, v in value.items()}
    return value


def _contains(value, target) -> bool:
    if value is target:
        return True
    if type(value) in (list, tuple):
        return any(_contains(v, target) for v in value)
    if type(value) is dict:
        return any(_contains(v, target) for v in value.values())
    return False


def _refs(value) -> set:
    if type(value) is Ref:
        return {value.id}
    if type(value) in (list, tuple):
        return set().union(*map(_refs, value)) if value else set()
    if type(value) is dict:
        return _refs(list(value.values()))
    return set()


def _same(a, b) -> bool:
    """Equal as handle arguments: the same types, arrays equal in dtype, shape and every value."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) is np.ndarray:
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if type(a) in (list, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (float, complex, np.inexact)) and a != a and b != b:
        return True   # NaN
    return bool(a == b)

