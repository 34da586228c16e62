"""Partially correct unit 2 submissions for the end-to-end grading tests (see ``tests/notebooks/_kit.py`` for the
edit format).
"""

from tests.notebooks._kit import SOLVED

RECURSIVE_TOPOLOGICAL_SORT = [(
    "        order, visited = [], set()\n"
    "        stack = [(self, False)]\n"
    "        while stack:\n"
    "            node, children_done = stack.pop()\n"
    "            if children_done:\n"
    "                order.append(node)\n"
    "                continue\n"
    "            if id(node) in visited:\n"
    "                continue\n"
    "            visited.add(id(node))\n"
    "            stack.append((node, True))\n"
    "            stack.extend((child, False) for child in node._prev if id(child) not in visited)\n",
    "        order, visited = [], set()\n"
    "\n"
    "        def visit(node):\n"
    "            if id(node) not in visited:\n"
    "                visited.add(id(node))\n"
    "                for child in node._prev:\n"
    "                    visit(child)\n"
    "                order.append(node)\n"
    "        visit(self)\n",
)]

SUBMISSIONS = {
    # The engine and the lecture's examples, nothing after that.
    "engine_only": {
        "u2_value_impl": SOLVED,
        "u2_graph_examples_impl": SOLVED,
    },
    # The classic autodiff bugs: gradients overwritten instead of accumulated in __mul__, and tanh's local
    # derivative written as 1 - t. Everything else is right.
    "classic_bugs": {
        "u2_value_impl": [("            self.grad += other.data * out.grad\n"
                           "            other.grad += self.data * out.grad",
                           "            self.grad = other.data * out.grad\n"
                           "            other.grad = self.data * out.grad"),
                          ("self.grad += (1.0 - t * t) * out.grad", "self.grad += (1.0 - t) * out.grad")],
        "u2_graph_examples_impl": SOLVED,
        "u2_dual_impl": SOLVED,
        "u2_train_neuron_impl": SOLVED,
        "u2_softmax_impl": SOLVED,
    },
    # A recursive topological sort (fails on deep graphs), a hard-coded first example, Dual's product rule
    # missing a term, a summed training loss and an unstable log-softmax.
    "fragile": {
        "u2_value_impl": RECURSIVE_TOPOLOGICAL_SORT,
        "u2_graph_examples_impl": [("    xv, yv = Value(x), Value(y)\n    f = (xv + yv) * (2 * xv - 3)\n"
                                    "    f.backward()\n    return f.data, xv.grad, yv.grad",
                                    "    return -3.0, 5.0, -1.0")],
        "u2_dual_impl": [("self.value * other.tangent + self.tangent * other.value", "self.value * other.tangent")],
        "u2_train_neuron_impl": [("        loss = loss / len(X)\n", "")],
        "u2_softmax_impl": [("    shifted = z - z.max(axis=1, keepdims=True)\n", "    shifted = z\n")],
    },
}
