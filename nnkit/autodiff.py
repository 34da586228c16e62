"""A scalar computational-graph engine: reverse mode (:class:`Value`) and forward mode (:class:`Dual`).

Reverse mode records every operation as a node that knows its inputs and how to
send a gradient back to them. ``f.backward()`` then visits the nodes from ``f``
back to the leaves, once each, so one pass gives ``df/dv`` for every node ``v``.

Forward mode carries a tangent next to each value: seeding ``x`` with tangent 1
gives ``df/dx`` after one forward pass, so a full gradient takes one pass per
input.

Conventions: ``relu'(0) = 0`` (as in PyTorch); gradients accumulate with ``+=``,
so a value used twice gets both contributions (``d(x*x)/dx = 2x``); leaf
gradients also accumulate across ``backward()`` calls, as in PyTorch, until
:meth:`Value.zero_grad`. Operands may be plain numbers (``2 * x``, ``1 - x``).
Errors: ``ZeroDivisionError`` for a division by zero (Python's own behaviour),
``ValueError`` for a log of a non-positive number or a power with no real
value, ``TypeError`` for a non-numeric operand, ``OverflowError`` for ``exp`` of
a number above ~709.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Callable, Sequence


def _number(fn: str, x) -> float:
    """``x`` as a float if it is a real number (not a bool), else TypeError."""
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{fn}: expected a real number, got {type(x).__name__} ({x!r})")
    return float(x)


def _exp(fn: str, x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(f"{fn}: exp({x!r}) overflows a float64 (the limit is about 709.78)") from None


def _log(fn: str, x: float) -> float:
    if x <= 0:
        raise ValueError(f"{fn}: log needs a positive argument, got {x!r}")
    return math.log(x)


def _pow(fn: str, base: float, exponent: float) -> float:
    if base == 0 and exponent < 0:
        raise ZeroDivisionError(f"{fn}: 0 ** {exponent!r} divides by zero")
    if base < 0 and not float(exponent).is_integer():
        raise ValueError(f"{fn}: ({base!r}) ** {exponent!r} has no real value (negative base, fractional power)")
    return base ** exponent


def _sigmoid(x: float) -> float:
    """Logistic function without overflow for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _fmt(x: float) -> str:
    return f"{x:.6g}"


class Value:
    """A scalar node of a computational graph, with its gradient.

    Parameters
    ----------
    data : real number
    label : str, optional
        A name shown by :func:`render_graph`.

    Attributes
    ----------
    data : float
    grad : float
        ``d(output)/d(self)`` after ``output.backward()``; starts at 0.
    """

    __slots__ = ("data", "grad", "label", "_prev", "_op", "_arg", "_backward")

    def __init__(self, data, label: str = "", *, _prev: tuple = (), _op: str = "", _arg=None):
        self.data = _number("Value", data)
        self.grad = 0.0
        self.label = label
        self._prev = _prev            # the input nodes
        self._op = _op                # "" for a leaf
        self._arg = _arg              # the exponent of "**", shown by render_graph
        self._backward = None         # sends self.grad to the inputs' .grad

    @staticmethod
    def _wrap(fn: str, other) -> Value:
        if isinstance(other, Value):
            return other
        return Value(_number(fn, other), label=_fmt(_number(fn, other)), _op="const")

    def __repr__(self) -> str:
        return f"Value(data={_fmt(self.data)}, grad={_fmt(self.grad)})"

    # --- binary operations: compute the output, then say how the gradient flows back ---

    def __add__(self, other) -> Value:
        other = self._wrap("Value.__add__", other)
        out = Value(self.data + other.data, _prev=(self, other), _op="+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __sub__(self, other) -> Value:
        other = self._wrap("Value.__sub__", other)
        out = Value(self.data - other.data, _prev=(self, other), _op="-")

        def _backward():
            self.grad += out.grad
            other.grad -= out.grad
        out._backward = _backward
        return out

    def __mul__(self, other) -> Value:
        other = self._wrap("Value.__mul__", other)
        out = Value(self.data * other.data, _prev=(self, other), _op="*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other) -> Value:
        other = self._wrap("Value.__truediv__", other)
        if other.data == 0:
            raise ZeroDivisionError(f"Value.__truediv__: division by zero ({_fmt(self.data)} / 0)")
        out = Value(self.data / other.data, _prev=(self, other), _op="/")

        def _backward():
            self.grad += out.grad / other.data
            other.grad -= out.grad * self.data / other.data ** 2
        out._backward = _backward
        return out

    def __pow__(self, exponent) -> Value:
        if isinstance(exponent, Value):
            raise TypeError("Value.__pow__: the exponent must be a plain number, got a Value "
                            "(write exp(b * log(a)) for a variable exponent)")
        k = _number("Value.__pow__", exponent)
        out = Value(_pow("Value.__pow__", self.data, k), _prev=(self,), _op="**", _arg=k)

        def _backward():
            if k != 0:  # d(x**0)/dx = 0, also at x = 0
                self.grad += k * _pow("Value.__pow__", self.data, k - 1) * out.grad
        out._backward = _backward
        return out

    def __radd__(self, other) -> Value:
        return self._wrap("Value.__radd__", other) + self

    def __rsub__(self, other) -> Value:
        return self._wrap("Value.__rsub__", other) - self

    def __rmul__(self, other) -> Value:
        return self._wrap("Value.__rmul__", other) * self

    def __rtruediv__(self, other) -> Value:
        return self._wrap("Value.__rtruediv__", other) / self

    # --- unary operations ---

    def _unary(self, op: str, data: float, local_grad: float) -> Value:
        """A node whose derivative with respect to its one input is ``local_grad``."""
        out = Value(data, _prev=(self,), _op=op)

        def _backward():
            self.grad += local_grad * out.grad
        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        return self._unary("neg", -self.data, -1.0)

    def exp(self) -> Value:
        e = _exp("Value.exp", self.data)
        return self._unary("exp", e, e)

    def log(self) -> Value:
        return self._unary("log", _log("Value.log", self.data), 1.0 / self.data)

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        return self._unary("tanh", t, 1.0 - t * t)

    def sigmoid(self) -> Value:
        s = _sigmoid(self.data)
        return self._unary("sigmoid", s, s * (1.0 - s))

    def relu(self) -> Value:
        return self._unary("relu", max(self.data, 0.0), 1.0 if self.data > 0 else 0.0)

    # --- the backward pass ---

    def topological_order(self) -> list[Value]:
        """Every node ``self`` depends on, inputs before outputs, ``self`` last.

        Iterative depth-first search, so deep graphs do not hit Python's recursion limit.
        """
        order: list[Value] = []
        visited: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))   # revisit after all inputs are placed
            stack.extend((p, False) for p in reversed(node._prev) if id(p) not in visited)
        return order

    def backward(self, grad: float = 1.0) -> None:
        """Fill ``.grad`` of every node this one depends on with ``d(self)/d(node)``.

        ``grad`` is the seed ``d(loss)/d(self)`` (1 for the output itself). Inner
        nodes are reset first, so calling backward twice doubles only the leaves'
        gradients, exactly as PyTorch accumulates ``.grad`` of leaf tensors.
        """
        order = self.topological_order()
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += _number("Value.backward", grad)
        for node in reversed(order):
            if node._backward is not None:
                node._backward()

    def zero_grad(self) -> None:
        """Set ``.grad = 0`` on this node and everything it depends on."""
        for node in self.topological_order():
            node.grad = 0.0


def render_graph(value: Value) -> str:
    """The graph behind ``value`` as text: one line per node, inputs first.

    Each line reads ``name = op(inputs) | data=... | grad=...``. Nodes are named by
    their ``label`` when they have one, else ``v0, v1, ...`` in topological order;
    plain numbers appear inline.
    """
    if not isinstance(value, Value):
        raise TypeError(f"render_graph: expected a Value, got {type(value).__name__}")
    order = [n for n in value.topological_order() if n._op != "const"]
    names: dict[int, str] = {}
    unnamed = 0
    for node in order:
        if not node.label:
            node_name, unnamed = f"v{unnamed}", unnamed + 1
        names[id(node)] = node.label or node_name

    def name(n: Value) -> str:
        return n.label if n._op == "const" else names[id(n)]

    lines = []
    for node in order:
        args = [name(p) for p in node._prev]
        if not node._op:
            expr = "leaf"
        elif node._op == "**":
            expr = f"{args[0]} ** {_fmt(node._arg)}"
        elif len(args) == 2:
            expr = f"{args[0]} {node._op} {args[1]}"
        else:
            expr = f"{node._op}({args[0]})"
        lines.append((f"{names[id(node)]} = {expr}", node))
    width = max(len(text) for text, _ in lines)
    return "\n".join(f"{text:<{width}} | data={_fmt(n.data)} | grad={_fmt(n.grad)}" for text, n in lines)


class Dual:
    """A dual number ``value + tangent * eps`` with ``eps**2 = 0``: forward-mode autodiff.

    If ``x = Dual(x0, 1)`` and every other input has tangent 0, then
    ``f(x, ...).tangent`` is ``df/dx`` at ``x0``.

    Parameters
    ----------
    value : real number
    tangent : real number
        The derivative of this quantity along the chosen direction.
    """

    __slots__ = ("value", "tangent")

    def __init__(self, value, tangent=0.0):
        self.value = _number("Dual", value)
        self.tangent = _number("Dual", tangent)

    def __repr__(self) -> str:
        return f"Dual(value={_fmt(self.value)}, tangent={_fmt(self.tangent)})"

    @staticmethod
    def _wrap(fn: str, other) -> Dual:
        return other if isinstance(other, Dual) else Dual(_number(fn, other), 0.0)

    def __add__(self, other) -> Dual:
        o = self._wrap("Dual.__add__", other)
        return Dual(self.value + o.value, self.tangent + o.tangent)

    def __sub__(self, other) -> Dual:
        o = self._wrap("Dual.__sub__", other)
        return Dual(self.value - o.value, self.tangent - o.tangent)

    def __mul__(self, other) -> Dual:
        o = self._wrap("Dual.__mul__", other)
        return Dual(self.value * o.value, self.tangent * o.value + self.value * o.tangent)

    def __truediv__(self, other) -> Dual:
        o = self._wrap("Dual.__truediv__", other)
        if o.value == 0:
            raise ZeroDivisionError(f"Dual.__truediv__: division by zero ({_fmt(self.value)} / 0)")
        return Dual(self.value / o.value, (self.tangent * o.value - self.value * o.tangent) / o.value ** 2)

    def __pow__(self, exponent) -> Dual:
        if isinstance(exponent, Dual):
            raise TypeError("Dual.__pow__: the exponent must be a plain number, got a Dual")
        k = _number("Dual.__pow__", exponent)
        slope = 0.0 if k == 0 else k * _pow("Dual.__pow__", self.value, k - 1)
        return Dual(_pow("Dual.__pow__", self.value, k), slope * self.tangent)

    def __radd__(self, other) -> Dual:
        return self._wrap("Dual.__radd__", other) + self

    def __rsub__(self, other) -> Dual:
        return self._wrap("Dual.__rsub__", other) - self

    def __rmul__(self, other) -> Dual:
        return self._wrap("Dual.__rmul__", other) * self

    def __rtruediv__(self, other) -> Dual:
        return self._wrap("Dual.__rtruediv__", other) / self

    def __neg__(self) -> Dual:
        return Dual(-self.value, -self.tangent)

    def exp(self) -> Dual:
        e = _exp("Dual.exp", self.value)
        return Dual(e, e * self.tangent)

    def log(self) -> Dual:
        return Dual(_log("Dual.log", self.value), self.tangent / self.value)

    def tanh(self) -> Dual:
        t = math.tanh(self.value)
        return Dual(t, (1.0 - t * t) * self.tangent)

    def sigmoid(self) -> Dual:
        s = _sigmoid(self.value)
        return Dual(s, s * (1.0 - s) * self.tangent)

    def relu(self) -> Dual:
        return Dual(max(self.value, 0.0), self.tangent if self.value > 0 else 0.0)


def gradient(f: Callable, point: Sequence[float], mode: str = "reverse") -> tuple[float, list[float]]:
    """``f(point)`` and its gradient, by one reverse pass or by one forward pass per input.

    Parameters
    ----------
    f : callable
        Takes ``len(point)`` scalars (Values or Duals) and returns one.
    point : sequence of real numbers, length D
    mode : {"reverse", "forward"}

    Returns
    -------
    value : float
    grad : list[float], length D
    """
    xs = [_number("gradient", p) for p in point]
    if not xs:
        raise ValueError("gradient: point must hold at least one number, got an empty sequence")
    if mode == "reverse":
        inputs = [Value(x) for x in xs]
        out = f(*inputs)
        if not isinstance(out, Value):
            raise TypeError(f"gradient: f must return a Value in reverse mode, got {type(out).__name__}")
        out.backward()
        return out.data, [v.grad for v in inputs]
    if mode == "forward":
        grads = []
        for i in range(len(xs)):
            out = f(*[Dual(x, 1.0 if j == i else 0.0) for j, x in enumerate(xs)])
            if not isinstance(out, Dual):
                raise TypeError(f"gradient: f must return a Dual in forward mode, got {type(out).__name__}")
            grads.append(out.tangent)
        return out.value, grads
    raise ValueError(f"gradient: mode must be 'reverse' or 'forward', got {mode!r}")
