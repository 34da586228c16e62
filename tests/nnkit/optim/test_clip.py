"""Gradient clipping matches torch.nn.utils, for every accepted container."""

import math

import numpy as np
import pytest

from nnkit import optim


def grad_arrays(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [scale * rng.normal(size=shape) for shape in [(4, 3), (3,), (2, 3, 3, 2), (1,)]]


def torch_clip_norm(torch, arrays, max_norm, norm_type):
    tensors = [torch.zeros(a.shape, requires_grad=True) for a in arrays]
    for t, a in zip(tensors, arrays):
        t.grad = torch.tensor(a)
    total = torch.nn.utils.clip_grad_norm_(tensors, max_norm, norm_type=norm_type)
    return float(total), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])  # clipped, and left alone
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm):
    arrays = grad_arrays(scale=2.0)
    total_t, clipped_t = torch_clip_norm(torch, arrays, max_norm, norm_type)
    total = optim.clip_grad_norm_(arrays, max_norm, norm_type=norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(total_t, rel=1e-13)
    for ours, theirs in zip(arrays, clipped_t):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


def test_clip_grad_norm_scales_every_array_by_one_common_factor_to_the_limit():
    arrays = grad_arrays(seed=1)
    original = [a.copy() for a in arrays]
    total = optim.clip_grad_norm_(arrays, 1.0)
    expected_total = math.sqrt(sum(float(np.sum(a**2)) for a in original))
    assert total == pytest.approx(expected_total, rel=1e-14)
    coef = 1.0 / (expected_total + 1e-6)
    for ours, before in zip(arrays, original):
        np.testing.assert_allclose(ours, before * coef, rtol=1e-14)
    assert math.sqrt(sum(float(np.sum(a**2)) for a in arrays)) == pytest.approx(1.0, abs=1e-5)


def test_clip_grad_norm_accepts_a_dict_a_layer_and_pairs_and_changes_arrays_in_place():
    from nnkit.layers.base import Layer

    layer = Layer()
    layer.params = {"W": np.zeros((4, 3)), "b": np.zeros(3)}
    layer.grads = {"W": grad_arrays()[0].copy(), "b": grad_arrays()[1].copy()}
    as_list = [layer.grads["W"].copy(), layer.grads["b"].copy()]
    as_dict = {"W": layer.grads["W"].copy(), "b": layer.grads["b"].copy()}
    pairs = [(layer.params, {"W": layer.grads["W"].copy()}), ({"b": np.zeros(3)}, {"b": layer.grads["b"].copy()})]
    W_array = layer.grads["W"]
    totals = [optim.clip_grad_norm_(g, 0.3) for g in (layer, as_list, as_dict, pairs)]
    assert max(totals) - min(totals) < 1e-15
    assert layer.grads["W"] is W_array
    for result in (as_list, [as_dict["W"], as_dict["b"]], [pairs[0][1]["W"], pairs[1][1]["b"]]):
        np.testing.assert_array_equal(result[0], layer.grads["W"])
        np.testing.assert_array_equal(result[1], layer.grads["b"])


def test_clip_grad_norm_of_nonfinite_gradients_raises_only_when_asked(torch):
    arrays = grad_arrays()
    arrays[1][0] = np.nan
    with pytest.raises(ValueError, match="clip_grad_norm_: the total 2-norm of the gradients is nan"):
        optim.clip_grad_norm_([a.copy() for a in arrays], 1.0, error_if_nonfinite=True)
    total_t, clipped_t = torch_clip_norm(torch, arrays, 1.0, 2.0)
    total = optim.clip_grad_norm_(arrays, 1.0)
    assert math.isnan(total) and math.isnan(total_t)
    for ours, theirs in zip(arrays, clipped_t):
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))


def test_clip_grad_norm_of_nothing_is_zero():
    assert optim.clip_grad_norm_([], 1.0) == 0.0


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(max_norm=-1.0), ValueError, r"clip_grad_norm_: max_norm must be a number >= 0, got -1.0"),
    (dict(max_norm=1.0, norm_type=0), ValueError, r"norm_type must be positive or inf, got 0.0"),
    (dict(max_norm="1"), TypeError, r"max_norm must be a real number, got str"),
])
def test_clip_grad_norm_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        optim.clip_grad_norm_(grad_arrays(), **kwargs)


def test_clipping_refuses_arrays_it_cannot_change_in_place():
    with pytest.raises(TypeError, match=r"gradient 0 must be a float numpy array .* got dtype int64"):
        optim.clip_grad_norm_([np.ones(3, dtype=int)], 1.0)
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="gradient 0 is read-only"):
        optim.clip_grad_value_(frozen, 0.5)


def test_clip_grad_value_matches_torch(torch):
    arrays = grad_arrays(seed=2, scale=3.0)
    tensors = [torch.zeros(a.shape, requires_grad=True) for a in arrays]
    for t, a in zip(tensors, arrays):
        t.grad = torch.tensor(a)
    torch.nn.utils.clip_grad_value_(tensors, 1.5)
    assert optim.clip_grad_value_(arrays, 1.5) is None
    for ours, t in zip(arrays, tensors):
        np.testing.assert_array_equal(ours, t.grad.numpy())
    assert max(float(np.max(np.abs(a))) for a in arrays) == 1.5


def test_clip_grad_value_rejects_a_negative_limit():
    with pytest.raises(ValueError, match=r"clip_grad_value_: clip_value must be a number >= 0, got -1.0"):
        optim.clip_grad_value_(grad_arrays(), -1.0)
