"""Linear: closed form, numeric gradients, PyTorch, and the boundary checks."""

import numpy as np
import pytest

from nnkit.gradcheck import check_layer
from nnkit.layers import Linear

TOL = 1e-7


def test_linear_forward_is_x_at_W_plus_b():
    layer = Linear(5, 3, seed=0)
    x = np.random.default_rng(1).normal(size=(7, 5))
    W, b = layer.params["W"], layer.params["b"]
    expected = np.array([[sum(x[n, d] * W[d, m] for d in range(5)) + b[m] for m in range(3)] for n in range(7)])
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-13)


def test_linear_params_have_documented_shapes():
    layer = Linear(5, 3, seed=0)
    assert layer.params["W"].shape == (5, 3)
    assert layer.params["b"].shape == (3,)
    assert layer.grads["W"].shape == (5, 3) and not layer.grads["W"].any()


def test_linear_backward_closed_form():
    rng = np.random.default_rng(2)
    layer = Linear(5, 3, seed=0)
    x, dout = rng.normal(size=(7, 5)), rng.normal(size=(7, 3))
    layer.forward(x)
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, dout @ layer.params["W"].T, rtol=1e-13)
    np.testing.assert_allclose(layer.grads["W"], x.T @ dout, rtol=1e-13)
    np.testing.assert_allclose(layer.grads["b"], dout.sum(axis=0), rtol=1e-13)


@pytest.mark.parametrize("shape", [(7, 5, 3), (1, 4, 6), (2, 1, 1)])
def test_linear_passes_gradcheck_on_odd_shapes(shape):
    N, D, M = shape
    rng = np.random.default_rng(3)
    layer = Linear(D, M, seed=4)
    layer.params["b"][:] = rng.normal(size=M)
    results = check_layer(layer, rng.normal(size=(N, D)), rng=rng)
    assert set(results) == {"x", "W", "b"}
    for name, result in results.items():
        assert result.max_rel_error <= TOL, f"{name}: {result}"


def test_linear_matches_torch_forward_and_backward(torch):
    rng = np.random.default_rng(5)
    layer = Linear(6, 4, seed=6)
    layer.params["b"][:] = rng.normal(size=4)
    x, dout = rng.normal(size=(9, 6)), rng.normal(size=(9, 4))
    ref = torch.nn.Linear(6, 4, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.params["W"].T))  # torch keeps (M, D)
        ref.bias.copy_(torch.from_numpy(layer.params["b"]))
    xt = torch.tensor(x, requires_grad=True)
    out_t = ref(xt)
    out_t.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(layer.forward(x), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], ref.weight.grad.numpy().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], ref.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_linear_default_init_is_torch_default_uniform_bound():
    # nn.Linear draws W and b from U(-1/sqrt(D), 1/sqrt(D)).
    D = 50
    W = Linear(D, 400, seed=0).params["W"]
    bound = 1 / np.sqrt(D)
    assert np.abs(W).max() <= bound
    assert np.abs(W).max() > 0.98 * bound
    assert abs(W.std() - bound / np.sqrt(3)) < 0.01 * bound


def test_linear_init_is_seeded():
    np.testing.assert_array_equal(Linear(4, 3, seed=7).params["W"], Linear(4, 3, seed=7).params["W"])
    np.testing.assert_array_equal(
        Linear(4, 3, rng=np.random.default_rng(7)).params["W"], Linear(4, 3, seed=7).params["W"]
    )
    assert not np.array_equal(Linear(4, 3, seed=7).params["W"], Linear(4, 3, seed=8).params["W"])


def test_linear_accepts_other_init_names():
    W = Linear(400, 300, init="xavier_normal", seed=0).params["W"]
    assert abs(W.std() - np.sqrt(2 / 700)) < 0.02 * np.sqrt(2 / 700)


def test_linear_wrong_width_names_layer_expected_and_actual():
    with pytest.raises(ValueError) as err:
        Linear(4, 3, seed=0).forward(np.zeros((8, 5)))
    assert str(err.value) == "Linear.forward: x must have shape (N, D) = (N, 4), got x.shape=(8, 5)"


def test_linear_rejects_1d_input_instead_of_reshaping():
    with pytest.raises(ValueError, match=r"Linear.forward: x must be 2-D \(N, D\), got x.shape=\(4,\)"):
        Linear(4, 3, seed=0).forward(np.zeros(4))


def test_linear_rejects_non_arrays_and_non_numbers():
    with pytest.raises(TypeError, match="Linear.forward: x must be a numpy array, got list"):
        Linear(2, 1, seed=0).forward([[1.0, 2.0]])
    with pytest.raises(TypeError, match="dtype <U1"):
        Linear(2, 1, seed=0).forward(np.array([["a", "b"]]))


def test_linear_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"Linear.backward: called before forward"):
        Linear(4, 3, seed=0).backward(np.zeros((2, 3)))


def test_linear_backward_rejects_dout_of_wrong_shape():
    layer = Linear(4, 3, seed=0)
    layer.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"Linear.backward: dout must have the shape .* \(2, 3\), got dout.shape=\(3, 2\)"):
        layer.backward(np.zeros((3, 2)))


def test_linear_backward_uses_only_the_last_forward():
    rng = np.random.default_rng(8)
    layer = Linear(3, 2, seed=0)
    layer.forward(rng.normal(size=(5, 3)))
    x2 = rng.normal(size=(4, 3))
    layer.forward(x2)
    dout = rng.normal(size=(4, 2))
    layer.backward(dout)
    np.testing.assert_allclose(layer.grads["W"], x2.T @ dout)


def test_linear_does_not_mutate_its_inputs():
    rng = np.random.default_rng(9)
    layer = Linear(3, 2, seed=0)
    x, dout = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    x0, dout0 = x.copy(), dout.copy()
    layer.forward(x)
    layer.backward(dout)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, dout0)


def test_linear_integer_input_is_converted_to_float64():
    layer = Linear(2, 1, seed=0)
    out = layer.forward(np.array([[0, 1], [1, 1]]))
    assert out.dtype == np.float64


def test_linear_rejects_bad_sizes_and_both_seed_and_rng():
    with pytest.raises(ValueError, match="Linear: in_features must be a positive int, got 0"):
        Linear(0, 3)
    with pytest.raises(ValueError, match="Linear: pass seed or rng, not both"):
        Linear(2, 3, seed=1, rng=np.random.default_rng(1))
    with pytest.raises(TypeError, match="Linear: rng must be a numpy.random.Generator"):
        Linear(2, 3, rng=np.random.RandomState(0))


def test_linear_says_what_torch_would_do_with_more_axes():
    with pytest.raises(ValueError, match=r"Linear.forward: x must be 2-D \(N, D\), got x.shape=\(2, 3, 4\); "
                                         r"PyTorch's nn.Linear would map the last axis.*x.reshape\(-1, 4\)"):
        Linear(4, 2, seed=0).forward(np.zeros((2, 3, 4)))
