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
    E("u1_train_perceptron", TP, [("wrong += 1", "wrong += int(np.sum(tlu_predict(theta, x[None, :])[0] != t))")],
      r"wrong units"),
    E("u1_train_perceptron", TP, [("for x, t in zip(X, y):", "for x, t in zip(X[::-1], y[::-1]):")],
      r"data order"),
    E("u1_train_perceptron", TP, [("return theta, mistakes", "return theta")], r"tuple of 2 values"),
    E("u1_train_perceptron", TP, [("np.array(theta0, dtype=float)", "np.asarray(theta0, dtype=float)"),
                                  ("theta = perceptron_step(theta, x, t, lr)",
                                   "theta[...] = perceptron_step(theta, x, t, lr)")], r"in place"),
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
    E("u1_gates", G, [("return sigmoid(theta[0] + np.asarray(X, dtype=float) @ theta[1:])",
                       "return sigmoid(np.asarray(X, dtype=float) @ theta[1:])")], r"bias"),
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
    E("u1_train_perceptron", TP, [("if np.any(tlu_predict(theta, x[None, :])[0] != t):",
                                   "if not np.array_equal(tlu_predict(theta, x[None, :])[0], t):")]),
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
    E("u2_value_backward", V, [("self.grad += exponent * self.data ** (exponent - 1) * out.grad", "self.grad += self.data ** (exponent - 1) * out.grad")],
      r"power rule without its exponent"),
    E("u2_value_backward", V, [("self.grad += exponent * self.data ** (exponent - 1) * out.grad", "self.grad += exponent * self.data ** exponent * out.grad")],
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
    E("u2_value_ops", V, [("out = Value(self.data ** exponent, (self,), f\"**{exponent}\")",
                           "out = Value(self.data * exponent, (self,), f\"**{exponent}\")")],
      r"x \* k instead of x \*\* k"),
    E("u2_value_backward", V, [("out = Value(self.data * other.data, (self, other), \"*\")",
                           "out = Value(self.data * other.data, (other,), \"*\")")], r"left out of `_prev`"),
    E("u2_graph_examples", GX, [("return f.data, xv.grad, yv.grad, zv.grad", "return f.data, zv.grad, yv.grad, xv.grad")],
      r"wrong order"),
    E("u2_graph_examples", GX, [("f = (xv + yv) * (2 * xv - 3)", "f = (xv + yv) * (2 * xv + 3)")], r"value f itself is wrong"),
    E("u2_graph_examples", GX, [("return f.data, xv.grad, yv.grad\n", "return f, xv, yv\n")], r"plain floats"),
    E("u2_dual", DU, [("self.value * other.tangent + self.tangent * other.value", "self.tangent * other.tangent")],
      r"product rule"),
    E("u2_dual", DU, [("self.value * other.tangent + self.tangent * other.value", "self.value * other.tangent")],
      r"product rule"),
    E("u2_dual", DU, [("exponent * self.value ** (exponent - 1) * self.tangent", "self.value ** (exponent - 1) * self.tangent")],
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
    E("u2_softmax", SM, [("    shifted = z - z.max(axis=1, keepdims=True)\n", "    shifted = z\n")], r"overflow"),
    E("u2_softmax", SM, [("return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                          "return np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)")], r"softmax instead of log-softmax"),
    E("u2_softmax", SM, [("shifted = z - z.max(axis=1, keepdims=True)", "shifted = z - z.max(axis=0, keepdims=True)"),
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
                          "return z - (z.max(axis=1, keepdims=True) + np.log(np.exp(shifted).sum(axis=1, keepdims=True)))")]),
    E("u2_softmax", SM, [("    d2 = d3 - np.exp(z3) * d3.sum(axis=1, keepdims=True)\n",
                          "    d2 = np.exp(z3)\n    d2[np.arange(n), y] -= 1.0\n")]),
    E("u2_train_neuron", TN, [("        loss = loss / len(X)\n", "        loss = loss * (1.0 / len(X))\n")]),
]

# -- unit 3 -------------------------------------------------------------------------------------------------------
AC, RL, BC, CE = "u3_activations_impl", "u3_regression_losses_impl", "u3_bce_impl", "u3_softmax_ce_impl"
GC, LI, SQ, TR = "u3_gradcheck_impl", "u3_linear_impl", "u3_sequential_impl", "u3_training_impl"
CAP, MSE_LINE = "u3_capacity_impl", "return float(np.mean((pred - y) ** 2))"
SIG3 = ("    out = np.empty_like(z)\n    pos = z >= 0\n    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))\n"
        "    ez = np.exp(z[~pos])\n    out[~pos] = ez / (1.0 + ez)\n    return out")

UNIT3 = [
    E("u3_activations", AC, [(SIG3, "    return 1.0 / (1.0 + np.exp(-z))")], r"overflow"),
    E("u3_activations", AC, [("    s = sigmoid(z)\n    return s * (1.0 - s)", "    return sigmoid(z)")],
      r"sigmoid' = s"),
    E("u3_activations", AC, [("return 1.0 - np.tanh(np.asarray(z, dtype=float)) ** 2",
                              "return 1.0 - np.tanh(np.asarray(z, dtype=float))")], r"square is missing"),
    E("u3_activations", AC, [("return (np.asarray(z, dtype=float) > 0).astype(float)",
                              "return (np.asarray(z, dtype=float) >= 0).astype(float)")], r"relu'\(0\) = 1"),
    E("u3_activations", AC, [("return np.maximum(z, 0.0)", "return np.maximum(z, 0.0).astype(np.float32)")], r"float32"),
    E("u3_activations", AC, [("return (np.asarray(z, dtype=float) > 0).astype(float)",
                              "return np.maximum(np.asarray(z, dtype=float), 0.0)")], r"relu itself instead of its derivative"),
    E("u3_activations", AC, [("return np.tanh(np.asarray(z, dtype=float))",
                              "z = np.asarray(z, dtype=float)\n    return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))")],
      r"overflow"),
    E("u3_regression_losses", RL, [("2.0 * diff / diff.size", "diff / diff.size")], r"exactly 1/2"),
    E("u3_regression_losses", RL, [("2.0 * diff / diff.size", "2.0 * diff / len(diff)")], r"number of rows"),
    E("u3_regression_losses", RL, [("return float(np.mean(diff ** 2)), 2.0", "return float(np.sum(diff ** 2)), 2.0")],
      r"summed over all .* entries instead of averaging"),
    E("u3_regression_losses", RL, [("np.sign(diff) / diff.size", "np.sign(-diff) / diff.size")], r"sign is flipped"),
    E("u3_regression_losses", RL, [("np.sign(diff) / diff.size", "np.sign(diff)")], r"summed over all .* entries|instead of the number of entries|dividing"),
    E("u3_regression_losses", RL, [("np.sign(diff) / diff.size", "(diff > 0).astype(float) / diff.size")], r"sign\(0\) = 0|np\.sign"),
    E("u3_regression_losses", RL, [("        raise ValueError(f\"mse: pred", "        pass  # f\"mse: pred")], r"ValueError"),
    E("u3_bce", BC, [("value = np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z))))",
                      "p = 1.0 / (1.0 + np.exp(-z))\n    value = np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p))")],
      r"overflow|divide by zero"),
    E("u3_bce", BC, [("(sigmoid(z) - y) / z.size", "(sigmoid(z) - y)")], r"without dividing by the number of entries"),
    E("u3_bce", BC, [("(sigmoid(z) - y) / z.size", "(y - sigmoid(z)) / z.size")], r"sign is flipped"),
    E("u3_bce", BC, [("value = np.mean(", "value = np.sum(")], r"summed over all .* entries"),
    E("u3_softmax_ce", CE, [("    shifted = z - z.max(axis=-1, keepdims=True)\n", "    shifted = z\n")], r"subtract the row max|overflow"),
    E("u3_softmax_ce", CE, [("z.max(axis=-1, keepdims=True)", "z.max(axis=0, keepdims=True)"),
                            ("e / e.sum(axis=-1, keepdims=True)", "e / e.sum(axis=0, keepdims=True)")], r"wrong axis"),
    E("u3_softmax_ce", CE, [("value = -log_probs[rows, labels].mean()", "value = -log_probs[rows, labels].sum()")],
      r"summed over the batch instead of averaging"),
    E("u3_softmax_ce", CE, [("return float(value), dlogits / n", "return float(value), dlogits")],
      r"summed over the batch instead of averaging"),
    E("u3_softmax_ce", CE, [("    dlogits[rows, labels] -= 1.0\n", "")], r"one-hot"),
    E("u3_softmax_ce", CE, [("dlogits[rows, labels] -= 1.0", "dlogits[rows, labels] += 1.0")], r"one-hot"),
    E("u3_softmax_ce", CE, [("    shifted = z - z.max(axis=1, keepdims=True)\n    log_probs = shifted",
                             "    shifted = z\n    log_probs = shifted")], r"subtract the row max|overflow"),
    E("u3_gradcheck", GC, [("        x[i] = old - eps\n        f_minus = f(x)\n", "        x[i] = old\n        f_minus = f(x)\n"),
                           ("(f_plus - f_minus) / (2.0 * eps)", "(f_plus - f_minus) / eps")], r"one-sided"),
    E("u3_gradcheck", GC, [("(f_plus - f_minus) / (2.0 * eps)", "(f_plus - f_minus) / eps")], r"instead of 2 eps"),
    E("u3_gradcheck", GC, [("x = np.array(x, dtype=float)", "x = np.asarray(x, dtype=float)"),
                           ("        x[i] = old\n", "")], r"in place"),
    E("u3_gradcheck", GC, [("np.maximum(1e-8, np.abs(a) + np.abs(b))", "np.maximum(1e-8, np.abs(a + b))")],
      r"\|a \+ b\| in the denominator"),
    E("u3_gradcheck", GC, [("return float(np.max(np.abs(a - b)", "return float(np.mean(np.abs(a - b)")],
      r"mean of the entries' errors"),
    E("u3_linear", LI, [('self.grads["W"] = self.x.T @ dout', 'self.grads["W"] = dout.T @ self.x')], r"transpose"),
    E("u3_linear", LI, [('self.grads["b"] = dout.sum(axis=0)', 'self.grads["b"] = dout.mean(axis=0)')], r"averaging db"),
    E("u3_linear", LI, [('self.grads["W"] = self.x.T @ dout', 'self.grads["W"] = self.x.T @ dout / len(dout)')],
      r"1/6|divided by the batch size"),
    E("u3_linear", LI, [('        self.x = x\n        return x @ self.params["W"] + self.params["b"]',
                         '        self.x = x\n        return x @ self.params["W"]')], r"bias"),
    E("u3_linear", LI, [('return dout @ self.params["W"].T', 'return -(dout @ self.params["W"].T)')], r"sign is flipped"),
    E("u3_sequential", SQ, [("        for layer in reversed(self.layers):\n            dout = layer.backward(dout)",
                             "        for layer in self.layers:\n            dout = layer.backward(dout)")],
      r"reverse order"),
    E("u3_sequential", SQ, [("return dout * self.out * (1.0 - self.out)", "return self.out * (1.0 - self.out)")],
      r"without multiplying by dout"),
    E("u3_sequential", SQ, [("return dout * (1.0 - self.out ** 2)", "return dout * (1.0 - self.out)")], r"square is missing"),
    E("u3_sequential", SQ, [("return np.where(self.mask, dout, 0.0)", "return np.where(dout > 0, dout, 0.0)")],
      r"mask of the input"),
    E("u3_sequential", SQ, [("            pairs.extend(layer.parameters())\n", "            pairs.append(layer.parameters())\n")],
      r"list of lists"),
    E("u3_training", TR, [("order = np.random.default_rng(rng).permutation(n)", "order = np.arange(n)")], r"not shuffled|no shuffl"),
    E("u3_training", TR, [("range(0, n, batch_size)]", "range(0, n - batch_size + 1, batch_size)]")], r"last, smaller batch is dropped"),
    E("u3_training", TR, [("params[name] -= lr * grads[name]", "params[name] += lr * grads[name]")], r"ascent|against the gradient"),
    E("u3_training", TR, [("        history.append(float(np.mean(batch_losses)))", "        history.append(float(batch_losses[-1]))")],
      r"mean of the epoch's batch losses"),
] + [   # u3_capacity (issue 14): make_mlp, heldout_mse, capacity_curve
    E("u3_capacity", CAP, [("        if k < len(sizes) - 2:\n            layers.append(Tanh())", "        layers.append(Tanh())")],
      r"Tanh after the output layer"),
    E("u3_capacity", CAP, [("            layers.append(Tanh())", "            layers.append(ReLU())")], r"ReLU between the layers"),
    E("u3_capacity", CAP, [("sizes = [1, *hidden, 1]", "sizes = [1, hidden[0], 1]")], r"only the first hidden layer"),
    E("u3_capacity", CAP, [(MSE_LINE, "return float(np.sqrt(np.mean((pred - y) ** 2)))")], r"RMSE"),
    E("u3_capacity", CAP, [(MSE_LINE, "return float(np.sum((pred - y) ** 2))")], r"sum of squared errors"),
    E("u3_capacity", CAP, [(MSE_LINE, "return float(np.mean(np.abs(pred - y)))")], r"mean absolute error"),
    E("u3_capacity", CAP, [(MSE_LINE, "return float(0.5 * np.mean((pred - y) ** 2))")], r"half the mean squared error"),
    E("u3_capacity", CAP, [("errors.append(heldout_mse(model, x_held, y_held))", "errors.append(heldout_mse(model, x_fit, y_fit))")],
      r"error on the training points"),
    E("u3_capacity", CAP, [("model = make_mlp(hidden, seed=seed)", "model = make_mlp((4,), seed=seed)")],
      r"capacity is not increasing"),
    E("u3_capacity", CAP, [("        train(model, x_fit, y_fit,", "        errors.append(heldout_mse(model, x_held, y_held))\n"
                                                    "        train(model, x_fit, y_fit,"),
                           ("        errors.append(heldout_mse(model, x_held, y_held))\n    return", "    return")],
      r"untrained network"),
    E("u3_capacity", CAP, [("lr=0.1, epochs=100", "lr=0.1, epochs=5")], r"12-unit net fits the curve"),
]

UNIT3_VARIANTS = [
    E("u3_activations", AC, [(SIG3, "    return np.exp(-np.logaddexp(0.0, -z))")]),
    E("u3_activations", AC, [("    s = sigmoid(z)\n    return s * (1.0 - s)", "    return sigmoid(z) * sigmoid(-z)")]),
    E("u3_activations", AC, [("return np.maximum(z, 0.0)", "return np.where(z > 0, z, 0.0)")]),
    E("u3_regression_losses", RL, [("return float(np.mean(diff ** 2)), 2.0 * diff / diff.size",
                                    "return float(np.vdot(diff, diff) / diff.size), diff * (2.0 / diff.size)")]),
    E("u3_bce", BC, [("value = np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z))))",
                      "value = np.mean(np.logaddexp(0.0, z) - z * y)")]),
    E("u3_softmax_ce", CE, [("    dlogits = np.exp(log_probs)\n    dlogits[rows, labels] -= 1.0\n",
                             "    dlogits = np.exp(log_probs) - np.eye(c)[labels]\n")]),
    E("u3_gradcheck", GC, [("        x[i] = old\n", "        x[i] = old + eps\n        x[i] -= eps\n")]),
    E("u3_linear", LI, [('self.grads["W"] = self.x.T @ dout', 'self.grads["W"] = np.einsum("nd,nm->dm", self.x, dout)')]),
    E("u3_sequential", SQ, [("        for layer in reversed(self.layers):\n            dout = layer.backward(dout)",
                             "        for k in range(len(self.layers) - 1, -1, -1):\n            dout = self.layers[k].backward(dout)")]),
    E("u3_training", TR, [("return [order[start:start + batch_size] for start in range(0, n, batch_size)]",
                           "return np.array_split(order, range(batch_size, n, batch_size))")]),
    E("u3_capacity", CAP, [(MSE_LINE, "return float(np.mean(np.square(y - pred)))")]),
    E("u3_capacity", CAP, [("    sizes = [1, *hidden, 1]\n    layers = []\n    for k, (d, m) in enumerate(zip(sizes[:-1], sizes[1:])):\n"
                            "        layers.append(Linear(d, m, seed=seed + k))\n        if k < len(sizes) - 2:\n"
                            "            layers.append(Tanh())\n    return Sequential(*layers)",
                            "    layers, d = [], 1\n    for k, h in enumerate(hidden):\n        layers += [Linear(d, h, seed=seed + k), Tanh()]\n"
                            "        d = h\n    return Sequential(*layers, Linear(d, 1, seed=seed + len(hidden)))")]),
]

# -- unit 4 -------------------------------------------------------------------------------------------------------
SG, NE, RM, AD = "u4_sgd_momentum_impl", "u4_nesterov_impl", "u4_rmsprop_impl", "u4_adam_impl"
IN, GN, DR, PE, ES = "u4_init_impl", "u4_grad_norms_impl", "u4_dropout_impl", "u4_penalties_impl", "u4_early_stopping_impl"
AG, ADD, DELTA = "u4_adagrad_impl", "u4_adadelta_impl", "delta = np.sqrt(u + eps) / np.sqrt(a_new + eps) * g"

UNIT4 = [
    E("u4_sgd_momentum", SG, [("    return np.asarray(w, dtype=float) - lr * np.asarray(g, dtype=float)",
                               "    w -= lr * g\n    return w")], r"in place"),
    E("u4_sgd_momentum", SG, [("    return np.asarray(w, dtype=float) - lr * np.asarray(g, dtype=float)",
                               "    return np.asarray(w, dtype=float) + lr * np.asarray(g, dtype=float)")], r"ascent|against the gradient"),
    E("u4_sgd_momentum", SG, [("v_new = momentum * np.asarray(v, dtype=float) + np.asarray(g, dtype=float)",
                               "v_new = momentum * np.asarray(v, dtype=float) + lr * np.asarray(g, dtype=float)"),
                              ("return np.asarray(w, dtype=float) - lr * v_new, v_new", "return np.asarray(w, dtype=float) - v_new, v_new")],
      r"lr folded in"),
    E("u4_sgd_momentum", SG, [("return np.asarray(w, dtype=float) - lr * v_new, v_new",
                               "return np.asarray(w, dtype=float) - lr * np.asarray(g, dtype=float), v_new")], r"plain SGD"),
    E("u4_sgd_momentum", SG, [("v_new = momentum * np.asarray(v, dtype=float) + np.asarray(g, dtype=float)",
                               "v *= momentum\n    v += g\n    v_new = v")], r"in place"),
    E("u4_sgd_momentum", SG, [("v_new = momentum * np.asarray(v, dtype=float) + np.asarray(g, dtype=float)",
                               "v_new = momentum * np.asarray(v, dtype=float) + (1 - momentum) * np.asarray(g, dtype=float)")],
      r"dampened"),
    E("u4_nesterov", NE, [("lr * (g + momentum * v_new)", "lr * v_new")], r"classical momentum"),
    E("u4_nesterov", NE, [("lr * (g + momentum * v_new)", "lr * (g + momentum * np.asarray(v, dtype=float))")],
      r"old velocity"),
    E("u4_rmsprop", RM, [("(np.sqrt(s_new) + eps)", "np.sqrt(s_new + eps)")], r"eps inside the square root"),
    E("u4_rmsprop", RM, [("s_new = alpha * np.asarray(s, dtype=float) + (1.0 - alpha) * g * g",
                          "s_new = (1.0 - alpha) * np.asarray(s, dtype=float) + alpha * g * g")], r"swapped"),
    E("u4_rmsprop", RM, [("(1.0 - alpha) * g * g", "(1.0 - alpha) * np.abs(g)")], r"\|g\| instead of g\*\*2|squared"),
    E("u4_rmsprop", RM, [("def rmsprop_step(w, g, s, lr=0.01, alpha=0.99, eps=1e-8)", "def rmsprop_step(w, g, s, lr=0.001, alpha=0.9, eps=1e-8)")],
      r"default"),
    E("u4_adam", AD, [("m_new / (1.0 - beta1 ** t_new)", "m_new / (1.0 - beta1 ** t)"),
                      ("v_new / (1.0 - beta2 ** t_new)", "v_new / (1.0 - beta2 ** t)")], r"old t in the bias correction"),
    E("u4_adam", AD, [("    m_hat = m_new / (1.0 - beta1 ** t_new)\n    v_hat = v_new / (1.0 - beta2 ** t_new)\n",
                       "    m_hat = m_new\n    v_hat = v_new\n")], r"without bias correction"),
    E("u4_adam", AD, [("(1.0 - beta2) * g * g", "(1.0 - beta2) * np.abs(g)")], r"\|g\| instead of g\*\*2"),
    E("u4_adam", AD, [("(np.sqrt(v_hat) + eps)", "np.sqrt(v_hat)")], r"eps"),
    E("u4_adam", AD, [("    m_hat = m_new / (1.0 - beta1 ** t_new)\n", "    m_hat = m_new / (1.0 - beta2 ** t_new)\n")],
      r"beta2 in the bias correction of m"),
    E("u4_adam", AD, [("return w_new, m_new, v_new, t_new", "return w_new, m_new, v_new, t")], r"step count"),
    E("u4_init", IN, [("np.sqrt(2.0 / fan_in)", "np.sqrt(2.0 / fan_out)")], r"2 / fan_out instead of 2 / fan_in"),
    E("u4_init", IN, [("np.sqrt(2.0 / fan_in)", "2.0 / fan_in")], r"std 2 / fan_in"),
    E("u4_init", IN, [("np.sqrt(2.0 / fan_in)", "np.sqrt(1.0 / fan_in)")], r"LeCun"),
    E("u4_init", IN, [("a = np.sqrt(6.0 / (fan_in + fan_out))", "a = np.sqrt(2.0 / (fan_in + fan_out))")], r"that is the variance, not the bound"),
    E("u4_init", IN, [("return rng.uniform(-a, a, size=(int(fan_in), int(fan_out)))", "return rng.uniform(0.0, a, size=(int(fan_in), int(fan_out)))")],
      r"U\(0, a\)"),
    E("u4_init", IN, [("return rng.uniform(-a, a, size=(int(fan_in), int(fan_out)))",
                       "return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(int(fan_in), int(fan_out)))")], r"use rng\.uniform"),
    E("u4_init", IN, [("rng = np.random.default_rng(seed)\n    return rng.normal", "rng = np.random.default_rng()\n    return rng.normal")],
      r"seed"),
    E("u4_init", IN, [("size=(int(fan_in), int(fan_out)))\n\n\ndef xavier", "size=(int(fan_out), int(fan_in)))\n\n\ndef xavier")], r"transposed"),
    E("u4_grad_norms", GN, [('layer.grads["W"]', 'layer.params["W"]')], r"norms of the weights W instead of their gradients"),
    E("u4_grad_norms", GN, [('float(np.linalg.norm(layer.grads["W"]))', 'float(np.sum(layer.grads["W"] ** 2))')], r"squared norms"),
    E("u4_dropout", DR, [("        return x.copy(), np.ones_like(x)\n", "        pass\n")], r"evaluation|eval"),
    E("u4_dropout", DR, [("mask = keep / (1.0 - p)", "mask = keep.astype(float)")], r"1/\(1-p\) scaling|without the scaling|inverted"),
    E("u4_dropout", DR, [("keep = np.random.default_rng(seed).random(x.shape) >= p", "keep = np.random.default_rng(seed).random(x.shape) < p")],
      r"p is the probability of dropping"),
    E("u4_dropout", DR, [("    return dout * mask", "    return dout")], r"ignores the mask|without the mask"),
    E("u4_dropout", DR, [("    return dout * mask", "    return dout * (mask > 0)")], r"without the 1/\(1-p\) scaling"),
    E("u4_penalties", PE, [("return float(0.5 * lam * np.sum(W * W)), lam * W", "return float(0.5 * lam * np.sum(W * W)), W")], r"λ|lam"),
    E("u4_penalties", PE, [("return float(0.5 * lam * np.sum(W * W)), lam * W", "return float(lam * np.sum(W * W)), lam * W")], r"exactly 2x"),
    E("u4_penalties", PE, [("return float(0.5 * lam * np.sum(W * W)), lam * W", "return float(0.5 * lam * np.sum(W * W)), 2 * lam * W")],
      r"exactly 2x"),
    E("u4_penalties", PE, [("lam * np.sign(W)", "lam * W")], r"sign"),
    E("u4_penalties", PE, [("norms = np.linalg.norm(W, axis=0)", "norms = np.linalg.norm(W, axis=1, keepdims=True)")], r"rows instead of columns"),
    E("u4_penalties", PE, [("scale = np.minimum(1.0, c / np.maximum(norms, 1e-300))", "scale = c / np.maximum(norms, 1e-300)")],
      r"every column|only columns whose norm exceeds"),
    E("u4_early_stopping", ES, [("            return epoch, best_epoch", "            return epoch, epoch")], r"the best, not the last"),
    E("u4_early_stopping", ES, [("elif epoch - best_epoch >= patience", "elif epoch - best_epoch > patience")], r"one epoch late|patience"),
    E("u4_early_stopping", ES, [("if loss < best - min_delta:", "if loss < best:")], r"min_delta"),
    E("u4_early_stopping", ES, [("if loss < best - min_delta:", "if loss <= best - min_delta:")], r"tie|equal"),
] + [   # u4_adagrad and u4_adadelta (issue 14)
    E("u4_adagrad", AG, [("np.sqrt(s_new) + eps", "np.sqrt(s_new + eps)")], r"eps inside the square root"),
    E("u4_adagrad", AG, [("s_new = np.asarray(s, dtype=float) + g * g", "s_new = g * g")], r"not the running sum"),
    E("u4_adagrad", AG, [("lr * g / (np.sqrt(s_new) + eps), s_new", "lr * g / (np.sqrt(np.asarray(s, dtype=float)) + eps), s_new")],
      r"the old sum in the step"),
    E("u4_adadelta", ADD, [(DELTA, "delta = (np.sqrt(u) + eps) / (np.sqrt(a_new) + eps) * g")], r"eps outside the square roots"),
    E("u4_adadelta", ADD, [(DELTA, "delta = np.sqrt(u + eps) / np.sqrt(a + eps) * g")], r"the old average a"),
    E("u4_adadelta", ADD, [("(1.0 - rho) * delta * delta", "(1.0 - rho) * g * g")], r"u averages g\*\*2"),
    E("u4_adadelta", ADD, [(DELTA, "delta = g / np.sqrt(a_new + eps)")], r"without the factor sqrt\(u \+ eps\)"),
    E("u4_adadelta", ADD, [("a_new = rho * a + (1.0 - rho) * g * g", "a_new = (1.0 - rho) * a + rho * g * g"),
                           ("u_new = rho * u + (1.0 - rho) * delta * delta", "u_new = (1.0 - rho) * u + rho * delta * delta")],
      r"rho and 1 - rho swapped"),
    E("u4_adadelta", ADD, [("    u_new = rho * u + (1.0 - rho) * delta * delta\n    return w - lr * delta, a_new, u_new",
                            "    u_new = rho * u + (1.0 - rho) * delta * delta\n    return w - lr * delta, a_new, u")],
      r"running average u of the squared steps"),
    E("u4_adadelta", ADD, [("    a = np.asarray(a, dtype=float)\n", ""), ("    a_new = rho * a + (1.0 - rho) * g * g\n",
                            "    a *= rho\n    a += (1.0 - rho) * g * g\n    a_new = a\n")], r"in place"),
]

UNIT4_VARIANTS = [
    E("u4_sgd_momentum", SG, [("    return np.asarray(w, dtype=float) - lr * np.asarray(g, dtype=float)",
                               "    w = np.array(w, dtype=float)\n    w -= lr * g\n    return w")]),
    E("u4_nesterov", NE, [("return np.asarray(w, dtype=float) - lr * (g + momentum * v_new), v_new",
                           "return np.asarray(w, dtype=float) - lr * g - lr * momentum * v_new, v_new")]),
    E("u4_rmsprop", RM, [("(1.0 - alpha) * g * g", "(1.0 - alpha) * g ** 2")]),
    E("u4_adam", AD, [("    m_hat = m_new / (1.0 - beta1 ** t_new)\n    v_hat = v_new / (1.0 - beta2 ** t_new)\n"
                       "    w_new = np.asarray(w, dtype=float) - lr * m_hat / (np.sqrt(v_hat) + eps)\n",
                       "    step = lr * np.sqrt(1.0 - beta2 ** t_new) / (1.0 - beta1 ** t_new)\n"
                       "    w_new = np.asarray(w, dtype=float) - step * m_new / (np.sqrt(v_new) + eps * np.sqrt(1.0 - beta2 ** t_new))\n")]),
    E("u4_init", IN, [("return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(int(fan_in), int(fan_out)))",
                       "return rng.standard_normal((int(fan_in), int(fan_out))) * np.sqrt(2.0 / fan_in)")]),
    E("u4_dropout", DR, [("mask = keep / (1.0 - p)", "mask = np.where(keep, 1.0 / (1.0 - p), 0.0)")]),
    E("u4_penalties", PE, [("return float(0.5 * lam * np.sum(W * W)), lam * W", "return 0.5 * lam * float(np.linalg.norm(W) ** 2), lam * W")]),
    E("u4_early_stopping", ES, [("    best, best_epoch = np.inf, 0\n", "    best, best_epoch = float('inf'), 0\n")]),
    E("u4_adagrad", AG, [("lr * g / (np.sqrt(s_new) + eps)", "lr * g / (s_new ** 0.5 + eps)")]),
    E("u4_adadelta", ADD, [(DELTA, "delta = np.sqrt((u + eps) / (a_new + eps)) * g")]),
]

# -- unit 5 -------------------------------------------------------------------------------------------------------
OS, CF, CB, CFF = "u5_conv_output_size_impl", "u5_conv_forward_impl", "u5_conv_backward_impl", "u5_conv_forward_fast_impl"
MF, MB, AP, FL = "u5_maxpool_forward_impl", "u5_maxpool_backward_impl", "u5_avgpool_impl", "u5_flatten_impl"

UNIT5 = [
    E("u5_conv_output_size", OS, [("return 1 + (int(H)", "return (int(H)")], r"forgot the \+1"),
    E("u5_conv_output_size", OS, [("2 * int(padding)", "int(padding)")], r"one side only"),
    E("u5_conv_output_size", OS, [(" // int(stride)", "")], r"stride is ignored"),
    E("u5_conv_output_size", OS, [("return 1 + (int(H) + 2 * int(padding) - int(HH)) // int(stride)",
                                   "return 1 + (int(H) - int(HH)) // int(stride)")], r"padding is ignored"),
    E("u5_conv_forward", CF, [("xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))", "xpad = x")], r"padding is ignored"),
    E("u5_conv_forward", CF, [("window = xpad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]",
                               "window = xpad[:, :, i:i + HH, j:j + WW]")], r"stride is ignored inside the loop"),
    E("u5_conv_forward", CF, [("np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b",
                               "np.tensordot(window, W[:, :, ::-1, ::-1], axes=([1, 2, 3], [1, 2, 3])) + b")], r"flipped kernel"),
    E("u5_conv_forward", CF, [("np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b",
                               "np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3]))")], r"bias b\[f\] is missing"),
    E("u5_conv_forward", CF, [("H_out = conv_output_size(H, HH, stride, padding)", "H_out = conv_output_size(H, HH, stride, padding) - 1")],
      r"output height \d+ is wrong"),
    E("u5_conv_forward", CF, [("xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))",
                               "xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=1.0)")], r"padding with ones"),
    E("u5_conv_backward", CB, [("db = dout.sum(axis=(0, 2, 3))", "db = dout.mean(axis=(0, 2, 3))")], r"db averaged over the batch and the positions"),
    E("u5_conv_backward", CB, [("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(2, 3)).mean(axis=0)")], r"db averaged over the batch instead of summed"),
    E("u5_conv_backward", CB, [("dxpad[:, :, rows, cols] += np.tensordot", "dxpad[:, :, rows, cols] = np.tensordot")],
      r"overwrite each other's dx"),
    E("u5_conv_backward", CB, [("rows = slice(i * stride, i * stride + HH)", "rows = slice(i, i + HH)"),
                               ("cols = slice(j * stride, j * stride + WW)", "cols = slice(j, j + WW)")], r"stride is ignored in the backward"),
    E("u5_conv_backward", CB, [("dx = dxpad[:, :, padding:padding + H, padding:padding + Wd]", "dx = dxpad[:, :, :H, :Wd]")], r"top-left corner"),
    E("u5_conv_backward", CB, [("dxpad[:, :, rows, cols] += np.tensordot(d, W, axes=([1], [0]))",
                               "dxpad[:, :, rows, cols] += np.tensordot(d, W, axes=([1], [0])) * (min(i * stride, j * stride) >= padding"
                               " and i * stride + HH <= H + padding and j * stride + WW <= Wd + padding)")],
      r"windows that reach into the padding"),
    E("u5_conv_backward", CB, [("dW += np.tensordot(d, xpad[:, :, rows, cols], axes=([0], [0]))",
                               "dW += np.tensordot(d, xpad[:, :, rows, cols], axes=([0], [0]))[:, :, ::-1, ::-1]")], r"dW with the kernel flipped"),
    E("u5_maxpool_forward", MF, [(".max(axis=(2, 3))", ".mean(axis=(2, 3))")], r"avg-pooling instead of max"),
    E("u5_maxpool_forward", MF, [("S = K if stride is None else int(stride)", "S = 1 if stride is None else int(stride)")],
      r"default stride is kernel_size"),
    E("u5_maxpool_forward", MF, [("H_out, W_out = 1 + (H - K) // S, 1 + (Wd - K) // S", "H_out, W_out = H // S, Wd // S")],
      r"window size is left out"),
    E("u5_maxpool_backward", MB, [("first = np.argmax(x[:, :, rows, cols].reshape(N, C, K * K), axis=2)",
                                   "first = K * K - 1 - np.argmax(x[:, :, rows, cols].reshape(N, C, K * K)[..., ::-1], axis=2)")],
      r"last maximum"),
    E("u5_maxpool_backward", MB, [("onehot = np.arange(K * K) == first[..., None]",
                                   "onehot = x[:, :, rows, cols].reshape(N, C, K * K) == x[:, :, rows, cols].reshape(N, C, K * K).max(axis=2, keepdims=True)")],
      r"every maximum"),
    E("u5_maxpool_backward", MB, [("dx[:, :, rows, cols] += (onehot", "dx[:, :, rows, cols] = (onehot")], r"overwrit|whole windows"),
    E("u5_avgpool", AP, [("/ (K * K)", "")], r"not divided by the window size"),
    E("u5_avgpool", AP, [(".mean(axis=(2, 3))", ".sum(axis=(2, 3))")], r"summed each \dx\d window"),
    E("u5_avgpool", AP, [("/ (K * K)", "/ K")], r"divided by K = \d instead"),
    E("u5_flatten", FL, [("return x.reshape(x.shape[0], -1), x.shape", "return x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1), x.shape")],
      r"reshape"),
    E("u5_flatten", FL, [("return x.reshape(x.shape[0], -1), x.shape", "return x.reshape(x.shape[0], -1, order='F'), x.shape")],
      r"column-major"),
    E("u5_flatten", FL, [("return x.reshape(x.shape[0], -1), x.shape", "return x.reshape(-1), x.shape")], r"reshape before returning"),
]

UNIT5_VARIANTS = [
    E("u5_conv_output_size", OS, [("return 1 + (int(H) + 2 * int(padding) - int(HH)) // int(stride)",
                                   "return int(1 + (int(H) + 2 * int(padding) - int(HH)) / int(stride))")]),
    E("u5_conv_output_size", OS, [("return 1 + (int(H) + 2 * int(padding) - int(HH)) // int(stride)",
                                   "return (int(H) + 2 * int(padding) - int(HH)) // int(stride) + 1")]),
    E("u5_conv_forward", CF, [("out[:, :, i, j] = np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b",
                               "out[:, :, i, j] = np.einsum('nchw,fchw->nf', window, W) + b")]),
    E("u5_conv_backward", CB, [("db = dout.sum(axis=(0, 2, 3))", "db = np.einsum('nfij->f', dout)")]),
    E("u5_maxpool_forward", MF, [(".max(axis=(2, 3))", ".reshape(N, C, -1).max(axis=2)")]),
    E("u5_avgpool", AP, [(".mean(axis=(2, 3))", ".sum(axis=(2, 3)) / (K * K)")]),
    E("u5_flatten", FL, [("return x.reshape(x.shape[0], -1), x.shape", "return x.reshape(len(x), int(np.prod(x.shape[1:]))), x.shape")]),
]

# -- units 4 and 5, more: CS231n / 11-785 mistakes in optimizers, regularisers, schedules and clipping, the training
# loop, conv, pooling and batch norm, and correct variants (im2col, einsum, col2im with np.add.at, the step-by-step
# batch-norm graph, in-place ops on copies). Each entry was graded first; where a mistake was not caught or not
# named, the unit's checks were extended (a known wrong answer, a replayed recipe deviation, or a hidden check). --
SC, FIT, BN = "u4_schedule_clip_impl", "u4_fit_impl", "u5_batchnorm_impl"
CLIP_RET = "    return [np.asarray(g, dtype=float) * scale for g in grads], total"
EVAL_LOSSES = ('history["train_loss"].append(cross_entropy(mlp_forward(params, X)[0], y)[0])\n'
               '        val_scores = mlp_forward(params, X_val)[0]')
BN_DX = ("dx = inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)\n"
         "                    - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))")
BN_EVAL = "        mean, var = np.asarray(running_mean, dtype=float), np.asarray(running_var, dtype=float)\n"
BN_RUN = ("        new_mean = (1 - momentum) * running_mean + momentum * mean\n"
          "        new_var = (1 - momentum) * running_var + momentum * var * count / (count - 1)\n")

UNIT4_MORE = [
    E("u4_sgd_momentum", SG, [("return np.asarray(w, dtype=float) - lr * v_new, v_new",
                               "return np.asarray(w, dtype=float) - lr * np.asarray(v, dtype=float), v_new")],
      r"old velocity", label="w stepped with the old velocity"),
    E("u4_rmsprop", RM, [("lr * g / (np.sqrt(s_new) + eps), s_new", "lr * g / (np.sqrt(np.asarray(s, dtype=float)) + eps), s_new")],
      r"the old average s", label="the old running average in the step"),
    E("u4_adam", AD, [("m_new / (1.0 - beta1 ** t_new)", "m_new / (1.0 - beta1 ** (t_new + 1))"),
                      ("v_new / (1.0 - beta2 ** t_new)", "v_new / (1.0 - beta2 ** (t_new + 1))")],
      r"t \+ 1 in the bias correction", label="bias correction one step ahead (t incremented twice)"),
    E("u4_adam", AD, [("    v_hat = v_new / (1.0 - beta2 ** t_new)\n", "    v_hat = v_new\n")],
      r"bias correction of m only", label="only m bias-corrected"),
    E("u4_adam", AD, [("betas=(0.9, 0.999), eps=1e-8):", "betas=(0.9, 0.99), eps=1e-8):")], r"default.*beta",
      label="default beta2 0.99"),
    E("u4_adam", AD, [("betas=(0.9, 0.999), eps=1e-8):", "betas=(0.9, 0.999), eps=1e-7):")], r"default.*eps",
      label="Keras's default eps 1e-7"),
    E("u4_dropout", DR, [("        return x.copy(), np.ones_like(x)\n",
                          "        return x * (1.0 - p), np.full_like(x, 1.0 - p)\n"),
                         ("mask = keep / (1.0 - p)", "mask = keep.astype(float)")],
      r"scaled by \(1 - p\) at evaluation|classic", label="classic (not inverted) dropout: scaled at test time"),
    E("u4_penalties", PE, [("    return W * scale", "    W *= scale\n    return W")], r"in place",
      label="max_norm rescales the caller's W in place"),
    E("u4_schedule_clip", SC, [("drop ** (epoch // every)", "drop ** ((epoch + 1) // every)")], r"one epoch early",
      label="step decay one epoch early"),
    E("u4_schedule_clip", SC, [("np.cos(np.pi * step / total)", "np.cos(np.pi * step / (total - 1))")],
      r"total - 1", label="cosine reaching min_lr one step early"),
    E("u4_schedule_clip", SC, [(CLIP_RET, "    return [np.clip(np.asarray(g, dtype=float), -max_norm, max_norm) for g in grads], total")],
      r"by value", label="clipping by value instead of by norm"),
    E("u4_schedule_clip", SC, [(CLIP_RET, "    clipped = [np.asarray(g, dtype=float) * scale for g in grads]\n"
                                          "    return clipped, float(np.sqrt(sum(np.sum(c * c) for c in clipped)))")],
      r"norm after clipping", label="the norm returned after clipping"),
    E("u4_schedule_clip", SC, [("total = float(np.sqrt(sum(np.sum(np.asarray(g, dtype=float) ** 2) for g in grads)))",
                                "total = float(sum(np.sum(np.asarray(g, dtype=float) ** 2) for g in grads))")],
      r"squared norm", label="squared global norm"),
    E("u4_schedule_clip", SC, [(CLIP_RET, "    for g in grads:\n        g *= scale\n    return grads, total")], r"in place",
      label="gradients clipped in place"),
    E("u4_schedule_clip", SC, [("max_norm / (total + 1e-6)", "max_norm / total")], r"1e-6",
      label="clipping without the + 1e-6"),
    E("u4_fit", FIT, [("order = rng.permutation(len(X))", "order = np.arange(len(X))")], r"not shuffled",
      label="no shuffling"),
    E("u4_fit", FIT, [("order = rng.permutation(len(X))", "order = np.random.permutation(len(X))")],
      r"global random state|same seed", label="shuffled with the global RNG"),
    E("u4_fit", FIT, [("            _, dout = cross_entropy(scores, y[idx])\n",
                       "            loss, dout = cross_entropy(scores, y[idx])\n            batch_losses.append(loss * len(idx))\n"),
                      ("        order = rng.permutation(len(X))\n", "        order = rng.permutation(len(X))\n        batch_losses = []\n"),
                      ('history["train_loss"].append(cross_entropy(mlp_forward(params, X)[0], y)[0])',
                       'history["train_loss"].append(sum(batch_losses) / len(X))')],
      r"during the epoch", label="train_loss averaged over the epoch's batches"),
    E("u4_fit", FIT, [("dW = dW + l2_penalty(W, weight_decay)[1]", "dW = dW")], r"weight decay is ignored",
      label="L2 in the loss but not in the gradient"),
    E("u4_fit", FIT, [("                b, mb, vb, tb = adam_step(b, db,",
                       "                db = db + l2_penalty(b, weight_decay)[1]\n                b, mb, vb, tb = adam_step(b, db,")],
      r"biases too", label="weight decay on the biases"),
    E("u4_fit", FIT, [("dW = dW + l2_penalty(W, weight_decay)[1]", "dW = dW"),
                      ("                W, mW, vW, tW = adam_step(W, dW, mW, vW, tW, lr=lr)\n",
                       "                W, mW, vW, tW = adam_step(W, dW, mW, vW, tW, lr=lr)\n"
                       "                W = W - lr * weight_decay * params[k][0]\n")],
      r"decoupled", label="AdamW-style decoupled decay instead of L2 in the gradient"),
    E("u4_fit", FIT, [("    for epoch in range(epochs):\n        order",
                       "    for epoch in range(epochs):\n"
                       "        state = [[(np.zeros_like(a), np.zeros_like(a), 0) for a in pair] for pair in params]\n"
                       "        order")], r"Adam state .*every epoch", label="Adam state reset every epoch"),
    E("u4_fit", FIT, [("for start in range(0, len(X), batch_size):", "for start in range(0, len(X) - batch_size + 1, batch_size):")],
      r"last, smaller batch", label="the last partial batch dropped"),
    E("u4_fit", FIT, [(EVAL_LOSSES, 'history["train_loss"].append(cross_entropy(mlp_forward(params, X, p_drop, rng)[0], y)[0])\n'
                                    '        val_scores = mlp_forward(params, X_val, p_drop, rng)[0]')],
      r"dropout on", label="losses measured with dropout on, from the training generator"),
]

UNIT4_MORE_VARIANTS = [
    E("u4_adam", AD, [("    g = np.asarray(g, dtype=float)\n    t_new = t + 1\n", "    g = np.asarray(g, dtype=float)\n"
                       "    m, v, w = np.array(m, dtype=float), np.array(v, dtype=float), np.array(w, dtype=float)\n"
                       "    t += 1\n    m *= beta1\n    m += (1 - beta1) * g\n    v *= beta2\n    v += (1 - beta2) * np.square(g)\n"
                       "    w -= lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)\n"
                       "    return w, m, v, t\n    t_new = t + 1\n")], label="Adam with in-place ops on copies"),
    E("u4_sgd_momentum", SG, [("return np.asarray(w, dtype=float) - lr * v_new, v_new",
                               "return np.asarray(w, dtype=float) - lr * momentum * np.asarray(v, dtype=float) - lr * np.asarray(g, dtype=float), v_new")],
      label="momentum step expanded, another operation order"),
    E("u4_schedule_clip", SC, [("total = float(np.sqrt(sum(np.sum(np.asarray(g, dtype=float) ** 2) for g in grads)))",
                                "total = float(np.linalg.norm(np.concatenate([np.ravel(g) for g in grads])))")],
      label="global norm of the concatenated gradients"),
    E("u4_schedule_clip", SC, [("return base_lr * drop ** (epoch // every)", "return base_lr * drop ** int(np.floor(epoch / every))"),
                               ("return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + np.cos(np.pi * step / total))",
                                "return (base_lr - min_lr) * (1.0 + np.cos(np.pi * step / total)) / 2 + min_lr")],
      label="floor of a true division; cosine in another order"),
    E("u4_fit", FIT, [("    rng = np.random.default_rng(seed)\n", "    rng = np.random.default_rng(seed)\n    n_steps = 0\n"),
                      ("                (mW, vW, tW), (mb, vb, tb) = state[k]\n                W, mW, vW, tW = adam_step(W, dW, mW, vW, tW, lr=lr)\n"
                       "                b, mb, vb, tb = adam_step(b, db, mb, vb, tb, lr=lr)\n",
                       "                (mW, vW, _), (mb, vb, _) = state[k]\n                W, mW, vW, tW = adam_step(W, dW, mW, vW, n_steps, lr=lr)\n"
                       "                b, mb, vb, tb = adam_step(b, db, mb, vb, n_steps, lr=lr)\n"),
                      ("            params = new_params\n", "            params = new_params\n            n_steps += 1\n")],
      label="one Adam step counter for the whole network (PyTorch's optimizer.step)"),
]

UNIT5_MORE = [
    E("u5_conv_forward", CF, [("np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))    #", "np.pad(x, padding)    #")],
      r"batch and channel axes too", label="np.pad(x, P) pads every axis"),
    E("u5_conv_forward", CF, [("np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))    #",
                               "np.pad(x, ((0, 0), (0, 0), (2 * padding, 0), (2 * padding, 0)))    #")],
      r"one side", label="all the padding on one side"),
    E("u5_conv_backward", CB, [("dW += np.tensordot(d, xpad[:, :, rows, cols], axes=([0], [0]))",
                               "dW += np.tensordot(d, xpad[:, :, rows, cols], axes=([0], [0])) / N")],
      r"dW averaged over the batch", label="dW averaged over the batch"),
    E("u5_conv_backward", CB, [("dx = dxpad[:, :, padding:padding + H, padding:padding + Wd]", "dx = dxpad")],
      r"padding is not cut off", label="dx returned with its padding"),
    E("u5_conv_backward", CB, [("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=0)")], r"over the positions too",
      label="db summed over the batch only"),
    E("u5_maxpool_backward", MB, [("rows, cols = slice(i * S, i * S + K), slice(j * S, j * S + K)",
                                   "rows, cols = slice(i * K, i * K + K), slice(j * K, j * K + K)")],
      r"stride is ignored in the backward", label="stride used in the forward, not in the backward"),
    E("u5_avgpool", AP, [("dx[:, :, i * S:i * S + K, j * S:j * S + K] += dout", "dx[:, :, i * S:i * S + K, j * S:j * S + K] = dout")],
      r"overwrite", label="avgpool backward overwrites overlapping windows"),
    E("u5_avgpool", AP, [("dout[:, :, i, j, None, None] / (K * K)", "dout[:, :, i, j, None, None] / (S * S)")],
      r"stride\*stride", label="avgpool backward divides by the stride squared"),
    E("u5_batchnorm", BN, [("mean, var = x.mean(axis=axes), x.var(axis=axes)", "mean, var = x.mean(axis=axes), x.var(axis=axes, ddof=1)"),
                           ("momentum * var * count / (count - 1)", "momentum * var")],
      r"unbiased variance used to normalise", label="unbiased variance in the normalisation"),
    E("u5_batchnorm", BN, [(BN_RUN, "        new_mean = momentum * running_mean + (1 - momentum) * mean\n"
                                    "        new_var = momentum * running_var + (1 - momentum) * var * count / (count - 1)\n")],
      r"momentum on the wrong side", label="Keras's momentum convention"),
    E("u5_batchnorm", BN, [("momentum * var * count / (count - 1)", "momentum * var")], r"biased batch variance in the running",
      label="biased variance in the running variance"),
    E("u5_batchnorm", BN, [(BN_EVAL, "        mean, var = x.mean(axis=axes), x.var(axis=axes)\n"),
                           ("new_mean, new_var = mean.copy(), var.copy()",
                            "new_mean, new_var = np.array(running_mean, dtype=float), np.array(running_var, dtype=float)")],
      r"batch statistics in evaluation", label="evaluation with the batch statistics"),
    E("u5_batchnorm", BN, [("    dgamma = (dout * xhat).sum(axis=axes)\n    dbeta = dout.sum(axis=axes)\n",
                            "    dbeta = (dout * xhat).sum(axis=axes)\n    dgamma = dout.sum(axis=axes)\n")],
      r"dgamma and dbeta swapped", label="dgamma and dbeta swapped"),
    E("u5_batchnorm", BN, [(BN_DX, "dx = inv_std * (dxhat - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))")],
      r"without the path through the mean", label="backward without the -mean(dxhat) term"),
    E("u5_batchnorm", BN, [(BN_DX, "dx = inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True))")],
      r"without the path through the variance", label="backward without the variance term"),
    E("u5_batchnorm", BN, [("inv_std = 1.0 / np.sqrt(var.reshape(shape) + eps)", "inv_std = 1.0 / (np.sqrt(var.reshape(shape)) + eps)")],
      r"eps outside the square root", label="eps outside the square root"),
    E("u5_batchnorm", BN, [("    if not training:                                     # the statistics are constants\n"
                            "        return dxhat * inv_std, dgamma, dbeta\n", "")],
      r"training formula in evaluation", label="the training backward in evaluation mode"),
    E("u5_batchnorm", BN, [("dxhat = dout * gamma", "dxhat = dout")], r"without the factor gamma",
      label="dx without gamma"),
    E("u5_batchnorm", BN, [("        new_mean = (1 - momentum) * running_mean + momentum * mean\n",
                            "        running_mean *= 1 - momentum\n        running_mean += momentum * mean\n"
                            "        new_mean = running_mean\n")], r"in place", label="running mean updated in place"),
]

UNIT5_MORE_VARIANTS = [
    E("u5_conv_forward", CF, [("    out = np.empty((N, F, H_out, W_out))\n    for i in range(H_out):\n        for j in range(W_out):\n"
                               "            window = xpad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]   # (N, C, HH, WW)\n"
                               "            out[:, :, i, j] = np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b    # (N, F)\n",
                               "    win = np.lib.stride_tricks.sliding_window_view(xpad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]\n"
                               "    cols = win[:, :, :H_out, :W_out].transpose(0, 2, 3, 1, 4, 5).reshape(N * H_out * W_out, C * HH * WW)\n"
                               "    out = (cols @ W.reshape(F, -1).T + b).reshape(N, H_out, W_out, F).transpose(0, 3, 1, 2)\n")],
      label="im2col: sliding windows, one matrix product"),
    E("u5_conv_forward", CF, [("    for i in range(H_out):\n        for j in range(W_out):\n"
                               "            window = xpad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]   # (N, C, HH, WW)\n"
                               "            out[:, :, i, j] = np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b    # (N, F)\n",
                               "    for n in range(N):\n        for f in range(F):\n            for i in range(H_out):\n"
                               "                for j in range(W_out):\n"
                               "                    out[n, f, i, j] = np.sum(xpad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]"
                               " * W[f]) + b[f]\n")], label="four explicit loops"),
    E("u5_conv_backward", CB, [("    dxpad = np.zeros_like(xpad)\n    dW = np.zeros_like(W)\n    for i in range(dout.shape[2]):\n"
                                "        for j in range(dout.shape[3]):\n            rows = slice(i * stride, i * stride + HH)\n"
                                "            cols = slice(j * stride, j * stride + WW)\n"
                                "            d = dout[:, :, i, j]                                                  # (N, F)\n"
                                "            dW += np.tensordot(d, xpad[:, :, rows, cols], axes=([0], [0]))       # (F, C, HH, WW)\n"
                                "            dxpad[:, :, rows, cols] += np.tensordot(d, W, axes=([1], [0]))      # (N, C, HH, WW)\n",
                                "    H_out, W_out = dout.shape[2:]\n"
                                "    win = np.lib.stride_tricks.sliding_window_view(xpad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]\n"
                                "    dW = np.einsum('nfij,ncijpq->fcpq', dout, win[:, :, :H_out, :W_out])\n"
                                "    dcols = np.einsum('nfij,fcpq->ncijpq', dout, W)\n"
                                "    ii = (np.arange(H_out) * stride)[:, None] + np.arange(HH)\n"
                                "    jj = (np.arange(W_out) * stride)[:, None] + np.arange(WW)\n"
                                "    dxpad = np.zeros_like(xpad)\n"
                                "    np.add.at(dxpad, (slice(None), slice(None), ii[:, None, :, None], jj[None, :, None, :]), dcols)\n")],
      label="einsum and col2im with np.add.at"),
    E("u5_maxpool_forward", MF, [("    out = np.empty((N, C, H_out, W_out))\n    for i in range(H_out):\n        for j in range(W_out):\n"
                                  "            out[:, :, i, j] = x[:, :, i * S:i * S + K, j * S:j * S + K].max(axis=(2, 3))\n",
                                  "    win = np.lib.stride_tricks.sliding_window_view(x, (K, K), axis=(2, 3))[:, :, ::S, ::S]\n"
                                  "    out = win[:, :, :H_out, :W_out].reshape(N, C, H_out, W_out, K * K).max(axis=4)\n")],
      label="max over reshaped sliding windows"),
    E("u5_maxpool_backward", MB, [("    for i in range(dout.shape[2]):\n        for j in range(dout.shape[3]):\n"
                                   "            rows, cols = slice(i * S, i * S + K), slice(j * S, j * S + K)\n",
                                   "    for n in range(N):\n        for c in range(C):\n            for i in range(dout.shape[2]):\n"
                                   "                for j in range(dout.shape[3]):\n"
                                   "                    win = x[n, c, i * S:i * S + K, j * S:j * S + K]\n"
                                   "                    p, q = np.unravel_index(np.argmax(win), win.shape)\n"
                                   "                    dx[n, c, i * S + p, j * S + q] += dout[n, c, i, j]\n    return dx\n"
                                   "    for i in range(dout.shape[2]):\n        for j in range(dout.shape[3]):\n"
                                   "            rows, cols = slice(i * S, i * S + K), slice(j * S, j * S + K)\n")],
      label="argmax and unravel_index per window"),
    E("u5_batchnorm", BN, [(BN_DX, "m = dout.size // dout.shape[1]\n    xmu = xhat / inv_std\n"
                                   "    divar = np.sum(dxhat * xmu, axis=axes, keepdims=True)\n    dxmu1 = dxhat * inv_std\n"
                                   "    dsqrtvar = -1.0 * inv_std ** 2 * divar\n    dvar = 0.5 * inv_std * dsqrtvar\n"
                                   "    dxmu2 = 2.0 * xmu * np.ones_like(dout) / m * dvar\n    dx1 = dxmu1 + dxmu2\n"
                                   "    dmu = -1.0 * np.sum(dx1, axis=axes, keepdims=True)\n    dx = dx1 + np.ones_like(dout) / m * dmu")],
      label="batchnorm backward step by step through the graph"),
    E("u5_batchnorm", BN, [("momentum * var * count / (count - 1)", "momentum * x.var(axis=axes, ddof=1)")],
      label="running variance with np.var(ddof=1)"),
    E("u5_avgpool", AP, [("dout[:, :, i, j, None, None] / (K * K)", "np.ones((K, K)) * dout[:, :, i, j, None, None] / K ** 2")],
      label="avgpool backward with an explicit window of ones"),
]

CONV_BWD_BODY = ("    dxpad = np.zeros_like(xpad)\n    dW = np.zeros_like(W)\n    for i in range(dout.shape[2]):\n"
                 "        for j in range(dout.shape[3]):\n            rows = slice(i * stride, i * stride + HH)\n"
                 "            cols = slice(j * stride, j * stride + WW)\n"
                 "            d = dout[:, :, i, j]                                                  # (N, F)\n"
                 "            dW += np.tensordot(d, xpad[:, :, rows, cols], axes=([0], [0]))       # (F, C, HH, WW)\n"
                 "            dxpad[:, :, rows, cols] += np.tensordot(d, W, axes=([1], [0]))      # (N, C, HH, WW)\n")


def full_conv_backward(rotate: bool) -> str:
    """conv2d_backward's loops replaced by the textbook route: dW by correlating xpad with dout, dx by the full
    correlation of the stride-dilated dout with the kernel rotated by 180 degrees (``rotate``: or without)."""
    kernel = "W[:, :, ::-1, ::-1]" if rotate else "W"
    return ("    Ho, Wo = dout.shape[2:]\n    dW = np.zeros_like(W)\n    for p in range(HH):\n        for q in range(WW):\n"
            "            patch = xpad[:, :, p:p + (Ho - 1) * stride + 1:stride, q:q + (Wo - 1) * stride + 1:stride]\n"
            "            dW[:, :, p, q] = np.tensordot(dout, patch, axes=([0, 2, 3], [0, 2, 3]))\n"
            "    dil = np.zeros((N, F, (Ho - 1) * stride + 1, (Wo - 1) * stride + 1))\n"
            "    dil[:, :, ::stride, ::stride] = dout\n"
            "    dilp = np.pad(dil, ((0, 0), (0, 0), (HH - 1, HH - 1), (WW - 1, WW - 1)))\n"
            f"    Wrot = {kernel}\n"
            "    dxpad = np.zeros_like(xpad)\n"
            "    for i in range(dil.shape[2] + HH - 1):\n        for j in range(dil.shape[3] + WW - 1):\n"
            "            dxpad[:, :, i, j] = np.tensordot(dilp[:, :, i:i + HH, j:j + WW], Wrot, axes=([1, 2, 3], [0, 2, 3]))\n")


UNIT45_MORE = [
    E("u4_adam", AD, [("    m_hat = m_new / (1.0 - beta1 ** t_new)\n    v_hat = v_new / (1.0 - beta2 ** t_new)\n"
                       "    w_new = np.asarray(w, dtype=float) - lr * m_hat / (np.sqrt(v_hat) + eps)\n",
                       "    lr_t = lr * np.sqrt(1.0 - beta2 ** t_new) / (1.0 - beta1 ** t_new)\n"
                       "    w_new = np.asarray(w, dtype=float) - lr_t * m_new / (np.sqrt(v_new) + eps)\n")],
      r"'efficient' form", label="the paper's efficient form, eps not bias-corrected"),
    E("u4_fit", FIT, [("    for epoch in range(epochs):\n        order = rng.permutation(len(X))\n",
                       "    order = rng.permutation(len(X))\n    for epoch in range(epochs):\n")],
      r"shuffled once", label="shuffled once before training, not every epoch"),
    E("u5_conv_backward", CB, [(CONV_BWD_BODY, full_conv_backward(rotate=False))], r"flipped kernel",
      label="dx by full correlation without rotating the kernel"),
    E("u5_maxpool_forward", MF, [(".max(axis=(2, 3))", ".max(axis=(2, 3), initial=0.0)")], r"starts at 0",
      label="the maximum starts at 0"),
    E("u4_dropout", DR, [("    return dout * mask", "    return dout * mask / 0.7")], r"apply it once",
      label="dropout backward scaled by 1/(1-p) a second time"),
    E("u4_penalties", PE, [("lam * np.sign(W)", "lam * np.where(W >= 0, 1.0, -1.0)")], r"sign\(0\) = 1",
      label="L1 gradient with sign(0) = 1"),
    E("u4_fit", FIT, [("        if k == len(params) - 1:\n            caches.append((h, None, None))\n            return z, caches\n",
                       "        if k == len(params) - 1:\n            last = None\n            if p_drop > 0 and rng is not None:\n"
                       "                z, last = dropout_forward(z, p_drop, seed=int(rng.integers(2**31)))\n"
                       "            caches.append((h, None, last))\n            return z, caches\n"),
                      ("    grads = [None] * len(params)\n", "    grads = [None] * len(params)\n    if caches[-1][2] is not None:\n"
                       "        dout = dropout_backward(dout, caches[-1][2])\n")],
      r"dropout on the scores", label="dropout after the output layer too"),
    E("u4_fit", FIT, [("            dout = dout * relu_mask\n", "")], r"ReLU is missing in the backward",
      label="the ReLU mask forgotten in mlp_backward"),
    E("u5_conv_forward", CF, [("j * stride:j * stride + WW]", "j:j + WW]")], r"stride is ignored along the width",
      label="the stride forgotten along one axis"),
    E("u5_conv_backward", CB, [("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(2, 3))")], r"db summed per image",
      label="db per image, not summed over the batch"),
    E("u5_avgpool", AP, [(".mean(axis=(2, 3))", ".sum(axis=(2, 3)) / K")], r"divided each window's sum by K",
      label="avgpool forward divided by K"),
    E("u5_maxpool_backward", MB, [("onehot = np.arange(K * K) == first[..., None]", "onehot = np.ones((N, C, K * K), dtype=bool)")],
      r"every input of the window", label="max-pool dout sent to the whole window"),
    E("u5_batchnorm", BN, [("        new_mean, new_var = mean.copy(), var.copy()\n",
                            "        count = x.size // x.shape[1]\n"
                            "        new_mean = (1 - momentum) * running_mean + momentum * x.mean(axis=axes)\n"
                            "        new_var = (1 - momentum) * running_var + momentum * x.var(axis=axes) * count / (count - 1)\n")],
      r"updated in evaluation mode", label="running statistics updated in evaluation"),
    E("u5_batchnorm", BN, [("    inv_std = 1.0 / np.sqrt(var.reshape(shape) + eps)\n",
                            "    if training:\n        mean, var = new_mean, new_var\n    inv_std = 1.0 / np.sqrt(var.reshape(shape) + eps)\n")],
      r"updated running statistics used to normalise", label="training normalised with the updated running statistics"),
    E("u5_batchnorm", BN, [(BN_DX, "m = dout.shape[0]\n    dx = inv_std * (dxhat - dxhat.sum(axis=axes, keepdims=True) / m\n"
                                   "                    - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True) / m)")],
      r"batch size N = \d+ instead of the \d+ values per channel", label="backward means over N, not N*H*W"),
    E("u4_fit", FIT, [("    rng = np.random.default_rng(seed)\n", "    rng = np.random.default_rng(seed)\n    np.random.seed(seed)\n"),
                      ("order = rng.permutation(len(X))", "order = np.random.permutation(len(X))")],
      r"legacy global state", label="shuffled after np.random.seed(seed)"),
    E("u4_fit", FIT, [("        order = rng.permutation(len(X))\n",
                       "        rng = np.random.default_rng(seed)\n        order = rng.permutation(len(X))\n")],
      r"re-created every epoch", label="the generator re-created every epoch"),
    E("u4_fit", FIT, [("he_normal(d, m, seed + k)", "he_normal(d, m, seed)")], r"the same seed",
      label="every layer initialised from the same seed"),
    E("u4_fit", FIT, [("adam_step(W, dW, mW, vW, tW, lr=lr)", "adam_step(W, dW, mW, vW, tW)"),
                      ("adam_step(b, db, mb, vb, tb, lr=lr)", "adam_step(b, db, mb, vb, tb)")], r"without lr=lr",
      label="adam_step left at its default learning rate"),
    E("u4_sgd_momentum", SG, [("v_new = momentum * np.asarray(v, dtype=float) + np.asarray(g, dtype=float)",
                               "v_new = momentum * np.asarray(v, dtype=float) - lr * np.asarray(g, dtype=float)"),
                              ("return np.asarray(w, dtype=float) - lr * v_new, v_new", "return np.asarray(w, dtype=float) + v_new, v_new")],
      r"CS231n's velocity", label="CS231n's momentum convention (v holds -lr g)"),
    E("u4_rmsprop", RM, [("(1.0 - alpha) * g * g", "(1.0 - alpha) * g")], r"g instead of g\*\*2 in the running average",
      label="RMSProp averages g, not g**2"),
    E("u4_adam", AD, [("(1.0 - beta2) * g * g", "(1.0 - beta2) * g")], r"g instead of g\*\*2 in the second moment",
      label="Adam's v averages g, not g**2"),
    E("u4_penalties", PE, [("    norms = np.linalg.norm(W, axis=0)\n    scale = np.minimum(1.0, c / np.maximum(norms, 1e-300))\n"
                            "    return W * scale", "    return np.clip(W, -c, c)")], r"clipping each entry to \[-c, c\]",
      label="max_norm clips entries instead of column norms"),
    E("u4_schedule_clip", SC, [("drop ** (epoch // every)", "drop * (epoch // every)")], r"raised to the power",
      label="step decay multiplies by drop instead of raising it"),
    E("u4_schedule_clip", SC, [("min_lr + 0.5 * (base_lr - min_lr)", "min_lr + (base_lr - min_lr)")], r"factor 1/2 left out",
      label="cosine without the 1/2"),
    E("u5_conv_backward", CB, [("dW += np.tensordot(d, xpad[:, :, rows, cols], axes=([0], [0]))",
                                "dW += np.tensordot(d, x[:, :, rows, cols], axes=([0], [0]))")],
      r"in the backward too, take the windows from the padded input", label="dW from the unpadded x"),
    E("u5_batchnorm", BN, [("    return out, new_mean, new_var, (xhat, inv_std, gamma.reshape(shape), axes, training)",
                            "    return out, new_mean, new_var, (xhat, inv_std, gamma.reshape(shape), axes, training, x)"),
                           ("    xhat, inv_std, gamma, axes, training = cache\n    dgamma = (dout * xhat).sum(axis=axes)",
                            "    xhat, inv_std, gamma, axes, training, x = cache\n    dgamma = (dout * x).sum(axis=axes)")],
      r"dgamma = sum\(dout \* x\)", label="dgamma from x instead of xhat"),
    E("u5_batchnorm", BN, [("    dbeta = dout.sum(axis=axes)\n", "    dbeta = dout.sum(axis=0)\n")], r"summed over the batch only",
      label="dbeta summed over the batch axis only"),
    E("u5_batchnorm", BN, [("    inv_std = 1.0 / np.sqrt(var.reshape(shape) + eps)",
                            "    inv_std = 1.0 / np.sqrt(var.reshape(shape) + (eps if training else 0.0))")],
      r"eps left out in evaluation", label="evaluation without eps"),
    E("u4_penalties", PE, [("return float(0.5 * lam * np.sum(W * W)), lam * W", "return float(0.5 * lam * np.sum(W * W)), np.zeros_like(W)")],
      r"a zero gradient", label="L2 in the value but not in the gradient"),
    E("u4_grad_norms", GN, [('float(np.linalg.norm(layer.grads["W"]))', 'float(np.linalg.norm(layer.grads["W"], ord=2))')],
      r"spectral norm", label="ord=2: the spectral norm of dW"),
    E("u5_conv_forward", CF, [("np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))    #",
                               "np.pad(x, ((0, 0), (0, 0), (padding, 0), (padding, 0)))    #")],
      r"the padding went on one side only", label="P zeros on the top and left only"),
    E("u5_maxpool_backward", MB, [("            first = np.argmax(x[:, :, rows, cols].reshape(N, C, K * K), axis=2)     # (N, C), first maximum\n",
                                   "            first = np.argmax(x[:, :, rows, cols].transpose(0, 1, 3, 2).reshape(N, C, K * K), axis=2)\n"
                                   "            first = (first % K) * K + first // K\n")],
      r"first maximum in column-major order", label="ties to the first maximum in column-major order"),
    E("u4_init", IN, [("np.sqrt(2.0 / fan_in)", "np.sqrt(2.0 / (fan_in + fan_out))")], r"Xavier/Glorot's variance",
      label="He normal with Xavier's variance"),
    E("u5_batchnorm", BN, [("out = gamma.reshape(shape) * xhat + beta.reshape(shape)", "out = beta.reshape(shape) * xhat + gamma.reshape(shape)")],
      r"gamma and beta swapped", label="gamma and beta swapped in the forward"),
    E("u5_batchnorm", BN, [("    inv_std = 1.0 / np.sqrt(var.reshape(shape) + eps)", "    inv_std = 1.0 / np.sqrt(var.reshape(shape))")],
      r"eps left out", label="eps left out of the normalisation"),
]

UNIT45_MORE_VARIANTS = [
    E("u4_fit", FIT, [("order = rng.permutation(len(X))", "order = np.arange(len(X))\n        rng.shuffle(order)")],
      label="rng.shuffle of an arange (the same draws as rng.permutation)"),
    E("u4_early_stopping", ES, [("    best, best_epoch = np.inf, 0\n    for epoch, loss in enumerate(losses):\n"
                                 "        if loss < best - min_delta:\n            best, best_epoch = loss, epoch\n"
                                 "        elif epoch - best_epoch >= patience:\n            return epoch, best_epoch\n",
                                 "    best, best_epoch, wait = np.inf, 0, 0\n    for epoch, loss in enumerate(losses):\n"
                                 "        if loss < best - min_delta:\n            best, best_epoch, wait = loss, epoch, 0\n"
                                 "        else:\n            wait += 1\n            if wait >= patience:\n"
                                 "                return epoch, best_epoch\n")],
      label="Keras-style wait counter"),
    E("u4_schedule_clip", SC, [(CLIP_RET, "    return tuple(np.asarray(g, dtype=float) * scale for g in grads), total")],
      label="clipped arrays returned as a tuple"),
    E("u5_conv_backward", CB, [(CONV_BWD_BODY, full_conv_backward(rotate=True))],
      label="dx by full correlation of the dilated dout with the rotated kernel"),
    E("u5_maxpool_backward", MB, [("            first = np.argmax(x[:, :, rows, cols].reshape(N, C, K * K), axis=2)     # (N, C), first maximum\n"
                                   "            onehot = np.arange(K * K) == first[..., None]                           # (N, C, K*K)\n",
                                   "            flat = x[:, :, rows, cols].reshape(N, C, K * K)\n"
                                   "            ismax = flat == flat.max(axis=2, keepdims=True)\n"
                                   "            onehot = ismax & (np.cumsum(ismax, axis=2) == 1)\n")],
      label="first maximum by a cumulative sum of the max mask"),
    E("u5_batchnorm", BN, [("    axes = (0,) if x.ndim == 2 else (0, 2, 3)\n",
                            "    if x.ndim == 4:\n        N, C, H, Wd = x.shape\n"
                            "        out, new_mean, new_var, cache = batchnorm_forward(x.transpose(0, 2, 3, 1).reshape(-1, C), gamma, beta,\n"
                            "                                                          running_mean, running_var, training, momentum, eps)\n"
                            "        return out.reshape(N, H, Wd, C).transpose(0, 3, 1, 2), new_mean, new_var, (cache, x.shape)\n"
                            "    axes = (0,) if x.ndim == 2 else (0, 2, 3)\n"),
                           ("    xhat, inv_std, gamma, axes, training = cache\n",
                            "    if len(cache) == 2:\n        (cache, (N, C, H, Wd)) = cache\n"
                            "        dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache)\n"
                            "        return dx.reshape(N, H, Wd, C).transpose(0, 3, 1, 2), dgamma, dbeta\n"
                            "    xhat, inv_std, gamma, axes, training = cache\n")],
      label="(N, C, H, W) through the (N, C) code: channels last, reshape, back"),
    E("u5_maxpool_backward", MB, [("            dx[:, :, rows, cols] += (onehot * dout[:, :, i, j, None]).reshape(N, C, K, K)\n",
                                   "            n_idx, c_idx = np.meshgrid(np.arange(N), np.arange(C), indexing='ij')\n"
                                   "            np.add.at(dx, (n_idx, c_idx, i * S + first // K, j * S + first % K), dout[:, :, i, j])\n")],
      label="max-pool backward scattered with np.add.at"),
    E("u4_dropout", DR, [("    keep = np.random.default_rng(seed).random(x.shape) >= p\n    mask = keep / (1.0 - p)\n",
                          "    mask = np.where(np.random.default_rng(seed).random(x.shape) < p, 0.0, 1.0 / (1.0 - p))\n")],
      label="dropout mask built with np.where"),
    E("u4_schedule_clip", SC, [("    scale = min(1.0, max_norm / (total + 1e-6))\n",
                                "    scale = max_norm / (total + 1e-6) if total + 1e-6 > max_norm else 1.0\n")],
      label="clipping behind an if instead of min(1, ...)"),
    E("u4_rmsprop", RM, [("    return np.asarray(w, dtype=float) - lr * g / (np.sqrt(s_new) + eps), s_new",
                          "    w = np.array(w, dtype=float)\n    w -= lr * g / (np.sqrt(s_new) + eps)\n    return w, s_new")],
      label="RMSProp stepping a copy of w in place"),
]

TRAIN_CHECK = ("            if np.any(tlu_predict(theta, x[None, :])[0] != t):\n                wrong += 1\n"
               "                theta = perceptron_step(theta, x, t, lr)\n        mistakes.append(wrong)\n")

UNIT1_MORE = [
    E("u1_heaviside", H, [("(z > 0).astype(float)", "np.heaviside(z, 0.5)")], r"H\(0\) = 0\.5", label="np.heaviside(z, 0.5)"),
    E("u1_heaviside", H, [("(z > 0).astype(float)", "np.heaviside(z, 1.0)")], r"H\(0\) = 1", label="np.heaviside(z, 1)"),
    E("u1_sigmoid", S, [(SIG_BODY, "    return 0.5 * (1.0 + np.tanh(z))")], r"z halved inside the tanh",
      label="(1 + tanh z) / 2"),
    E("u1_tlu", T, [("np.hstack([np.ones((X.shape[0], 1)), X])", "np.hstack([-np.ones((X.shape[0], 1)), X])")],
      r"x0 = -1", label="bias input -1"),
    E("u1_tlu", T, [("heaviside(add_bias(X) @ theta)", "add_bias(X) @ theta > 0")], r"return floats",
      label="boolean TLU outputs"),
    E("u1_perceptron_step", P, [("a = heaviside(x_tilde @ theta)", "a = (x_tilde @ theta >= 0).astype(float)")],
      r"H\(0\) = 1", label="H(0) = 1 inside the rule"),
    E("u1_perceptron_step", P, [("np.asarray(y, dtype=float) - a)", "np.asarray(y, dtype=float))")], r"Hebb",
      label="Hebb's rule (no error term)"),
    E("u1_perceptron_step", P, [("np.concatenate([[1.0], np.asarray(x, dtype=float)])",
                                 "np.concatenate([[-1.0], np.asarray(x, dtype=float)])")], r"x0 = -1",
      label="bias input -1 in the rule"),
    E("u1_train_perceptron", TP, [("np.zeros((X.shape[1] + 1, y.shape[1])) if theta0 is None else np.array(theta0, dtype=float)",
                                   "np.zeros((X.shape[1] + 1, y.shape[1]))")], r"theta0 ignored", label="theta0 ignored"),
    E("u1_train_perceptron", TP, [(TRAIN_CHECK, "            if np.any(tlu_predict(theta, x[None, :])[0] != t):\n"
                                                "                theta = perceptron_step(theta, x, t, lr)\n"
                                                "        wrong = int(np.sum(np.any(tlu_predict(theta, X) != y, axis=1)))\n"
                                                "        mistakes.append(wrong)\n")],
      r"counted after the epoch", label="mistakes counted after the epoch"),
    E("u1_train_perceptron", TP, [("for _ in range(max_epochs):", "for _ in range(1, max_epochs):")], r"off-by-one",
      label="one epoch short"),
    E("u1_gates", G, [("return sigmoid(theta[0] + np.asarray(X, dtype=float) @ theta[1:])",
                       "return sigmoid(np.asarray(X, dtype=float) @ theta[1:] - theta[0])")], r"bias subtracted",
      label="bias subtracted as a threshold"),
    E("u1_gates", G, [("return sigmoid(theta[0] + np.asarray(X, dtype=float) @ theta[1:])",
                       "return heaviside(theta[0] + np.asarray(X, dtype=float) @ theta[1:])")], r"step instead of the sigmoid",
      label="gate neuron with the step"),
    E("u1_gates", G, [("W_AND = np.array([-30.0, 20.0, 20.0])", "W_AND = np.array([-20.0, 20.0, 20.0])")],
      r"decision boundary", label="AND bias puts 01 on the boundary"),
    E("u1_gates", G, [("W_NAND = np.array([30.0, -20.0, -20.0])", "W_NAND = np.array([-30.0, 20.0, 20.0])")],
      r"truth table of AND", label="NAND given AND's weights"),
    E("u1_xor", X, [("return gate_neuron(W_AND, H)", "return gate_neuron(W_NAND, H)")], r"computes XNOR",
      label="NAND as the output gate"),
    E("u1_delta_rule", D, [("losses.append(0.5 * float(np.sum(", "losses.append(0.5 * float(np.mean(")],
      r"mean over the examples where the sum is wanted", label="losses as half the mean"),
    E("u1_delta_rule", D, [("losses.append(0.5 * float(np.sum(", "losses.append(float(np.mean(")],
      r"mean squared error", label="losses as the MSE"),
]

UNIT1_MORE_VARIANTS = [
    E("u1_heaviside", H, [("return (z > 0).astype(float)", "return np.maximum(np.sign(z), 0.0)")]),
    E("u1_sigmoid", S, [(SIG_BODY, "    return 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))")]),
    E("u1_tlu", T, [("return np.hstack([np.ones((X.shape[0], 1)), X])", "return np.insert(X, 0, 1.0, axis=1)")]),
    E("u1_train_perceptron", TP, [(TRAIN_CHECK, "            new = perceptron_step(theta, x, t, lr)\n"
                                                "            if not np.array_equal(new, theta):\n"
                                                "                wrong += 1\n            theta = new\n"
                                                "        mistakes.append(wrong)\n")]),
    E("u1_xor", X, [("np.column_stack([gate_neuron(W_OR, X), gate_neuron(W_NAND, X)])",
                     "np.column_stack([gate_neuron(W_NAND, X), gate_neuron(W_OR, X)])")]),
    E("u1_delta_rule", D, [("w = w + lr * Xb.T @ (y - Xb @ w)", "w = w - lr * Xb.T @ (Xb @ w - y)")]),
]

# -- units 1-3, more (issue: every plausible mistake in units 1-3 is caught and named) -----------------------------
PRE_ORDER = ("        order, seen, stack = [], set(), [self]\n        while stack:\n            node = stack.pop()\n"
             "            if id(node) in seen:\n                continue\n            seen.add(id(node))\n"
             "            order.append(node)\n            stack.extend(node._prev)\n        self.grad = 1.0\n"
             "        for node in order:\n            node._backward()")
TRAIN_FRESH = "    for _ in range(steps):\n        wv, bv = [Value(wi) for wi in w], Value(b)\n"

UNIT2_MORE = [
    E("u2_value_backward", V, [("self.grad += (1.0 - t * t) * out.grad", "self.grad += (1.0 - self.data ** 2) * out.grad")],
      r"1 - x\*\*2 from the input", label="tanh' from the input x"),
    E("u2_value_backward", V, [("self.grad += s * (1.0 - s) * out.grad", "self.grad += self.data * (1.0 - self.data) * out.grad")],
      r"x \* \(1 - x\) from the input", label="sigmoid' from the input x"),
    E("u2_value_backward", V, [("self.grad += out.data * out.grad", "self.grad += self.data * out.grad")], r"exp' = x",
      label="exp' = x"),
    E("u2_value_backward", V, [("self.grad += exponent * self.data ** (exponent - 1) * out.grad",
                                "self.grad += exponent * self.data ** exponent-1 * out.grad")], r"needs brackets",
      label="power rule without brackets around exponent - 1"),
    E("u2_value_backward", V, [("            self.grad += (1.0 - t * t) * out.grad\n        out._backward = _backward\n",
                                "            self.grad += (1.0 - t * t) * out.grad\n")], r"no gradient reached the input",
      label="tanh's _backward never attached"),
    E("u2_value_backward", V, [("            self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
                                "            self.grad += other.data * self.grad\n            other.grad += self.data * other.grad")],
      r"no gradient reached the input", label="the input's grad instead of out.grad in *"),
    E("u2_value_backward", V, [("            self.grad += out.grad\n            other.grad += out.grad",
                                "            self.grad += 1.0\n            other.grad += 1.0")],
      r"chain rule missing in the backward of __add__", label="+ backward without out.grad"),
    E("u2_value_backward", V, [("            self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
                                "            self.grad += other.data\n            other.grad += self.data")],
      r"chain rule missing in the backward of __mul__", label="* backward without out.grad"),
    E("u2_value_backward", V, [("self.grad += (1.0 - t * t) * out.grad", "self.grad += 1.0 - t * t")],
      r"chain rule missing in the backward of tanh", label="tanh backward without out.grad"),
    E("u2_value_backward", V, [(BACKWARD_LOOP, PRE_ORDER)], r"pre-order", label="depth-first pre-order backward"),
    E("u2_dual", DU, [("return Dual(self.value + other.value, self.tangent + other.tangent)",
                       "return Dual(self.value + other.value, self.tangent)")], r"sum rule", label="Dual + drops d"),
    E("u2_dual", DU, [("return Dual(t, (1.0 - t * t) * self.tangent)", "return Dual(t, (1.0 - self.value ** 2) * self.tangent)")],
      r"1 - a\*\*2 from the value", label="Dual tanh' from a"),
    E("u2_dual", DU, [("return Dual(s, s * (1.0 - s) * self.tangent)",
                       "return Dual(s, self.value * (1.0 - self.value) * self.tangent)")],
      r"a \* \(1 - a\) from the value", label="Dual sigmoid' from a"),
    E("u2_train_neuron", TN, [(TRAIN_FRESH, "    wv, bv = [Value(wi) for wi in w], Value(b)\n    for _ in range(steps):\n"
                                            "        for wi, v in zip(wv, w):\n            wi.data = float(v)\n"
                                            "        bv.data = b\n")],
      r"pile up", label="Values reused across steps, grads never reset"),
    E("u2_train_neuron", TN, [("        b = b - lr * bv.grad\n", "")], r"bias never updated", label="bias never stepped"),
    E("u2_softmax", SM, [("np.exp(shifted).sum(axis=1, keepdims=True)", "np.exp(shifted).sum()")], r"whole array",
      label="log-sum-exp over the whole array"),
    E("u2_softmax", SM, [("    z3 = log_softmax(z2)  ", "    p2 = np.exp(z2 - z2.max(axis=1, keepdims=True))\n"
                                                    "    z3 = np.log(p2 / p2.sum(axis=1, keepdims=True))  ")],
      r"log\(0\)", label="log of the softmax probabilities"),
    E("u2_softmax", SM, [("dtheta = z1.T @ d2", "dtheta = z1.T @ d3")], r"log-softmax layer skipped",
      label="backward skips the log-softmax layer"),
    E("u2_softmax", SM, [("dtheta = z1.T @ d2", "dtheta = np.asarray(X, dtype=float).T @ d2")], r"bias row missing",
      label="dtheta without the bias row"),
]

UNIT2_MORE_VARIANTS = [
    E("u2_value_backward", V, [("self.grad += s * (1.0 - s) * out.grad", "self.grad += out.data * (1.0 - out.data) * out.grad")]),
    E("u2_value_backward", V, [("self.grad += out.data * out.grad", "self.grad += math.exp(self.data) * out.grad")]),
    E("u2_dual", DU, [("self.value * other.tangent + self.tangent * other.value",
                       "other.value * self.tangent + other.tangent * self.value")]),
    E("u2_softmax", SM, [("    d2 = d3 - np.exp(z3) * d3.sum(axis=1, keepdims=True)\n", "    d2 = np.exp(z3) + d3\n")]),
    E("u2_softmax", SM, [("return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                          "return shifted - np.log(np.sum(np.exp(shifted), axis=1))[:, None]")]),
]

MA = "u3_more_activations_impl"
LEAKY_GRAD, ELU_GRAD = ("np.where(np.asarray(z, dtype=float) > 0, 1.0, alpha)",
                        "np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))")
GELU_GRAD = "return cdf + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)"

UNIT3_MORE = [
    E("u3_more_activations", MA, [(LEAKY_GRAD, LEAKY_GRAD.replace("> 0", ">= 0"))], r"1 at z = 0",
      label="leaky_relu'(0) = 1"),
    E("u3_more_activations", MA, [("np.where(z > 0, z, alpha * z)", "np.where(z > 0, z, 0.01 * z)")],
      r"slope fixed at 0\.01", label="leaky slope hard-coded"),
    E("u3_more_activations", MA, [(LEAKY_GRAD, LEAKY_GRAD.replace("alpha)", "0.0)"))], r"0 on the negative side",
      label="leaky_relu' is relu'"),
    E("u3_more_activations", MA, [("alpha * np.expm1(np.minimum(z, 0.0))", "alpha * np.exp(np.minimum(z, 0.0))")],
      r"without the - 1", label="elu without - 1"),
    E("u3_more_activations", MA, [("alpha * np.expm1(np.minimum(z, 0.0))", "alpha * (np.exp(z) - 1.0)")], r"overflow",
      label="elu exponentiates large z"),
    E("u3_more_activations", MA, [(ELU_GRAD, ELU_GRAD.replace("z > 0", "z >= 0"))], r"1 at z = 0", label="elu'(0) = 1"),
    E("u3_more_activations", MA, [("return z * 0.5 * (1.0 + np.vectorize(math.erf)(z / np.sqrt(2.0)))",
                                   "return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))")],
      r"tanh approximation", label="GELU's tanh approximation"),
    E("u3_more_activations", MA, [(GELU_GRAD, "return cdf")], r"Phi\(z\) alone", label="gelu' = Phi"),
    E("u3_more_activations", MA, [(GELU_GRAD, "return cdf + z * np.exp(-0.5 * z * z)")],
      r"without its factor 1 / sqrt\(2 pi\)", label="normal density without 1/sqrt(2 pi)"),
    E("u3_more_activations", MA, [('"multilabel": ("sigmoid", "bce")', '"multilabel": ("softmax", "cross_entropy")')],
      r"labels compete", label="multilabel with softmax"),
    E("u3_more_activations", MA, [('"binary": ("sigmoid", "bce")', '"binary": ("softmax", "cross_entropy")')],
      r"one output per class", label="binary with softmax"),
    E("u3_more_activations", MA, [('"regression": ("identity", "mse")', '"regression": ("linear", "mse")')],
      r"named 'identity'", label="regression's activation named linear"),
    E("u3_sequential", SQ, [("return dout * self.out * (1.0 - self.out)",
                             "return dout * sigmoid(self.out) * (1.0 - sigmoid(self.out))")],
      r"applied to the stored output again", label="Sigmoid backward applies sigmoid twice"),
    E("u3_sequential", SQ, [("return dout * (1.0 - self.out ** 2)", "return dout * (1.0 - tanh(self.out) ** 2)")],
      r"applied to the stored output again", label="Tanh backward applies tanh twice"),
    E("u3_sequential", SQ, [("        self.out = sigmoid(x)\n", "        self.x = x\n        self.out = sigmoid(x)\n"),
                            ("return dout * self.out * (1.0 - self.out)", "return dout * self.x * (1.0 - self.x)")],
      r"x \* \(1 - x\) from the input", label="Sigmoid backward from the input"),
    E("u3_sequential", SQ, [("self.mask = x > 0", "self.mask = x >= 0")], r"relu'\(0\) = 1", label="ReLU mask x >= 0"),
    E("u3_sequential", SQ, [("            x = layer.forward(x, training=training)\n        return x",
                             "            x = layer.forward(x, training=training)\n            return x")],
      r"`return` inside the loop", label="forward returns inside the loop"),
    E("u3_sequential", SQ, [("            dout = layer.backward(dout)\n        return dout",
                             "            dout = layer.backward(dout)\n            return dout")],
      r"`return` inside the loop", label="backward returns inside the loop"),
    E("u3_training", TR, [("for idx in minibatch_indices(len(X), batch_size, rng):",
                           "for idx in minibatch_indices(len(X), batch_size, seed):")], r"same shuffle in every epoch",
      label="the seed passed each epoch"),
    E("u3_training", TR, [("history.append(float(np.mean(batch_losses)))", "history.append(float(np.sum(batch_losses)))")],
      r"sum of the epoch's batch losses", label="epoch loss summed"),
    E("u3_training", TR, [("batch_losses.append(value)", "batch_losses.append(value * len(idx))"),
                          ("history.append(float(np.mean(batch_losses)))", "history.append(float(np.sum(batch_losses) / len(X)))")],
      r"weighted by batch size", label="epoch loss weighted by batch size"),
    E("u3_training", TR, [("params[name] -= lr * grads[name]", "params[name] -= lr * grads[name] / len(idx)")],
      r"divided by the batch size once more", label="step divided by the batch size"),
    E("u3_training", TR, [("order = np.random.default_rng(rng).permutation(n)",
                           "np.random.seed(rng)\n    order = np.random.permutation(n)")], r"legacy global generator",
      label="np.random.seed and permutation"),
    E("u3_training", TR, [('    if batch_size < 1:\n        raise ValueError(f"minibatch_indices: batch_size must be >= 1, got {batch_size}")\n',
                           "")], r"raise ValueError when it is below 1", label="batch_size not checked"),
    E("u3_capacity", CAP, [(MSE_LINE, "return np.mean((pred - y) ** 2, axis=0)")], r"values are right but the shape",
      label="heldout_mse as a (1,) array"),
    E("u3_activations", AC, [("    s = sigmoid(z)\n    return s * (1.0 - s)", "    z = np.asarray(z, dtype=float)\n    return z * (1.0 - z)")],
      r"z \* \(1 - z\) from the input", label="sigmoid' from z"),
    E("u3_activations", AC, [("return 1.0 - np.tanh(np.asarray(z, dtype=float)) ** 2", "return 1.0 - np.asarray(z, dtype=float) ** 2")],
      r"1 - z\*\*2 from the input", label="tanh' from z"),
    E("u3_bce", BC, [("(sigmoid(z) - y) / z.size", "(sigmoid(z) - y) / len(z)")],
      r"number of rows N instead of the number of entries", label="BCE gradient / N rows (hole: full marks before)"),
    E("u3_gradcheck", GC, [("return rel_error(analytic, numeric_grad(f, x, eps))", "return rel_error(analytic, numeric_grad(f, x))")],
      r"eps ignored", label="gradient_check ignores eps (hole)"),
    E("u3_linear", LI, [('self.grads["W"] = self.x.T @ dout', 'self.grads["W"] += self.x.T @ dout'),
                        ('self.grads["b"] = dout.sum(axis=0)', 'self.grads["b"] += dout.sum(axis=0)')],
      r"added to with \+=", label="Linear grads accumulated across backward calls (hole)"),
    E("u3_linear", LI, [('return dout @ self.params["W"].T', 'return dout @ self.params["W"].T / len(dout)')], r"1/6",
      label="dx divided by N"),
]

UNIT3_MORE_VARIANTS = [
    E("u3_more_activations", MA, [("np.where(z > 0, z, alpha * z)", "np.maximum(z, alpha * z)")]),
    E("u3_more_activations", MA, [(ELU_GRAD, "np.where(z > 0, 1.0, elu(z, alpha) + alpha)")]),
    E("u3_sequential", SQ, [("return np.where(self.mask, dout, 0.0)", "return dout * self.mask")]),
    E("u3_sequential", SQ, [("        for layer in reversed(self.layers):\n            dout = layer.backward(dout)",
                             "        for layer in self.layers[::-1]:\n            dout = layer.backward(dout)")]),
    E("u3_training", TR, [("params[name] -= lr * grads[name]", "params[name] = params[name] - lr * grads[name]")]),
    E("u3_capacity", CAP, [(MSE_LINE, "return float(((pred - y) ** 2).mean())")]),
]

MISTAKES = (UNIT1 + UNIT2 + UNIT3 + UNIT4 + UNIT5 + UNIT4_MORE + UNIT5_MORE + UNIT45_MORE + UNIT1_MORE + UNIT2_MORE + UNIT3_MORE)
VARIANTS = (UNIT1_VARIANTS + UNIT2_VARIANTS + UNIT3_VARIANTS + UNIT4_VARIANTS + UNIT5_VARIANTS + UNIT4_MORE_VARIANTS
            + UNIT5_MORE_VARIANTS + UNIT45_MORE_VARIANTS + UNIT1_MORE_VARIANTS
            + UNIT2_MORE_VARIANTS + UNIT3_MORE_VARIANTS)
