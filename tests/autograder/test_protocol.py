import json
import struct

import numpy as np
import pytest

from autograder import protocol
from autograder.namespace import Ref


def roundtrip(value):
    frame = protocol.encode(value)
    header_len, body_len = struct.unpack(">IQ", frame[:12])
    return protocol.decode(frame[12:12 + header_len], frame[12 + header_len:])


def test_roundtrip_plain_data_keeps_dtype_shape_and_types():
    value = {"a": np.arange(6, dtype=np.int32).reshape(2, 3), "b": (1, 2.5, "s", None, True),
             "c": [np.float32(1.5), np.array(2 + 3j)], "d": complex(1, -1), "e": Ref(7, "Linear"),
             "f": np.zeros((0, 3)), "g": np.array([True, False]), "nan": float("nan")}
    out = roundtrip(value)
    assert out["a"].dtype == np.int32 and out["a"].shape == (2, 3) and np.array_equal(out["a"], value["a"])
    assert out["b"] == (1, 2.5, "s", None, True) and type(out["b"]) is tuple
    assert type(out["c"][0]) is np.float32 and out["c"][1].shape == () and out["d"] == complex(1, -1)
    assert out["e"] == Ref(7, "Linear") and out["f"].shape == (0, 3) and out["g"].dtype == bool
    assert np.isnan(out["nan"])


def test_decoded_arrays_are_writable_copies():
    out = roundtrip(np.arange(3.0))
    out[0] = 5.0
    assert out.flags.writeable


@pytest.mark.parametrize("value", [np.array([object()], dtype=object), np.zeros(2, dtype=[("x", "f8")]),
                                   {1: 2}, b"bytes", object()])
def test_encode_refuses_non_plain_values(value):
    with pytest.raises(protocol.ProtocolError):
        protocol.encode(value)


def _frame(header: dict, body: bytes = b"") -> tuple[bytes, bytes]:
    return json.dumps(header).encode(), body


@pytest.mark.parametrize("header, body", [
    ({"value": {"__nd__": 0}, "buffers": [{"dtype": "|O", "shape": [1]}]}, b"\0" * 8),
    ({"value": {"__nd__": 0}, "buffers": [{"dtype": "<f8", "shape": [10 ** 12]}]}, b""),
    ({"value": {"__nd__": 0}, "buffers": [{"dtype": "<f8", "shape": [-1]}]}, b""),
    ({"value": {"__nd__": 0}, "buffers": [{"dtype": "<f8", "shape": [1]}]}, b"\0" * 9),
    ({"value": {"__nd__": 3}, "buffers": []}, b""),
    ({"value": {"__pickle__": "x"}, "buffers": []}, b""),
    ({"value": {"__nd__": 0}, "buffers": [{"dtype": "V8", "shape": [1]}]}, b"\0" * 8),
])
def test_decode_rejects_hostile_headers(header, body):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(*_frame(header, body))


def test_decode_rejects_garbage_and_deep_nesting():
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(b"\xff\xfe", b"")
    deep = b'{"value": ' + b"[" * 100000 + b"]" * 100000 + b', "buffers": []}'
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(deep, b"")


def test_receive_enforces_size_limit_and_timeout():
    import os
    r, w = os.pipe()
    try:
        protocol.send(w, np.zeros(1000))
        with pytest.raises(protocol.ProtocolError, match="exceeds the limit"):
            protocol.receive(r, max_bytes=100)
        os.read(r, 1 << 20)   # the rest of the refused message
        with pytest.raises(protocol.Timeout):
            protocol.receive(r, timeout=0.05)
    finally:
        os.close(r)
        os.close(w)


def test_a_batch_reply_must_answer_exactly_the_operations_sent():
    from autograder.protocol import BatchReply
    error = {"kind": "student", "where": "f", "exc_type": "ValueError", "message": "no",
             "bases": "Exception,BaseException"}
    assert BatchReply.from_wire({"values": [1, 2], "error": None}, 2) == BatchReply([1, 2], None)
    assert BatchReply.from_wire({"values": [1], "error": error}, 3).error == error
    assert BatchReply.from_wire({"values": [], "error": {"kind": "namespace", "message": "m"}}, 1).values == []
    bad = [({"values": [1], "error": None}, 2), ({"values": [1, 2, 3], "error": None}, 2),
           ({"values": [1, 2], "error": error}, 2), ({"values": (1, 2), "error": None}, 2),
           ([1, 2], 2), ({"values": [], "error": {**error, "extra": "x"}}, 1),
           ({"values": [], "error": {"kind": "student", "where": 3, "exc_type": "E", "message": "m", "bases": ""}}, 1),
           ({"values": [], "error": {"kind": "protocol", "message": "m"}}, 1)]
    for message, count in bad:
        with pytest.raises(protocol.ProtocolError, match="call_many reply"):
            BatchReply.from_wire(message, count)


def test_a_progress_frame_is_exactly_a_sequence_number_and_a_count():
    from autograder.protocol import Progress
    frame = roundtrip(Progress(4, 2).to_wire())
    assert Progress.from_wire(frame) == Progress(4, 2)
    assert Progress.from_wire({"ok": True, "seq": 4, "value": None}) is None        # a reply, not a frame
    for bad in ({"seq": 4, "progress": 0}, {"seq": 4, "progress": True}, {"seq": 4, "progress": 2.0},
                {"seq": "4", "progress": 2}, {"progress": 2}, {"seq": 4, "progress": 2, "cpu": 0.1}):
        with pytest.raises(protocol.ProtocolError, match="progress frame"):
            Progress.from_wire(bad)


def test_a_batch_reply_says_how_many_operations_ended_before_the_last():
    from autograder.protocol import BatchReply
    error = {"kind": "student", "where": "f", "exc_type": "ValueError", "message": "no"}
    assert BatchReply.ended_before_last({"values": [1, 2, 3], "error": None}) == 2   # the 1st and the 2nd
    assert BatchReply.ended_before_last({"values": [1, 2], "error": error}) == 2    # the 3rd began, then raised
    assert BatchReply.ended_before_last({"values": [], "error": error}) == 0
    assert BatchReply.ended_before_last([1, 2]) is None and BatchReply.ended_before_last({"values": (1,)}) is None
