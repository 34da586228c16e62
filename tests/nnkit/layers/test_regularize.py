"""Dropout, Monte Carlo dropout and Gaussian noise."""

import numpy as np
import pytest

from nnkit.activations import softmax
from nnkit.gradcheck import check_function
from nnkit.layers import BatchNorm1d, Dropout, GaussianNoise, Linear, ReLU, Sequential, mc_predict


def test_dropout_scales_kept_units_by_one_over_keep_probability():
    x = np.random.default_rng(0).normal(size=(6, 7))
    layer = Dropout(0.3, seed=1)
    out = layer.forward(x)
    assert layer.mask.dtype == bool and layer.mask.shape == x.shape
    np.testing.assert_allclose(out, np.where(layer.mask, x / 0.7, 0.0), rtol=1e-15)


def test_dropout_p_is_the_drop_probability():
    layer = Dropout(0.3, seed=2)
    layer.forward(np.ones((400, 500)))
    dropped = 1 - layer.mask.mean()
    # 200000 Bernoulli(0.3) draws: the standard error is 0.001.
    assert abs(dropped - 0.3) < 0.005


def test_dropout_keeps_the_mean_in_expectation():
    out = Dropout(0.6, seed=3).forward(np.full((500, 400), 2.0))
    assert abs(out.mean() - 2.0) < 0.02


def test_dropout_backward_uses_the_same_mask():
    rng = np.random.default_rng(4)
    layer = Dropout(0.5, seed=5)
    x, dout = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    layer.forward(x)
    np.testing.assert_allclose(layer.backward(dout), np.where(layer.mask, dout / 0.5, 0.0), rtol=1e-15)


@pytest.mark.parametrize("shape", [(7, 5), (1, 3), (2, 3, 4, 5)])
def test_dropout_passes_gradcheck_with_a_fixed_mask(shape):
    rng = np.random.default_rng(6)
    layer = Dropout(0.4)

    def forward(x):
        layer.rng = np.random.default_rng(7)  # the same mask on every call
        return layer.forward(x)

    def backward(x, dout):
        forward(x)
        return layer.backward(dout)

    result = check_function(forward, backward, rng.normal(size=shape), rng=rng)
    assert result.max_rel_error <= 1e-7, str(result)


def test_dropout_is_the_identity_in_eval_mode():
    x = np.random.default_rng(8).normal(size=(4, 3))
    layer = Dropout(0.5, seed=9)
    np.testing.assert_array_equal(layer.eval().forward(x), x)
    assert layer.mask is None
    dout = np.ones((4, 3)) * 3
    np.testing.assert_array_equal(layer.backward(dout), dout)


def test_dropout_is_seeded_and_masks_change_between_calls():
    x = np.ones((10, 10))
    a, b = Dropout(0.5, seed=10), Dropout(0.5, seed=10)
    first = a.forward(x)
    np.testing.assert_array_equal(first, b.forward(x))
    assert not np.array_equal(first, a.forward(x))


class TorchDraws:
    """Stands in for the layer's Generator: uniform draws that reproduce torch's mask."""

    def __init__(self, torch_kept, p):
        self.draws = np.where(torch_kept, p + (1 - p) / 2, p / 2)  # >= p exactly where torch kept

    def random(self, shape):
        assert shape == self.draws.shape
        return self.draws


def test_dropout_matches_torch_with_the_same_mask(torch):
    rng = np.random.default_rng(11)
    p = 0.35
    x, dout = rng.normal(size=(8, 9)), rng.normal(size=(8, 9))
    torch.manual_seed(0)
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch.nn.functional.dropout(xt, p=p, training=True)
    out_t.backward(torch.from_numpy(dout))
    torch_kept = out_t.detach().numpy() != 0
    assert 0 < torch_kept.mean() < 1
    layer = Dropout(p)
    layer.rng = TorchDraws(torch_kept, p)
    np.testing.assert_allclose(layer.forward(x), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(layer.mask, torch_kept)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_dropout_validates_p():
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\), got 1"):
        Dropout(1)
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\), got -0.1"):
        Dropout(-0.1)
    with pytest.raises(TypeError, match="Dropout: p must be a real number, got str"):
        Dropout("0.5")


def test_dropout_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="Dropout.backward: called before forward"):
        Dropout(0.5, seed=0).backward(np.zeros((2, 2)))


def dropout_net():
    return Sequential(Linear(4, 16, seed=0), ReLU(), Dropout(0.5, seed=1), Linear(16, 3, seed=2))


def test_mc_predict_returns_mean_and_std_of_stochastic_passes():
    x = np.random.default_rng(12).normal(size=(5, 4))
    net = dropout_net()
    mean, std = mc_predict(net, x, T=20)
    assert mean.shape == std.shape == (5, 3)
    assert (std > 0).all()
    # The same 20 passes by hand, from the same seed.
    net2 = dropout_net()
    net2[2].mc_dropout = True
    passes = np.stack([net2.eval().forward(x) for _ in range(20)])
    np.testing.assert_allclose(mean, passes.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(std, passes.std(axis=0), rtol=1e-12)


def test_mc_predict_mean_approaches_the_deterministic_output_for_a_linear_head():
    # Dropout right before a Linear layer: E[output] is exactly the eval output.
    x = np.random.default_rng(13).normal(size=(3, 16))
    net = Sequential(Dropout(0.5, seed=14), Linear(16, 2, seed=15))
    mean, std = mc_predict(net, x, T=4000)
    eval_out = net.eval().forward(x)
    assert (np.abs(mean - eval_out) < 5 * std / np.sqrt(4000)).all()


def test_mc_predict_keeps_batchnorm_in_eval_mode_and_restores_flags():
    x = np.random.default_rng(16).normal(size=(5, 4))
    bn = BatchNorm1d(16)
    net = Sequential(Linear(4, 16, seed=0), bn, Dropout(0.5, seed=1), Linear(16, 3, seed=2))
    mc_predict(net, x, T=5)
    np.testing.assert_array_equal(bn.buffers["running_mean"], np.zeros(16))
    assert net[2].mc_dropout is False
    np.testing.assert_array_equal(net.eval().forward(x), net.eval().forward(x))


def test_mc_predict_transform_averages_probabilities():
    x = np.random.default_rng(17).normal(size=(5, 4))
    mean, _ = mc_predict(dropout_net(), x, T=10, transform=softmax)
    np.testing.assert_allclose(mean.sum(axis=1), np.ones(5))


def test_mc_predict_needs_a_dropout_layer_and_positive_T():
    with pytest.raises(ValueError, match="mc_predict: the model has no dropout layer"):
        mc_predict(Sequential(Linear(2, 2, seed=0)), np.zeros((1, 2)), T=3)
    with pytest.raises(ValueError, match="mc_predict: T must be a positive int, got 0"):
        mc_predict(dropout_net(), np.zeros((1, 4)), T=0)


def test_gaussian_noise_adds_seeded_noise_of_the_given_std():
    x = np.zeros((300, 400))
    layer = GaussianNoise(0.5, seed=18)
    out = layer.forward(x)
    np.testing.assert_array_equal(out, layer.noise)
    assert abs(out.std() - 0.5) < 0.005 and abs(out.mean()) < 0.005
    np.testing.assert_array_equal(out, GaussianNoise(0.5, seed=18).forward(x))


def test_gaussian_noise_passes_the_gradient_through_and_is_off_in_eval():
    rng = np.random.default_rng(19)
    x, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    layer = GaussianNoise(1.0, seed=20)
    layer.forward(x)
    np.testing.assert_array_equal(layer.backward(dout), dout)
    np.testing.assert_array_equal(layer.eval().forward(x), x)


@pytest.mark.parametrize("shape", [(7, 5), (1, 3)])
def test_gaussian_noise_passes_gradcheck_with_fixed_noise(shape):
    rng = np.random.default_rng(21)
    layer = GaussianNoise(0.7)

    def forward(x):
        layer.rng = np.random.default_rng(22)  # the same noise on every call
        return layer.forward(x)

    def backward(x, dout):
        forward(x)
        return layer.backward(dout)

    result = check_function(forward, backward, rng.normal(size=shape), rng=rng)
    assert result.max_rel_error <= 1e-7, str(result)


def test_gaussian_noise_validates_std():
    with pytest.raises(ValueError, match="GaussianNoise: std must be a finite number >= 0, got -1"):
        GaussianNoise(-1)
