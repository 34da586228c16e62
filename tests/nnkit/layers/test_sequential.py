"""Sequential: composition forward, chain rule backward, parameter views."""

import numpy as np
import pytest

from nnkit.gradcheck import check_layer
from nnkit.layers import BatchNorm1d, Layer, Linear, ReLU, Sequential, Sigmoid, Tanh


def small_net(seed=0):
    return Sequential([Linear(5, 4, seed=seed), Tanh(), Linear(4, 3, seed=seed + 1), Sigmoid()])


def test_sequential_is_a_layer():
    assert isinstance(small_net(), Layer)


def test_sequential_forward_is_the_composition():
    net = small_net()
    x = np.random.default_rng(0).normal(size=(6, 5))
    l0, l2 = net[0].params, net[2].params
    expected = 1 / (1 + np.exp(-(np.tanh(x @ l0["W"] + l0["b"]) @ l2["W"] + l2["b"])))
    np.testing.assert_allclose(net.forward(x), expected, rtol=1e-13)


def test_sequential_backward_is_the_chain_rule_by_hand():
    rng = np.random.default_rng(1)
    net = small_net()
    x, dout = rng.normal(size=(6, 5)), rng.normal(size=(6, 3))
    W1, b1, W2, b2 = net[0].params["W"], net[0].params["b"], net[2].params["W"], net[2].params["b"]
    h = np.tanh(x @ W1 + b1)
    s = 1 / (1 + np.exp(-(h @ W2 + b2)))
    dz2 = dout * s * (1 - s)
    dh = dz2 @ W2.T
    dz1 = dh * (1 - h**2)
    net.forward(x)
    dx = net.backward(dout)
    np.testing.assert_allclose(dx, dz1 @ W1.T, rtol=1e-12)
    np.testing.assert_allclose(net[2].grads["W"], h.T @ dz2, rtol=1e-12)
    np.testing.assert_allclose(net[0].grads["W"], x.T @ dz1, rtol=1e-12)
    np.testing.assert_allclose(net[0].grads["b"], dz1.sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("N", [1, 7])
def test_sequential_passes_gradcheck(N):
    rng = np.random.default_rng(2)
    results = check_layer(small_net(), rng.normal(size=(N, 5)), rng=rng)
    assert set(results) == {"x", "layer0.W", "layer0.b", "layer2.W", "layer2.b"}
    for name, result in results.items():
        assert result.max_rel_error <= 1e-7, f"{name}: {result}"


def test_sequential_params_are_named_views_of_the_childrens_arrays():
    net = small_net()
    assert list(net.params) == ["layer0.W", "layer0.b", "layer2.W", "layer2.b"]
    assert net.params["layer2.W"] is net[2].params["W"]
    net.params["layer0.b"][:] = 5.0
    np.testing.assert_array_equal(net[0].params["b"], np.full(4, 5.0))


def test_sequential_grads_view_follows_the_latest_backward():
    rng = np.random.default_rng(3)
    net = small_net()
    net.forward(rng.normal(size=(2, 5)))
    net.backward(rng.normal(size=(2, 3)))
    assert net.grads["layer0.W"] is net[0].grads["W"]


def test_sequential_parameters_are_the_childrens_pairs_in_order():
    net = small_net()
    pairs = net.parameters()
    assert len(pairs) == 2
    assert pairs[0][0] is net[0].params and pairs[0][1] is net[0].grads
    assert pairs[1][0] is net[2].params


def test_nested_sequential_works_and_names_nest():
    rng = np.random.default_rng(4)
    inner = Sequential([Linear(3, 3, seed=0), ReLU()])
    net = Sequential([inner, Linear(3, 2, seed=1)])
    assert list(net.params) == ["layer0.layer0.W", "layer0.layer0.b", "layer1.W", "layer1.b"]
    assert len(net.parameters()) == 2
    x = rng.normal(size=(4, 3))
    np.testing.assert_allclose(net.forward(x), net[1].forward(inner.forward(x)))


def test_zero_grad_reaches_every_child():
    rng = np.random.default_rng(5)
    net = small_net()
    net.forward(rng.normal(size=(2, 5)))
    net.backward(rng.normal(size=(2, 3)))
    net.zero_grad()
    assert all(not g.any() for g in net.grads.values())


def test_the_seeds_small_nets_have_7_and_9_weights():
    assert Sequential([Linear(1, 2, seed=0), Sigmoid(), Linear(2, 1, seed=1)]).num_parameters() == 7
    assert Sequential([Linear(2, 2, seed=0), Sigmoid(), Linear(2, 1, seed=1), Sigmoid()]).num_parameters() == 9


def test_training_flag_reaches_the_children():
    rng = np.random.default_rng(6)
    bn = BatchNorm1d(3)
    net = Sequential([bn])
    x = rng.normal(loc=2.0, size=(8, 3))
    net.forward(x, training=False)
    np.testing.assert_array_equal(bn.buffers["running_mean"], np.zeros(3))
    net.forward(x, training=True)
    assert bn.buffers["running_mean"].any()


def test_inner_layer_errors_keep_the_layers_message():
    with pytest.raises(ValueError, match=r"Linear.forward: x has 6 features, the layer expects 5 \(x.shape=\(8, 6\)\)"):
        small_net().forward(np.zeros((8, 6)))


def test_sequential_rejects_non_lists_and_non_layers():
    with pytest.raises(TypeError, match=r"Sequential: layers must be a list of layers, got Linear"):
        Sequential(Linear(2, 2, seed=0))
    with pytest.raises(TypeError, match=r"Sequential: layers\[1\] \(function\) is not a layer; it lacks forward, backward, parameters"):
        Sequential([Linear(2, 2, seed=0), lambda x: x])


def test_sequential_repr_lists_layers():
    text = repr(small_net())
    assert "(0) Linear(5, 4" in text and "(3) Sigmoid()" in text
