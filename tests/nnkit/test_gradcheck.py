"""Tests for nnkit.gradcheck: numeric gradients, rel_error, function and layer checks."""

import math

import numpy as np
import pytest

from nnkit import gradcheck as G
from nnkit.layers.base import Layer


def rng(seed=0):
    return np.random.default_rng(seed)


class Affine(Layer):
    """y = x @ W + b, written here so these tests do not depend on nnkit.layers.dense."""

    def __init__(self, d, m, seed=0, bug=None):
        super().__init__()
        g = np.random.default_rng(seed)
        self.params = {"W": g.normal(size=(d, m)), "b": g.normal(size=m)}
        self.bug = bug
        self.zero_grad()

    def forward(self, x):
        self.x = x
        return np.tanh(x @ self.params["W"] + self.params["b"])

    def backward(self, dout):
        y = np.tanh(self.x @ self.params["W"] + self.params["b"])
        dz = dout * (1 - y * y)
        dW = self.x.T @ dz
        if self.bug == "transposed_dW":
            dW = (dz.T @ self.x)
        if self.bug == "missing_db_factor":
            dz_b = dz * 0.5
        else:
            dz_b = dz
        self.grads["W"] = dW
        self.grads["b"] = dz_b.sum(axis=0)
        return dz @ self.params["W"].T


class RunningScale(Layer):
    """A layer with a buffer that every training forward updates (like batch norm's running mean)."""

    def __init__(self):
        super().__init__()
        self.params = {"gamma": np.array([1.5, -0.5, 2.0])}
        self.running = np.zeros(3)
        self.zero_grad()

    def forward(self, x):
        if self.training:
            self.running = 0.9 * self.running + 0.1 * x.mean(axis=0)
        self.x = x
        return x * self.params["gamma"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.x).sum(axis=0)
        return dout * self.params["gamma"]


# ---- numeric_grad and rel_error ------------------------------------------------------

def test_numeric_grad_of_the_notes_example_f_equals_x_squared_y_over_z():
    # f = x^2 y / z at (3, 4, 2): f = 18, grads 12, 4.5, -9
    grad = G.numeric_grad(lambda v: v[0] ** 2 * v[1] / v[2], np.array([3.0, 4.0, 2.0]))
    np.testing.assert_allclose(grad, [12.0, 4.5, -9.0], rtol=1e-8)


def test_numeric_grad_is_central_not_one_sided():
    # for x^3 at 1 a forward difference has error 3 eps; the central one eps^2
    grad = G.numeric_grad(lambda v: np.sum(v ** 3), np.array([1.0]), eps=1e-3)
    assert abs(grad[0] - 3.0) == pytest.approx(1e-6, rel=1e-3)


def test_numeric_grad_does_not_mutate_x_and_never_hands_it_to_f():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    before = x.copy()
    seen = []
    G.numeric_grad(lambda v: seen.append(v) or float(np.sum(v * v)), x)
    np.testing.assert_array_equal(x, before)
    assert all(v is not x and not np.shares_memory(v, x) for v in seen)


def test_numeric_grad_requires_a_scalar_function():
    with pytest.raises(ValueError, match=r"f must return a scalar, got an array of shape \(2,\)"):
        G.numeric_grad(lambda v: v * 2, np.array([1.0, 2.0]))


def test_rel_error_is_max_of_elementwise_ratio():
    a = np.array([1.0, 0.0, 1e-12])
    b = np.array([1.1, 0.0, 2e-12])
    # elementwise: 0.1/2.1, 0/1e-8, 1e-12/1e-8
    assert G.rel_error(a, b) == pytest.approx(0.1 / 2.1, rel=1e-14)
    assert G.rel_error(np.array([3.0]), np.array([1.0])) == pytest.approx(0.5)
    assert G.rel_error(np.array([1e-10]), np.array([-1e-10])) == pytest.approx(2e-10 / 1e-8)


def test_rel_error_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match=r"rel_error: b must have shape \(\.\.\.\) = \(2, 3\), got b.shape=\(3, 2\)"):
        G.rel_error(np.zeros((2, 3)), np.zeros((3, 2)))


# ---- check_function ----------------------------------------------------------------------

def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_vjp(z, dout):
    s = softmax(z)
    return s * (dout - (dout * s).sum(axis=-1, keepdims=True))


def test_check_function_accepts_a_correct_vjp():
    result = G.check_function(softmax, softmax_vjp, rng(1).normal(size=(4, 5)), rng=rng(2))
    assert result.ok
    assert result.max_rel_error < 1e-7
    assert result.n_checked == 20
    assert not np.isnan(result.numeric).any()
    assert "ok" in str(result)


def test_check_function_catches_a_doubled_gradient_and_says_so():
    result = G.check_function(np.tanh, lambda x, d: 2 * d * (1 - np.tanh(x) ** 2), rng(1).normal(size=(3, 4)),
                              rng=rng(2))
    assert not result.ok
    assert result.max_rel_error == pytest.approx(1 / 3, rel=1e-6)
    assert "FAILED" in str(result) and "2 times the numeric" in str(result)


def test_check_function_catches_a_transposed_gradient_and_reports_the_worst_index():
    x = rng(3).normal(size=(4, 4))

    def f(x):
        return x @ x

    def df_transposed(x, dout):
        return (dout @ x.T + x.T @ dout).T

    result = G.check_function(f, df_transposed, x, rng=rng(4))
    assert not result.ok
    errors = G._elementwise_rel(result.analytic, result.numeric)
    assert result.worst_index == tuple(int(i) for i in np.unravel_index(np.argmax(errors), x.shape))
    assert result.worst_index[0] != result.worst_index[1]  # the diagonal of a transpose is right
    assert f"at index {result.worst_index}" in str(result)


def test_check_function_reports_a_single_wrong_entry_at_its_index():
    def wrong_at_2_1(x, dout):
        dx = dout * np.cos(x)
        dx[2, 1] += 0.5
        return dx

    result = G.check_function(np.sin, wrong_at_2_1, rng(5).normal(size=(4, 3)), rng=rng(6))
    assert not result.ok and result.worst_index == (2, 1)
    rel = result.rel_errors()
    assert rel[2, 1] == result.max_rel_error and np.delete(rel.ravel(), 7).max() < 1e-7


def test_check_function_never_mutates_the_callers_array_even_if_f_does():
    x = rng(7).normal(size=(3, 3))
    before = x.copy()

    def vandal(v):
        out = np.sin(v)
        v[...] = 0.0  # a badly behaved f that scribbles on its input
        return out

    def dvandal(v, dout):
        out = dout * np.cos(v)
        v[...] = 0.0
        return out

    result = G.check_function(vandal, dvandal, x, rng=rng(8))
    np.testing.assert_array_equal(x, before)
    assert result.ok


def test_large_input_is_sampled_and_still_checks_correct_gradients():
    x = rng(9).normal(size=(100, 1000))  # 10**5 elements
    result = G.check_function(np.tanh, lambda v, d: d * (1 - np.tanh(v) ** 2), x, rng=rng(10))
    assert result.ok
    assert result.n_checked == 20 and np.isnan(result.numeric).sum() == x.size - 20
    assert not np.isnan(result.numeric[0, 0]) and not np.isnan(result.numeric[-1, -1])
    assert result.direction_rel_error is not None and result.direction_rel_error < 1e-7


def test_random_directions_catch_an_error_the_coordinate_sample_misses():
    x = rng(11).normal(size=(200, 150))

    def wrong_at_one_entry(v, dout):
        dx = dout * np.cos(v)
        dx[123, 121] = -dx[123, 121]
        return dx

    result = G.check_function(np.sin, wrong_at_one_entry, x, rng=rng(12), max_coords=50)
    assert np.isnan(result.numeric[123, 121])  # not sampled
    assert result.max_rel_error < 1e-7
    assert result.direction_rel_error > 1e-6 and not result.ok
    assert "not sampled" in str(result)


def test_same_rng_seed_gives_the_same_result():
    x = rng(13).normal(size=(50, 50))
    args = (np.tanh, lambda v, d: d * (1 - np.tanh(v) ** 2), x)
    r1 = G.check_function(*args, rng=rng(14), max_coords=30)
    r2 = G.check_function(*args, rng=rng(14), max_coords=30)
    np.testing.assert_array_equal(r1.numeric, r2.numeric)
    assert r1.worst_index == r2.worst_index


def test_check_function_validates_its_arguments():
    x = np.ones((2, 3))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        G.check_function(np.sin, lambda v, d: d, x, rng=0)
    with pytest.raises(ValueError, match=r"check_function: df\(x, dout\) must have shape \(2, 3\), got shape \(3, 2\)"):
        G.check_function(np.sin, lambda v, d: (d * np.cos(v)).T, x, rng=rng())
    with pytest.raises(ValueError, match=r"dout must be 2-D \(2, 3\), got dout.shape=\(3,\)"):
        G.check_function(np.sin, lambda v, d: d, x, rng=rng(), dout=np.ones(3))
    with pytest.raises(ValueError, match="x must be finite"):
        G.check_function(np.sin, lambda v, d: d, np.array([np.nan]), rng=rng())
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0,\)\)"):
        G.check_function(np.sin, lambda v, d: d, np.zeros(0), rng=rng())


def test_scalar_input_is_checked_at_index_empty_tuple():
    result = G.check_function(np.sin, lambda v, d: d * np.cos(v), 0.3, rng=rng())
    assert result.ok and result.worst_index == () and result.n_checked == 1


# ---- check_layer --------------------------------------------------------------------------

def test_check_layer_passes_a_correct_layer_for_x_and_every_param():
    layer = Affine(4, 3)
    results = G.check_layer(layer, rng(20).normal(size=(5, 4)), rng=rng(21))
    assert list(results) == ["x", "W", "b"]
    assert all(r.ok for r in results.values()), [str(r) for r in results.values()]
    assert results["W"].analytic.shape == (4, 3) and results["b"].numeric.shape == (3,)


def test_check_layer_catches_a_transposed_weight_gradient():
    layer = Affine(3, 3, bug="transposed_dW")
    results = G.check_layer(layer, rng(22).normal(size=(6, 3)), rng=rng(23))
    assert results["x"].ok and results["b"].ok
    assert not results["W"].ok
    r = results["W"]
    assert r.worst_index[0] != r.worst_index[1]


def test_check_layer_catches_a_wrong_bias_gradient_with_its_factor():
    results = G.check_layer(Affine(3, 2, bug="missing_db_factor"), rng(24).normal(size=(4, 3)), rng=rng(25))
    assert not results["b"].ok and results["W"].ok
    assert "0.5 times the numeric" in str(results["b"])


def test_check_layer_leaves_the_layer_untouched_by_default():
    layer = RunningScale()
    gamma = layer.params["gamma"]
    before = gamma.copy()
    x = rng(26).normal(size=(4, 3))
    x_before = x.copy()
    results = G.check_layer(layer, x, rng=rng(27))
    assert all(r.ok for r in results.values())
    assert layer.params["gamma"] is gamma
    np.testing.assert_array_equal(gamma, before)
    np.testing.assert_array_equal(layer.running, np.zeros(3))  # no forward ran on it
    np.testing.assert_array_equal(x, x_before)


def test_check_layer_in_place_restores_params_bit_for_bit():
    layer = Affine(5, 4, seed=3)
    arrays = dict(layer.params)
    before = {k: v.copy() for k, v in arrays.items()}
    results = G.check_layer(layer, rng(28).normal(size=(3, 5)), rng=rng(29), copy_layer=False)
    assert all(r.ok for r in results.values())
    for name, value in layer.params.items():
        assert value is arrays[name]  # the same array objects (an optimizer may hold them)
        assert value.tobytes() == before[name].tobytes()


def test_check_layer_restores_params_even_when_forward_raises():
    class Fragile(Affine):
        def forward(self, x):
            if not np.array_equal(self.params["W"], W_before):  # the first forward with W perturbed
                raise RuntimeError("boom")
            return super().forward(x)

    layer = Fragile(2, 2)
    W_before = layer.params["W"].copy()
    x = rng(30).normal(size=(1, 2))
    with pytest.raises(RuntimeError, match="boom"):
        G.check_layer(layer, x, rng=rng(31), copy_layer=False, max_coords=2)
    np.testing.assert_array_equal(layer.params["W"], W_before)


def test_check_layer_uses_a_random_upstream_gradient_from_the_rng():
    # with dout all ones, sum over outputs of a transposed dW could pass; a random dout cannot
    r1 = G.check_layer(Affine(3, 3), rng(32).normal(size=(2, 3)), rng=rng(33))
    r2 = G.check_layer(Affine(3, 3), rng(32).normal(size=(2, 3)), rng=rng(34))
    assert not np.allclose(r1["x"].analytic, r2["x"].analytic)


def test_check_layer_reports_grads_with_the_wrong_shape():
    class BadShape(Affine):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["b"] = self.grads["b"][None, :]
            return dx

    with pytest.raises(ValueError, match=r"check_layer: grads\['b'\] must be 1-D \(2,\), got shape \(1, 2\)"):
        G.check_layer(BadShape(3, 2), rng(35).normal(size=(4, 3)), rng=rng(36))


def test_result_str_is_readable():
    result = G.check_function(np.tanh, lambda x, d: 2 * d * (1 - np.tanh(x) ** 2), np.array([0.3, -0.2]),
                              rng=rng(37))
    text = str(result)
    assert text.startswith("gradcheck x: FAILED, max rel error 3.33e-01 at index (")
    assert "analytic" in text and "numeric" in text and "tol 1e-06" in text and "2 of 2" in text
    assert math.isclose(result.analytic[result.worst_index] / result.numeric[result.worst_index], 2.0, rel_tol=1e-6)


def test_sampled_check_always_includes_the_last_entry_and_reports_its_index():
    def wrong_at_last(v, dout):
        dx = dout * np.cos(v)
        dx[-1, -1] *= 3.0
        return dx

    result = G.check_function(np.sin, wrong_at_last, rng(38).normal(size=(100, 100)), rng=rng(39), max_coords=30)
    assert result.n_checked == 30
    assert not result.ok and result.worst_index == (99, 99)
    assert result.max_rel_error == pytest.approx(0.5, rel=1e-6)


# ---- with the kit's own layers ------------------------------------------------------------------

def test_check_layer_on_a_sequential_uses_its_parameter_names():
    from nnkit.layers import Linear, Sequential, Tanh

    net = Sequential(Linear(5, 4, seed=0), Tanh(), Linear(4, 3, seed=1))
    results = G.check_layer(net, rng(40).normal(size=(6, 5)), rng=rng(41))
    assert list(results) == ["x", "layer0.W", "layer0.b", "layer2.W", "layer2.b"]
    assert all(r.ok for r in results.values()), [str(r) for r in results.values()]


def test_check_layer_leaves_batchnorm_running_statistics_alone():
    from nnkit.layers import BatchNorm1d

    bn = BatchNorm1d(4)
    buffers = {k: np.copy(v) for k, v in bn.buffers.items()}
    results = G.check_layer(bn, rng(42).normal(size=(8, 4)), rng=rng(43), training=True)
    assert all(r.ok for r in results.values()), [str(r) for r in results.values()]
    for name, value in buffers.items():
        np.testing.assert_array_equal(bn.buffers[name], value)


def test_a_random_forward_pass_is_refused_with_a_hint():
    from nnkit.layers import Dropout

    x = rng(44).normal(size=(4, 5))
    with pytest.raises(ValueError, match=r"check_layer: layer.forward gave different outputs.*training=False"):
        G.check_layer(Dropout(0.5, seed=0), x, rng=rng(45))
    results = G.check_layer(Dropout(0.5, seed=0), x, rng=rng(45), training=False)
    assert results["x"].ok
    noisy = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"check_function: f gave different outputs"):
        G.check_function(lambda v: v + noisy.normal(size=v.shape), lambda v, d: d, x, rng=rng(46))
