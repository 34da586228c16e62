"""Tests for nnkit.losses: closed forms, PyTorch, numeric gradients, stability, validation."""

import math

import numpy as np
import pytest

from nnkit import losses as L
from nnkit.gradcheck import numeric_grad

RNG = np.random.default_rng


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def one_hot(y, c):
    out = np.zeros((len(y), c))
    out[np.arange(len(y)), y] = 1.0
    return out


def make_case(name, seed=0, n=5, c=4):
    """A (first argument, second argument) pair each loss accepts, away from kinks."""
    rng = RNG(seed)
    labels = rng.integers(0, c, size=n)
    if name in ("mse", "mae"):
        pred = rng.normal(size=(n, 3))
        return pred, pred + rng.choice([-1, 1], size=(n, 3)) * rng.uniform(0.1, 1, size=(n, 3))
    if name == "binary_cross_entropy":
        return rng.uniform(0.05, 0.95, size=(n, 2)), rng.uniform(0, 1, size=(n, 2))
    if name == "binary_cross_entropy_with_logits":
        return rng.normal(scale=3, size=(n, 2)), rng.uniform(0, 1, size=(n, 2))
    if name == "cross_entropy":
        return rng.normal(scale=2, size=(n, c)), labels
    if name == "categorical_cross_entropy":
        return softmax(rng.normal(size=(n, c))), labels
    if name == "nll_loss":
        return np.log(softmax(rng.normal(size=(n, c)))), labels
    raise KeyError(name)


def torch_loss(torch, name, a, b, reduction):
    F = torch.nn.functional
    if name == "mse":
        return F.mse_loss(a, torch.tensor(b), reduction=reduction)
    if name == "mae":
        return F.l1_loss(a, torch.tensor(b), reduction=reduction)
    if name == "binary_cross_entropy":
        return F.binary_cross_entropy(a, torch.tensor(b), reduction=reduction)
    if name == "binary_cross_entropy_with_logits":
        return F.binary_cross_entropy_with_logits(a, torch.tensor(b), reduction=reduction)
    if name == "cross_entropy":
        return F.cross_entropy(a, torch.tensor(b), reduction=reduction)
    if name == "categorical_cross_entropy":
        return F.nll_loss(torch.log(a), torch.tensor(b), reduction=reduction)
    if name == "nll_loss":
        return F.nll_loss(a, torch.tensor(b), reduction=reduction)
    raise KeyError(name)


# ---- closed forms --------------------------------------------------------------------

def test_mse_and_mae_closed_form_mean_over_all_elements():
    pred = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    target = np.array([[0.0, 2.0], [5.0, 4.0], [0.0, -1.0]])
    value, grad = L.mse(pred, target)
    assert value == pytest.approx((1 + 4 + 1) / 6, rel=1e-15)
    np.testing.assert_allclose(grad, 2 * (pred - target) / 6, rtol=1e-15)
    value, grad = L.mae(pred, target)
    assert value == pytest.approx((1 + 2 + 1) / 6, rel=1e-15)
    np.testing.assert_array_equal(grad, np.array([[1, 0, ], [-1, 0], [0, 1]]) / 6)


def test_sum_reduction_does_not_divide():
    pred, target = np.array([1.0, 3.0]), np.array([0.0, 0.0])
    assert L.mse(pred, target, reduction="sum")[0] == 10.0
    np.testing.assert_array_equal(L.mse(pred, target, reduction="sum")[1], [2.0, 6.0])
    logits = np.zeros((4, 2))
    assert L.cross_entropy(logits, np.array([0, 1, 0, 1]), reduction="sum")[0] == pytest.approx(4 * math.log(2))


def test_binary_cross_entropy_closed_form():
    value, grad = L.binary_cross_entropy(np.array([0.9, 0.2]), np.array([1.0, 0.0]))
    assert value == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2, rel=1e-15)
    np.testing.assert_allclose(grad, [(0.9 - 1) / (0.9 * 0.1) / 2, 0.2 / (0.2 * 0.8) / 2], rtol=1e-14)


def test_bce_with_logits_equals_bce_of_sigmoid():
    x = np.array([-2.0, 0.5, 3.0])
    t = np.array([0.0, 1.0, 0.3])
    p = 1 / (1 + np.exp(-x))
    v1, g1 = L.binary_cross_entropy_with_logits(x, t)
    v2, _ = L.binary_cross_entropy(p, t)
    assert v1 == pytest.approx(v2, rel=1e-13)
    np.testing.assert_allclose(g1, (p - t) / 3, rtol=1e-14)


def test_cross_entropy_mean_is_over_rows_not_elements():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    labels = np.array([0, 2])
    value, grad = L.cross_entropy(logits, labels)
    lse0 = math.log(math.exp(2) + math.exp(1) + 1)
    assert value == pytest.approx(((lse0 - 2) + math.log(3)) / 2, rel=1e-14)
    np.testing.assert_allclose(grad, (softmax(logits) - one_hot(labels, 3)) / 2, rtol=1e-14)


def test_one_hot_and_index_labels_give_identical_results():
    for name in ("cross_entropy", "categorical_cross_entropy", "nll_loss"):
        scores, labels = make_case(name, seed=3)
        v1, g1 = L.get(name)(scores, labels)
        v2, g2 = L.get(name)(scores, one_hot(labels, scores.shape[1]).astype(np.int64))
        assert v1 == v2
        np.testing.assert_array_equal(g1, g2)


def test_categorical_and_nll_agree_with_cross_entropy_on_logits():
    logits, labels = make_case("cross_entropy", seed=4)
    v_ce, g_ce = L.cross_entropy(logits, labels)
    p = softmax(logits)
    v_cat, _ = L.categorical_cross_entropy(p, labels)
    v_nll, g_nll = L.nll_loss(np.log(p), labels)
    assert v_cat == pytest.approx(v_ce, rel=1e-13)
    assert v_nll == pytest.approx(v_ce, rel=1e-13)
    np.testing.assert_array_equal(g_nll, -one_hot(labels, 4) / 5)


# ---- PyTorch and numeric gradients ---------------------------------------------------------

@pytest.mark.parametrize("name", L.names())
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_value_and_grad_match_torch(torch, name, reduction):
    a, b = make_case(name, seed=10)
    at = torch.tensor(a, requires_grad=True)
    out = torch_loss(torch, name, at, b, reduction)
    out.backward()
    value, grad = L.get(name)(a, b, reduction=reduction)
    assert isinstance(value, float)
    assert value == pytest.approx(out.item(), rel=1e-13)
    assert grad.shape == a.shape and grad.dtype == np.float64
    np.testing.assert_allclose(grad, at.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", L.names())
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_grad_matches_central_differences(name, reduction):
    a, b = make_case(name, seed=11)
    loss = L.get(name)
    # for categorical_cross_entropy the nudged rows leave the simplex by 1e-6, inside its tolerance
    numeric = numeric_grad(lambda x: loss(x, b, reduction=reduction)[0], a)
    np.testing.assert_allclose(loss(a, b, reduction=reduction)[1], numeric, rtol=1e-6, atol=1e-9)


def test_bce_matches_torch_at_probabilities_zero_and_one(torch):
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-300])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    pt = torch.tensor(p, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy(pt, torch.tensor(t))
    expected.backward()
    value, grad = L.binary_cross_entropy(p, t)
    assert value == pytest.approx(expected.item(), rel=1e-14)
    # rtol: torch's 1e-12 floor is a float32 constant, so its gradient there differs by 4e-9
    np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=1e-8)


def test_mae_gradient_is_zero_where_prediction_is_exact(torch):
    pred, target = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 5.0])
    pt = torch.tensor(pred, requires_grad=True)
    torch.nn.functional.l1_loss(pt, torch.tensor(target)).backward()
    np.testing.assert_array_equal(L.mae(pred, target)[1], pt.grad.numpy())
    assert L.mae(pred, target)[1][0] == 0.0


# ---- stability --------------------------------------------------------------------------------

def test_cross_entropy_is_exact_and_warning_free_at_plus_minus_1000(torch):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0], [1000.0, 1000.0, -1000.0]])
    labels = np.array([1, 1, 0])
    value, grad = L.cross_entropy(logits, labels)
    zt = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(zt, torch.tensor(labels))
    expected.backward()
    assert value == pytest.approx((2000 + math.log(2) + math.log(2)) / 3, rel=1e-15)
    assert value == pytest.approx(expected.item(), rel=1e-15)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-15, atol=1e-300)


def test_bce_with_logits_is_exact_at_plus_minus_1000(torch):
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0])
    t = np.array([0.0, 1.0, 1.0, 0.0])
    xt = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(xt, torch.tensor(t))
    expected.backward()
    value, grad = L.binary_cross_entropy_with_logits(x, t)
    assert value == pytest.approx(500.0, rel=1e-15)
    assert value == pytest.approx(expected.item(), rel=1e-15)
    np.testing.assert_array_equal(grad, np.array([1.0, -1.0, 0.0, 0.0]) / 4)


def test_probability_losses_stay_finite_on_zero_probability_of_the_true_class():
    value, grad = L.categorical_cross_entropy(np.array([[1.0, 0.0]]), np.array([1]))
    assert value == 100.0
    assert np.all(np.isfinite(grad)) and grad[0, 1] == -1e12
    value, _ = L.binary_cross_entropy(np.array([0.0]), np.array([1.0]))
    assert value == 100.0


# ---- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mse", "mae", "binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_elementwise_losses_refuse_to_broadcast_and_name_both_shapes(name):
    with pytest.raises(ValueError, match=rf"{name}: target must have shape \(\.\.\.\) = \(4, 1\), got target\.shape=\(4,\)"):
        L.get(name)(np.full((4, 1), 0.5), np.full(4, 0.5))


@pytest.mark.parametrize("name", ["cross_entropy", "categorical_cross_entropy", "nll_loss"])
def test_labels_of_shape_n_by_1_are_refused(name):
    scores, labels = make_case(name)
    with pytest.raises(ValueError, match=r"labels must have shape \(N,\) = \(5,\) or \(N, C\) = \(5, 4\), got labels.shape=\(5, 1\).*ravel"):
        L.get(name)(scores, labels.reshape(-1, 1))


@pytest.mark.parametrize("name", ["cross_entropy", "categorical_cross_entropy", "nll_loss"])
def test_label_out_of_range_is_reported_with_its_index(name):
    scores, labels = make_case(name)
    labels = labels.copy()
    labels[3] = 4
    with pytest.raises(ValueError, match=rf"{name}: labels must be class indices in \[0, 3\], found 4 at index 3"):
        L.get(name)(scores, labels)
    labels[3] = -1
    with pytest.raises(ValueError, match="found -1 at index 3"):
        L.get(name)(scores, labels)


def test_label_count_and_dtype_are_checked():
    logits = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"labels must be class indices of shape \(N,\) = \(3,\), got labels.shape=\(2,\)"):
        L.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(TypeError, match=r"integer dtype, got dtype float64.*astype"):
        L.cross_entropy(logits, np.array([0.0, 1.0, 1.0]))


@pytest.mark.parametrize("bad_row", [[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0], [2.0, -1.0, 0, 0]])
def test_one_hot_rows_that_are_not_one_hot_are_rejected(bad_row):
    labels = one_hot(np.array([0, 1, 2]), 4)
    labels[1] = bad_row
    with pytest.raises(ValueError, match=r"nll_loss: labels must (be one-hot .*got row 1 =|lie in \[0, 1\], found .* at index \(1, )"):
        L.nll_loss(np.full((3, 4), -1.0), labels)


@pytest.mark.parametrize("bad_row", [[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [2.0, -1.0, 0, 0], [0.5, 0.6, 0, 0]])
def test_cross_entropy_target_rows_must_be_class_probabilities(bad_row):
    labels = one_hot(np.array([0, 1, 2]), 4)
    labels[1] = bad_row
    with pytest.raises(ValueError, match=r"cross_entropy: labels must (be rows that each sum to 1.*got row 1 =|lie in \[0, 1\], found .* at index \(1, )"):
        L.cross_entropy(np.zeros((3, 4)), labels)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_soft_targets_match_torch(torch, reduction):
    rng = np.random.default_rng(7)
    logits = rng.normal(scale=3.0, size=(5, 4))
    target = rng.dirichlet(np.ones(4), size=5)   # rows of class probabilities
    value, grad = L.cross_entropy(logits, target, reduction=reduction)
    zt = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(zt, torch.tensor(target), reduction=reduction)
    expected.backward()
    np.testing.assert_allclose(value, expected.item(), rtol=1e-12)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_probabilities_outside_unit_interval_are_rejected():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: probs must lie in \[0, 1\], found 1.2 at index \(1,\)"):
        L.binary_cross_entropy(np.array([0.5, 1.2]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target must lie in \[0, 1\]"):
        L.binary_cross_entropy(np.array([0.5, 0.2]), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"categorical_cross_entropy: probs must lie in \[0, 1\]"):
        L.categorical_cross_entropy(np.array([[1.5, -0.5]]), np.array([0]))
    with pytest.raises(ValueError, match=r"probs must be rows that each sum to 1, got row 0 = \[0.25, 0.25\] \(sum 0.5\)"):
        L.categorical_cross_entropy(np.array([[0.25, 0.25]]), np.array([0]))
    # sigmoid outputs are not a distribution over classes
    with pytest.raises(ValueError, match=r"probs must be rows that each sum to 1"):
        L.categorical_cross_entropy(np.array([[0.9, 0.8, 0.1]]), np.array([0]))


def test_nll_loss_rejects_probabilities_passed_as_log_probabilities():
    with pytest.raises(ValueError, match=r"nll_loss: log_probs must be <= 0, found 0.7 at index \(0, 1\)"):
        L.nll_loss(np.array([[-0.3, 0.7]]), np.array([1]))


@pytest.mark.parametrize("name", L.names())
def test_nan_input_names_the_argument(name):
    a, b = make_case(name)
    a = a.copy()
    a[1, 0] = np.nan
    with pytest.raises(ValueError, match=rf"{name}: .* must be finite, found nan at index \(1, 0\)"):
        L.get(name)(a, b)


@pytest.mark.parametrize("name", L.names())
def test_unknown_reduction_is_rejected(name):
    a, b = make_case(name)
    with pytest.raises(ValueError, match=rf"{name}: reduction must be 'mean' or 'sum', got 'none'"):
        L.get(name)(a, b, reduction="none")


def test_multiclass_losses_need_two_dimensional_scores():
    with pytest.raises(ValueError, match=r"cross_entropy: logits must be 2-D \(N, C\), got logits.shape=\(4,\)"):
        L.cross_entropy(np.zeros(4), np.array([0, 1, 0, 1]))


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match=r"mse: pred must not be empty, got pred.shape=\(0,\)"):
        L.mse(np.zeros(0), np.zeros(0))


@pytest.mark.parametrize("name", L.names())
def test_inputs_are_not_modified(name):
    a, b = make_case(name, seed=5)
    a0, b0 = a.copy(), b.copy()
    _, grad = L.get(name)(a, b)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)
    assert not np.shares_memory(grad, a)


def test_get_unknown_name_lists_known_names():
    assert L.get("Cross_Entropy") is L.cross_entropy
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'; known: mse, mae, .*nll_loss"):
        L.get("hinge")


# ---- gaps found by mutation testing (scripts/mutation.py) ------------------------------------------

def test_names_lists_every_loss_and_get_returns_it():
    assert L.names() == ["mse", "mae", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
                         "categorical_cross_entropy", "nll_loss"]
    assert all(L.get(name) is getattr(L, name) for name in L.names())
    assert L.get("  Cross_Entropy ") is L.cross_entropy


def test_cross_entropy_shifts_each_row_by_its_own_maximum(torch):
    """Rows 2000 apart: a shift by the maximum of the whole array would underflow every exp of row 1."""
    logits = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1003.0]])
    labels = np.array([2, 0])
    value, grad = L.cross_entropy(logits, labels)
    zt = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(zt, torch.tensor(labels))
    expected.backward()
    np.testing.assert_allclose(value, expected.item(), rtol=1e-14)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("name", ["mse", "mae", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                                  "cross_entropy", "categorical_cross_entropy", "nll_loss"])
def test_the_default_reduction_is_the_mean(name):
    rng = np.random.default_rng(11)
    if name in ("cross_entropy", "categorical_cross_entropy", "nll_loss"):
        z = rng.normal(size=(4, 3))
        first = {"cross_entropy": z, "categorical_cross_entropy": np.exp(z) / np.exp(z).sum(1, keepdims=True),
                 "nll_loss": z - np.log(np.exp(z).sum(1, keepdims=True))}[name]
        second, count = np.array([0, 2, 1, 2]), 4
    else:
        first = rng.uniform(0.1, 0.9, size=(4, 3))
        second, count = rng.uniform(0.0, 1.0, size=(4, 3)), 12
    default = L.get(name)(first, second)
    summed = L.get(name)(first, second, reduction="sum")
    assert default[0] == pytest.approx(summed[0] / count, rel=1e-14)
    np.testing.assert_allclose(default[1], summed[1] / count, rtol=1e-14)


@pytest.mark.parametrize("name", L.names())
def test_every_loss_refuses_an_empty_batch(name):
    # found by mutation testing: only mse was tried, so binary_cross_entropy could lose its emptiness check
    a, b = make_case(name, n=0)
    with pytest.raises(ValueError, match=rf"^{name}: \w+ must not be empty, got \w+\.shape=\(0, "):
        L.get(name)(a, b)
