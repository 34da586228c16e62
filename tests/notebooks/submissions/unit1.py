"""Partially correct unit 1 submissions for the end-to-end grading tests (see ``tests/notebooks/_kit.py`` for the
edit format). Each is the released exercise with some solution cells filled in, some of them wrongly; the
untouched cells keep their stubs.
"""

from tests.notebooks._kit import SOLVED

SUBMISSIONS = {
    # Tasks 1-4 done correctly, the rest not started.
    "first_half": {
        "u1_heaviside_impl": SOLVED,
        "u1_sigmoid_impl": SOLVED,
        "u1_tlu_impl": SOLVED,
        "u1_perceptron_step_impl": SOLVED,
    },
    # Everything attempted, with two convention mistakes: H(0) = 1 (which also changes the TLU and the
    # perceptron) and a delta rule that averages over the batch.
    "conventions": {
        "u1_heaviside_impl": [("z > 0", "z >= 0")],
        "u1_sigmoid_impl": SOLVED,
        "u1_tlu_impl": SOLVED,
        "u1_perceptron_step_impl": SOLVED,
        "u1_train_perceptron_impl": SOLVED,
        "u1_gates_impl": SOLVED,
        "u1_xor_impl": SOLVED,
        "u1_delta_rule_impl": [("w = w + lr * Xb.T @ (y - Xb @ w)", "w = w + lr * Xb.T @ (y - Xb @ w) / len(y)")],
    },
    # Training that never stops early, NAND weights too small for the 1e-4 tolerance, an XOR lookup table,
    # and a naive sigmoid (correct values, but it overflows for large negative inputs).
    "shortcuts": {
        "u1_heaviside_impl": SOLVED,
        "u1_sigmoid_impl": [("    e = np.exp(-np.abs(z))  # never overflows\n"
                             "    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
                             "    return np.exp(z) / (1.0 + np.exp(z))")],
        "u1_tlu_impl": SOLVED,
        "u1_perceptron_step_impl": SOLVED,
        "u1_train_perceptron_impl": [("        if wrong == 0:\n            break\n", "")],
        "u1_gates_impl": [("W_NAND = np.array([30.0, -20.0, -20.0])", "W_NAND = np.array([3.0, -2.0, -2.0])")],
        "u1_xor_impl": [("    H = np.column_stack([gate_neuron(W_OR, X), gate_neuron(W_NAND, X)])  # (N, 2)\n"
                         "    return gate_neuron(W_AND, H)", "    return np.array([0.0, 1.0, 1.0, 0.0])")],
    },
}
