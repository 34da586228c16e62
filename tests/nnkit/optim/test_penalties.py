"""L1/L2 penalties and the max-norm constraint: closed forms, numeric gradients, torch."""

import numpy as np
import pytest

from nnkit import optim
from nnkit.gradcheck import numeric_grad


@pytest.fixture
def layer_params():
    rng = np.random.default_rng(0)
    return {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=(3,))}


def test_l2_penalty_of_an_array_is_half_lambda_squared_norm():
    W = np.array([[1.0, -2.0], [3.0, 0.5]])
    value, grad = optim.l2_penalty(W, 0.1)
    assert value == pytest.approx(0.5 * 0.1 * (1 + 4 + 9 + 0.25), rel=1e-15)
    np.testing.assert_allclose(grad, 0.1 * W, rtol=1e-15)


def test_l1_penalty_of_an_array_is_lambda_abs_sum_with_zero_subgradient_at_zero():
    W = np.array([[1.0, -2.0], [0.0, 0.5]])
    value, grad = optim.l1_penalty(W, 0.3)
    assert value == pytest.approx(0.3 * 3.5, rel=1e-15)
    np.testing.assert_array_equal(grad, 0.3 * np.array([[1.0, -1.0], [0.0, 1.0]]))


@pytest.mark.parametrize("penalty", [optim.l1_penalty, optim.l2_penalty])
def test_penalty_gradient_matches_central_differences(penalty):
    W = np.random.default_rng(1).normal(size=(3, 5))
    W[np.abs(W) < 0.05] = 0.3  # keep L1 away from its kink
    _, grad = penalty(W, 0.7)
    numeric = numeric_grad(lambda w: penalty(w, 0.7)[0], W)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("penalty", [optim.l1_penalty, optim.l2_penalty])
def test_penalty_of_a_dict_skips_biases_by_default_and_returns_every_key(penalty, layer_params):
    value, grads = penalty(layer_params, 0.2)
    only_W, grad_W = penalty(layer_params["W"], 0.2)
    assert value == pytest.approx(only_W, rel=1e-15)
    assert set(grads) == {"W", "b"}
    np.testing.assert_array_equal(grads["W"], grad_W)
    np.testing.assert_array_equal(grads["b"], np.zeros(3))

    value_all, grads_all = penalty(layer_params, 0.2, decay="all")
    assert value_all == pytest.approx(only_W + penalty(layer_params["b"], 0.2)[0], rel=1e-15)
    np.testing.assert_array_equal(grads_all["b"], penalty(layer_params["b"], 0.2)[1])
    value_named, grads_named = penalty(layer_params, 0.2, decay={"b"})
    assert value_named == pytest.approx(penalty(layer_params["b"], 0.2)[0], rel=1e-15)
    np.testing.assert_array_equal(grads_named["W"], np.zeros((4, 3)))


def test_penalty_of_pairs_sums_over_layers_and_returns_one_dict_per_pair(layer_params):
    other = {"W": np.arange(6.0).reshape(2, 3), "gamma": np.ones(2)}
    value, grads = optim.l2_penalty([(layer_params, {}), (other, {})], 0.5)
    expected = optim.l2_penalty(layer_params["W"], 0.5)[0] + optim.l2_penalty(other["W"], 0.5)[0]
    assert value == pytest.approx(expected, rel=1e-15)
    assert [set(g) for g in grads] == [{"W", "b"}, {"W", "gamma"}]
    np.testing.assert_array_equal(grads[1]["W"], 0.5 * other["W"])
    np.testing.assert_array_equal(grads[1]["gamma"], np.zeros(2))


@pytest.mark.parametrize("penalty", [optim.l1_penalty, optim.l2_penalty])
def test_penalties_do_not_touch_their_input(penalty, layer_params):
    saved = {k: v.copy() for k, v in layer_params.items()}
    _, grads = penalty(layer_params, 0.4, decay="all")
    grads["W"] += 1.0  # the returned gradient must not alias the params either
    for name in saved:
        np.testing.assert_array_equal(layer_params[name], saved[name])


def test_l2_gradient_added_by_hand_equals_sgd_weight_decay(layer_params):
    """DESIGN §3: the penalty's gradient is the term torch's weight_decay adds."""
    rng = np.random.default_rng(3)
    by_hand = {k: v.copy() for k, v in layer_params.items()}
    built_in = {k: v.copy() for k, v in layer_params.items()}
    grads_hand, grads_built = {}, {}
    opt_hand = optim.SGD([(by_hand, grads_hand)], lr=0.1, momentum=0.9)
    opt_built = optim.SGD([(built_in, grads_built)], lr=0.1, momentum=0.9, weight_decay=0.3)
    for _ in range(5):
        g = {k: rng.normal(size=v.shape) for k, v in layer_params.items()}
        _, penalty_grads = optim.l2_penalty(by_hand, 0.3)
        grads_hand.update({k: g[k] + penalty_grads[k] for k in g})
        grads_built.update(g)
        opt_hand.step()
        opt_built.step()
    for name in layer_params:
        np.testing.assert_allclose(by_hand[name], built_in[name], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize(("args", "error", "message"), [
    ((np.ones(2), -0.1), ValueError, r"l2_penalty: lam must be a finite number >= 0, got -0.1"),
    ((np.ones(2), float("inf")), ValueError, r"l2_penalty: lam must be a finite number >= 0, got inf"),
    ((np.array(["a"]), 0.1), TypeError, r"l2_penalty: params must hold real numbers, got dtype <U1"),
    (([1.0, 2.0], 0.1), TypeError, r"l2_penalty: params must be a numpy array, a dict .* got list"),
    (({"W": [1.0]}, 0.1), TypeError, r"l2_penalty: params\['W'\] must be a numpy array, got list"),
])
def test_penalty_rejects_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        optim.l2_penalty(*args)


def test_max_norm_rescales_only_the_columns_that_are_too_long_and_works_in_place():
    W = np.array([[3.0, 0.1, 1.0], [4.0, 0.2, -1.0]])  # column norms 5, ~0.22, ~1.41
    original = W.copy()
    out = optim.max_norm_(W, 2.0)
    assert out is W
    np.testing.assert_allclose(W[:, 0], original[:, 0] * 2.0 / 5.0, rtol=1e-15)
    np.testing.assert_array_equal(W[:, 1:], original[:, 1:])
    np.testing.assert_allclose(np.linalg.norm(W, axis=0), [2.0, np.linalg.norm(original[:, 1]), np.sqrt(2.0)],
                               rtol=1e-15)


def test_max_norm_of_conv_filters_takes_one_norm_per_filter():
    W = np.random.default_rng(4).normal(size=(5, 2, 3, 3))
    norms = np.sqrt(np.sum(W**2, axis=(1, 2, 3)))
    limit = float(np.median(norms))
    optim.max_norm_(W, limit, axis=(1, 2, 3))
    new_norms = np.sqrt(np.sum(W**2, axis=(1, 2, 3)))
    np.testing.assert_allclose(new_norms, np.minimum(norms, limit), rtol=1e-14)


def test_max_norm_matches_torch_renorm(torch):
    W = np.random.default_rng(5).normal(size=(6, 4)) * 2.0
    expected = torch.renorm(torch.tensor(W), p=2, dim=1, maxnorm=2.5).numpy()  # torch's dim indexes the slices
    optim.max_norm_(W, 2.5, axis=0)
    np.testing.assert_allclose(W, expected, rtol=1e-7)  # renorm divides by norm + 1e-7


@pytest.mark.parametrize(("args", "error", "message"), [
    ((np.ones((2, 2), dtype=int), 1.0), TypeError, r"max_norm_: W must be a float numpy array .* got dtype int64"),
    ((np.ones((2, 2)), 0.0), ValueError, r"max_norm must be a finite number > 0, got 0.0"),
    ((np.ones((2, 2)), -1.0), ValueError, r"max_norm must be a finite number > 0, got -1.0"),
    ((np.ones((2, 2)), 1.0, 2), ValueError, r"axis 2 is not a set of distinct axes of W with W.shape=\(2, 2\)"),
    ((np.ones((2, 2)), 1.0, (0, 0)), ValueError, r"axis \(0, 0\) is not a set of distinct axes"),
    ((np.ones((2, 2)), 1.0, 0.5), TypeError, r"axis must be an int or a non-empty tuple of ints, got 0.5"),
])
def test_max_norm_rejects_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        optim.max_norm_(*args)
