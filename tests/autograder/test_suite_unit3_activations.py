"""The unit 3 item on Leaky ReLU, ELU, GELU and the output-layer rule: each plausible mistake costs points and
is named, and the references it grades against agree with torch."""

import numpy as np
import pytest

from tests.autograder.test_suite_unit3 import grade, namespace

torch = pytest.importorskip("torch")

CELL = "u3_more_activations_impl"
MISTAKES = [
    ([("return np.where(z > 0, z, alpha * z)", "return np.maximum(z, 0.0)")], "plain ReLU (alpha ignored)"),
    ([("return np.where(np.asarray(z, dtype=float) > 0, 1.0, alpha)",
       "return np.where(np.asarray(z, dtype=float) > 0, 1.0, 0.0)")], "0 on the negative side"),
    ([("return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))",
       "return np.where(z > 0, z, alpha * np.exp(np.minimum(z, 0.0)))")], "without the - 1"),
    ([("return z * 0.5 * (1.0 + np.vectorize(math.erf)(z / np.sqrt(2.0)))",
       "return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))")], "the tanh approximation"),
    ([("return cdf + z * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)", "return cdf")],
     "the product rule's second term"),
    ([("return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))",
       "return np.where(z >= 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))")], "elu_grad at z = 0 is alpha"),
    ([('"multilabel": ("sigmoid", "bce")', '"multilabel": ("softmax", "cross_entropy")')],
     "the labels compete"),
    ([("return np.where(z > 0, z, alpha * z)", "return np.where(z > 0, z, 0.01 * z)")], "slope fixed at 0.01"),
    ([("alpha * np.expm1(np.minimum(z, 0.0))", "alpha * (np.exp(z) - 1.0)")], "made NumPy warn: overflow"),
]


@pytest.mark.parametrize("edits, phrase", MISTAKES, ids=[f"act-{i}" for i in range(len(MISTAKES))])
def test_activation_mistake_loses_points_with_a_useful_message(edits, phrase):
    result = grade("u3_more_activations", namespace({CELL: edits}))
    text = result.render(show_hidden_details=True)
    assert result.score < result.points, text
    assert phrase in text, text


def test_reference_activations_and_derivatives_match_torch():
    from nnkit import activations as A

    z = np.concatenate([np.linspace(-6, -0.01, 50), np.linspace(0.01, 6, 50)])
    for alpha in (0.01, 0.2):
        tz = torch.tensor(z, requires_grad=True)
        torch.nn.functional.leaky_relu(tz, alpha).sum().backward()
        np.testing.assert_allclose(A.leaky_relu(z, alpha), torch.nn.functional.leaky_relu(torch.tensor(z), alpha))
        np.testing.assert_allclose(A.leaky_relu_grad(z, alpha), tz.grad.numpy())
    for alpha in (1.0, 0.5):
        tz = torch.tensor(z, requires_grad=True)
        torch.nn.functional.elu(tz, alpha).sum().backward()
        np.testing.assert_allclose(A.elu(z, alpha), torch.nn.functional.elu(torch.tensor(z), alpha), rtol=1e-12)
        np.testing.assert_allclose(A.elu_grad(z, alpha), tz.grad.numpy(), rtol=1e-12)
    tz = torch.tensor(z, requires_grad=True)
    torch.nn.functional.gelu(tz).sum().backward()
    np.testing.assert_allclose(A.gelu(z), torch.nn.functional.gelu(torch.tensor(z)).numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(A.gelu_grad(z), tz.grad.numpy(), rtol=1e-10, atol=1e-15)
    zero = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.elu(zero, 0.5).sum().backward()
    assert A.elu_grad(np.zeros(1), 0.5)[0] == pytest.approx(float(zero.grad[0]))


def test_hidden_descriptions_do_not_name_the_secret_alphas():
    """The hidden alphas come from the secret: a description that names them would leak the hidden case."""
    from autograder.handle import LocalHandle
    from autograder.runner import run_item
    from tests.autograder.test_suite_unit3 import REGISTRY

    ns = namespace({CELL: [("return np.where(z > 0, z, alpha * z)", "return np.where(z > 0, z, 0.01 * z)")]})
    item = REGISTRY.get("u3_more_activations")
    hidden = [[s.what for s in run_item(item, LocalHandle(ns), include_hidden=True, secret=secret).subchecks
               if s.hidden] for secret in ("term a", "term b", "term c", "term d")]
    assert all(h == hidden[0] for h in hidden), hidden
    assert not any(a in what for what in hidden[0] for a in ("0.1", "0.2", "0.5", "1.5")), hidden[0]
