"""The object table behind every handle: runs operations on a student namespace.

A ``NamespaceServer`` executes the handle operations (``has``, ``call``, ``new``,
``method``, ``get``, ``set``, ``setitem``) against a namespace dict. It lives
where the student's objects live: in the kernel (behind ``LocalHandle``) or in
the sandboxed worker (behind ``RemoteHandle``). Every value it hands out is
*plain data* -- arrays of plain dtypes (always copies), exact Python scalars,
str, None, and lists/tuples/str-keyed dicts of those; any other object stays in
the table and is handed out as ``{"ref": id, "type": name}``.

The server also reports what the grader cannot see from outside (``CALL_REPORT``):
every ``call``, ``new`` and ``method`` compares the arguments the student's code
received with the values the grader sent, and records the ones changed in place
(``w -= lr * g``), together with the floating-point warnings NumPy raised during the
call (overflow, invalid value, divide by zero; underflow is not a mistake).
``get(CALL_REPORT)`` returns the records gathered since the previous such ``get``,
and starts afresh. It is an ordinary ``get`` of a name no notebook can define, so it
works the same behind both handles.

This module imports only numpy (and the standard library) so that the worker can load
it and then drop it from ``sys.modules`` (the worker must not leave grader modules
importable).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

PLAIN_KINDS = "biufc"          # bool, int, uint, float, complex: the only dtypes that cross
MAX_DEPTH = 32                 # deeper (or self-referencing) containers stay behind as refs
_EXACT_SCALARS = (bool, int, float, complex, str, type(None))
CALL_REPORT = "<call report>"  # get(CALL_REPORT): {"mutated": [...], "warnings": [...]} since the last get
MAX_RECORDS = 20               # per report, so that a loop of calls cannot flood the grader
BATCHABLE_OPS = ("has", "call", "new", "method", "get", "set", "setitem")   # what call_many may perform


class Ref:
    """An object that stays where the student's code lives, named by its id.

    ``type_name`` is the object's class name, for messages ("returned a list").
    """

    __slots__ = ("id", "type_name")

    def __init__(self, id: int, type_name: str):
        self.id = id
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<Ref #{self.id}: {self.type_name} object>"

    def __eq__(self, other) -> bool:
        return type(other) is Ref and other.id == self.id

    def __hash__(self) -> int:
        return hash(("Ref", self.id))


class StudentCodeError(Exception):
    """Student code raised while serving an operation.

    ``where`` names what was being called (``heaviside`` or ``Linear.forward``),
    ``exc_type``/``message`` describe the student's exception, and ``bases`` names the built-in exceptions it
    derives from, comma-separated (``"ValueError,Exception"`` for a ``class ShapeError(ValueError)``).
    """

    def __init__(self, where: str, exc_type: str, message: str, bases: str = ""):
        super().__init__(f"{where}: {exc_type}: {message}")
        self.where = where
        self.exc_type = exc_type
        self.message = message
        self.bases = bases

    def is_a(self, name: str) -> bool:
        """Whether the exception is a ``name`` (a built-in exception's name), as ``except name:`` would catch."""
        return name == self.exc_type or name in self.bases.split(",")

    @property
    def not_implemented(self) -> bool:
        return self.is_a("NotImplementedError")

    @property
    def report(self) -> str:
        """The line feedback gives for it: ``your code raised ValueError in `relu`: ...``."""
        return f"your code raised {self.exc_type} in `{self.where}`: {self.message}"


def _builtin_bases(cls) -> str:
    """The built-in exceptions ``cls`` derives from, itself left out: ``"ValueError,Exception,BaseException"``."""
    return ",".join(c.__name__ for c in cls.__mro__[1:] if c.__module__ == "builtins" and c is not object)


class NamespaceError(Exception):
    """The grader asked for something that does not exist (a missing name or ref)."""


def _is_plain_array(value) -> bool:
    return type(value) is np.ndarray and value.dtype.kind in PLAIN_KINDS and value.dtype.fields is None \
        and value.dtype.subdtype is None


def _is_numpy_scalar(value) -> bool:
    return isinstance(value, np.generic) and type(value) is np.dtype(type(value)).type \
        and np.dtype(type(value)).kind in PLAIN_KINDS


class NamespaceServer:
    """Serve handle operations on ``namespace`` (a dict such as a notebook's globals)."""

    def __init__(self, namespace: dict):
        if not isinstance(namespace, dict):
            raise TypeError(f"NamespaceServer: namespace must be a dict, got {type(namespace).__name__}")
        self.namespace = namespace
        self.objects: dict[int, object] = {}
        self._next_id = 1
        self._report: dict[str, list] = {"mutated": [], "warnings": []}

    # -- conversion -------------------------------------------------------------------------------
    def store(self, obj) -> Ref:
        ref_id = self._next_id
        self._next_id += 1
        self.objects[ref_id] = obj
        return Ref(ref_id, _type_name(obj))

    def export(self, value, depth: int = 0):
        """Plain-data copy of ``value``; anything else is stored and exported as a Ref."""
        kind = type(value)
        if kind in _EXACT_SCALARS:
            return value
        if _is_plain_array(value):
            return value.copy()
        if _is_numpy_scalar(value):
            return value  # immutable and of an exact numpy type
        if depth < MAX_DEPTH:
            if kind is list or kind is tuple:
                items = [self.export(v, depth + 1) for v in value]
                return items if kind is list else tuple(items)
            if kind is dict and all(type(k) is str for k in value):
                return {k: self.export(v, depth + 1) for k, v in value.items()}
        return self.store(value)

    def resolve(self, value, depth: int = 0):
        """The grader's argument as the student's code should see it (arrays copied, refs resolved)."""
        kind = type(value)
        if kind is Ref:
            if value.id not in self.objects:
                raise NamespaceError(f"unknown object ref #{value.id}")
            return self.objects[value.id]
        if kind is np.ndarray:
            return value.copy()
        if depth > MAX_DEPTH:
            raise NamespaceError("argument nested too deeply")
        if kind is list:
            return [self.resolve(v, depth + 1) for v in value]
        if kind is tuple:
            return tuple(self.resolve(v, depth + 1) for v in value)
        if kind is dict:
            return {k: self.resolve(v, depth + 1) for k, v in value.items()}
        return value

    # -- operations ------------------------------------------------------------------------------
    def lookup(self, target):
        """A top-level name (str) or a stored object (Ref)."""
        if type(target) is Ref:
            return self.resolve(target)
        if type(target) is not str:
            raise NamespaceError(f"expected a name or a ref, got {type(target).__name__}")
        if target not in self.namespace:
            raise NamespaceError(f"`{target}` is not defined in your notebook (did you run its cell?)")
        return self.namespace[target]

    def _where(self, target, attr: str = "") -> str:
        base = target if type(target) is str else self._objects_type(target)
        return f"{base}.{attr}" if attr else base

    def _objects_type(self, ref: Ref) -> str:
        obj = self.objects.get(ref.id)
        return type(obj).__name__ if obj is not None else ref.type_name

    def _run(self, where: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (NamespaceError, StudentCodeError):
            raise
        except Exception as exc:  # noqa: BLE001 - any student exception is reported, never re-raised raw
            raise StudentCodeError(where, type(exc).__name__, _safe_str(exc), _builtin_bases(type(exc))) from None
        except SystemExit as exc:
            raise StudentCodeError(where, "SystemExit", f"your code called sys.exit({exc.code!r})") from None

    def _invoke(self, where: str, fn, args, kwargs):
        """Run ``fn`` on copies of the grader's arguments; record changed arguments and FP warnings."""
        sent_args, sent_kwargs = tuple(args), dict(kwargs or {})
        given_args, given_kwargs = self.resolve(sent_args), self.resolve(sent_kwargs)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
                try:
                    return self._run(where, fn, *given_args, **given_kwargs)
                finally:
                    self._record(where, fn, sent_args, sent_kwargs, given_args, given_kwargs, caught)

    def _record(self, where, fn, sent_args, sent_kwargs, given_args, given_kwargs, caught) -> None:
        names = _parameter_names(fn, len(sent_args))
        changed = []
        for i, (sent, given) in enumerate(zip(sent_args, given_args)):
            changed += _changed(sent, given, names[i])
        for key, sent in sent_kwargs.items():
            changed += _changed(sent, given_kwargs[key], key)
        if changed and len(self._report["mutated"]) < MAX_RECORDS:
            self._report["mutated"].append({"where": where, "arguments": changed})
        for w in caught:
            if issubclass(w.category, RuntimeWarning) and len(self._report["warnings"]) < MAX_RECORDS:
                entry = {"where": where, "message": _safe_str(w.message)}
                if entry not in self._report["warnings"]:
                    self._report["warnings"].append(entry)

    def call_report(self) -> dict:
        """The argument changes and warnings recorded since the last report (then forgotten)."""
        report, self._report = self._report, {"mutated": [], "warnings": []}
        return report

    def call_many(self, ops, progress=None) -> dict:
        """Perform ``ops`` (``[[op, args], ...]``) in order, each exactly as its own request would, stopping at
        the first that raises: ``{"values": [one per operation before it], "error": its error or None}``.

        The error is the one a single request reports (``kind`` "student" or "namespace"); the grader
        checks the reply against the operations it sent (``autograder.protocol.BatchReply``).
        ``progress(k)``, if given, is called when k operations have ended and the next begins (in the
        worker it sends a progress frame: the grader gives each operation its own call budget).
        """
        if type(ops) is not list:
            raise NamespaceError(f"call_many: ops must be a list, got {type(ops).__name__}")
        values = []
        for ended, entry in enumerate(ops):
            if ended and progress is not None:
                progress(ended)
            if type(entry) is not list or len(entry) != 2 or entry[0] not in BATCHABLE_OPS \
                    or type(entry[1]) is not list:
                return {"values": values, "error": {"kind": "namespace",
                                                    "message": "call_many: an operation must be [op, args] "
                                                               f"with op one of {BATCHABLE_OPS}"}}
            try:
                values.append(getattr(self, entry[0])(*entry[1]))
            except StudentCodeError as exc:
                return {"values": values, "error": {"kind": "student", "where": exc.where,
                                                    "exc_type": exc.exc_type, "message": exc.message,
                                                    "bases": exc.bases}}
            except NamespaceError as exc:
                return {"values": values, "error": {"kind": "namespace", "message": str(exc)}}
        return {"values": values, "error": None}

    def has(self, name: str) -> bool:
        return type(name) is str and name in self.namespace

    def call(self, target, args=(), kwargs=None):
        fn = self.lookup(target)
        where = self._where(target)
        if not callable(fn):
            raise StudentCodeError(where, "TypeError", f"`{where}` is a {type(fn).__name__}, not a function")
        return self.export(self._invoke(where, fn, args, kwargs))

    def new(self, class_name, args=(), kwargs=None) -> Ref:
        cls = self.lookup(class_name)
        where = self._where(class_name)
        if not callable(cls):
            raise StudentCodeError(where, "TypeError", f"`{where}` is a {type(cls).__name__}, not a class")
        return self.store(self._invoke(where, cls, args, kwargs))

    def method(self, ref, name: str, args=(), kwargs=None):
        obj = self.lookup(ref)
        where = f"{type(obj).__name__}.{name}"
        bound = self._run(where, getattr, obj, name)
        return self.export(self._invoke(where, bound, args, kwargs))

    def _walk(self, target, attr: str):
        obj = self.lookup(target)
        for part in [p for p in attr.split(".") if p]:
            obj = self._run(self._where(target, attr), getattr, obj, part)
        return obj

    def get(self, target, attr: str = ""):
        if type(target) is str and target == CALL_REPORT and not attr:
            return self.export(self.call_report())
        return self.export(self._walk(target, attr))

    def set(self, ref, attr: str, value) -> None:
        head, _, last = attr.rpartition(".")
        obj = self._walk(ref, head)
        self._run(self._where(ref, attr), setattr, obj, last, self.resolve(value))

    def setitem(self, ref, attr: str, key, value) -> None:
        container = self._walk(ref, attr)
        self._run(self._where(ref, attr), container.__setitem__, self.resolve(key), self.resolve(value))


def _parameter_names(fn, count: int) -> list[str]:
    """Names for the first ``count`` positional arguments of ``fn`` ("argument 3" where unknown)."""
    names = [f"argument {i + 1}" for i in range(count)]
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except Exception:  # noqa: BLE001 - builtins and odd callables have no signature; numbers will do
        return names
    for i, p in enumerate(params[:count]):
        names[i] = p.name
    return names


def _changed(sent, given, label: str, depth: int = 0) -> list[str]:
    """Labels of the arrays (or containers) in ``given`` that differ from ``sent``, the grader's original."""
    if type(sent) is np.ndarray:
        same = type(given) is np.ndarray and given.shape == sent.shape and given.dtype == sent.dtype
        if same and sent.dtype.kind in "fc":
            # an entry nudged and restored by subtraction may come back 1 ulp off: that is no change
            same = bool(np.allclose(given, sent, rtol=1e-12, atol=0.0, equal_nan=True))
        elif same:
            same = bool(np.array_equal(given, sent))
        return [] if same else [label]
    if depth > MAX_DEPTH or type(sent) not in (list, tuple, dict):
        return []   # refs are the student's own objects; scalars are immutable
    if type(sent) in (list, tuple):
        if type(given) is not type(sent) or len(given) != len(sent):
            return [label]
        pairs = [(f"{label}[{i}]", a, b) for i, (a, b) in enumerate(zip(sent, given))]
    else:
        if type(given) is not dict or given.keys() != sent.keys():
            return [label]
        pairs = [(f"{label}[{k!r}]", sent[k], given[k]) for k in sent]
    out = []
    for sub_label, a, b in pairs:
        out += _changed(a, b, sub_label, depth + 1)
    return out


def _type_name(obj) -> str:
    if type(obj) is np.ndarray:
        return f"ndarray[{obj.dtype}]"
    return type(obj).__name__


def _safe_str(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a student exception whose __str__ raises
        text = "<unprintable message>"
    return text if len(text) <= 500 else text[:500] + "..."
