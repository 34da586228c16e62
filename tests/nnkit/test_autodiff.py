"""Tests for nnkit.autodiff: reverse mode (Value), forward mode (Dual), render_graph."""

import math
import sys

import numpy as np
import pytest

from nnkit.autodiff import Dual, Value, gradient, render_graph


def seeds_f1(x, y):
    return (x + y) * (2 * x - 3)


def seeds_f2(x, y, z):
    return x ** 2 * y / z


# --- the seeds' worked examples, both modes ------------------------------------------------------

@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_seeds_example_sum_times_affine_at_1_2(mode):
    value, grad = gradient(seeds_f1, [1.0, 2.0], mode=mode)
    assert value == -3.0
    assert grad == [5.0, -1.0]  # df/dx = 4x + 2y - 3, df/dy = 2x - 3


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_seeds_example_x_squared_y_over_z_at_3_4_2(mode):
    value, grad = gradient(seeds_f2, [3.0, 4.0, 2.0], mode=mode)
    assert value == 18.0
    assert grad == [12.0, 4.5, -9.0]


def test_reverse_mode_fills_every_intermediate_gradient():
    x, y, z = Value(3.0, "x"), Value(4.0, "y"), Value(2.0, "z")
    v = x ** 2
    u = v * y
    f = u / z
    f.backward()
    # df/du = 1/z, df/dv = y/z, df/dz = -u/z**2
    assert (f.grad, u.grad, v.grad, z.grad) == (1.0, 0.5, 2.0, -9.0)


def test_value_used_twice_accumulates_both_contributions():
    x = Value(3.0)
    f = x * x
    f.backward()
    assert x.grad == 6.0  # 2x, not x
    x2 = Value(-1.5)
    g = x2 + x2 + x2
    g.backward()
    assert x2.grad == 3.0


def test_backward_twice_accumulates_leaf_gradients_like_pytorch(torch):
    x = Value(2.0)
    h = x.tanh()
    f = h * h
    f.backward()
    f.backward()
    xt = torch.tensor(2.0, requires_grad=True)
    ft = torch.tanh(xt) ** 2
    ft.backward(retain_graph=True)
    ft.backward()
    assert x.grad == pytest.approx(xt.grad.item(), rel=1e-14)
    f.zero_grad()
    assert x.grad == 0.0 and h.grad == 0.0


def test_backward_on_ten_thousand_node_chain_does_not_recurse():
    assert sys.getrecursionlimit() < 10_000
    x = Value(0.5)
    out = x
    for _ in range(10_000):
        out = out + x  # out = 10001 * x
    out.backward()
    assert x.grad == 10_001.0
    assert out.data == pytest.approx(10_001 * 0.5)
    text = render_graph(out)
    assert len(text.splitlines()) == 10_001  # the leaf x and the 10,000 sums
    deep = Value(1.0)
    y = deep
    for _ in range(10_000):
        y = (y * 1.0001).tanh()
    y.backward()
    assert math.isfinite(deep.grad)


# --- each operation: value and gradient against closed forms -----------------------------------

OPS = [
    # name, f(Value or Dual), value(x), derivative(x), point
    ("exp", lambda v: v.exp(), math.exp, math.exp, 0.7),
    ("log", lambda v: v.log(), math.log, lambda x: 1 / x, 2.5),
    ("tanh", lambda v: v.tanh(), math.tanh, lambda x: 1 - math.tanh(x) ** 2, -0.4),
    ("sigmoid", lambda v: v.sigmoid(), lambda x: 1 / (1 + math.exp(-x)),
     lambda x: math.exp(-x) / (1 + math.exp(-x)) ** 2, 1.3),
    ("relu+", lambda v: v.relu(), lambda x: max(x, 0.0), lambda x: 1.0, 0.8),
    ("relu-", lambda v: v.relu(), lambda x: max(x, 0.0), lambda x: 0.0, -0.8),
    ("relu0", lambda v: v.relu(), lambda x: 0.0, lambda x: 0.0, 0.0),  # relu'(0) = 0
    ("neg", lambda v: -v, lambda x: -x, lambda x: -1.0, 1.7),
    ("pow3", lambda v: v ** 3, lambda x: x ** 3, lambda x: 3 * x ** 2, -1.2),
    ("pow_half", lambda v: v ** 0.5, math.sqrt, lambda x: 0.5 / math.sqrt(x), 2.0),
    ("pow_neg", lambda v: v ** -2, lambda x: x ** -2, lambda x: -2 * x ** -3, 1.5),
    ("radd", lambda v: 2 + v, lambda x: 2 + x, lambda x: 1.0, 0.3),
    ("rsub", lambda v: 2 - v, lambda x: 2 - x, lambda x: -1.0, 0.3),
    ("rmul", lambda v: 2.5 * v, lambda x: 2.5 * x, lambda x: 2.5, 0.3),
    ("rdiv", lambda v: 3 / v, lambda x: 3 / x, lambda x: -3 / x ** 2, 0.6),
    ("sub", lambda v: v - 4, lambda x: x - 4, lambda x: 1.0, 0.3),
    ("div", lambda v: v / 4, lambda x: x / 4, lambda x: 0.25, 0.3),
]


@pytest.mark.parametrize("name, f, value, deriv, x", OPS, ids=[op[0] for op in OPS])
def test_each_operation_matches_closed_form_in_both_modes(name, f, value, deriv, x):
    v = Value(x)
    out = f(v)
    out.backward()
    assert out.data == pytest.approx(value(x), rel=1e-14, abs=1e-300)
    assert v.grad == pytest.approx(deriv(x), rel=1e-13, abs=1e-300)
    d = f(Dual(x, 1.0))
    assert d.value == pytest.approx(value(x), rel=1e-14, abs=1e-300)
    assert d.tangent == pytest.approx(deriv(x), rel=1e-13, abs=1e-300)


def test_sigmoid_is_stable_at_large_magnitudes():
    for x, expected in [(1000.0, 1.0), (-1000.0, 0.0), (-745.0, math.exp(-745.0))]:
        v = Value(x)
        s = v.sigmoid()
        s.backward()
        assert s.data == pytest.approx(expected, abs=1e-320)
        assert v.grad == pytest.approx(expected * (1 - expected), abs=1e-320)
        assert Dual(x, 1.0).sigmoid().value == s.data


# --- random expressions vs numeric gradients and torch -------------------------------------------

def _random_program(rng, n_inputs, n_ops):
    """A list of (op, i, j, c): node k = op(node i, node j, constant c), built on n_inputs leaves."""
    ops = ["add", "sub", "mul", "div", "pow", "exp", "log", "tanh", "sigmoid", "relu", "neg",
           "radd", "rsub", "rmul", "rdiv"]
    prog = []
    for k in range(n_ops):
        n_nodes = n_inputs + k
        i, j = rng.integers(n_nodes, size=2)
        prog.append((ops[rng.integers(len(ops))], int(i), int(j), float(rng.uniform(0.5, 2.0))))
    return prog


def _run(prog, leaves, lib):
    """Evaluate the program with the library's elementary functions; domains kept safe.

    Returns the output (the last node plus three earlier ones, so that several
    branches reach it) and the list of all nodes.
    """
    nodes = list(leaves)
    for op, i, j, c in prog:
        a, b = nodes[i], nodes[j]
        node = {
            "add": lambda: a + b,
            "sub": lambda: a - b,
            "mul": lambda: a * b,
            "div": lambda: a / (1 + b * b),
            "pow": lambda: (a * a + 1) ** (c / 2),
            "exp": lambda: lib["exp"](lib["tanh"](a)),
            "log": lambda: lib["log"](a * a + c),
            "tanh": lambda: lib["tanh"](a),
            "sigmoid": lambda: lib["sigmoid"](a),
            "relu": lambda: lib["relu"](a - c / 7),
            "neg": lambda: -a,
            "radd": lambda: c + a,
            "rsub": lambda: c - a,
            "rmul": lambda: c * a,
            "rdiv": lambda: c / (2 + lib["tanh"](a)),
        }[op]()
        nodes.append(node)
    out = nodes[-1]
    for extra in nodes[-4:-1]:
        out = out + extra
    return out, nodes


def _method(name):
    return lambda v: getattr(v, name)()


NODE_LIB = {name: _method(name) for name in ["exp", "log", "tanh", "sigmoid", "relu"]}
FLOAT_LIB = {"exp": math.exp, "log": math.log, "tanh": math.tanh,
             "sigmoid": lambda x: 1 / (1 + math.exp(-x)), "relu": lambda x: max(x, 0.0)}


def _cases(n_cases, seed=0):
    """Seeded random programs and points whose relu arguments are at least 1e-3 from the kink."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n_cases:
        n_inputs = int(rng.integers(1, 4))
        prog = _random_program(rng, n_inputs, int(rng.integers(3, 12)))
        point = rng.normal(size=n_inputs).tolist()
        _, nodes = _run(prog, point, FLOAT_LIB)
        if all(abs(nodes[i] - c / 7) > 1e-3 for op, i, _, c in prog if op == "relu"):
            cases.append((prog, point))
    return cases


def _numeric_grad(prog, point, eps=1e-6):
    grads = []
    for k in range(len(point)):
        up, down = list(point), list(point)
        up[k] += eps
        down[k] -= eps
        grads.append((_run(prog, up, FLOAT_LIB)[0] - _run(prog, down, FLOAT_LIB)[0]) / (2 * eps))
    return np.array(grads)


CASES = _cases(40)


def test_random_expressions_match_numeric_gradients_in_both_modes():
    used = set()
    for prog, point in CASES:
        used.update(op for op, *_ in prog)
        leaves = [Value(x) for x in point]
        out, _ = _run(prog, leaves, NODE_LIB)
        out.backward()
        reverse = np.array([v.grad for v in leaves])
        forward = np.array([
            _run(prog, [Dual(x, 1.0 if j == k else 0.0) for j, x in enumerate(point)], NODE_LIB)[0].tangent
            for k in range(len(point))
        ])
        numeric = _numeric_grad(prog, point)
        scale = np.maximum(1.0, np.abs(numeric))
        assert np.all(np.abs(reverse - numeric) / scale < 1e-6), (prog, point, reverse, numeric)
        np.testing.assert_allclose(forward, reverse, rtol=1e-12, atol=1e-12)
        assert out.data == pytest.approx(_run(prog, point, FLOAT_LIB)[0], rel=1e-14, abs=1e-14)
    assert len(used) == 15  # every operation was exercised


def test_random_expressions_match_torch_autograd(torch):
    torch_lib = {"exp": torch.exp, "log": torch.log, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
                 "relu": torch.relu}
    for prog, point in CASES:
        leaves = [Value(x) for x in point]
        out, _ = _run(prog, leaves, NODE_LIB)
        out.backward()
        xt = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]
        out_t, _ = _run(prog, xt, torch_lib)
        out_t.backward()
        assert out.data == pytest.approx(out_t.item(), rel=1e-12, abs=1e-12)
        for v, t in zip(leaves, xt):
            expected = 0.0 if t.grad is None else t.grad.item()
            assert v.grad == pytest.approx(expected, rel=1e-10, abs=1e-12), (prog, point)


# --- rendering ------------------------------------------------------------------------------------

def test_render_graph_shows_each_node_op_value_and_grad():
    x, y, z = Value(3.0, "x"), Value(4.0, "y"), Value(2.0, "z")
    f = x ** 2 * y / z
    f.label = "f"
    f.backward()
    lines = render_graph(f).splitlines()
    assert [line.split(" |")[0].rstrip() for line in lines] == [
        "x = leaf", "v0 = x ** 2", "y = leaf", "v1 = v0 * y", "z = leaf", "f = v1 / z"]
    assert [line.split("| ")[1:] for line in lines] == [
        ["data=3 ", "grad=12"], ["data=9 ", "grad=2"], ["data=4 ", "grad=4.5"],
        ["data=36 ", "grad=0.5"], ["data=2 ", "grad=-9"], ["data=18 ", "grad=1"]]
    g = -(2 * x - 1).tanh().sigmoid()
    assert [line.split(" |")[0].rstrip() for line in render_graph(g).splitlines()] == [
        "x = leaf", "v0 = 2 * x", "v1 = v0 - 1", "v2 = tanh(v1)", "v3 = sigmoid(v2)", "v4 = neg(v3)"]


# --- errors ----------------------------------------------------------------------------------------

def test_clear_errors_for_bad_operations():
    with pytest.raises(ZeroDivisionError, match=r"Value.__truediv__: division by zero \(1 / 0\)"):
        Value(1.0) / 0
    with pytest.raises(ZeroDivisionError, match="Value.__truediv__: division by zero"):
        2 / Value(0.0)
    with pytest.raises(ZeroDivisionError, match="Dual.__truediv__: division by zero"):
        Dual(1.0, 1.0) / Dual(0.0, 1.0)
    with pytest.raises(ValueError, match=r"Value.log: log needs a positive argument, got 0.0"):
        Value(0.0).log()
    with pytest.raises(ValueError, match=r"Dual.log: log needs a positive argument, got -2.0"):
        Dual(-2.0).log()
    with pytest.raises(ValueError, match="has no real value"):
        Value(-8.0) ** (1 / 3)
    with pytest.raises(TypeError, match=r"Value.__add__: expected a real number, got str \('a'\)"):
        Value(1.0) + "a"
    with pytest.raises(TypeError, match="Value.__rmul__: expected a real number, got list"):
        [1] * Value(2.0)
    with pytest.raises(TypeError, match="Value: expected a real number, got bool"):
        Value(True)
    with pytest.raises(TypeError, match="the exponent must be a plain number, got a Value"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(TypeError, match="Dual: expected a real number, got NoneType"):
        Dual(None)
    with pytest.raises(OverflowError, match=r"Value.exp: exp\(1000.0\) overflows"):
        Value(1000.0).exp()
    with pytest.raises(ValueError, match="mode must be 'reverse' or 'forward'"):
        gradient(seeds_f1, [1.0, 2.0], mode="sideways")
    with pytest.raises(TypeError, match="render_graph: expected a Value, got float"):
        render_graph(1.0)


def test_numpy_scalars_are_accepted_as_operands():
    x = Value(np.float64(2.0))
    f = x * np.float64(3.0) + np.int64(1)
    f.backward()
    assert (f.data, x.grad) == (7.0, 3.0)
    assert type(f.data) is float


# ---- gaps found by mutation testing (scripts/mutation.py) ------------------------------------------

@pytest.mark.parametrize("x", [3.0, -2.5])
def test_power_backward_accumulates_when_the_base_is_used_again(x):
    """(x**2 + x)' = 2x + 1: micrograd's classic bug (= instead of += in __pow__'s backward) gives 2x or 1."""
    v = Value(x)
    (v ** 2 + v).backward()
    assert v.grad == 2 * x + 1
    w = Value(x)
    (w + w ** 3).backward()
    assert w.grad == 1 + 3 * x * x


@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid", "relu", "log"])
def test_unary_backward_accumulates_when_the_input_is_used_again(op):
    v = Value(0.7)
    (getattr(v, op)() + v).backward()
    local = {"exp": math.exp(0.7), "tanh": 1 - math.tanh(0.7) ** 2, "relu": 1.0, "log": 1 / 0.7,
             "sigmoid": (1 / (1 + math.exp(-0.7))) * (1 - 1 / (1 + math.exp(-0.7)))}[op]
    assert v.grad == pytest.approx(local + 1.0, rel=1e-14)


def test_gradient_defaults_to_reverse_mode():
    value, grad = gradient(lambda x, y: x * y + y, [2.0, 5.0])
    assert (value, grad) == (15.0, [5.0, 3.0])
    # both modes give the same numbers; what tells them apart is what f receives: Values, once, in reverse mode
    seen = []
    gradient(lambda x, y: seen.append((type(x), type(y))) or x * y + y, [2.0, 5.0])
    assert seen == [(Value, Value)]


def test_repr_shows_value_and_gradient_or_tangent():
    x = Value(1 / 3)
    (x * 3).backward()
    assert repr(x) == "Value(data=0.333333, grad=3)"
    assert repr(Dual(1.5, -2.0)) == "Dual(value=1.5, tangent=-2)"


# ---- gaps found by mutation testing -------------------------------------------------------------

def test_fractional_powers_of_zero_and_of_bases_below_one_are_real():
    assert (Value(0.0) ** 0.5).data == 0.0          # 0 ** 0.5 is 0, not "no real value"
    x = Value(0.25)
    y = x ** 0.5
    y.backward()
    assert (y.data, x.grad) == (0.5, 1.0)           # d sqrt(x)/dx = 1 / (2 sqrt(x)) = 1 at x = 1/4
    d = Dual(0.25, 1.0) ** 0.5
    assert (d.value, d.tangent) == (0.5, 1.0)


def test_backward_on_a_leaf_accumulates_into_its_grad():
    x = Value(2.0)
    x.backward()
    x.backward(3.0)
    assert x.grad == 4.0                             # 1 + 3, as PyTorch accumulates .grad of leaves


@pytest.mark.parametrize("op", ["neg", "exp", "log", "tanh", "sigmoid", "relu"])
def test_each_unary_node_is_named_after_its_operation(op):
    x = Value(0.5, label="x")
    out = -x if op == "neg" else getattr(x, op)()
    assert render_graph(out).splitlines()[-1].startswith(f"v0 = {op}(x) |")


def test_zero_to_the_power_zero_is_one_with_no_gradient():
    x = Value(0.0)
    y = x ** 0
    y.backward()
    assert (y.data, x.grad) == (1.0, 0.0)


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_each_binary_node_is_named_after_its_operation(op):
    x, y = Value(2.0, label="x"), Value(3.0, label="y")
    out = {"+": x + y, "-": x - y, "*": x * y, "/": x / y}[op]
    assert render_graph(out).splitlines()[-1].startswith(f"v0 = x {op} y |")
