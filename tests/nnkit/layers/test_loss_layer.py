"""SoftmaxCrossEntropy: closed form, labels as indices or one-hot, PyTorch."""

import numpy as np
import pytest

from nnkit.gradcheck import check_function
from nnkit.layers import SoftmaxCrossEntropy


def closed_form(logits, labels):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    N = len(labels)
    loss = -np.mean(np.log(p[np.arange(N), labels]))
    onehot = np.eye(logits.shape[1])[labels]
    return loss, (p - onehot) / N


@pytest.mark.parametrize("N, C", [(7, 5), (1, 3)])
def test_loss_layer_forward_and_backward_closed_form(N, C):
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(N, C)), rng.integers(0, C, size=N)
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, labels)
    expected_value, expected_grad = closed_form(logits, labels)
    assert isinstance(value, float)
    assert value == pytest.approx(expected_value, rel=1e-13)
    np.testing.assert_allclose(loss.backward(), expected_grad, rtol=1e-12, atol=1e-15)


def test_loss_layer_one_hot_labels_equal_index_labels():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    a, b = SoftmaxCrossEntropy(), SoftmaxCrossEntropy()
    assert a.forward(logits, labels) == pytest.approx(b.forward(logits, np.eye(4)[labels]), rel=1e-14)
    np.testing.assert_allclose(a.backward(), b.backward(), rtol=1e-14)


def test_loss_layer_sum_reduction_is_N_times_mean():
    rng = np.random.default_rng(2)
    logits, labels = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    mean, total = SoftmaxCrossEntropy(), SoftmaxCrossEntropy(reduction="sum")
    assert total.forward(logits, labels) == pytest.approx(5 * mean.forward(logits, labels), rel=1e-14)
    np.testing.assert_allclose(total.backward(), 5 * mean.backward(), rtol=1e-14)


@pytest.mark.parametrize("N, C", [(5, 4), (1, 3)])
def test_loss_layer_gradient_passes_gradcheck(N, C):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, C, size=N)
    loss = SoftmaxCrossEntropy()

    def forward(logits):
        return np.array(loss.forward(logits, labels))

    def backward(logits, dout):
        loss.forward(logits, labels)
        return loss.backward(float(dout))

    result = check_function(forward, backward, rng.normal(size=(N, C)), rng=rng)
    assert result.max_rel_error <= 1e-7, str(result)


def test_loss_layer_is_stable_at_plus_minus_1000():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, np.array([1, 2]))
    # Row 0: the label's logit is 2000 below the max; row 1: 1 below.
    assert value == pytest.approx((2000.0 + np.log1p(np.exp(-1000.0) + np.exp(-2000.0)) + 1.0 + np.log1p(np.exp(-1.0))) / 2)
    assert np.isfinite(loss.backward()).all()


def test_loss_layer_matches_torch(torch):
    rng = np.random.default_rng(4)
    logits, labels = rng.normal(size=(8, 5)) * 3, rng.integers(0, 5, size=8)
    lt = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(lt, torch.from_numpy(labels))
    ref.backward()
    loss = SoftmaxCrossEntropy()
    assert loss.forward(logits, labels) == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), lt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_loss_layer_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="SoftmaxCrossEntropy.backward: called before forward"):
        SoftmaxCrossEntropy().backward()


def test_loss_layer_rejects_bad_reduction_and_mismatched_labels():
    with pytest.raises(ValueError, match="SoftmaxCrossEntropy: reduction must be 'mean' or 'sum', got 'avg'"):
        SoftmaxCrossEntropy(reduction="avg")
    with pytest.raises(ValueError):
        SoftmaxCrossEntropy().forward(np.zeros((4, 3)), np.zeros((4, 1), dtype=np.int64))
