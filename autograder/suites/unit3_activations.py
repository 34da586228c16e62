"""Unit 3: Leaky ReLU, ELU and GELU with their derivatives, and the output-activation/loss pairing rule.

References: ``nnkit.activations`` (grader side only; the unit forbids it to students). Derivatives are checked
against the reference away from the kink at 0, against numeric differentiation of the student's own
function, and at 0 itself, where the course follows PyTorch (Leaky ReLU and ELU: alpha). The hidden checks draw
their alphas from the secret, so their descriptions say "another alpha" and the alphas go into the details.
"""

from __future__ import annotations

import numpy as np

from autograder.tester import watch_calls
PAIRS = {"regression": ("identity", "mse"), "binary": ("sigmoid", "bce"),
         "multiclass": ("softmax", "cross_entropy"), "multilabel": ("sigmoid", "bce")}
# Wrong (activation, loss) pairs students give, by task, with why the course's pair is the right one.
PAIRING_MISTAKES = {
    ("multilabel", ("softmax", "cross_entropy")):
        "multilabel: each label is its own yes/no, so one sigmoid per output with binary cross-entropy; a softmax "
        "makes the labels compete (its outputs sum to 1), so two labels can never both be on",
    ("binary", ("softmax", "cross_entropy")):
        "binary: one output logit with a sigmoid and binary cross-entropy; a softmax needs one output per class",
    ("multiclass", ("sigmoid", "bce")):
        "multiclass: exactly one class is right, so a softmax over the classes with cross-entropy; independent "
        "sigmoids do not sum to 1",
    ("binary", ("sigmoid", "mse")):
        "binary: a sigmoid output is paired with binary cross-entropy ('bce'); MSE on a sigmoid learns slowly "
        "where the sigmoid saturates",
    ("regression", ("linear", "mse")): "regression: the output activation is named 'identity' in this course",
    ("regression", ("none", "mse")): "regression: the output activation is named 'identity' in this course",
}


def _gelu_tanh(z):
    return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))


def _values(ns, t, z, *, alpha_leaky, alpha_elu, label):
    from nnkit import activations as A

    t.close(f"leaky_relu(z, alpha) on {z.size} values, {label}", ns.call("leaky_relu", z, alpha=alpha_leaky),
            A.leaky_relu(z, alpha_leaky), known_wrong={
                "plain ReLU (alpha ignored)": A.relu(z),
                "the slope fixed at 0.01: use the alpha argument, not the default's value": A.leaky_relu(z, 0.01)})
    t.close(f"elu(z, alpha), {label}", ns.call("elu", z, alpha=alpha_elu), A.elu(z, alpha_elu),
            known_wrong={"alpha * exp(z) without the - 1": np.where(z > 0, z, alpha_elu * np.exp(np.minimum(z, 0))),
                         "alpha fixed at 1: use the alpha argument": A.elu(z, 1.0)})
    t.close("gelu(z), the exact z * Phi(z)", ns.call("gelu", z), A.gelu(z),
            known_wrong={"the tanh approximation of GELU (use the exact erf form)": _gelu_tanh(z),
                         "Phi(z) alone, without the factor z": A.gelu(z) / np.where(z == 0, 1, z)})


def _grads(ns, t, z, *, alpha_leaky, alpha_elu, label):
    from nnkit import activations as A

    cdf = A.gelu(z) / np.where(z == 0, 1, z)
    t.close(f"leaky_relu_grad(z, alpha), {label}", ns.call("leaky_relu_grad", z, alpha=alpha_leaky),
            A.leaky_relu_grad(z, alpha_leaky), kind="backward",
            known_wrong={"0 on the negative side (that is ReLU's derivative)": A.relu_grad(z),
                         "the slope fixed at 0.01: use the alpha argument": A.leaky_relu_grad(z, 0.01)})
    t.close(f"elu_grad(z, alpha), {label}", ns.call("elu_grad", z, alpha=alpha_elu), A.elu_grad(z, alpha_elu),
            kind="backward", known_wrong={"alpha * (exp(z) - 1) (the function, not its derivative)":
                                          np.where(z > 0, 1.0, alpha_elu * np.expm1(np.minimum(z, 0)))})
    t.close("gelu_grad(z) = Phi(z) + z phi(z)", ns.call("gelu_grad", z), A.gelu_grad(z), kind="backward",
            known_wrong={"Phi(z) alone (the product rule's second term z phi(z) is missing)": cdf,
                         "the normal density without its factor 1 / sqrt(2 pi): phi(z) = exp(-z**2 / 2) / sqrt(2 pi)":
                         cdf + z * np.exp(-0.5 * z * z)})
    u = t.rng.normal(size=z.shape)
    for name, kwargs in (("leaky_relu", {"alpha": alpha_leaky}), ("elu", {"alpha": alpha_elu}), ("gelu", {})):
        grad = ns.call(f"{name}_grad", z, **kwargs)          # d/dz of sum(g(z) * u) is g'(z) * u
        t.grad_matches_numeric(f"{name}_grad against numeric differentiation of your {name}",
                               lambda v, n=name, k=kwargs: ns.call(n, v, **k), z, u,
                               grad * u if isinstance(grad, np.ndarray) and grad.shape == z.shape else grad)


def activations_visible(ns, t):
    z = t.away_from_kinks((4, 6), scale=2.0)
    _values(ns, t, z, alpha_leaky=0.01, alpha_elu=1.0, label="the defaults (0.01 and 1.0)")
    _grads(ns, t, z, alpha_leaky=0.01, alpha_elu=1.0, label="the defaults (0.01 and 1.0)")


@watch_calls(warnings=True)
def activations_hidden(ns, t):
    from nnkit import activations as A

    since = len(t.results)
    z = t.away_from_kinks((5, 3), scale=3.0)
    a1, a2 = float(t.rng.choice([0.1, 0.2])), float(t.rng.choice([0.5, 1.5]))
    _values(ns, t, z, alpha_leaky=a1, alpha_elu=a2, label="another alpha")
    _grads(ns, t, z, alpha_leaky=a1, alpha_elu=a2, label="another alpha")
    zero = np.zeros(3)
    t.close("leaky_relu_grad at z = 0 is alpha", ns.call("leaky_relu_grad", zero, alpha=a1),
            A.leaky_relu_grad(zero, a1), kind="backward", known_wrong={
                "1 at z = 0 (z >= 0): the course, like PyTorch, takes the negative side's slope alpha at 0 (z > 0)":
                np.ones(3)})
    t.close("elu_grad at z = 0 is alpha", ns.call("elu_grad", zero, alpha=a2), A.elu_grad(zero, a2),
            kind="backward", known_wrong={"1 at z = 0 (z >= 0): the course, like PyTorch, takes alpha at 0 (z > 0)":
                                          np.ones(3)})
    t.note_hidden_case(since, f"leaky_relu alpha={a1}, elu alpha={a2}")
    big = np.array([-1000.0, -50.0, 50.0, 1000.0])
    t.close("elu at +-1000 (no overflow: exp of large positive z must never be computed)", ns.call("elu", big),
            A.elu(big))
    t.close("gelu at -40, 0, 40", ns.call("gelu", np.array([-40.0, 0.0, 40.0])), A.gelu(np.array([-40.0, 0.0, 40.0])))


def pairing_rule(ns, t):
    for task, pair in PAIRS.items():
        got = ns.call("output_layer_for", task)
        got = tuple(got) if isinstance(got, list) else got
        named = isinstance(got, tuple) and all(isinstance(g, str) for g in got)
        if not t.equal(f"output_layer_for({task!r})", got, pair) and named and (task, got) in PAIRING_MISTAKES:
            t.results[-1].diagnosis.append(PAIRING_MISTAKES[(task, got)])


def pairing_rule_rejects_unknown(ns, t):
    t.raises_value_error("output_layer_for('clustering') raises ValueError", ns.call, "output_layer_for",
                         "clustering")
    pairing_rule(ns, t)
