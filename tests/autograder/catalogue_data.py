"""The mistake catalogue, as data: plausible wrong implementations and correct-but-different ones.

``MISTAKES``: each is ``E(grade_id, solution cell, edit, hint)``; it must lose points, and its feedback (as the
student sees it) should match ``hint``, a regular expression (None: caught, not named yet). ``VARIANTS``: correct
code written differently; each must get full marks. Edits are ``tests/notebooks/_kit.py``'s: a list of
``(old, new)`` replacements of the solution cell (each ``old`` must occur) or a whole new source.

Drawn from the issue's measured gaps, from what students get wrong in CS231n / CMU 11-785 style assignments
(transposes, sums against means, in-place updates, off-by-one sizes, overwritten gradients), and from the edge
cases the checks vary (ties at 0, batch of one, non-square shapes, stride and padding).
"""

from tests.autograder.catalogue import Entry as E

# -- unit 1 -------------------------------------------------------------------------------------------------------
H, S, T, P = "u1_heaviside_impl", "u1_sigmoid_impl", "u1_tlu_impl", "u1_perceptron_step_impl"
TP, G, X, D = "u1_train_perceptron_impl", "u1_gates_impl", "u1_xor_impl", "u1_delta_rule_impl"
SIG_BODY = "    e = np.exp(-np.abs(z))  # never overflows\n    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))"

UNIT1 = [
    E("u1_heaviside", H, [("z > 0", "z >= 0")], r"H\(0\) = 1"),
    E("u1_heaviside", H, [("(z > 0).astype(float)", "np.sign(z)")], r"np\.sign"),
    E("u1_heaviside", H, [("(z > 0).astype(float)", "(z > 0).astype(np.float32)")], r"float32"),
    E("u1_heaviside", H, [("(z > 0).astype(float)", "(z > 0)")], r"return floats"),
    E("u1_heaviside", H, [("(z > 0).astype(float)", "1.0 / (1.0 + np.exp(-z))")], r"sigmoid instead of the step"),
    E("u1_sigmoid", S, [(SIG_BODY, "    return 1.0 / (1.0 + np.exp(-z))")], r"overflow"),
    E("u1_sigmoid", S, [(SIG_BODY, "    return np.exp(z) / (1.0 + np.exp(z))")], r"overflow"),
    E("u1_sigmoid", S, [("1.0 / (1.0 + e), e / (1.0 + e)", "1.0 / (1.0 + e), 1.0 / (1.0 + e)")],
      r"sigmoid\(\|z\|\)"),
    E("u1_sigmoid", S, [("1.0 / (1.0 + e), e / (1.0 + e)", "e / (1.0 + e), 1.0 / (1.0 + e)")], r"sigmoid\(-z\)"),
    E("u1_sigmoid", S, [("z = np.asarray(z, dtype=float)", "z = np.asarray(z, dtype=np.float32)")], r"float32"),
    E("u1_sigmoid", S, [(SIG_BODY, "    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-z)), np.exp(z) / (1.0 + np.exp(z)))")],
      r"overflow"),
    E("u1_tlu", T, [("np.hstack([np.ones((X.shape[0], 1)), X])", "np.hstack([X, np.ones((X.shape[0], 1))])")],
      r"column of ones at the end"),
    E("u1_tlu", T, [("heaviside(add_bias(X) @ theta)", "heaviside(X @ theta[1:])")], r"a missing bias"),
    E("u1_tlu", T, [("heaviside(add_bias(X) @ theta)", "sigmoid(add_bias(X) @ theta)")],
      r"sigmoid instead of the step"),
    E("u1_tlu", T, [("heaviside(add_bias(X) @ theta)", "(add_bias(X) @ theta >= 0).astype(float)")],
      r"H\(0\) = 1"),
    E("u1_tlu", T, [("heaviside(add_bias(X) @ theta)", "heaviside(theta.T @ add_bias(X).T)")], r"transpose"),
    E("u1_perceptron_step", P, [("theta + lr", "theta - lr")], r"a flipped update"),
    E("u1_perceptron_step", P, [("np.concatenate([[1.0], np.asarray(x, dtype=float)])",
                                 "np.concatenate([[0.0], np.asarray(x, dtype=float)])")], r"bias that is not updated"),
    E("u1_perceptron_step", P, [("    return theta + lr * np.outer(x_tilde, np.asarray(y, dtype=float) - a)",
                                 "    theta += lr * np.outer(x_tilde, np.asarray(y, dtype=float) - a)\n"
                                 "    return theta")], r"in place"),
    E("u1_perceptron_step", P, [("a = heaviside(x_tilde @ theta)", "a = sigmoid(x_tilde @ theta)")],
      r"sigmoid output instead of the step"),
    E("u1_perceptron_step", P, [("return theta + lr * np.outer", "return theta + np.outer")],
      r"learning rate is missing"),
    E("u1_perceptron_step", P, [("np.asarray(y, dtype=float) - a)", "a - np.asarray(y, dtype=float))")],
      r"a flipped update"),
    E("u1_train_perceptron", TP, [("        if wrong == 0:\n            break\n", "")], r"did not stop"),
    E("u1_train_perceptron", TP, [("wrong += 1", "wrong += int(np.sum(tlu_predict(theta, x[None, :])[0] != y))")],
      r"wrong units"),
    E("u1_train_perceptron", TP, [("for x, y in zip(X, Y):", "for x, y in zip(X[::-1], Y[::-1]):")],
      r"data order"),
    E("u1_train_perceptron", TP, [("return theta, mistakes", "return theta")], r"tuple of 2 values"),
    E("u1_train_perceptron", TP, [("np.array(theta0, dtype=float)", "np.asarray(theta0, dtype=float)"),
                                  ("theta = perceptron_step(theta, x, y, lr)",
                                   "theta[...] = perceptron_step(theta, x, y, lr)")], r"in place"),
    E("u1_train_perceptron", TP, [("        mistakes.append(wrong)\n        if wrong == 0:\n            break\n",
                                   "        if wrong == 0:\n            break\n        mistakes.append(wrong)\n")],
      r"did not count the last epoch|last epoch"),
    E("u1_gates", G, [("W_AND = np.array([-30.0, 20.0, 20.0])", "W_AND = np.array([-3.0, 2.0, 2.0])")],
      r"too small to saturate"),
    E("u1_gates", G, [("W_NAND = np.array([30.0, -20.0, -20.0])", "W_NAND = np.array([3.0, -2.0, -2.0])")],
      r"too small to saturate"),
    E("u1_gates", G, [("W_OR = np.array([-10.0, 20.0, 20.0])\nW_AND = np.array([-30.0, 20.0, 20.0])",
                       "W_OR = np.array([-30.0, 20.0, 20.0])\nW_AND = np.array([-10.0, 20.0, 20.0])")],
      r"truth table of (OR|AND)"),
    E("u1_gates", G, [("W_NOT = np.array([10.0, -20.0])", "W_NOT = np.array([10.0, -20.0, 0.0])")], r"shape \(2,\)"),
    E("u1_gates", G, [("W_NOT = np.array([10.0, -20.0])", "W_NOT = np.array([-10.0, 20.0])")],
      r"truth table of the identity|sign"),
    E("u1_gates", G, [("return sigmoid(w[0] + np.asarray(X, dtype=float) @ w[1:])",
                       "return sigmoid(np.asarray(X, dtype=float) @ w[1:])")], r"bias"),
    E("u1_xor", X, [("gate_neuron(W_NAND, X)", "gate_neuron(W_AND, X)")], r"computes AND"),
    E("u1_xor", X, [("    H = np.column_stack([gate_neuron(W_OR, X), gate_neuron(W_NAND, X)])  # (N, 2)\n"
                     "    return gate_neuron(W_AND, H)", "    return np.array([0.0, 1.0, 1.0, 0.0])")], r"hard-coded"),
    E("u1_xor", X, [("return gate_neuron(W_AND, H)", "return gate_neuron(W_OR, H)")], r"computes a constant 1, not XOR"),
    E("u1_delta_rule", D, [("w = w + lr * Xb.T @ (y - Xb @ w)", "w = w + lr * Xb.T @ (y - Xb @ w) / len(y)")],
      r"mean over the batch"),
    E("u1_delta_rule", D, [("w = w + lr * Xb.T", "w = w - lr * Xb.T")], r"a step uphill"),
    E("u1_delta_rule", D, [("        w = w + lr * Xb.T @ (y - Xb @ w)\n        losses.append(0.5 * float(np.sum((y - Xb @ w) ** 2)))",
                            "        losses.append(0.5 * float(np.sum((y - Xb @ w) ** 2)))\n        w = w + lr * Xb.T @ (y - Xb @ w)")],
      r"before each update"),
    E("u1_delta_rule", D, [("losses.append(0.5 * float(", "losses.append(1.0 * float(")], r"exactly 2x"),
    E("u1_delta_rule", D, [("np.array(w0, dtype=float)", "np.asarray(w0, dtype=float)"),
                           ("w = w + lr * Xb.T @ (y - Xb @ w)", "w += lr * Xb.T @ (y - Xb @ w)")], r"in place"),
    E("u1_delta_rule", D, [("        w = w + lr * Xb.T @ (y - Xb @ w)\n",
                            "        for xn, yn in zip(Xb, y):\n            w = w + lr * xn * (yn - xn @ w)\n")],
      r"one example at a time"),
]

UNIT1_VARIANTS = [
    E("u1_heaviside", H, [("return (z > 0).astype(float)", "return np.where(z > 0, 1.0, 0.0)")]),
    E("u1_heaviside", H, [("return (z > 0).astype(float)", "return np.heaviside(z, 0.0)")]),
    E("u1_sigmoid", S, [(SIG_BODY, "    return 0.5 * (1.0 + np.tanh(0.5 * z))")]),
    E("u1_sigmoid", S, [(SIG_BODY, "    return np.exp(-np.logaddexp(0.0, -z))")]),
    E("u1_tlu", T, [("heaviside(add_bias(X) @ theta)", "heaviside(np.asarray(X, dtype=float) @ theta[1:] + theta[0])")]),
    E("u1_perceptron_step", P, [("    return theta + lr * np.outer(x_tilde, np.asarray(y, dtype=float) - a)",
                                 "    new = np.array(theta, dtype=float)\n"
                                 "    for j in range(new.shape[1]):\n"
                                 "        for i in range(new.shape[0]):\n"
                                 "            new[i, j] += lr * (y[j] - a[j]) * x_tilde[i]\n"
                                 "    return new")]),
    E("u1_train_perceptron", TP, [("if np.any(tlu_predict(theta, x[None, :])[0] != y):",
                                   "if not np.array_equal(tlu_predict(theta, x[None, :])[0], y):")]),
    E("u1_gates", G, [("W_OR = np.array([-10.0, 20.0, 20.0])\nW_AND = np.array([-30.0, 20.0, 20.0])",
                       "W_OR = np.array([-20.0, 40.0, 40.0])\nW_AND = np.array([-60.0, 40.0, 40.0])")]),
    E("u1_xor", X, [("np.column_stack([gate_neuron(W_OR, X), gate_neuron(W_NAND, X)])",
                     "np.stack([gate_neuron(W_OR, X), gate_neuron(W_NAND, X)], axis=1)")]),
    E("u1_delta_rule", D, [("w = w + lr * Xb.T @ (y - Xb @ w)", "w += lr * (y - Xb @ w) @ Xb")]),
]

# -- unit 2 -------------------------------------------------------------------------------------------------------
V, GX, DU, TN, SM = "u2_value_impl", "u2_graph_examples_impl", "u2_dual_impl", "u2_train_neuron_impl", "u2_softmax_impl"
BACKWARD_LOOP = "        self.grad = 1.0\n        for node in reversed(order):\n            node._backward()"

UNIT2 = [
    E("u2_value_backward", V, [("            self.grad += out.grad\n            other.grad += out.grad",
                                "            self.grad = out.grad\n            other.grad = out.grad")], r"overwritten"),
    E("u2_value_backward", V, [("            self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
                                "            self.grad = other.data * out.grad\n            other.grad = self.data * out.grad")],
      r"overwritten"),
    E("u2_value_backward", V, [("            self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
                                "            self.grad += self.data * out.grad\n            other.grad += other.data * out.grad")],
      r"local derivatives of \* swapped"),
    E("u2_value_backward", V, [("self.grad += k * self.data ** (k - 1) * out.grad", "self.grad += self.data ** (k - 1) * out.grad")],
      r"power rule without its exponent"),
    E("u2_value_backward", V, [("self.grad += k * self.data ** (k - 1) * out.grad", "self.grad += k * self.data ** k * out.grad")],
      r"k \* x\*\*k instead"),
    E("u2_value_backward", V, [("self.grad += out.data * out.grad", "self.grad = out.data * out.grad")],
      r"overwritten .* exp"),
    E("u2_value_backward", V, [("self.grad += (1.0 - t * t) * out.grad", "self.grad = (1.0 - t * t) * out.grad")],
      r"overwritten .* tanh"),
    E("u2_value_backward", V, [("self.grad += s * (1.0 - s) * out.grad", "self.grad = s * (1.0 - s) * out.grad")],
      r"overwritten .* sigmoid"),
    E("u2_value_backward", V, [("self.grad += (1.0 - t * t) * out.grad", "self.grad += (1.0 - t) * out.grad")],
      r"square is missing"),
    E("u2_value_backward", V, [("self.grad += s * (1.0 - s) * out.grad", "self.grad += s * out.grad")],
      r"factor \(1 - s\) is missing"),
    E("u2_value_backward", V, [("self.grad += out.data * out.grad", "self.grad += out.grad")], r"exp' = 1"),
    E("u2_value_backward", V, [(BACKWARD_LOOP, "        self.grad = 1.0\n        queue = [self]\n        seen = {id(self)}\n"
                                "        while queue:\n            node = queue.pop(0)\n            node._backward()\n"
                                "            for child in node._prev:\n                if id(child) not in seen:\n"
                                "                    seen.add(id(child))\n                    queue.append(child)")],
      r"breadth-first order"),
    E("u2_value_backward", V, [(BACKWARD_LOOP, "        self.grad = 1.0\n        for node in order:\n            node._backward()")],
      r"forward order"),
    E("u2_value_backward", V, [(BACKWARD_LOOP, "        for node in reversed(order):\n            node._backward()")],
      r"grad never set to 1\.0"),
    E("u2_value_backward", V, [(BACKWARD_LOOP, "        topo = []\n\n        def build(v):\n            for c in v._prev:\n"
                                "                build(c)\n            topo.append(v)\n        build(self)\n"
                                "        self.grad = 1.0\n        for node in reversed(topo):\n            node._backward()")],
      r"without a visited set"),
    E("u2_value_backward", V, [(BACKWARD_LOOP, "        topo, seen = [], set()\n\n        def build(v):\n"
                                "            if id(v) not in seen:\n                seen.add(id(v))\n"
                                "                for c in v._prev:\n                    build(c)\n                topo.append(v)\n"
                                "        build(self)\n        self.grad = 1.0\n        for node in reversed(topo):\n"
                                "            node._backward()")], r"RecursionError"),
    E("u2_value_ops", V, [("e = math.exp(-abs(self.data))\n        s = 1.0 / (1.0 + e) if self.data >= 0 else e / (1.0 + e)",
                           "s = 1.0 / (1.0 + math.exp(-self.data))")], r"OverflowError"),
    E("u2_value_ops", V, [("out = Value(self.data ** k, (self,), f\"**{k}\")", "out = Value(self.data * k, (self,), f\"**{k}\")")],
      None),
    E("u2_value_backward", V, [("out = Value(self.data * other.data, (self, other), \"*\")",
                           "out = Value(self.data * other.data, (other,), \"*\")")], None),
    E("u2_graph_examples", GX, [("return f.data, xv.grad, yv.grad, zv.grad", "return f.data, zv.grad, yv.grad, xv.grad")],
      r"wrong order"),
    E("u2_graph_examples", GX, [("f = (xv + yv) * (2 * xv - 3)", "f = (xv + yv) * (2 * xv + 3)")], r"value f itself is wrong"),
    E("u2_graph_examples", GX, [("return f.data, xv.grad, yv.grad\n", "return f, xv, yv\n")], r"plain floats"),
    E("u2_dual", DU, [("self.value * other.tangent + self.tangent * other.value", "self.tangent * other.tangent")],
      r"product rule"),
    E("u2_dual", DU, [("self.value * other.tangent + self.tangent * other.value", "self.value * other.tangent")],
      r"product rule"),
    E("u2_dual", DU, [("k * self.value ** (k - 1) * self.tangent", "self.value ** (k - 1) * self.tangent")],
      r"power rule without its exponent"),
    E("u2_dual", DU, [("return Dual(e, e * self.tangent)", "return Dual(e, e)")], r"chain rule is missing"),
    E("u2_dual", DU, [("return Dual(t, (1.0 - t * t) * self.tangent)", "return Dual(t, (1.0 - t) * self.tangent)")],
      r"square is missing"),
    E("u2_dual", DU, [("return Dual(s, s * (1.0 - s) * self.tangent)", "return Dual(s, s * self.tangent)")],
      r"factor \(1 - s\) is missing"),
    E("u2_dual", DU, [("e = math.exp(-abs(self.value))\n        s = 1.0 / (1.0 + e) if self.value >= 0 else e / (1.0 + e)",
                       "s = 1.0 / (1.0 + math.exp(-self.value))")], r"OverflowError"),
    E("u2_train_neuron", TN, [("w, b = np.array(w0, dtype=float), float(b0)", "w, b = np.asarray(w0, dtype=float), float(b0)"),
                              ("w = w - lr * np.array([wi.grad for wi in wv])", "w -= lr * np.array([wi.grad for wi in wv])")],
      r"in place"),
    E("u2_train_neuron", TN, [("        loss = loss / len(X)\n", "")], r"summed squared error instead of the mean"),
    E("u2_train_neuron", TN, [("        losses.append(loss.data)\n", ""),
                              ("        b = b - lr * bv.grad\n", "        b = b - lr * bv.grad\n        losses.append(float(np.mean("
                               "(1 / (1 + np.exp(-(X @ w + b))) - y) ** 2)))\n")], r"after each step instead of before"),
    E("u2_train_neuron", TN, [("w = w - lr * np.array", "w = w + lr * np.array"), ("b = b - lr * bv.grad", "b = b + lr * bv.grad")],
      r"gradient ascent"),
    E("u2_softmax", SM, [("    shifted = Z - Z.max(axis=1, keepdims=True)\n", "    shifted = Z\n")], r"overflow"),
    E("u2_softmax", SM, [("return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                          "return np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)")], r"softmax instead of log-softmax"),
    E("u2_softmax", SM, [("shifted = Z - Z.max(axis=1, keepdims=True)", "shifted = Z - Z.max(axis=0, keepdims=True)"),
                         ("np.exp(shifted).sum(axis=1, keepdims=True)", "np.exp(shifted).sum(axis=0, keepdims=True)")],
      r"wrong axis"),
    E("u2_softmax", SM, [("loss = -float(z3[np.arange(n), y].sum())", "loss = -float(z3[np.arange(n), y].mean())")],
      r"mean over the batch instead of the sum"),
    E("u2_softmax", SM, [("dtheta = z1.T @ d2", "dtheta = -(z1.T @ d2)")], r"sign is flipped"),
    E("u2_softmax", SM, [("    dtheta = z1.T @ d2                                 # (D+1, 2)\n    return loss, dtheta",
                          "    dtheta = z1.T @ d2\n    return loss, dtheta / n")], r"1/7"),
]

UNIT2_VARIANTS = [
    E("u2_value_backward", V, [(BACKWARD_LOOP, "        import sys\n        sys.setrecursionlimit(10000)\n        topo, seen = [], set()\n\n"
                                "        def build(v):\n            if id(v) not in seen:\n                seen.add(id(v))\n"
                                "                for c in v._prev:\n                    build(c)\n                topo.append(v)\n"
                                "        build(self)\n        self.grad = 1.0\n        for node in reversed(topo):\n"
                                "            node._backward()")]),
    E("u2_value_backward", V, [("self.grad += (1.0 - t * t) * out.grad", "self.grad += (1.0 - out.data ** 2) * out.grad")]),
    E("u2_value_ops", V, [("e = math.exp(-abs(self.data))\n        s = 1.0 / (1.0 + e) if self.data >= 0 else e / (1.0 + e)",
                           "s = 0.5 * (1.0 + math.tanh(0.5 * self.data))")]),
    E("u2_graph_examples", GX, [("f = xv ** 2 * yv / zv", "f = xv * xv * yv * zv ** -1")]),
    E("u2_dual", DU, [("e = math.exp(-abs(self.value))\n        s = 1.0 / (1.0 + e) if self.value >= 0 else e / (1.0 + e)",
                       "s = 0.5 * (1.0 + math.tanh(0.5 * self.value))")]),
    E("u2_softmax", SM, [("return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                          "return Z - (Z.max(axis=1, keepdims=True) + np.log(np.exp(shifted).sum(axis=1, keepdims=True)))")]),
    E("u2_softmax", SM, [("    d2 = d3 - np.exp(z3) * d3.sum(axis=1, keepdims=True)\n",
                          "    d2 = np.exp(z3)\n    d2[np.arange(n), y] -= 1.0\n")]),
    E("u2_train_neuron", TN, [("        loss = loss / len(X)\n", "        loss = loss * (1.0 / len(X))\n")]),
]

MISTAKES = UNIT1 + UNIT2
VARIANTS = UNIT1_VARIANTS + UNIT2_VARIANTS
