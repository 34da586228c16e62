"""A batched ``call_many`` is timed exactly like the same calls made one by one (``autograder.budget``).

First the clock alone (``Meter``, fed the grader's own CPU readings), then real workers: a function that
spins forever on some perturbed inputs of a gradient check gets the same result both ways, and a worker
that forges, repeats, reorders or withholds progress frames gains no time.
"""

import numpy as np
import pytest

from autograder.budget import Allowance, Backstops, Budget, Meter
from autograder.handle import OutOfTime, RemoteHandle, WorkerFailure
from autograder.items import Item
from autograder.protocol import ProtocolError
from autograder.runner import run_item
from autograder.sandbox import Limits, Policy, Sandbox
from tests.conftest import require_namespaces

BACKSTOPS = Backstops(idle_seconds=30.0, wall_factor=10.0, wall_slack=30.0)


def meter(steps, call=1.0, shared=None):
    return Meter(Allowance(Budget("call", call), steps, shared), BACKSTOPS, cpu=0.0, now=0.0)


# -- the clock alone ---------------------------------------------------------------------------------------
def test_each_operation_gets_the_call_budget_from_the_end_of_the_one_before():
    m = meter(steps=3)
    assert m.overrun(0.9, 1.0) is None
    m.progress(1, cpu=0.9, now=1.0)                 # the first call ended after 0.9 s
    assert m.overrun(1.85, 2.0) is None             # 0.95 s into the second: still within its own 1 s
    stopped = m.overrun(1.95, 2.1)
    assert (stopped.what, stopped.kind, stopped.seconds) == ("call", "cpu", 1.0)
    assert m.cost == pytest.approx(0.9 + 1.0)       # what ended, plus the whole budget of the call stopped


def test_the_operations_of_a_batch_share_what_is_left_of_the_item():
    m = meter(steps=4, shared=1.5)
    m.progress(1, cpu=0.9, now=1.0)
    assert m.budget == Budget("item", pytest.approx(0.6))
    stopped = m.overrun(1.55, 2.0)
    assert stopped.what == "item" and m.cost == pytest.approx(1.5)


def test_quick_operations_may_share_a_frame():
    # the worker sends no frame for operations that ended within 10 ms of CPU of the last one: counts may skip
    m = meter(steps=5)
    m.progress(3, cpu=0.004, now=0.01)
    assert m.overrun(1.0, 1.0) is None and m.overrun(1.01, 1.1).kind == "cpu"


def test_a_reply_costs_what_the_request_used():
    m = meter(steps=3)
    m.progress(1, cpu=0.2, now=0.3)
    m.progress(2, cpu=0.5, now=0.6)
    m.finish(0.7)
    assert m.cost == pytest.approx(0.7)


@pytest.mark.parametrize("frames", [[1, 1], [2, 1], [1, 2, 3], [3], [0], [-1]],
                         ids=["repeats", "goes-back", "one-too-many", "the-last-one", "zero", "negative"])
def test_a_frame_out_of_order_or_beyond_the_operations_is_a_protocol_error(frames):
    m = meter(steps=3)
    with pytest.raises(ProtocolError, match="progress frame"):
        for k, ended in enumerate(frames, 1):
            m.progress(ended, cpu=0.1 * k, now=0.1 * k)


def test_a_single_request_accepts_no_progress_frame():
    with pytest.raises(ProtocolError, match="request of 1 operation$"):
        meter(steps=1).progress(1, cpu=0.1, now=0.1)


def test_without_frames_a_whole_batch_gets_one_call_budget():
    m = meter(steps=5)
    assert m.overrun(0.99, 1.0) is None
    assert m.overrun(1.01, 1.1).kind == "cpu"


@pytest.mark.parametrize("shared", [None, 2.5])
def test_frames_claiming_progress_while_spinning_never_give_more_than_the_batchs_calls(shared):
    # A forger writes in-order frames whenever it likes while one call spins: it can split the request's
    # time differently, never make it longer than n call budgets (its n calls one by one) or the item's rest.
    rng = np.random.default_rng(12)
    steps, call, tick = 4, 1.0, 0.01
    limit = steps * call if shared is None else min(steps * call, shared)
    for _ in range(50):
        m = meter(steps, call, shared)
        cpu, stopped = 0.0, None
        while stopped is None and cpu <= 2 * limit:
            cpu += tick
            if rng.random() < 0.02:
                try:
                    m.progress(m.ended + 1, cpu, cpu)
                except ProtocolError:
                    break                               # the grader kills the worker here
            stopped = m.overrun(cpu, cpu)
        assert cpu <= limit + tick
        assert m.cost <= limit + tick


# -- real workers: the batch and the one-by-one path grade alike --------------------------------------------
STUDENT = """
import time
import numpy as np

def spins_at_3(x):                  # loops for ever on the inputs that perturb x.flat[3]
    if x.flat[3] != round(float(x.flat[3]), 3):
        while True:
            pass
    return x ** 2

def spins_at_0(x):
    if x.flat[0] != round(float(x.flat[0]), 3):
        while True:
            pass
    return x ** 2

def slow(x):                        # 0.12 s of CPU a call: each within the budget, the batch of 6 is not
    end = time.process_time() + 0.12
    while time.process_time() < end:
        pass
    return x ** 2
"""
X = np.array([[0.1, 0.2], [0.3, 0.4]])
DOUT = np.array([[1.0, -2.0], [0.5, 3.0]])


def _gradient_of(name):
    def check(ns, t):
        t.grad_matches_numeric(f"the gradient of {name}", lambda v: ns.call(name, v), X, DOUT, 2 * X * DOUT)
    check.__name__ = f"{name}_gradient"
    return check


def _a_later_call(ns, t):
    t.true("a later call still runs", np.array_equal(ns.call("slow", X), X ** 2))


# 8 perturbed inputs per gradient check: 2 live calls, then a batch of 6
ITEM = Item("t_spin", 4, "spinning on some inputs", names=("spins_at_3", "spins_at_0", "slow"),
            checks=(_gradient_of("spins_at_3"), _gradient_of("slow"), _gradient_of("spins_at_0"), _a_later_call))


@pytest.fixture(params=["namespace", "process"])
def mode(request):
    if request.param == "namespace":
        require_namespaces()
    return request.param


def _sandbox(mode, cells, **limits):
    limits = {"call_timeout": 0.5, "item_timeout": 4.0, "cell_timeout": 10.0, "isolation": mode, **limits}
    sandbox = Sandbox(cells, Limits(**limits),
                      Policy(blocked_modules=("autograder", "ctypes"), recorded_modules=("autograder",)))
    sandbox.boot()
    return sandbox


def _grade(mode, batch):
    sandbox = _sandbox(mode, [("cell 1", STUDENT)])
    try:
        sandbox.begin_item()
        result = run_item(ITEM, RemoteHandle(sandbox, batch=batch), include_hidden=True)
        return result.to_dict(True), sandbox.limits.item_timeout - sandbox._item_cpu, sandbox.restarts
    finally:
        sandbox.close()


def test_a_function_that_spins_on_some_inputs_is_graded_alike_batched_and_one_by_one(mode):
    batched, used_batched, restarts_batched = _grade(mode, batch=True)
    looped, used_looped, restarts_looped = _grade(mode, batch=False)
    assert batched == looped
    assert [s["passed"] for s in batched["subchecks"]] == [False, True, False, True]
    spun = batched["subchecks"][0]["details"][0]
    assert "used more than 0.5 s of CPU time for this call" in spun
    assert restarts_batched == restarts_looped == 2          # each spin killed the worker once
    # the item paid one call budget per spin and what the 9 slow calls used, on both paths
    assert used_batched == pytest.approx(used_looped, abs=0.3)
    assert used_batched <= 2 * 0.5 + 9 * 0.12 + 0.3


# -- real workers: forged progress frames ----------------------------------------------------------------
# Student code reaches the worker's own pipe, request number and protocol through the call stack.
FORGER = """
import sys, time

def _serving():
    frame = sys._getframe()
    while 'wfd' not in frame.f_locals:
        frame = frame.f_back
    return frame.f_locals

def busy(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return seconds

def claims_progress_while_spinning(every):
    local = _serving()
    ended = 1
    while True:
        busy(every)
        local['protocol'].send(local['wfd'], local['protocol'].Progress(local['seq'], ended).to_wire())
        ended += 1

def forges(ended):
    local = _serving()
    local['protocol'].send(local['wfd'], local['protocol'].Progress(local['seq'], ended).to_wire())
    return ended

def forges_then_raises(ended):
    forges(ended)
    raise ValueError('after a forged frame')

def floods_stale_frames(seconds):
    local = _serving()
    end = time.process_time() + seconds
    while time.process_time() < end:
        local['protocol'].send(local['wfd'], local['protocol'].Progress(local['seq'] - 1, 1).to_wire())
    return seconds

def nap():
    time.sleep(600)

def drip():                         # a little CPU now and then: only the wall clock stops it
    while True:
        time.sleep(0.05)

def withhold_frames():
    server = _serving()['server']
    real = server.call_many
    server.call_many = lambda ops, progress=None: real(ops)

def repeat_frames():                # every frame twice, whatever the time
    server = _serving()['server']
    real = server.call_many

    def twice(ops, progress=None):
        local = _serving()

        def send(ended):
            for _ in range(2):
                local['protocol'].send(local['wfd'], local['protocol'].Progress(local['seq'], ended).to_wire())
        return real(ops, send)
    server.call_many = twice
"""


def _calls(name, *args, n=1):
    return [("call", (name, args, {}))] * n


@pytest.fixture()
def forger():
    require_namespaces()
    sandbox = _sandbox("namespace", [("cell 1", FORGER)])
    sandbox.begin_item()
    yield sandbox, RemoteHandle(sandbox)
    sandbox.close()


def test_frames_claimed_while_spinning_end_in_a_protocol_error_within_the_batchs_calls(forger):
    sandbox, ns = forger
    n = 4
    with pytest.raises(WorkerFailure, match=r"broke the protocol \(progress frame 4 after 3 in a request of 4"):
        ns.call_many(_calls("claims_progress_while_spinning", 0.3) + _calls("busy", 0.0, n=n - 1))
    assert sandbox.limits.item_timeout - sandbox._item_cpu <= n * 0.5 + 0.2     # never past n call budgets


def test_a_frame_out_of_order_or_repeated_is_a_protocol_error(forger):
    sandbox, ns = forger
    # busy(0.02) is longer than 10 ms: the worker's own frame 1 comes before the second call forges one
    with pytest.raises(WorkerFailure, match=r"broke the protocol \(progress frame 1 after 1"):
        ns.call_many(_calls("busy", 0.02) + _calls("forges", 1) + _calls("busy", 0.0, n=2))
    with pytest.raises(WorkerFailure, match=r"broke the protocol \(progress frame 4 after 0 in a request of 4"):
        ns.call_many(_calls("forges", 4) + _calls("busy", 0.0, n=3))
    with pytest.raises(WorkerFailure, match=r"broke the protocol \(progress frame 1 after 1"):
        ns.call("repeat_frames")
        ns.call_many(_calls("busy", 0.0, n=3))
    assert ns.call("busy", 0.0) == 0.0                      # a new worker serves the next request


def test_frames_must_match_the_operations_the_reply_says_ran(forger):
    sandbox, ns = forger
    # the second call forges the frame its successor would send, then raises: one frame too many
    with pytest.raises(WorkerFailure, match=r"a progress frame said 2 operations had ended, the reply says 1"):
        ns.call_many(_calls("busy", 0.0) + _calls("forges_then_raises", 2) + _calls("busy", 0.0, n=2))


def test_a_worker_that_withholds_its_frames_gets_one_call_budget_for_the_batch(forger):
    sandbox, ns = forger
    reply = ns.call_many(_calls("busy", 0.2, n=4))           # 0.8 s in all, each call within its 0.5 s
    assert reply.values == [0.2] * 4
    ns.call("withhold_frames")
    with pytest.raises(OutOfTime) as caught:
        ns.call_many(_calls("busy", 0.2, n=4))
    assert (caught.value.what, caught.value.kind, caught.value.seconds) == ("call", "cpu", 0.5)


def test_a_flood_of_stale_frames_does_not_keep_the_budget_from_being_checked(forger):
    sandbox, ns = forger
    with pytest.raises(OutOfTime) as caught:
        ns.call_many(_calls("floods_stale_frames", 3.0) + _calls("busy", 0.0, n=2))
    assert (caught.value.what, caught.value.kind) == ("call", "cpu")


@pytest.mark.parametrize(("name", "limits", "kind", "seconds"), [
    ("nap", dict(idle_seconds=0.5), "idle", 0.5),
    ("drip", dict(call_timeout=0.1, idle_seconds=60.0, wall_factor=10.0, wall_slack=1.0), "wall", 2.0),
])
def test_the_idle_and_wall_backstops_stop_a_call_inside_a_batch(name, limits, kind, seconds):
    require_namespaces()
    sandbox = _sandbox("namespace", [("cell 1", FORGER)], **limits)
    try:
        sandbox.begin_item()
        with pytest.raises(OutOfTime) as caught:     # the first call sends a frame; the second never ends
            RemoteHandle(sandbox).call_many(_calls("busy", 0.02) + _calls(name) + _calls("busy", 0.0))
        assert (caught.value.what, caught.value.kind, caught.value.seconds) == ("call", kind, seconds)
    finally:
        sandbox.close()
