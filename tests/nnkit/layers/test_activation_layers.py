"""Activation layers: one named class per function, numeric gradients, PyTorch."""

import numpy as np
import pytest

from nnkit import activations
from nnkit.gradcheck import check_layer
from nnkit.layers import (
    CELU,
    ELU,
    GELU,
    Activation,
    Hardswish,
    Heaviside,
    Identity,
    LeakyReLU,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    Sign,
    Softmax,
    Softplus,
    Tanh,
)

NAMED = {
    "identity": Identity, "heaviside": Heaviside, "sign": Sign, "sigmoid": Sigmoid, "tanh": Tanh,
    "relu": ReLU, "relu6": ReLU6, "leaky_relu": LeakyReLU, "elu": ELU, "celu": CELU, "gelu": GELU,
    "softplus": Softplus, "hardswish": Hardswish, "mish": Mish, "softmax": Softmax, "log_softmax": LogSoftmax,
}
STEPS = {"heaviside", "sign"}  # zero gradient everywhere but the jump
SMOOTH = sorted(set(NAMED) - STEPS)
# Kinks the numeric gradient must stay away from.
KINKS = {"relu": [0.0], "relu6": [0.0, 6.0], "leaky_relu": [0.0], "hardswish": [-3.0, 3.0]}


def away_from_kinks(name, shape, rng):
    """Normal samples, nudged at least 0.01 away from the activation's kinks.

    Not much wider than N(0, 1): deep in a saturated tail the true gradient is so small that
    central differences of a sum of O(1) outputs cannot resolve it to 1e-7 relative error.
    """
    z = 1.5 * rng.normal(size=shape)
    for kink in KINKS.get(name, []):
        close = np.abs(z - kink) < 0.01
        z[close] = kink + 0.05 * np.sign(z[close] - kink + 1e-12)
    return z


def test_every_activation_function_has_a_named_layer():
    assert sorted(activations.names()) == sorted(NAMED)
    for name, cls in NAMED.items():
        assert cls().function.name == name


@pytest.mark.parametrize("name", sorted(NAMED))
def test_activation_layer_forward_matches_the_function(name):
    z = np.random.default_rng(0).normal(size=(5, 3)) * 4
    expected = getattr(activations, name)(z)
    np.testing.assert_array_equal(NAMED[name]().forward(z), expected)
    np.testing.assert_array_equal(Activation(name).forward(z), expected)


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("shape", [(7, 5), (1, 3)])
def test_activation_layer_passes_gradcheck(name, shape):
    rng = np.random.default_rng(1)
    results = check_layer(NAMED[name](), away_from_kinks(name, shape, rng), rng=rng)
    assert list(results) == ["x"]
    assert results["x"].max_rel_error <= 1e-7, str(results["x"])


@pytest.mark.parametrize("name", sorted(STEPS))
def test_step_layers_pass_zero_gradient(name):
    layer = NAMED[name]()
    layer.forward(np.array([[-2.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(layer.backward(np.array([[1.0, 2.0, 3.0]])), np.zeros((1, 3)))


def test_keyword_arguments_reach_the_function():
    z = np.array([[-2.0, 1.0]])
    np.testing.assert_allclose(LeakyReLU(alpha=0.2).forward(z), [[-0.4, 1.0]])
    np.testing.assert_allclose(Activation("leaky_relu", alpha=0.2).forward(z), [[-0.4, 1.0]])
    np.testing.assert_allclose(ELU(alpha=2.0).forward(z), [[2 * np.expm1(-2.0), 1.0]])
    assert repr(LeakyReLU(alpha=0.2)) == "LeakyReLU(alpha=0.2)"
    assert repr(Activation("elu", alpha=2.0)) == "Activation('elu', alpha=2.0)"


def test_elementwise_layers_accept_image_shaped_input():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(2, 3, 4, 5))
    layer = Tanh()
    np.testing.assert_allclose(layer.forward(z), np.tanh(z))
    dout = rng.normal(size=z.shape)
    np.testing.assert_allclose(layer.backward(dout), dout * (1 - np.tanh(z) ** 2))


def test_softmax_layer_backward_is_the_jacobian_product():
    rng = np.random.default_rng(3)
    z, dout = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    layer = Softmax()
    p = layer.forward(z)
    dz = layer.backward(dout)
    for n in range(4):
        jacobian = np.diag(p[n]) - np.outer(p[n], p[n])
        np.testing.assert_allclose(dz[n], jacobian @ dout[n], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cls", [Sigmoid, Softmax, LogSoftmax, Softplus, Tanh])
def test_saturating_layers_are_finite_at_plus_minus_1000(cls):
    z = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 999.0, -1000.0]])
    layer = cls()
    out = layer.forward(z)
    dx = layer.backward(np.ones_like(z))
    assert np.isfinite(out).all() and np.isfinite(dx).all()


def test_activation_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"ReLU.backward: called before forward"):
        ReLU().backward(np.zeros((2, 2)))


def test_activation_backward_rejects_dout_of_wrong_shape():
    layer = Sigmoid()
    layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"Sigmoid.backward: dout must have the shape .* \(2, 3\), got dout.shape=\(3, 2\)"):
        layer.backward(np.zeros((3, 2)))


def test_unknown_activation_name_lists_known_names():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*relu"):
        Activation("swish")


TORCH_MODULES = {
    "identity": lambda nn: nn.Identity(),
    "sigmoid": lambda nn: nn.Sigmoid(),
    "tanh": lambda nn: nn.Tanh(),
    "relu": lambda nn: nn.ReLU(),
    "relu6": lambda nn: nn.ReLU6(),
    "leaky_relu": lambda nn: nn.LeakyReLU(0.01),
    "elu": lambda nn: nn.ELU(),
    "celu": lambda nn: nn.CELU(),
    "gelu": lambda nn: nn.GELU(),
    "softplus": lambda nn: nn.Softplus(),
    "hardswish": lambda nn: nn.Hardswish(),
    "mish": lambda nn: nn.Mish(),
    "softmax": lambda nn: nn.Softmax(dim=-1),
    "log_softmax": lambda nn: nn.LogSoftmax(dim=-1),
}


def test_every_smooth_activation_has_a_torch_reference():
    assert sorted(TORCH_MODULES) == SMOOTH


@pytest.mark.parametrize("name", SMOOTH)
def test_activation_layer_matches_torch_forward_and_backward(torch, name):
    rng = np.random.default_rng(4)
    z, dout = away_from_kinks(name, (6, 7), rng), rng.normal(size=(6, 7))
    z[0, :3] = [25.0, -25.0, 0.5]  # softplus's linear region, saturation
    layer = NAMED[name]()
    zt = torch.tensor(z, requires_grad=True)
    out_t = TORCH_MODULES[name](torch.nn)(zt)
    out_t.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(layer.forward(z), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dout), zt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.2, 1.7])
def test_parametrised_layers_match_torch(torch, alpha):
    rng = np.random.default_rng(5)
    z, dout = away_from_kinks("leaky_relu", (4, 5), rng), rng.normal(size=(4, 5))
    pairs = [
        (LeakyReLU(alpha=alpha), torch.nn.LeakyReLU(alpha)),
        (ELU(alpha=alpha), torch.nn.ELU(alpha)),
        # torch.nn.CELU's backward uses 1 / float32(alpha) (derivatives.yaml), off by ~1e-7 for
        # alpha != 1; its formula through float64 autograd is the exact reference.
        (CELU(alpha=alpha), lambda t: torch.where(t > 0, t, alpha * torch.expm1(torch.clamp(t, max=0) / alpha))),
        (Softplus(beta=alpha, threshold=5.0), torch.nn.Softplus(beta=alpha, threshold=5.0)),
    ]
    for layer, ref in pairs:
        zt = torch.tensor(z, requires_grad=True)
        out_t = ref(zt)
        out_t.backward(torch.from_numpy(dout))
        np.testing.assert_allclose(layer.forward(z), out_t.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=repr(layer))
        np.testing.assert_allclose(layer.backward(dout), zt.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=repr(layer))


def test_heaviside_and_sign_layers_match_torch_forward(torch):
    z = np.array([[-1.5, 0.0, 2.0, 1e-9]])
    zt = torch.from_numpy(z)
    np.testing.assert_array_equal(Heaviside().forward(z), torch.heaviside(zt, torch.tensor(0.0)).numpy())
    # DESIGN §3: sign(0) = -1 (torch.sign gives 0 there), so compare with where(z > 0, 1, -1).
    np.testing.assert_array_equal(Sign().forward(z), torch.where(zt > 0, 1.0, -1.0).numpy())
