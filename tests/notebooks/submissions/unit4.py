"""Partially correct unit 4 submissions for the end-to-end grading tests (see ``tests/notebooks/_kit.py`` for the
edit format). Each is the released exercise with some solution cells filled in, some of them wrongly; the
untouched cells keep their stubs.
"""

from tests.notebooks._kit import SOLVED

SUBMISSIONS = {
    # The optimizers only: Nesterov written as classical momentum, Adam without bias correction and Adadelta with
    # eps outside its square roots.
    "optimizers_only": {
        "u4_sgd_momentum_impl": SOLVED,
        "u4_nesterov_impl": [("- lr * (g + momentum * v_new), v_new", "- lr * v_new, v_new")],
        "u4_rmsprop_impl": SOLVED,
        "u4_adam_impl": [("m_hat = m_new / (1.0 - beta1 ** t_new)", "m_hat = m_new"),
                         ("v_hat = v_new / (1.0 - beta2 ** t_new)", "v_hat = v_new")],
        "u4_adadelta_impl": [("delta = np.sqrt(u + eps) / np.sqrt(a_new + eps) * g",
                              "delta = (np.sqrt(u) + eps) / (np.sqrt(a_new) + eps) * g")],
    },
    # Everything attempted, with regularisation mistakes: dropout that is not inverted, an L2 penalty without
    # its 1/2, and early stopping one epoch late.
    "regularisation_bugs": {
        "u4_sgd_momentum_impl": SOLVED,
        "u4_nesterov_impl": SOLVED,
        "u4_rmsprop_impl": SOLVED,
        "u4_adam_impl": SOLVED,
        "u4_init_impl": SOLVED,
        "u4_grad_norms_impl": SOLVED,
        "u4_dropout_impl": [("mask = keep / (1.0 - p)", "mask = keep.astype(float)")],
        "u4_penalties_impl": [("float(0.5 * lam * np.sum(W * W)), lam * W", "float(lam * np.sum(W * W)), 2 * lam * W")],
        "u4_early_stopping_impl": [("elif epoch - best_epoch >= patience:", "elif epoch - best_epoch > patience:")],
    },
    # The lecture notes' momentum (lr folded into v), He with LeCun's variance, squared gradient norms, and
    # max-norm over rows; dropout and early stopping not started.
    "conventions": {
        "u4_sgd_momentum_impl": [
            ("v_new = momentum * np.asarray(v, dtype=float) + np.asarray(g, dtype=float)\n"
             "    return np.asarray(w, dtype=float) - lr * v_new, v_new",
             "v_new = momentum * np.asarray(v, dtype=float) + lr * np.asarray(g, dtype=float)\n"
             "    return np.asarray(w, dtype=float) - v_new, v_new")],
        "u4_nesterov_impl": SOLVED,
        "u4_rmsprop_impl": SOLVED,
        "u4_adam_impl": SOLVED,
        "u4_init_impl": [("np.sqrt(2.0 / fan_in)", "np.sqrt(1.0 / fan_in)")],
        "u4_grad_norms_impl": [('float(np.linalg.norm(layer.grads["W"]))', 'float(np.sum(layer.grads["W"] ** 2))')],
        "u4_penalties_impl": [("norms = np.linalg.norm(W, axis=0)", "norms = np.linalg.norm(W, axis=1, keepdims=True)")],
    },
}
