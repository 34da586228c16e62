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
"""

from __future__ import annotations

from autograder.namespace import NamespaceError, NamespaceServer, Ref, StudentCodeError

__all__ = ["Handle", "LocalHandle", "RemoteHandle", "Ref", "StudentCodeError", "NamespaceError", "WorkerFailure",
           "OutOfTime"]


class WorkerFailure(Exception):
    """The sandboxed worker died, timed out or broke the protocol while serving a request."""


class OutOfTime(WorkerFailure):
    """A time budget ran out: ``what`` ("cell", "call", "item", "start-up") and ``kind``:

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
    """The operations a check may perform on the student's namespace (see the module docstring)."""

    def _op(self, op: str, *args):
        raise NotImplementedError

    def has(self, name: str) -> bool:
        """Whether ``name`` is defined at the top level of the student's notebook."""
        return bool(self._op("has", name))

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

    def _op(self, op: str, *args):
        # The server copies arrays on the way in (resolve) and on the way out (export).
        return getattr(self._server, op)(*args)


class RemoteHandle(Handle):
    """A handle onto the worker's namespace; ``transport.request(op, args)`` does the round trip."""

    def __init__(self, transport):
        self._transport = transport

    def _op(self, op: str, *args):
        return self._transport.request(op, list(args))


def evaluate_many(forward, inputs: list) -> list:
    """``[forward(x) for x in inputs]``."""
    return [forward(x) for x in inputs]
