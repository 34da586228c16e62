"""A tiny assignment for the grader's own tests: reference, items, and notebook builders.

The items are registered here (passed to the grader explicitly), never in the
real registry. ``notebook(...)`` builds an nbgrader-style notebook whose solution
cells can be swapped for adversarial ones.
"""

import numpy as np

from autograder.items import Item, Registry

ASSIGNMENT = "fixture"


# -- reference ---------------------------------------------------------------------------------
def ref_relu(z):
    return np.where(z > 0, z, 0.0)


def ref_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def ref_mse(pred, target):
    diff = pred - target
    return float(np.mean(diff ** 2)), 2 * diff / diff.size


# -- checks ------------------------------------------------------------------------------------
def relu_matches_reference(ns, t):
    z = t.rng.normal(size=(5, 4))
    z[0, 0] = 0.0
    t.close("relu on a (5, 4) array with a 0", ns.call("relu", z), ref_relu(z))


def relu_leaves_input_alone(ns, t):
    z = t.rng.normal(size=(3,))
    t.close("relu on a 1-D array", ns.call("relu", z), ref_relu(z))


def relu_hidden_large(ns, t):
    z = t.rng.normal(size=(40, 7)) * 100
    t.close("relu on large inputs", ns.call("relu", z), ref_relu(z))


def relu_grad_matches(ns, t):
    z = t.away_from_kinks((4, 3))
    dout = t.rng.normal(size=(4, 3))
    dz = ns.call("relu_backward", z, dout)
    t.grad_matches_numeric("relu_backward against your relu", lambda v: ns.call("relu", v), z, dout, dz)
    t.close("relu_backward against the reference", dz, dout * (z > 0), kind="backward")


def softmax_rows(ns, t):
    z = t.rng.normal(size=(4, 5))
    t.close("softmax of a (4, 5) array", ns.call("softmax", z), ref_softmax(z))


def softmax_large(ns, t):
    z = t.rng.normal(size=(3, 5)) * 1000
    t.close("softmax of large inputs (about 1000)", ns.call("softmax", z), ref_softmax(z))


def linear_forward_backward(ns, t):
    x = t.rng.normal(size=(6, 4))
    W = t.rng.normal(size=(4, 3))
    b = t.rng.normal(size=(3,))
    layer = ns.new("Linear", 4, 3)
    ns.setitem(layer, "params", "W", W)
    ns.setitem(layer, "params", "b", b)
    t.close("Linear.forward", ns.method(layer, "forward", x), x @ W + b)
    dout = t.rng.normal(size=(6, 3))
    dx = ns.method(layer, "backward", dout)
    grads = ns.get(layer, "grads")
    t.close("Linear.backward dx", dx, dout @ W.T, kind="backward")
    t.close("Linear.backward dW", grads.get("W") if isinstance(grads, dict) else grads, x.T @ dout,
            kind="backward")
    t.grad_matches_numeric("dx against your forward", lambda v: ns.method(layer, "forward", v), x, dout, dx)


def mse_value_and_grad(ns, t):
    pred = t.rng.normal(size=(8, 2))
    target = t.rng.normal(size=(8, 2))
    out = ns.call("mse", pred, target)
    value, grad = ref_mse(pred, target)
    if not (isinstance(out, tuple) and len(out) == 2):
        t.fail("mse returns (value, grad)", f"expected a (value, grad) tuple, got {type(out).__name__}")
        return
    t.close("mse value", out[0], value)
    t.close("mse gradient", out[1], grad, kind="backward", batch_size=pred.size)


ITEMS = [
    Item("fx_relu", 2, "relu(z)", names=("relu",), checks=(relu_matches_reference, relu_leaves_input_alone),
         hidden_checks=(relu_hidden_large,)),
    Item("fx_relu_grad", 2, "relu_backward(z, dout)", names=("relu", "relu_backward"),
         checks=(relu_grad_matches,)),
    Item("fx_softmax", 2, "softmax(z)", names=("softmax",), checks=(softmax_rows,),
         hidden_checks=(softmax_large,)),
    Item("fx_linear", 3, "Linear layer", names=("Linear",), checks=(linear_forward_backward,)),
    Item("fx_mse", 1, "mse(pred, target)", names=("mse",), checks=(mse_value_and_grad,), all_or_nothing=True),
]
REGISTRY = Registry(ITEMS)


# -- student code ------------------------------------------------------------------------------
HONEST = {
    "relu": "def relu(z):\n    return np.where(z > 0, z, 0.0)\n",
    "relu_backward": "def relu_backward(z, dout):\n    return dout * (z > 0)\n",
    "softmax": ("def softmax(z):\n    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
                "    return e / e.sum(axis=-1, keepdims=True)\n"),
    "Linear": ("class Linear:\n    def __init__(self, d, m):\n"
               "        self.params = {'W': np.zeros((d, m)), 'b': np.zeros(m)}\n        self.grads = {}\n"
               "    def forward(self, x):\n        self.x = x\n"
               "        return x @ self.params['W'] + self.params['b']\n"
               "    def backward(self, dout):\n        self.grads['W'] = self.x.T @ dout\n"
               "        self.grads['b'] = dout.sum(axis=0)\n        return dout @ self.params['W'].T\n"),
    "mse": "def mse(pred, target):\n    d = pred - target\n    return float(np.mean(d ** 2)), 2 * d / d.size\n",
}
STUBS = {name: f"def {name}(*args):\n    raise NotImplementedError\n" for name in HONEST if name != "Linear"}
STUBS["Linear"] = "class Linear:\n    def __init__(self, d, m):\n        raise NotImplementedError\n"

TEST_CELLS = {  # grade_id -> the test cell source (visible + hidden), as in solutions/
    item.grade_id: (f'from autograder import check\ncheck("{item.grade_id}", globals())\n'
                    f'### BEGIN HIDDEN TESTS\ncheck("{item.grade_id}", globals(), hidden=True)\n'
                    '### END HIDDEN TESTS\n')
    for item in ITEMS
}
SOLUTION_OF = {"fx_relu": "relu", "fx_relu_grad": "relu_backward", "fx_softmax": "softmax",
               "fx_linear": "Linear", "fx_mse": "mse"}


def _meta(grade_id, *, solution=False, grade=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def notebook(code=None, *, test_cells=None, extra_cells=(), setup="import numpy as np\n"):
    """An nbgrader notebook: setup, then per item a solution cell and its test cell.

    ``code`` maps a solution name to its source (default: honest); ``test_cells``
    maps a grade id to replacement test-cell source (``None`` deletes the cell);
    ``extra_cells`` are appended (student-added code cells).
    """
    import nbformat   # lazily: batch workers import this module for its checks, not its notebooks

    code = {**HONEST, **(code or {})}
    test_cells = dict(TEST_CELLS, **(test_cells or {}))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [nbformat.v4.new_markdown_cell("# Fixture assignment", metadata=_meta("intro", locked=True)),
             nbformat.v4.new_code_cell(setup, metadata=_meta("setup", locked=True))]
    for item in ITEMS:
        name = SOLUTION_OF[item.grade_id]
        cells.append(nbformat.v4.new_code_cell(code[name], metadata=_meta(f"{name}_solution", solution=True)))
        if test_cells[item.grade_id] is not None:
            cells.append(nbformat.v4.new_code_cell(
                test_cells[item.grade_id],
                metadata=_meta(item.grade_id, grade=True, locked=True, points=item.points)))
    cells.extend(nbformat.v4.new_code_cell(src) for src in extra_cells)
    nb.cells = cells
    return nb


def write(nb, path):
    import nbformat
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
