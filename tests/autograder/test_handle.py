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
