"""Partially correct unit 3 submissions for the end-to-end grading tests (see ``tests/notebooks/_kit.py`` for the
edit format). Each is the released exercise with some solution cells filled in, some of them wrongly; the
untouched cells keep their stubs.
"""

from tests.notebooks._kit import SOLVED

SUBMISSIONS = {
    # Sections 1-4 done, with a Linear layer that averages db over the batch; layers, training and nets not started.
    "first_half": {
        "u3_activations_impl": SOLVED,
        "u3_regression_losses_impl": SOLVED,
        "u3_bce_impl": SOLVED,
        "u3_softmax_ce_impl": SOLVED,
        "u3_gradcheck_impl": SOLVED,
        "u3_linear_impl": [('self.grads["b"] = dout.sum(axis=0)', 'self.grads["b"] = dout.mean(axis=0)')],
    },
    # Everything attempted: softmax without the max shift (nan at large logits), an MSE gradient without its 2,
    # relu'(0) = 1, capacity errors measured on the training points, and a digits net trained for one epoch only
    # (about 84% accurate: partial credit).
    "classic_bugs": {
        "u3_activations_impl": [("z, dtype=float) > 0)", "z, dtype=float) >= 0)")],
        "u3_regression_losses_impl": [("2.0 * diff / diff.size", "diff / diff.size")],
        "u3_bce_impl": SOLVED,
        "u3_softmax_ce_impl": [("shifted = z - z.max(axis=-1, keepdims=True)", "shifted = z"),
                               ("shifted = z - z.max(axis=1, keepdims=True)", "shifted = z")],
        "u3_gradcheck_impl": SOLVED,
        "u3_linear_impl": SOLVED,
        "u3_sequential_impl": SOLVED,
        "u3_training_impl": SOLVED,
        "u3_reg_net_impl": SOLVED,
        "u3_xor_net_impl": SOLVED,
        "u3_capacity_impl": [("errors.append(heldout_mse(model, x_held, y_held))",
                              "errors.append(heldout_mse(model, x_fit, y_fit))")],
        "u3_digits_impl": [("for epoch in range(30):", "for epoch in range(1):")],
    },
    # A one-sided numeric gradient, a transposed dW, batches that are never shuffled, and a 1-3-1 regression net
    # (10 weights); the XOR net and the digits classifier are not started.
    "transposes_and_shortcuts": {
        "u3_activations_impl": SOLVED,
        "u3_regression_losses_impl": SOLVED,
        "u3_bce_impl": SOLVED,
        "u3_softmax_ce_impl": SOLVED,
        "u3_gradcheck_impl": [("x[i] = old - eps\n        f_minus = f(x)", "x[i] = old\n        f_minus = f(x)"),
                              ("(f_plus - f_minus) / (2.0 * eps)", "(f_plus - f_minus) / eps")],
        "u3_linear_impl": [('self.grads["W"] = self.x.T @ dout', 'self.grads["W"] = dout.T @ self.x')],
        "u3_sequential_impl": SOLVED,
        "u3_training_impl": [("order = np.random.default_rng(rng).permutation(n)", "order = np.arange(n)")],
        "u3_reg_net_impl": [("reg_net = Sequential(Linear(1, 2, seed=0), Tanh(), Linear(2, 1, seed=1))",
                             "reg_net = Sequential(Linear(1, 3, seed=0), Tanh(), Linear(3, 1, seed=1))")],
    },
}
