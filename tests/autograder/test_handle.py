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
