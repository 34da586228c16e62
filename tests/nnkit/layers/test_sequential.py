"""Sequential: composition forward, chain rule backward, parameter views."""

import numpy as np
import pytest

from nnkit.gradcheck import check_layer
from nnkit.layers import BatchNorm1d, Dropout, Layer, Linear, ReLU, Sequential, Sigmoid, Tanh


def small_net(seed=0):
    return Sequential(Linear(5, 4, seed=seed), Tanh(), Linear(4, 3, seed=seed + 1), Sigmoid())


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
    inner = Sequential(Linear(3, 3, seed=0), ReLU())
    net = Sequential(inner, Linear(3, 2, seed=1))
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
    assert Sequential(Linear(1, 2, seed=0), Sigmoid(), Linear(2, 1, seed=1)).num_parameters() == 7
    assert Sequential(Linear(2, 2, seed=0), Sigmoid(), Linear(2, 1, seed=1), Sigmoid()).num_parameters() == 9


def test_training_flag_reaches_the_children():
    rng = np.random.default_rng(6)
    bn = BatchNorm1d(3)
    net = Sequential(bn)
    x = rng.normal(loc=2.0, size=(8, 3))
    net.eval().forward(x)
    np.testing.assert_array_equal(bn.buffers["running_mean"], np.zeros(3))
    net.train().forward(x)
    assert bn.buffers["running_mean"].any()


def test_inner_layer_errors_keep_the_layers_message():
    with pytest.raises(ValueError, match=r"Linear.forward: x must have shape \(N, D\) = \(N, 5\), got x.shape=\(8, 6\)"):
        small_net().forward(np.zeros((8, 6)))


def test_sequential_rejects_a_list_and_non_layers():
    with pytest.raises(TypeError, match=r"Sequential: layers\[0\] must be a layer, got list .*Sequential\(\*layers\)"):
        Sequential([Linear(2, 2, seed=0)])
    with pytest.raises(TypeError, match=r"Sequential: layers\[1\] must be a layer, got function \(it lacks forward, backward, parameters\)"):
        Sequential(Linear(2, 2, seed=0), lambda x: x)


def test_sequential_of_unpacked_list_equals_sequential_of_arguments():
    layers = [Linear(3, 4, seed=0), Tanh(), Linear(4, 2, seed=1)]
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_array_equal(Sequential(*layers).forward(x), Sequential(layers[0], layers[1], layers[2]).forward(x))


def test_train_and_eval_set_the_flag_everywhere_and_return_the_model():
    inner = Sequential(Linear(3, 3, seed=0), Dropout(0.5, seed=1))
    net = Sequential(inner, BatchNorm1d(3))
    assert net.training and all(layer.training for layer in (inner, inner[0], inner[1], net[1]))
    assert net.eval() is net
    assert not any(layer.training for layer in (net, inner, inner[0], inner[1], net[1]))
    assert net.train() is net and all(layer.training for layer in (net, inner, inner[1], net[1]))
    net.train(False)
    assert not inner[1].training
    with pytest.raises(TypeError, match=r"Sequential.train: mode must be True or False, got str 'eval'"):
        net.train("eval")


def test_eval_mode_turns_dropout_off_and_batchnorm_to_running_statistics():
    rng = np.random.default_rng(3)
    net = Sequential(Dropout(0.5, seed=0), BatchNorm1d(4))
    x = rng.normal(loc=3.0, size=(6, 4))
    net.eval()
    np.testing.assert_allclose(net.forward(x), x / np.sqrt(1.0 + 1e-5))   # running stats start at 0 and 1
    net.train()
    assert not np.allclose(net.forward(x), x / np.sqrt(1.0 + 1e-5))


def test_named_parameters_and_state_dict_use_the_same_names():
    net = Sequential(Linear(3, 4, seed=0), BatchNorm1d(4), ReLU(), Linear(4, 2, seed=1))
    names = [name for name, _ in net.named_parameters()]
    assert names == ["layer0.W", "layer0.b", "layer1.gamma", "layer1.beta", "layer3.W", "layer3.b"]
    assert all(array is net.params[name] for name, array in net.named_parameters())   # the arrays, not copies
    state = net.state_dict()
    assert sorted(state) == sorted(names + ["layer1.running_mean", "layer1.running_var"])
    assert all(state[name] is not net.params[name] for name in names)                  # copies
    assert [name for name, _ in Linear(2, 3, seed=0).named_parameters()] == ["W", "b"]


def test_load_state_dict_copies_in_place_and_refuses_mismatches():
    a = Sequential(Linear(3, 4, seed=0), BatchNorm1d(4))
    b = Sequential(Linear(3, 4, seed=5), BatchNorm1d(4))
    a.forward(np.random.default_rng(0).normal(size=(8, 3)))   # moves a's running statistics
    W_b = b[0].params["W"]
    b.load_state_dict(a.state_dict())
    assert b[0].params["W"] is W_b                                  # same array: an optimizer keeps working
    for name, value in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[name], value)
    with pytest.raises(ValueError, match=r"Sequential.load_state_dict: .*missing: \['layer1.running_var'\]"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "layer1.running_var"})
    bad = a.state_dict()
    bad["layer0.W"] = np.zeros((4, 3))
    before = b.state_dict()
    with pytest.raises(ValueError, match=r"layer0.W must have shape \(3, 4\), got shape \(4, 3\)"):
        b.load_state_dict(bad)
    np.testing.assert_array_equal(b.state_dict()["layer1.running_mean"], before["layer1.running_mean"])


def test_sequential_repr_lists_layers():
    text = repr(small_net())
    assert "(0) Linear(5, 4" in text and "(3) Sigmoid()" in text


def test_every_layer_class_has_torchs_mode_and_state_methods():
    import nnkit.layers as layers

    built = {"Linear": (3, 2), "BatchNorm1d": (3,), "BatchNorm2d": (3,), "Conv2d": (1, 2, 3), "MaxPool2d": (2,),
             "AvgPool2d": (2,), "GaussianNoise": (0.1,), "Activation": ("relu",)}
    classes = [getattr(layers, n) for n in layers.__all__ if isinstance(getattr(layers, n), type)
               and issubclass(getattr(layers, n), Layer) and n not in ("Layer", "Sequential")]
    assert len(classes) >= 25
    for cls in classes:
        layer = cls(*built.get(cls.__name__, ()))
        assert layer.training is True
        assert layer.eval() is layer and layer.training is False
        assert layer.train() is layer and layer.training is True
        assert set(layer.state_dict()) == set(layer.params) | set(getattr(layer, "buffers", {}))
        assert [name for name, _ in layer.named_parameters()] == list(layer.params)
