import warnings

import numpy as np
import pytest

from autograder.handle import LocalHandle, NamespaceError, Ref, StudentCodeError


class Box:
    def __init__(self, n):
        self.params = {"W": np.zeros((2, n))}
        self.scale = 1.0

    def forward(self, x):
        return x * self.scale

    def view_of(self, x):
        return x


def namespace():
    def double(z):
        return 2 * z

    def mutate(z):
        z[...] = 0
        return z

    def stub(z):
        raise NotImplementedError

    def liar(z):
        class Liar(float):
            def __eq__(self, other):
                return True
        return Liar(1.0)

    def exits(z):
        import sys
        sys.exit(3)

    return {"double": double, "mutate": mutate, "stub": stub, "liar": liar, "Box": Box, "exits": exits,
            "obj_array": np.array([object()], dtype=object), "value": 3}


def test_call_returns_copy_and_never_mutates_grader_arrays():
    ns = LocalHandle(namespace())
    z = np.arange(4.0)
    out = ns.call("mutate", z)
    np.testing.assert_array_equal(z, np.arange(4.0))
    np.testing.assert_array_equal(out, np.zeros(4))


def test_returned_view_of_stored_object_is_a_copy():
    ns = LocalHandle(namespace())
    box = ns.new("Box", 3)
    params = ns.get(box, "params")
    params["W"][...] = 7.0
    assert np.all(ns.get(box, "params")["W"] == 0.0)


def test_non_plain_objects_come_back_as_refs():
    ns = LocalHandle(namespace())
    box = ns.new("Box", 3)
    assert isinstance(box, Ref) and box.type_name == "Box"
    assert isinstance(ns.call("liar", 1.0), Ref)          # float subclass with a lying __eq__
    assert isinstance(ns.get("obj_array"), Ref)           # object dtype never crosses
    assert ns.get("value") == 3


def test_method_set_and_setitem_round_trip():
    ns = LocalHandle(namespace())
    box = ns.new("Box", 2)
    ns.set(box, "scale", 3.0)
    np.testing.assert_array_equal(ns.method(box, "forward", np.ones(2)), 3 * np.ones(2))
    W = np.full((2, 2), 5.0)
    ns.setitem(box, "params", "W", W)
    W[...] = -1.0                                          # the student's copy must not change
    np.testing.assert_array_equal(ns.get(box, "params")["W"], np.full((2, 2), 5.0))


def test_student_exceptions_become_student_code_errors():
    ns = LocalHandle(namespace())
    with pytest.raises(StudentCodeError) as info:
        ns.call("stub", 1.0)
    assert info.value.not_implemented and info.value.where == "stub"
    with pytest.raises(StudentCodeError, match="sys.exit"):
        ns.call("exits", 1.0)
    with pytest.raises(StudentCodeError, match="AttributeError"):
        ns.method(ns.new("Box", 1), "nope")


def test_missing_name_is_a_namespace_error_naming_it():
    ns = LocalHandle(namespace())
    assert not ns.has("heaviside")
    with pytest.raises(NamespaceError, match="`heaviside` is not defined"):
        ns.call("heaviside", 1.0)


def test_local_handle_rejects_non_dict():
    with pytest.raises(TypeError, match="LocalHandle: namespace must be a dict"):
        LocalHandle([1, 2])


# -- the call report: arguments changed in place, floating-point warnings ------------------------------------
def _reporting_namespace():
    def sgd_step(w, g, lr):
        w -= lr * g            # the classic mistake: the caller's w changes too
        return w

    def pure_step(w, g, lr):
        return w - lr * g

    def nudge_and_restore(x):
        x[0] += 1e-6           # restored by subtraction: 1 ulp off at most, no change
        x[0] -= 1e-6
        return x.sum()

    def update_dict(params, grads):
        params["W"] -= grads["W"]
        return params

    def append_to(items):
        items.append(0)
        return len(items)

    def naive_sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def tiny(z):
        return np.exp(-z)      # underflow only: not a mistake

    class Layer:
        def forward(self, x, scale=1.0):
            x *= scale
            return x

    return {k: v for k, v in locals().items()}


def test_call_report_names_arguments_changed_in_place():
    from autograder.namespace import CALL_REPORT
    ns = LocalHandle(_reporting_namespace())
    w, g = np.ones(3), np.full(3, 0.5)
    np.testing.assert_array_equal(ns.call("sgd_step", w, g, 0.1), np.full(3, 0.95))
    np.testing.assert_array_equal(w, np.ones(3))           # the grader's array is never touched
    ns.call("pure_step", w, g, lr=0.1)
    ns.call("update_dict", {"W": np.ones(2), "b": np.zeros(2)}, {"W": np.ones(2), "b": np.zeros(2)})
    ns.call("append_to", [np.ones(1)])
    layer = ns.new("Layer")
    ns.method(layer, "forward", np.ones(2), scale=3.0)
    ns.call("nudge_and_restore", np.array([0.1, 0.2]))
    report = ns.get(CALL_REPORT)
    assert report["mutated"] == [{"where": "sgd_step", "arguments": ["w"]},
                                 {"where": "update_dict", "arguments": ["params['W']"]},
                                 {"where": "append_to", "arguments": ["items"]},
                                 {"where": "Layer.forward", "arguments": ["x"]}]
    assert report["warnings"] == []
    assert ns.get(CALL_REPORT) == {"mutated": [], "warnings": []}   # a report is given once


def test_call_report_records_floating_point_warnings_but_not_underflow():
    from autograder.namespace import CALL_REPORT
    ns = LocalHandle(_reporting_namespace())
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # nothing may escape to the caller either
        ns.call("tiny", np.array([1000.0]))
        out = ns.call("naive_sigmoid", np.array([-1000.0, 0.0]))
    np.testing.assert_array_equal(out, [0.0, 0.5])
    report = ns.get(CALL_REPORT)
    assert report["warnings"] == [{"where": "naive_sigmoid", "message": "overflow encountered in exp"}]


def test_call_report_is_kept_when_the_call_raises():
    from autograder.namespace import CALL_REPORT

    def breaks(x):
        x[0] = 5.0
        raise ValueError("after the damage")
    ns = LocalHandle({"breaks": breaks})
    with pytest.raises(StudentCodeError):
        ns.call("breaks", np.zeros(2))
    assert ns.get(CALL_REPORT)["mutated"] == [{"where": "breaks", "arguments": ["x"]}]


def test_a_notebook_cannot_define_the_report_name():
    from autograder.namespace import CALL_REPORT
    ns = LocalHandle({CALL_REPORT: {"mutated": [], "warnings": []}, "f": lambda x: x.fill(1.0)})
    ns.call("f", np.zeros(2))
    assert ns.get(CALL_REPORT)["mutated"] == [{"where": "f", "arguments": ["x"]}]


# -- many evaluations in one request (evaluate_many, call_many) -----------------------------------------------
class CountingHandle(LocalHandle):
    """A LocalHandle that writes down every request it serves (a RemoteHandle makes one round trip each)."""

    def __init__(self, namespace):
        super().__init__(namespace)
        self.requests = []

    def _serve(self, op, args):
        self.requests.append(op)
        return super()._serve(op, args)


def _logging_namespace(log):
    def square(z):
        log.append(("square", z.copy()))
        if np.any(z > 10):
            raise ValueError("too big")
        return z ** 2

    def overflow(z):
        z *= 1.0                # an in-place write that changes nothing
        z[0] += 1.0             # ... and one that does
        return np.exp(z * 1000)

    class Scaled:
        def __init__(self):
            self.params = {"W": np.ones((2, 2))}

        def forward(self, x):
            log.append(("forward", self.params["W"].copy()))
            return x @ self.params["W"]

    return {"square": square, "overflow": overflow, "Scaled": Scaled}


def _inputs(n, start=0.0):
    return [np.array([start + i, -(start + i)]) for i in range(n)]


def _both_ways(forward_of, inputs, namespace_of=_logging_namespace):
    """(outputs, student log, requests, call report) of evaluate_many and of a plain loop, on fresh namespaces."""
    from autograder.handle import evaluate_many
    from autograder.namespace import CALL_REPORT
    runs = []
    for batched in (True, False):
        log = []
        ns = CountingHandle(namespace_of(log))
        forward = forward_of(ns)
        try:
            outs = evaluate_many(forward, inputs) if batched else [forward(x) for x in inputs]
        except StudentCodeError as exc:
            outs = ("raised", str(exc))
        runs.append((outs, log, list(ns.requests), ns.get(CALL_REPORT)))
    return runs


def _assert_same_student_side(batched, looped):
    assert len(batched[1]) == len(looped[1])
    for (name_a, a), (name_b, b) in zip(batched[1], looped[1]):
        assert name_a == name_b
        np.testing.assert_array_equal(a, b)
    assert batched[3] == looped[3]


def test_evaluate_many_sends_the_rest_in_one_request_and_gives_what_a_loop_gives():
    inputs = _inputs(9)
    batched, looped = _both_ways(lambda ns: (lambda v: ns.call("square", v)), inputs)
    assert batched[2] == ["call", "call", "call_many"] and looped[2] == ["call"] * 9
    for a, b in zip(batched[0], looped[0]):
        np.testing.assert_array_equal(a, b)
    _assert_same_student_side(batched, looped)


def test_a_forward_of_several_operations_is_batched_as_a_sequence():
    def forward_of(ns):
        layer, x = ns.new("Scaled"), np.eye(2)

        def forward(W):
            ns.setitem(layer, "params", "W", W)
            return ns.method(layer, "forward", x)
        return forward
    inputs = [np.full((2, 2), float(i)) for i in range(6)]
    batched, looped = _both_ways(forward_of, inputs)
    assert batched[2] == ["new", "setitem", "method", "setitem", "method", "call_many"]
    for a, b in zip(batched[0], looped[0]):
        np.testing.assert_array_equal(a, b)
    _assert_same_student_side(batched, looped)


def test_an_error_stops_the_batch_where_the_loop_stops():
    inputs = _inputs(3) + [np.array([11.0, 0.0])] + _inputs(3)
    batched, looped = _both_ways(lambda ns: (lambda v: ns.call("square", v)), inputs)
    assert batched[0] == looped[0] == ("raised", "square: ValueError: too big")
    assert batched[2] == ["call", "call", "call_many"]
    _assert_same_student_side(batched, looped)     # nothing after the error reached the student's code


def test_the_in_place_and_warning_watch_sees_every_batched_call():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batched, looped = _both_ways(lambda ns: (lambda v: ns.call("overflow", v)), _inputs(5, start=1.0))
    assert batched[2][-1] == "call_many"
    assert batched[3]["mutated"] and batched[3]["warnings"]
    assert batched[3] == looped[3]


@pytest.mark.parametrize("forward_of", [
    lambda ns: (lambda v: ns.call("square", v.copy())),                       # the input is not passed itself
    lambda ns: (lambda v: ns.call("square", v) + ns.call("square", v.T)),     # ... only in one of two calls
    lambda ns: (lambda v: ns.method(ns.new("Scaled"), "forward", v)),          # an object made in the forward
])
def test_a_forward_that_cannot_be_replayed_runs_as_a_loop(forward_of):
    batched, looped = _both_ways(forward_of, _inputs(5))
    assert "call_many" not in batched[2] and batched[2] == looped[2]
    for a, b in zip(batched[0], looped[0]):
        np.testing.assert_array_equal(a, b)


def test_a_forward_that_leaves_the_plan_is_served_live_from_there():
    calls = []

    def forward_of(ns):
        def forward(v):
            calls.append(1)
            out = ns.call("square", v)
            if len(calls) == 4:                                   # the fourth run takes another route
                out = out + ns.call("square", np.zeros(2))
            return out
        return forward
    batched, looped = _both_ways(forward_of, _inputs(6))
    # runs 1-2 live, then one batch for runs 3-6; run 4's extra call is served live, and so is all after it
    assert batched[2] == ["call", "call", "call_many", "call", "call", "call"]
    for a, b in zip(batched[0], looped[0]):
        np.testing.assert_array_equal(a, b)


# -- a reply to call_many that does not answer the request fails cleanly --------------------------------------
class TamperingTransport:
    """Serves requests from a NamespaceServer like the worker does, but rewrites the reply to call_many."""

    def __init__(self, namespace, tamper):
        from autograder.namespace import NamespaceServer
        self.server, self.tamper = NamespaceServer(namespace), tamper

    def request(self, op, args):
        value = getattr(self.server, op)(*args)
        return self.tamper(value, args) if op == "call_many" else value


@pytest.mark.parametrize("tamper", [
    lambda reply, args: {"values": reply["values"][:-1], "error": None},                  # one result short
    lambda reply, args: {"values": reply["values"] * 2, "error": None},                   # too many
    lambda reply, args: reply["values"][0],                                                # a single call's reply
    lambda reply, args: {"values": reply["values"], "error": None, "extra": 1},
    lambda reply, args: {"values": reply["values"], "error": {"kind": "student", "where": "f", "exc_type": "E",
                                                              "message": "m"}},           # an error after all ran
    lambda reply, args: {"values": [], "error": {"kind": "protocol", "message": "m"}},   # not a call's error
    lambda reply, args: {"values": tuple(reply["values"]), "error": None},
], ids=["short", "long", "not-a-batch", "extra-key", "error-after-all", "wrong-error-kind", "tuple"])
def test_a_reply_that_does_not_answer_the_batch_is_a_worker_failure(tamper):
    from autograder.handle import RemoteHandle, WorkerFailure, evaluate_many
    ns = RemoteHandle(TamperingTransport(_logging_namespace([]), tamper))
    with pytest.raises(WorkerFailure, match="broke the protocol .*call_many reply"):
        evaluate_many(lambda v: ns.call("square", v), _inputs(5))


def test_a_tampered_batch_fails_the_gradient_check_and_not_the_item():
    from autograder.handle import RemoteHandle
    from autograder.items import Item
    from autograder.runner import run_item

    def square_grad(ns, t):
        x = t.away_from_kinks((2, 3))
        dout = t.rng.normal(size=(2, 3))
        t.grad_matches_numeric("square_grad", lambda v: ns.call("square", v), x, dout, 2 * x * dout)
        t.true("a later check still runs", ns.call("square", np.ones(2)).sum() == 2.0)

    item = Item("t_square", 2, "square", names=("square",), checks=(square_grad,))
    honest = RemoteHandle(TamperingTransport(_logging_namespace([]), lambda reply, args: reply))
    assert run_item(item, honest, include_hidden=False).score == 2
    lying = RemoteHandle(TamperingTransport(_logging_namespace([]),
                                            lambda reply, args: {"values": reply["values"][:3], "error": None}))
    result = run_item(item, lying, include_hidden=False)
    assert [s.passed for s in result.subchecks] == [False]
    assert "call_many reply: 3 results for" in result.subchecks[0].details[0]


# -- the real worker: the same results as in the kernel, and a lying worker costs only the check ----------------
# a relu that raises on the third input of its gradient check (after two live calls: inside the batch)
RAISES_LATE = ("calls = []\ndef relu(z):\n    calls.append(1)\n    if len(calls) == 3:\n"
               "        raise ValueError('odd')\n    return np.where(z > 0, z, 0.0)\n")


def _worker_and_kernel(sources: dict, grade_ids, extra_cells=()):
    from autograder.handle import RemoteHandle
    from autograder.runner import run_item
    from autograder.sandbox import Limits, Policy, Sandbox
    from tests.autograder import fixture_assignment as fx
    cells = [("cell 0", "import numpy as np\n")] + [(name, src) for name, src in sources.items()] + list(extra_cells)
    sandbox = Sandbox(cells, Limits(isolation="process", call_timeout=10.0),
                      Policy(blocked_modules=("autograder", "ctypes"), recorded_modules=("autograder",)))
    kernel = {"np": np}
    for _, src in cells[:1 + len(sources)]:
        exec(src, kernel)
    try:
        sandbox.boot()
        remote = []
        for gid in grade_ids:
            sandbox.begin_item()
            remote.append(run_item(fx.REGISTRY.get(gid), RemoteHandle(sandbox), include_hidden=True).to_dict(True))
    finally:
        sandbox.close()
    local = [run_item(fx.REGISTRY.get(gid), LocalHandle(kernel), include_hidden=True).to_dict(True)
             for gid in grade_ids]
    return remote, local


def test_the_worker_and_the_kernel_give_the_same_results_with_batched_gradient_checks():
    from tests.autograder import fixture_assignment as fx
    doubled = fx.HONEST["Linear"].replace("return dout @ self.params['W'].T", "return 2 * dout @ self.params['W'].T")
    for sources in (fx.HONEST, {**fx.HONEST, "relu": RAISES_LATE, "Linear": doubled}):
        remote, local = _worker_and_kernel(sources, ["fx_relu_grad", "fx_linear"])
        assert remote == local
    assert [s["passed"] for s in remote[1]["subchecks"]] == [True, False, True, False]
    assert "your code raised ValueError in `relu`" in remote[0]["subchecks"][0]["details"][0]


def test_a_worker_that_lies_about_a_batch_fails_the_check_cleanly():
    # student code reaches the worker's object table through the call stack and replaces its call_many
    liar = ("import sys\nframe = sys._getframe()\nwhile 'server' not in frame.f_locals:\n    frame = frame.f_back\n"
            "srv = frame.f_locals['server']\nreal = srv.call_many\n"
            "srv.call_many = lambda ops, progress=None: {'values': real(ops[:-1], progress)['values'], 'error': None}\n")
    from tests.autograder import fixture_assignment as fx
    remote, _ = _worker_and_kernel(fx.HONEST, ["fx_relu_grad", "fx_relu"], [("liar", liar)])
    grad, relu = remote
    assert [s["passed"] for s in grad["subchecks"]] == [False]     # the check stops there, as on any failure
    assert "broke the protocol (call_many reply: 21 results for 22 operations)" in grad["subchecks"][0]["details"][0]
    assert relu["score"] == relu["points"]                               # the worker was replaced, grading went on
