"""Helpers for the unit 2 checks: closed-form operations, and scalar expressions built on either side.

An expression is a list of steps, and step i defines node i:

* ``("leaf", k)``: input number k;
* ``(method, i, arg)``: node i's method, with ``arg`` None, a number, or ``("node", j)``.

``build_student`` builds it from the student's ``Value``/``Dual`` through the handle (objects stay with the
student, only ``Ref``s come back); ``build_reference`` from ``nnkit.autodiff``. ``_compare_expression`` checks the
student's leaf gradients against both the reference and central differences of the student's own forward.
"""

from __future__ import annotations

import math

import numpy as np

from autograder.handle import Ref, StudentCodeError
from nnkit import autodiff as ref_ad

# closed-form forward and local derivative(s) of each operation
BINARY = {
    "__add__": (lambda a, b: a + b, lambda a, b: (1.0, 1.0)),
    "__mul__": (lambda a, b: a * b, lambda a, b: (b, a)),
}
UNARY = {
    "exp": (math.exp, math.exp),
    "tanh": (math.tanh, lambda a: 1.0 - math.tanh(a) ** 2),
    "sigmoid": (lambda a: 1.0 / (1.0 + math.exp(-a)), lambda a: math.exp(-a) / (1.0 + math.exp(-a)) ** 2),
}


EXCEPTION_HINTS = {
    "OverflowError": "math.exp overflowed (OverflowError) for a large input: only ever exponentiate a non-positive "
                     "number, exp(-|a|), and pick 1 / (1 + e) or e / (1 + e) by the sign",
    "RecursionError": "Python's recursion limit was hit (RecursionError): a recursive topological sort fails on deep "
                      "graphs; build the order with an explicit stack (or raise the limit with sys.setrecursionlimit)",
}


def _attempt(t, what: str, thunk):
    """Run ``thunk``; if the student's code raises, record one failed sub-check and return None.

    Exceptions with a known cause (``EXCEPTION_HINTS``) get a hint, which hidden checks show too."""
    try:
        return thunk()
    except StudentCodeError as exc:
        if exc.not_implemented:
            t.fail(what, f"implement `{exc.where}` first")
        else:
            t.fail(what, exc.report,
                   [EXCEPTION_HINTS[exc.exc_type]] if exc.exc_type in EXCEPTION_HINTS else [])
        return None


def _node(t, what: str, got, cls: str):
    """``got`` if it is a student object (a Ref), else record that an operation returned the wrong thing."""
    if type(got) is Ref:
        return got
    t.fail(what, f"the operation must return a new {cls}, got {type(got).__name__} {got!r}")
    return None


def _numbers(values) -> np.ndarray | object:
    """A tuple of plain numbers as a float64 array (anything else unchanged, so the comparison reports it)."""
    if isinstance(values, (tuple, list)) and all(isinstance(v, (int, float, np.floating, np.integer))
                                                 and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.float64)
    return values


# -- expressions built on either side --------------------------------------------------------------------------
# An expression is a list of steps; step i defines node i:
#   ("leaf", k)           input number k
#   (method, i, arg)      node i's method, arg None, a number, or ("node", j)
SHARED_NODE = [("leaf", 0), ("leaf", 1), ("__mul__", 0, ("node", 1)), ("tanh", 2, None),
               ("__mul__", 2, ("node", 3)), ("__add__", 4, ("node", 2)), ("__add__", 5, ("node", 0))]


def random_expression(rng, n_leaves: int, n_ops: int) -> list:
    """A random expression whose intermediate values stay moderate (exp only of small values)."""
    steps = [("leaf", k) for k in range(n_leaves)]
    sizes = [1.0] * n_leaves
    for _ in range(n_ops):
        i = int(rng.integers(len(steps)))
        j = int(rng.integers(len(steps)))
        kind = rng.choice(["add", "mul", "scale", "tanh", "sigmoid", "square", "exp"])
        if kind == "exp" and sizes[i] > 1.0:
            kind = "tanh"
        if kind in ("mul", "square") and sizes[i] * max(sizes[i], sizes[j]) > 20:
            kind = "add"
        step, size = {
            "add": (("__add__", i, ("node", j)), sizes[i] + sizes[j]),
            "mul": (("__mul__", i, ("node", j)), sizes[i] * sizes[j]),
            "scale": (("__mul__", i, float(rng.choice([-1.5, 0.5, 2.0]))), 2 * sizes[i]),
            "tanh": (("tanh", i, None), 1.0),
            "sigmoid": (("sigmoid", i, None), 1.0),
            "square": (("__pow__", i, 2), sizes[i] ** 2),
            "exp": (("exp", i, None), math.e),
        }[str(kind)]
        steps.append(step)
        sizes.append(size)
    return steps


def build_reference(cls, steps, xs, tangents=None) -> list:
    """The expression's nodes built from the reference ``Value`` (or ``Dual`` with ``tangents``)."""
    nodes = []
    for step in steps:
        if step[0] == "leaf":
            k = step[1]
            nodes.append(cls(float(xs[k])) if tangents is None else cls(float(xs[k]), float(tangents[k])))
            continue
        method, i, arg = step
        args = () if arg is None else (nodes[arg[1]],) if isinstance(arg, tuple) else (arg,)
        nodes.append(getattr(nodes[i], method)(*args))
    return nodes


def build_student(ns, cls, steps, xs, tangents=None) -> list:
    nodes = []
    for step in steps:
        if step[0] == "leaf":
            k = step[1]
            extra = () if tangents is None else (float(tangents[k]),)
            nodes.append(ns.new(cls, float(xs[k]), *extra))
            continue
        method, i, arg = step
        args = () if arg is None else (nodes[arg[1]],) if isinstance(arg, tuple) else (arg,)
        out = ns.method(nodes[i], method, *args)
        if type(out) is not Ref:
            raise TypeError(f"{cls}.{method} returned {type(out).__name__}, not a {cls}")
        nodes.append(out)
    return nodes


def _leaf_count(steps) -> int:
    return sum(1 for s in steps if s[0] == "leaf")


def _bfs(root) -> list:
    order, seen, i = [root], {id(root)}, 0
    while i < len(order):
        for child in order[i]._prev:
            if id(child) not in seen:
                seen.add(id(child))
                order.append(child)
        i += 1
    return order


def _post_order(root, visited: bool) -> list:
    order, seen = [], set()

    def build(node):
        if visited and id(node) in seen:
            return
        seen.add(id(node))
        for child in node._prev:
            build(child)
        order.append(node)
    build(root)
    return order


def _pre_order(root) -> list:
    """Depth-first from the output, each node listed when first popped (before its inputs): not topological."""
    order, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        stack.extend(node._prev)
    return order


ORDERS = {
    "calling _backward in breadth-first order instead of a topological order (a node passed its gradient on "
    "before all of its consumers had added theirs)": _bfs,
    "a topological sort without a visited set: a node used twice is visited twice and sends its gradient on "
    "twice": lambda root: _post_order(root, visited=False)[::-1],
    "calling _backward in forward order: the topological order must be reversed": lambda root: _post_order(
        root, visited=True),
    "the output's grad never set to 1.0 before the backward pass (every gradient stays 0)": lambda root: [],
    "a depth-first walk from the output that lists each node when it is first reached (pre-order): a node "
    "shared by two paths passes its gradient on before the second path has added its share; list a node only "
    "after all of its inputs (post-order) and call _backward in the reverse of that order": _pre_order,
}


def order_mistakes(steps, xs) -> dict:
    """The leaf gradients that each wrong backward order gives, computed with the reference engine."""
    wrong = {}
    for description, order in ORDERS.items():
        nodes = build_reference(ref_ad.Value, steps, xs)
        root = nodes[-1]
        visit = order(root)
        root.grad = 1.0 if visit else 0.0
        for node in visit:
            if node._backward is not None:
                node._backward()
        wrong[description] = np.array([nodes[k].grad for k in range(_leaf_count(steps))])
    return wrong


def _inputs_and_locals(step, values) -> list[tuple[int | None, float]]:
    """(input node or None for a constant, local derivative) of one non-leaf step."""
    method, i, arg = step
    a = values[i]
    if method in BINARY:
        j = arg[1] if isinstance(arg, tuple) else None
        return list(zip((i, j), BINARY[method][1](a, values[j] if j is not None else float(arg))))
    if method == "__pow__":
        return [(i, arg * a ** (arg - 1))]
    return [(i, UNARY[method][1](a))]


def _forward_values(steps, xs) -> list[float]:
    """Every node's value, from the closed forms."""
    values = []
    for step in steps:
        if step[0] == "leaf":
            values.append(float(xs[step[1]]))
            continue
        method, i, arg = step
        if method in BINARY:
            values.append(BINARY[method][0](values[i], values[arg[1]] if isinstance(arg, tuple) else float(arg)))
        elif method == "__pow__":
            values.append(values[i] ** arg)
        else:
            values.append(UNARY[method][0](values[i]))
    return values


def chain_rule_missing(steps, xs, op: str) -> np.ndarray:
    """The leaf gradients when the backward of ``op`` adds only its local derivative (forgets ``* out.grad``).

    Only the nodes the output reaches are visited, as in any backward pass; the order does not matter here.
    """
    values = _forward_values(steps, xs)
    grads, reached = np.zeros(len(steps)), np.zeros(len(steps), dtype=bool)
    grads[-1], reached[-1] = 1.0, True
    for k in range(len(steps) - 1, -1, -1):
        if steps[k][0] == "leaf" or not reached[k]:
            continue
        for j, local in _inputs_and_locals(steps[k], values):
            if j is not None:
                reached[j] = True
                grads[j] += local * (1.0 if steps[k][0] == op else grads[k])
    return grads[:_leaf_count(steps)]


def chain_rule_mistakes(steps, xs) -> dict:
    ops = sorted({s[0] for s in steps if s[0] != "leaf"})
    return {f"the chain rule missing in the backward of {op}: it adds only the local derivative; multiply it by "
            f"out.grad (the gradient arriving at the output)": chain_rule_missing(steps, xs, op) for op in ops}


def _compare_expression(ns, t, label: str, steps, xs) -> None:
    """Forward value, leaf gradients vs the reference, and leaf gradients vs numeric differences of the student."""
    nodes = build_student(ns, "Value", steps, xs)
    ns.method(nodes[-1], "backward")
    n = _leaf_count(steps)
    grads = _numbers([ns.get(nodes[k], "grad") for k in range(n)])
    ref_nodes = build_reference(ref_ad.Value, steps, xs)
    ref_nodes[-1].backward()
    t.close(f"{label}: gradients of the inputs", grads, np.array([ref_nodes[k].grad for k in range(n)]),
            kind="backward", known_wrong={**order_mistakes(steps, xs), **chain_rule_mistakes(steps, xs)})

    def forward(v):
        return ns.get(build_student(ns, "Value", steps, v)[-1], "data")

    t.grad_matches_numeric(f"{label}: gradients against numeric differences of your forward", forward,
                           np.asarray(xs, dtype=float), np.array(1.0), grads)
