"""The wire format between the trusted grader and the sandboxed worker. Never pickle.

A message is a frame::

    uint32 header_len | uint64 body_len | header (UTF-8 JSON) | body (raw array bytes)

The header is a JSON tree in which the special one-key objects stand for what
JSON cannot carry: ``{"__nd__": i}`` is the i-th array of ``"buffers"`` (dtype
string, shape), whose bytes are the i-th slice of the body; ``"scalar": true``
marks a numpy scalar; ``{"__ref__": id, "type": name}`` an object left in the
worker; ``{"__tuple__": [...]}``, ``{"__dict__": {...}}`` and
``{"__complex__": [re, im]}`` the matching Python values.

Only plain dtypes cross (bool, int, uint, float, complex; no object, structured,
sub-array or byte-string dtypes); anything else is rejected on decode. The
decoder is written for hostile input: every size, dtype and shape is validated
before any allocation.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import struct
import time
from dataclasses import dataclass, field

import numpy as np

from autograder.namespace import Ref

_FRAME = struct.Struct(">IQ")
MAX_HEADER = 16 * 1024 * 1024
PLAIN_KINDS = "biufc"


class ProtocolError(Exception):
    """A malformed, oversized or truncated message, or a closed channel."""


class Timeout(Exception):
    """No complete message arrived before the deadline."""


@dataclass
class WorkerConfig:
    """Everything the worker is told at start-up: the one structure that crosses the process boundary.

    Paths are as the worker sees them (inside its namespaces, or host paths without them).
    """

    sys_path: list = field(default_factory=list)       # prepended to sys.path: the nnkit view, allowed packages
    drop_paths: list = field(default_factory=list)     # removed from sys.path once the worker is running
    blocked_modules: list = field(default_factory=list)
    recorded_modules: list = field(default_factory=list)
    denied_inodes: list = field(default_factory=list)  # [device, inode] the audit hook refuses (second layer)
    denied_trees: list = field(default_factory=list)   # [device, inode] of folders refused with their subtree
    workdir: str = ""
    mpl_cache: str = ""                                # matplotlib's prebuilt font cache, copied at start
    memory_bytes: int = 2 * 1024 ** 3
    file_bytes: int = 64 * 1024 ** 2
    nproc: int = 0
    cpu_total_seconds: int = 1800
    output_chars: int = 20_000

    def to_wire(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, message) -> "WorkerConfig":
        """The config in ``message``; ``ProtocolError`` for missing, unknown or mistyped fields."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if type(message) is not dict or set(message) != set(fields):
            raise ProtocolError("worker config: wrong set of fields")
        for name, value in message.items():
            expected = {"list": list, "str": str, "int": int}[fields[name].type]
            if type(value) is not expected:
                raise ProtocolError(f"worker config: {name} must be {fields[name].type}")
        return cls(**message)


@dataclass
class Progress:
    """A progress frame of ``call_many``: ``{"seq": seq, "progress": k}``, sent by the worker before the reply
    when k operations have ended and the next begins. The grader times each operation from the frame
    before it (``autograder.budget``); the frame carries no time, only the count.
    """

    seq: int
    ended: int

    def to_wire(self) -> dict:
        return {"seq": self.seq, "progress": self.ended}

    @classmethod
    def from_wire(cls, message) -> "Progress | None":
        """The frame in ``message``; None when it is no progress frame; ``ProtocolError`` when it is a
        malformed one."""
        if type(message) is not dict or "progress" not in message:
            return None
        if set(message) != {"seq", "progress"} or type(message["seq"]) is not int \
                or type(message["progress"]) is not int or message["progress"] < 1:
            raise ProtocolError("progress frame: expected {seq: int, progress: int >= 1}")
        return cls(message["seq"], message["progress"])


@dataclass
class BatchReply:
    """The reply to ``call_many`` (``NamespaceServer.call_many``), checked against the request it answers.

    ``values`` holds one result per operation, in order, up to the first that raised; ``error`` is that
    operation's error (``{"kind": "student", "where", "exc_type", "message", "bases"}`` or ``{"kind": "namespace",
    "message"}``), or None when every operation ran.
    """

    values: list
    error: dict | None

    @classmethod
    def from_wire(cls, message, count: int) -> "BatchReply":
        """The reply in ``message`` to ``count`` operations; ``ProtocolError`` for any other shape."""
        if type(message) is not dict or set(message) != {"values", "error"} or type(message["values"]) is not list:
            raise ProtocolError("call_many reply: expected {values: [...], error: ...}")
        done, error = len(message["values"]), message["error"]
        if (error is None and done != count) or (error is not None and done >= count):
            raise ProtocolError(f"call_many reply: {done} results{'' if error is None else ' and an error'} "
                                f"for {count} operations")
        if error is not None:
            keys = {"student": {"kind", "where", "exc_type", "message", "bases"}, "namespace": {"kind", "message"}}
            if type(error) is not dict or keys.get(error.get("kind")) != set(error) \
                    or not all(type(v) is str for v in error.values()):
                raise ProtocolError("call_many reply: malformed error")
        return cls(message["values"], error)

    @staticmethod
    def ended_before_last(message) -> int | None:
        """How many operations ended with another after them, by the reply ``message``: the most a progress
        frame may have claimed. None for a malformed reply (``from_wire`` says what is wrong with it)."""
        if type(message) is not dict or type(message.get("values")) is not list:
            return None
        return max(0, len(message["values"]) - (message.get("error") is None))


# -- encoding ----------------------------------------------------------------------------------
def encode(value) -> bytes:
    """One frame holding ``value`` (plain data, arrays, numpy scalars, Refs)."""
    buffers: list[dict] = []
    chunks: list[bytes] = []

    def walk(v, depth=0):
        if depth > 64:
            raise ProtocolError("encode: value nested too deeply")
        kind = type(v)
        if v is None or kind in (bool, int, float, str):
            return v
        if kind is complex:
            return {"__complex__": [v.real, v.imag]}
        if kind is np.ndarray or isinstance(v, np.generic):
            arr = np.asarray(v)
            if not arr.flags.c_contiguous:
                arr = arr.copy(order="C")
            if arr.dtype.kind not in PLAIN_KINDS or arr.dtype.fields is not None:
                raise ProtocolError(f"encode: dtype {arr.dtype} cannot cross the protocol")
            buffers.append({"dtype": arr.dtype.str, "shape": list(arr.shape)})
            chunks.append(arr.tobytes())
            node = {"__nd__": len(buffers) - 1}
            if kind is not np.ndarray:
                node["scalar"] = True
            return node
        if kind is Ref:
            return {"__ref__": v.id, "type": v.type_name}
        if kind is list:
            return [walk(x, depth + 1) for x in v]
        if kind is tuple:
            return {"__tuple__": [walk(x, depth + 1) for x in v]}
        if kind is dict:
            if not all(type(k) is str for k in v):
                raise ProtocolError("encode: dict keys must be str")
            return {"__dict__": {k: walk(x, depth + 1) for k, x in v.items()}}
        raise ProtocolError(f"encode: {kind.__name__} cannot cross the protocol")

    tree = walk(value)
    header = json.dumps({"value": tree, "buffers": buffers}, separators=(",", ":")).encode("utf-8")
    body = b"".join(chunks)
    return _FRAME.pack(len(header), len(body)) + header + body


# -- decoding ----------------------------------------------------------------------------------
def _array_from(spec, body: memoryview, offset: int):
    if type(spec) is not dict or type(spec.get("dtype")) is not str or type(spec.get("shape")) is not list:
        raise ProtocolError("decode: malformed buffer description")
    try:
        dtype = np.dtype(spec["dtype"])
    except TypeError as exc:
        raise ProtocolError(f"decode: unknown dtype {spec['dtype']!r}") from exc
    if dtype.kind not in PLAIN_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ProtocolError(f"decode: dtype {dtype} is not allowed")
    shape = spec["shape"]
    if len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
        raise ProtocolError(f"decode: bad shape {shape!r}")
    count = 1
    for n in shape:
        count *= n
    nbytes = count * dtype.itemsize
    if offset + nbytes > len(body):
        raise ProtocolError("decode: buffer runs past the end of the message")
    try:   # a shape of 0 entries can still name a dimension NumPy refuses ([2**63, 0])
        arr = np.frombuffer(body[offset:offset + nbytes], dtype=dtype).reshape(shape).copy()
    except ValueError as exc:
        raise ProtocolError(f"decode: bad shape {shape!r} ({exc})") from None
    return arr, offset + nbytes


def decode(header: bytes, body: bytes):
    """The value carried by one frame's header and body."""
    try:
        doc = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"decode: header is not valid JSON ({type(exc).__name__})") from None
    if type(doc) is not dict or type(doc.get("buffers")) is not list or "value" not in doc:
        raise ProtocolError("decode: header lacks value/buffers")
    view = memoryview(body)
    arrays, offset = [], 0
    for spec in doc["buffers"]:
        arr, offset = _array_from(spec, view, offset)
        arrays.append(arr)
    if offset != len(body):
        raise ProtocolError("decode: message body has trailing bytes")

    def walk(node, depth=0):
        if depth > 64:
            raise ProtocolError("decode: value nested too deeply")
        kind = type(node)
        if node is None or kind in (bool, int, float, str):
            return node
        if kind is list:
            return [walk(x, depth + 1) for x in node]
        if kind is not dict or len(node) == 0:
            raise ProtocolError("decode: unexpected JSON node")
        if "__nd__" in node:
            i = node["__nd__"]
            if type(i) is not int or not 0 <= i < len(arrays):
                raise ProtocolError("decode: bad array index")
            return arrays[i][()] if node.get("scalar") is True else arrays[i]
        if "__ref__" in node:
            if type(node["__ref__"]) is not int or type(node.get("type")) is not str:
                raise ProtocolError("decode: bad ref")
            return Ref(node["__ref__"], node["type"][:200])
        if "__tuple__" in node and type(node["__tuple__"]) is list:
            return tuple(walk(x, depth + 1) for x in node["__tuple__"])
        if "__dict__" in node and type(node["__dict__"]) is dict:
            return {k: walk(x, depth + 1) for k, x in node["__dict__"].items()}
        if "__complex__" in node:
            re_im = node["__complex__"]
            if type(re_im) is not list or len(re_im) != 2 or not all(type(x) in (int, float) for x in re_im):
                raise ProtocolError("decode: bad complex")
            return complex(re_im[0], re_im[1])
        raise ProtocolError("decode: unknown JSON object")

    return walk(doc["value"])


# -- file descriptors --------------------------------------------------------------------------
def send(fd: int, value) -> None:
    """Write one message to ``fd`` (blocking)."""
    data = memoryview(encode(value))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes:
    parts, remaining = [], n
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise Timeout()
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise ProtocolError("the channel was closed")
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def receive(fd: int, *, max_bytes: int = 1 << 30, timeout: float | None = None):
    """Read one message from ``fd``; ``Timeout`` after ``timeout`` seconds, ``ProtocolError`` if bad."""
    deadline = None if timeout is None else time.monotonic() + timeout
    header_len, body_len = _FRAME.unpack(_read_exactly(fd, _FRAME.size, deadline))
    if header_len > MAX_HEADER or header_len + body_len > max_bytes:
        raise ProtocolError(f"message of {header_len + body_len} bytes exceeds the limit of {max_bytes}")
    header = _read_exactly(fd, header_len, deadline)
    body = _read_exactly(fd, body_len, deadline)
    return decode(header, body)
