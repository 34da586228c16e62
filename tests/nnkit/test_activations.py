"""Tests for nnkit.activations: closed forms, PyTorch, numeric gradients, stability, validation."""

import math

import numpy as np
import pytest

from nnkit import activations as A

ELEMENTWISE = [
    "identity", "heaviside", "sign", "sigmoid", "tanh", "relu", "relu6", "leaky_relu",
    "elu", "celu", "gelu", "softplus", "hardswish", "mish",
]
SMOOTH_CHECKED = [n for n in ELEMENTWISE if n not in ("heaviside", "sign")]
# Non-default parameters, so a hard-coded default would be caught. celu's alpha is exact in
# float32: torch's celu backward rounds alpha to float32 and is then off by ~1e-7.
KWARGS = {"leaky_relu": {"alpha": 0.2}, "elu": {"alpha": 1.7}, "celu": {"alpha": 0.75},
          "softplus": {"beta": 1.5, "threshold": 10.0}}
# Every kink the conventions talk about, plus the far tails.
SPECIAL = np.array([-1000.0, -50.0, -20.0, -3.0, -1.0, -1e-9, 0.0, 1e-9, 1.0, 3.0, 6.0, 20.0, 50.0, 1000.0])


def away_from_kinks(rng, shape):
    z = rng.uniform(-7.0, 7.0, size=shape)
    for kink in (-3.0, 0.0, 3.0, 6.0):
        z = np.where(np.abs(z - kink) < 1e-2, z + 0.05, z)
    return z


def central_difference(f, z, eps=1e-6):
    return (f(z + eps) - f(z - eps)) / (2 * eps)


def torch_reference(torch, name, kwargs):
    F = torch.nn.functional
    table = {
        "identity": lambda x: x * 1.0,
        "heaviside": lambda x: torch.heaviside(x, torch.tensor(0.0)),
        "sign": lambda x: torch.where(x > 0, 1.0, -1.0),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": F.relu,
        "relu6": F.relu6,
        "leaky_relu": lambda x: F.leaky_relu(x, kwargs.get("alpha", 0.01)),
        "elu": lambda x: F.elu(x, kwargs.get("alpha", 1.0)),
        "celu": lambda x: F.celu(x, kwargs.get("alpha", 1.0)),
        "gelu": F.gelu,
        "softplus": lambda x: F.softplus(x, kwargs.get("beta", 1.0), kwargs.get("threshold", 20.0)),
        "hardswish": F.hardswish,
        "mish": F.mish,
    }
    return table[name]


# ---- closed forms and the notes' example --------------------------------------------

def test_sigmoid_of_the_notes_neuron_example_is_sigmoid_minus_six():
    z = 1 + 3 * (-1) - 2 * 2
    assert z == -6
    assert float(A.sigmoid(z)) == pytest.approx(0.0024726231566347743, rel=1e-14)
    assert float(A.sigmoid(z)) == pytest.approx(1 / (1 + math.exp(6)), rel=1e-15)


@pytest.mark.parametrize("name, z, expected", [
    ("identity", [-2.5, 0.0, 3.0], [-2.5, 0.0, 3.0]),
    ("heaviside", [-2.0, 0.0, 1e-300, 3.0], [0.0, 0.0, 1.0, 1.0]),
    ("sign", [-2.0, 0.0, 1e-300, 3.0], [-1.0, -1.0, 1.0, 1.0]),
    ("sigmoid", [0.0, 2.0], [0.5, 1 / (1 + math.exp(-2))]),
    ("tanh", [0.5], [math.tanh(0.5)]),
    ("relu", [-2.0, 0.0, 3.0], [0.0, 0.0, 3.0]),
    ("relu6", [-1.0, 2.0, 7.0], [0.0, 2.0, 6.0]),
    ("leaky_relu", [-2.0, 3.0], [-0.02, 3.0]),
    ("elu", [-1.0, 2.0], [math.exp(-1) - 1, 2.0]),
    ("celu", [-1.0, 2.0], [math.exp(-1) - 1, 2.0]),
    ("gelu", [1.0, -1.0], [0.8413447460685429, -0.15865525393145707]),
    ("softplus", [0.0, 1.0, 25.0], [math.log(2), math.log1p(math.e), 25.0]),
    ("hardswish", [-4.0, 1.0, 4.0], [0.0, 4 / 6, 4.0]),
    ("mish", [1.0], [math.tanh(math.log1p(math.e))]),
])
def test_activation_matches_closed_form(name, z, expected):
    np.testing.assert_allclose(A.get(name).forward(z), expected, rtol=1e-14, atol=1e-300)


def test_gelu_keeps_relative_precision_in_the_left_tail():
    # z * Phi(z) with Phi(-20) = erfc(20 / sqrt 2) / 2, about 2.8e-89
    expected = -20.0 * 0.5 * math.erfc(20.0 / math.sqrt(2.0))
    assert float(A.gelu(-20.0)) == pytest.approx(expected, rel=1e-14)


def test_parameterised_activations_use_their_alpha():
    np.testing.assert_allclose(A.leaky_relu([-2.0], alpha=0.3), [-0.6], rtol=1e-15)
    np.testing.assert_allclose(A.elu([-1.0], alpha=2.0), [2 * (math.exp(-1) - 1)], rtol=1e-15)
    np.testing.assert_allclose(A.celu([-1.0], alpha=2.0), [2 * (math.exp(-0.5) - 1)], rtol=1e-15)
    np.testing.assert_allclose(A.softplus([1.0], beta=2.0), [math.log1p(math.exp(2)) / 2], rtol=1e-15)


def test_softmax_and_log_softmax_match_closed_form_over_last_axis():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    e = np.exp([1.0, 2.0, 3.0])
    expected = np.array([e / e.sum(), [1 / 3] * 3])
    np.testing.assert_allclose(A.softmax(z), expected, rtol=1e-15)
    np.testing.assert_allclose(A.log_softmax(z), np.log(expected), rtol=1e-14)
    # a 3-D input normalises each last-axis row separately
    z3 = np.random.default_rng(0).normal(size=(2, 3, 4))
    np.testing.assert_allclose(A.softmax(z3).sum(axis=-1), np.ones((2, 3)), rtol=1e-15)


def test_kink_conventions_from_design():
    assert A.relu_grad(0.0) == 0.0
    assert A.heaviside(0.0) == 0.0
    assert A.sign(0.0) == -1.0
    assert A.leaky_relu_grad(0.0, alpha=0.1) == 0.1
    np.testing.assert_array_equal(A.relu6_grad([0.0, 6.0]), [0.0, 0.0])
    np.testing.assert_array_equal(A.hardswish_grad([-3.0, 3.0]), [0.0, 1.0])
    assert A.elu_grad(0.0, alpha=1.5) == 1.5
    assert A.celu_grad(0.0, alpha=1.5) == 1.0
    np.testing.assert_array_equal(A.heaviside_grad([-1.0, 0.0, 1.0]), [0.0, 0.0, 0.0])


# ---- PyTorch ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("use_kwargs", [False, True])
def test_forward_matches_torch_including_kinks_and_tails(torch, name, use_kwargs):
    kwargs = KWARGS.get(name, {}) if use_kwargs else {}
    z = np.concatenate([SPECIAL, np.random.default_rng(1).normal(scale=4, size=50)])
    expected = torch_reference(torch, name, kwargs)(torch.tensor(z)).numpy()
    # atol: torch's gelu computes 1 + erf(z/sqrt 2), which cancels in the left tail (ours uses erfc)
    np.testing.assert_allclose(A.get(name, **kwargs).forward(z), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", SMOOTH_CHECKED)
@pytest.mark.parametrize("use_kwargs", [False, True])
def test_grad_matches_torch_autograd_including_kinks(torch, name, use_kwargs):
    kwargs = KWARGS.get(name, {}) if use_kwargs else {}
    z = np.concatenate([SPECIAL, np.random.default_rng(2).normal(scale=4, size=50)])
    zt = torch.tensor(z, requires_grad=True)
    torch_reference(torch, name, kwargs)(zt).sum().backward()
    got = A.get(name, **kwargs).grad(z)
    np.testing.assert_allclose(got, zt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_and_vjp_match_torch(torch, name):
    rng = np.random.default_rng(3)
    z = rng.normal(scale=3, size=(4, 5, 6))
    z[0, 0] = [1000.0, -1000.0, 0.0, 999.0, 5.0, -3.0]
    dout = rng.normal(size=z.shape)
    zt = torch.tensor(z, requires_grad=True)
    out = getattr(torch.nn.functional, name)(zt, dim=-1)
    out.backward(torch.tensor(dout))
    act = A.get(name)
    np.testing.assert_allclose(act.forward(z), out.detach().numpy(), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(act.vjp(z, dout), zt.grad.numpy(), rtol=1e-11, atol=1e-14)


# ---- numeric gradients ----------------------------------------------------------------

@pytest.mark.parametrize("name", SMOOTH_CHECKED)
@pytest.mark.parametrize("use_kwargs", [False, True])
def test_grad_matches_central_differences(name, use_kwargs):
    kwargs = KWARGS.get(name, {}) if use_kwargs else {}
    act = A.get(name, **kwargs)
    z = away_from_kinks(np.random.default_rng(4), (6, 5))
    np.testing.assert_allclose(act.grad(z), central_difference(act.forward, z), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_vjp_matches_central_differences(name):
    rng = np.random.default_rng(5)
    z = rng.normal(size=(3, 4))
    dout = rng.normal(size=(3, 4))
    act = A.get(name)
    numeric = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += 1e-6
        zm[idx] -= 1e-6
        numeric[idx] = np.sum(dout * (act.forward(zp) - act.forward(zm))) / 2e-6
    np.testing.assert_allclose(act.vjp(z, dout), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_vjp_is_dout_times_grad(name):
    rng = np.random.default_rng(6)
    z, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    act = A.get(name)
    np.testing.assert_array_equal(act.vjp(z, dout), dout * act.grad(z))


# ---- stability --------------------------------------------------------------------------

def test_exact_values_at_plus_minus_1000():
    z = np.array([-1000.0, 1000.0])
    np.testing.assert_array_equal(A.sigmoid(z), [0.0, 1.0])
    np.testing.assert_array_equal(A.softplus(z), [0.0, 1000.0])
    np.testing.assert_array_equal(A.mish(z), [0.0, 1000.0])
    np.testing.assert_array_equal(A.gelu(z), [0.0, 1000.0])
    np.testing.assert_array_equal(A.softmax([1000.0, -1000.0, 0.0]), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(A.log_softmax([1000.0, -1000.0, 0.0]), [0.0, -2000.0, -1000.0], atol=1e-12)
    np.testing.assert_allclose(A.softmax([1000.0, 1000.0]), [0.5, 0.5], rtol=1e-15)


@pytest.mark.parametrize("name", A.names())
def test_forward_and_vjp_are_finite_and_warning_free_at_extremes(name):
    # pytest turns warnings into errors, so an overflow inside np.exp fails here.
    z = np.array([[-1000.0, 1000.0, -745.5, 745.5, 0.0, -710.0, 710.0]])
    act = A.get(name)
    out = act.forward(z)
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(act.vjp(z, np.ones_like(z))))


# ---- input handling -----------------------------------------------------------------------

@pytest.mark.parametrize("name", A.names())
def test_nan_input_raises_value_error_naming_function_and_argument(name):
    z = np.array([[0.5, np.nan, 1.0]])
    with pytest.raises(ValueError, match=rf"{name}: z must be finite.*index \(0, 1\)"):
        A.get(name).forward(z)


@pytest.mark.parametrize("name", ["sigmoid", "relu_grad", "softmax"])
def test_infinite_input_is_rejected(name):
    with pytest.raises(ValueError, match="must be finite"):
        getattr(A, name)([0.0, -np.inf])


@pytest.mark.parametrize("bad", [np.array([1 + 2j]), np.array(["a"]), np.array([None], dtype=object)])
def test_non_real_input_raises_type_error(bad):
    with pytest.raises(TypeError, match=r"relu: z must hold real numbers, got dtype"):
        A.relu(bad)


def test_integer_and_bool_input_become_float64():
    out = A.relu(np.array([-2, 3], dtype=np.int32))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.0, 3.0])
    assert A.sigmoid(np.array([True])).dtype == np.float64


def test_float32_input_is_computed_in_float64():
    assert A.tanh(np.ones(3, dtype=np.float32)).dtype == np.float64


@pytest.mark.parametrize("name", A.names())
def test_input_is_never_modified_and_output_is_a_new_array(name):
    z = np.random.default_rng(7).normal(size=(2, 3))
    before = z.copy()
    act = A.get(name)
    out = act.forward(z)
    act.vjp(z, np.ones_like(z))
    np.testing.assert_array_equal(z, before)
    assert not np.shares_memory(out, z)


def test_vjp_with_mismatched_dout_names_both_shapes():
    with pytest.raises(ValueError, match=r"softmax_vjp: dout must have shape \(\.\.\., C\) = \(3, 2\), got dout.shape=\(2, 3\)"):
        A.softmax_vjp(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"dout must have shape \(\.\.\.\) = \(3, 1\), got dout.shape=\(3,\)"):
        A.get("relu").vjp(np.zeros((3, 1)), np.zeros(3))


def test_softmax_rejects_scalar_and_empty_class_axis():
    with pytest.raises(ValueError, match=r"softmax: z must have shape \(\.\.\., C\), got z.shape=\(\)"):
        A.softmax(1.0)
    with pytest.raises(ValueError, match=r"log_softmax: z must not be empty, got z.shape=\(2, 0\)"):
        A.log_softmax(np.zeros((2, 0)))


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="celu: alpha must be non-zero"):
        A.celu([1.0], alpha=0.0)
    with pytest.raises(ValueError, match="softplus: beta must be a finite number > 0, got"):
        A.softplus([1.0], beta=-1.0)
    with pytest.raises(TypeError, match="leaky_relu: alpha must be a real number, got str"):
        A.leaky_relu([1.0], alpha="0.1")
    with pytest.raises(ValueError, match="elu: alpha must be finite"):
        A.elu([1.0], alpha=float("nan"))


# ---- lookup ----------------------------------------------------------------------------------

def test_names_lists_every_activation():
    assert sorted(A.names()) == sorted(ELEMENTWISE + ["softmax", "log_softmax"])


def test_get_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'; known: identity, .*log_softmax"):
        A.get("swish")


def test_get_rejects_keyword_arguments_the_activation_does_not_take():
    with pytest.raises(TypeError, match="relu takes no keyword arguments, got alpha"):
        A.get("relu", alpha=0.1)
    with pytest.raises(TypeError, match="elu takes alpha, got beta"):
        A.get("elu", beta=1.0)
    with pytest.raises(ValueError, match="celu: alpha must be non-zero"):
        A.get("celu", alpha=0)


def test_get_binds_kwargs_and_reports_name():
    act = A.get("Leaky_ReLU", alpha=0.25)
    assert act.name == "leaky_relu"
    np.testing.assert_array_equal(act.forward([-4.0]), [-1.0])
    np.testing.assert_array_equal(act.grad([-4.0, 1.0]), [0.25, 1.0])


def test_softmax_family_has_no_elementwise_grad():
    assert A.get("softmax").grad is None
    assert A.get("log_softmax").grad is None
    assert A.get("sigmoid").grad is not None


# ---- gaps found by mutation testing (scripts/mutation.py) ------------------------------------------

@pytest.mark.parametrize(("name", "kwargs"), [("leaky_relu", {"alpha": 0.2}), ("elu", {"alpha": 0.5}),
                                              ("celu", {"alpha": 2.0}), ("softplus", {"beta": 3.0, "threshold": 1.0})])
def test_lookup_binds_keyword_arguments_in_forward_grad_and_vjp(name, kwargs):
    rng = np.random.default_rng(5)
    z, dout = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    act = A.get(name, **kwargs)
    f, g = getattr(A, name), getattr(A, name + "_grad")
    np.testing.assert_array_equal(act.forward(z), f(z, **kwargs))
    np.testing.assert_array_equal(act.grad(z), g(z, **kwargs))
    np.testing.assert_array_equal(act.vjp(z, dout), dout * g(z, **kwargs))
    assert not np.allclose(act.vjp(z, dout), dout * g(z))   # the bound values matter here


@pytest.mark.parametrize(("name", "torch_name"), [("leaky_relu", "leaky_relu"), ("elu", "elu"), ("celu", "celu"),
                                                  ("softplus", "softplus")])
def test_default_parameters_are_torchs(torch, name, torch_name):
    z = np.append(np.linspace(-30.0, 30.0, 61) / 1.5, 20.5)   # 20.5: just past softplus's threshold of 20
    zt = torch.tensor(z, requires_grad=True)
    out = getattr(torch.nn.functional, torch_name)(zt)
    out.backward(torch.ones_like(zt))
    np.testing.assert_allclose(getattr(A, name)(z), out.detach().numpy(), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(getattr(A, name + "_grad")(z), zt.grad.numpy(), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("name, param", [("leaky_relu", "alpha"), ("leaky_relu_grad", "alpha"), ("elu", "alpha"),
                                         ("elu_grad", "alpha"), ("celu", "alpha"), ("celu_grad", "alpha"),
                                         ("softplus", "beta"), ("softplus_grad", "beta"),
                                         ("softplus", "threshold"), ("softplus_grad", "threshold")])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_every_parameter_of_every_function_must_be_finite(name, param, bad):
    # found by mutation testing: only elu's alpha was tried, so dropping finite=True elsewhere went unnoticed
    with pytest.raises(ValueError, match=rf"^{name}: {param} must be "):
        getattr(A, name)(np.array([-1.0, 2.0]), **{param: bad})


@pytest.mark.parametrize("name", ["celu", "celu_grad", "elu", "elu_grad"])
def test_small_alpha_and_large_positive_z_raise_no_floating_point_warning(name):
    # found by mutation testing: celu clipped z at 1 instead of 0 before exp(z / alpha), which overflows
    # for alpha = 1e-3 in the branch np.where throws away
    with np.errstate(all="raise", under="ignore"):   # exp(-2000) underflowing to 0 is right
        out = getattr(A, name)(np.array([-2.0, 0.5, 3.0]), alpha=1e-3)
    assert np.all(np.isfinite(out))
