"""BatchNorm1d and BatchNorm2d: DESIGN §3 statistics, numeric gradients, PyTorch."""

import numpy as np
import pytest

from nnkit.gradcheck import check_layer
from nnkit.layers import BatchNorm1d, BatchNorm2d, batchnorm_backward, batchnorm_forward


def randomised(layer, rng):
    """Non-trivial gamma, beta and running statistics, so no term hides behind a 1 or a 0."""
    C = layer.num_features
    layer.params["gamma"][:] = rng.uniform(0.5, 2.0, size=C)
    layer.params["beta"][:] = rng.normal(size=C)
    layer.buffers["running_mean"] = rng.normal(size=C)
    layer.buffers["running_var"] = rng.uniform(0.5, 3.0, size=C)
    return layer


def test_batchnorm1d_training_forward_closed_form():
    rng = np.random.default_rng(0)
    layer = randomised(BatchNorm1d(5), rng)
    x = rng.normal(loc=3.0, scale=2.0, size=(7, 5))
    mean, var = x.mean(axis=0), ((x - x.mean(axis=0)) ** 2).sum(axis=0) / 7  # biased
    expected = layer.params["gamma"] * (x - mean) / np.sqrt(var + 1e-5) + layer.params["beta"]
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12)


def test_batchnorm1d_output_has_zero_mean_unit_variance_per_feature():
    x = np.random.default_rng(1).normal(loc=-4.0, scale=3.0, size=(50, 4))
    out = BatchNorm1d(4).forward(x)
    np.testing.assert_allclose(out.mean(axis=0), np.zeros(4), atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), np.ones(4), rtol=1e-5)


def test_batchnorm1d_running_stats_follow_design_momentum_and_unbiased_var():
    rng = np.random.default_rng(2)
    layer = BatchNorm1d(3)
    r_mean, r_var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.normal(loc=1.0, scale=2.0, size=(6, 3))
        layer.forward(x)
        r_mean = 0.9 * r_mean + 0.1 * x.mean(axis=0)
        r_var = 0.9 * r_var + 0.1 * x.var(axis=0, ddof=1)
    np.testing.assert_allclose(layer.buffers["running_mean"], r_mean, rtol=1e-13)
    np.testing.assert_allclose(layer.buffers["running_var"], r_var, rtol=1e-13)


def test_batchnorm1d_eval_uses_running_stats_and_does_not_update_them():
    rng = np.random.default_rng(3)
    layer = randomised(BatchNorm1d(4), rng)
    rm, rv = layer.buffers["running_mean"].copy(), layer.buffers["running_var"].copy()
    x = rng.normal(size=(1, 4))
    expected = layer.params["gamma"] * (x - rm) / np.sqrt(rv + 1e-5) + layer.params["beta"]
    np.testing.assert_allclose(layer.eval().forward(x), expected, rtol=1e-13)
    np.testing.assert_array_equal(layer.buffers["running_mean"], rm)
    np.testing.assert_array_equal(layer.buffers["running_var"], rv)


@pytest.mark.parametrize("training, N", [(True, 7), (True, 3), (False, 1), (False, 5)])
def test_batchnorm1d_passes_gradcheck(training, N):
    rng = np.random.default_rng(4)
    layer = randomised(BatchNorm1d(3), rng)

    results = check_layer(layer, rng.normal(loc=1.0, scale=2.0, size=(N, 3)), rng=rng, training=training)
    assert set(results) == {"x", "gamma", "beta"}
    for name, result in results.items():
        assert result.max_rel_error <= 1e-7, f"{name}: {result}"


def test_batchnorm2d_is_per_channel_over_batch_and_space():
    rng = np.random.default_rng(5)
    layer = randomised(BatchNorm2d(3), rng)
    x = rng.normal(loc=2.0, size=(2, 3, 4, 5))
    mean = x.mean(axis=(0, 2, 3)).reshape(1, 3, 1, 1)
    var = x.var(axis=(0, 2, 3)).reshape(1, 3, 1, 1)
    gamma, beta = layer.params["gamma"].reshape(1, 3, 1, 1), layer.params["beta"].reshape(1, 3, 1, 1)
    rm = 0.9 * layer.buffers["running_mean"] + 0.1 * mean.ravel()
    rv = 0.9 * layer.buffers["running_var"] + 0.1 * x.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(layer.forward(x), gamma * (x - mean) / np.sqrt(var + 1e-5) + beta, rtol=1e-12)
    np.testing.assert_allclose(layer.buffers["running_mean"], rm, rtol=1e-13)
    np.testing.assert_allclose(layer.buffers["running_var"], rv, rtol=1e-13)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 3, 1)])
def test_batchnorm2d_passes_gradcheck_in_training(shape):
    rng = np.random.default_rng(6)
    layer = randomised(BatchNorm2d(shape[1]), rng)
    results = check_layer(layer, rng.normal(size=shape), rng=rng)
    for name, result in results.items():
        assert result.max_rel_error <= 1e-7, f"{name}: {result}"


def test_pure_pair_matches_the_layer():
    rng = np.random.default_rng(7)
    layer = randomised(BatchNorm1d(4), rng)
    x, dout = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    out, mean, var, cache = batchnorm_forward(x, layer.params["gamma"], layer.params["beta"], axes=(0,))
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    np.testing.assert_array_equal(layer.forward(x), out)
    np.testing.assert_array_equal(layer.backward(dout), dx)
    np.testing.assert_array_equal(layer.grads["gamma"], dgamma)
    np.testing.assert_array_equal(mean, x.mean(axis=0))
    np.testing.assert_array_equal(dbeta, dout.sum(axis=0))


def test_batchnorm_backward_in_eval_mode_is_a_per_feature_scale():
    rng = np.random.default_rng(8)
    layer = randomised(BatchNorm1d(3), rng)
    x, dout = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    layer.eval().forward(x)
    scale = layer.params["gamma"] / np.sqrt(layer.buffers["running_var"] + 1e-5)
    np.testing.assert_allclose(layer.backward(dout), dout * scale, rtol=1e-13)


def copy_to_torch(layer, ref, torch):
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.params["gamma"]))
        ref.bias.copy_(torch.from_numpy(layer.params["beta"]))
        ref.running_mean.copy_(torch.from_numpy(layer.buffers["running_mean"]))
        ref.running_var.copy_(torch.from_numpy(layer.buffers["running_var"]))


@pytest.mark.parametrize("cls, shape", [(BatchNorm1d, (9, 4)), (BatchNorm2d, (3, 4, 5, 2))])
def test_batchnorm_matches_torch_in_training_over_several_steps(torch, cls, shape):
    rng = np.random.default_rng(9)
    layer = randomised(cls(4), rng)
    ref = (torch.nn.BatchNorm1d if cls is BatchNorm1d else torch.nn.BatchNorm2d)(4, dtype=torch.float64)
    copy_to_torch(layer, ref, torch)
    ref.train()
    for _ in range(3):
        x, dout = rng.normal(loc=0.5, scale=2.0, size=shape), rng.normal(size=shape)
        xt = torch.tensor(x, requires_grad=True)
        ref.zero_grad()
        out_t = ref(xt)
        out_t.backward(torch.from_numpy(dout))
        np.testing.assert_allclose(layer.forward(x), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads["gamma"], ref.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.grads["beta"], ref.bias.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.buffers["running_mean"], ref.running_mean.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.buffers["running_var"], ref.running_var.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls, shape", [(BatchNorm1d, (1, 4)), (BatchNorm2d, (2, 4, 3, 3))])
def test_batchnorm_matches_torch_in_eval(torch, cls, shape):
    rng = np.random.default_rng(10)
    layer = randomised(cls(4), rng)
    ref = (torch.nn.BatchNorm1d if cls is BatchNorm1d else torch.nn.BatchNorm2d)(4, dtype=torch.float64)
    copy_to_torch(layer, ref, torch)
    ref.eval()
    x, dout = rng.normal(size=shape), rng.normal(size=shape)
    xt = torch.tensor(x, requires_grad=True)
    out_t = ref(xt)
    out_t.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(layer.eval().forward(x), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["gamma"], ref.weight.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_batchnorm_training_on_one_value_per_feature_is_a_clear_error():
    with pytest.raises(ValueError, match=r"BatchNorm1d.forward: training needs more than 1 value per feature"):
        BatchNorm1d(3).forward(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"BatchNorm2d.forward: training needs more than 1 value per channel"):
        BatchNorm2d(3).forward(np.zeros((1, 3, 1, 1)))


def test_batchnorm_wrong_input_names_layer_expected_and_actual():
    with pytest.raises(ValueError, match=r"^BatchNorm1d.forward: x must have shape \(N, D\) = \(N, 4\), got x.shape=\(8, 5\)$"):
        BatchNorm1d(4).forward(np.zeros((8, 5)))
    with pytest.raises(ValueError, match=r"^BatchNorm2d.forward: x must have shape \(N, C, H, W\) = \(N, 1, H, W\), got x.shape=\(8, 3, 8, 8\)$"):
        BatchNorm2d(1).forward(np.zeros((8, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"BatchNorm2d.forward: x must be 4-D \(N, C, H, W\), got x.shape=\(8, 3\)"):
        BatchNorm2d(3).forward(np.zeros((8, 3)))


def test_batchnorm_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="BatchNorm1d.backward: called before forward"):
        BatchNorm1d(2).backward(np.zeros((3, 2)))


def test_batchnorm_validates_its_arguments():
    with pytest.raises(ValueError, match="BatchNorm1d: num_features must be a positive int, got 0"):
        BatchNorm1d(0)
    with pytest.raises(ValueError, match=r"BatchNorm1d: momentum must be in \(0, 1\], got 1.5"):
        BatchNorm1d(2, momentum=1.5)


def test_batchnorm1d_says_what_torch_would_do_with_n_c_l():
    with pytest.raises(ValueError, match=r"BatchNorm1d.forward: x must be 2-D \(N, D\), got x.shape=\(4, 3, 5\); "
                                         r"PyTorch's BatchNorm1d would also average over L"):
        BatchNorm1d(3).forward(np.zeros((4, 3, 5)))
