"""SpatialDropout2d: whole feature maps dropped, inverted scaling, seeded masks, eval identity.
The comparison with torch's dropout2d (same mask) is in test_cnn_torch_grid.py."""

import numpy as np
import pytest

from nnkit.layers.dropout2d import SpatialDropout2d, spatial_dropout2d_backward, spatial_dropout2d_forward
from nnkit.layers.regularize import mc_predict
from nnkit.layers.sequential import Sequential


def test_spatial_dropout_zeroes_whole_feature_maps_and_scales_the_rest():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5, 4, 3)) + 10.0          # no zeros in x
    layer = SpatialDropout2d(0.4, seed=1)
    out = layer.forward(x)
    assert layer.mask.shape == (6, 5, 1, 1) and layer.mask.dtype == bool
    kept = np.broadcast_to(layer.mask, x.shape)
    np.testing.assert_allclose(out[kept], x[kept] / 0.6, rtol=1e-15)
    assert np.all(out[~kept] == 0.0)
    per_map_zero = (out == 0).all(axis=(2, 3))
    per_map_nonzero = (out != 0).all(axis=(2, 3))
    assert np.all(per_map_zero | per_map_nonzero)     # never a partly dropped map
    assert per_map_zero.any() and per_map_nonzero.any()


def test_spatial_dropout_backward_uses_the_same_mask_and_scaling():
    rng = np.random.default_rng(2)
    layer = SpatialDropout2d(0.3, rng=np.random.default_rng(3))
    x = rng.normal(size=(4, 6, 3, 5))
    layer.forward(x)
    dout = rng.normal(size=x.shape)
    np.testing.assert_allclose(layer.backward(dout), dout * layer.mask / 0.7, rtol=1e-15)


def test_spatial_dropout_drop_rate_is_p():
    layer = SpatialDropout2d(0.25, seed=4)
    layer.forward(np.ones((400, 50, 2, 2)))
    dropped = 1.0 - layer.mask.mean()                 # 20000 Bernoulli(0.25) draws: sd ~ 0.003
    assert abs(dropped - 0.25) < 0.015


def test_spatial_dropout_is_reproducible_from_its_seed_and_changes_between_calls():
    x = np.ones((8, 8, 2, 2))
    a, b = SpatialDropout2d(0.5, seed=9), SpatialDropout2d(0.5, seed=9)
    first = a.forward(x)
    np.testing.assert_array_equal(first, b.forward(x))
    assert not np.array_equal(first, a.forward(x))    # a fresh mask on every training forward


def test_spatial_dropout_is_the_identity_in_eval_and_for_p_zero():
    x = np.random.default_rng(5).normal(size=(2, 3, 4, 4))
    layer = SpatialDropout2d(0.5, seed=0)
    np.testing.assert_array_equal(layer.eval().forward(x), x)
    assert layer.mask is None
    dout = np.ones_like(x)
    np.testing.assert_array_equal(layer.backward(dout), dout)
    np.testing.assert_array_equal(SpatialDropout2d(0.0, seed=0).forward(x), x)


def test_spatial_dropout_pure_pair_applies_the_given_mask():
    x = np.arange(16.0).reshape(2, 2, 2, 2)
    keep = np.array([True, False, False, True]).reshape(2, 2, 1, 1)
    out, cache = spatial_dropout2d_forward(x, keep, 0.5)
    np.testing.assert_array_equal(out[0, 0], 2 * x[0, 0])
    np.testing.assert_array_equal(out[0, 1], np.zeros((2, 2)))
    np.testing.assert_array_equal(out[1, 0], np.zeros((2, 2)))
    np.testing.assert_array_equal(spatial_dropout2d_backward(np.ones_like(x), cache), 2.0 * np.broadcast_to(keep, x.shape))


def test_spatial_dropout_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"SpatialDropout2d: p must be in \[0, 1\), got 1"):
        SpatialDropout2d(1)
    with pytest.raises(ValueError, match="SpatialDropout2d: pass seed or rng, not both"):
        SpatialDropout2d(0.5, seed=1, rng=np.random.default_rng(1))
    with pytest.raises(ValueError, match=r"SpatialDropout2d.forward: x must be 4-D \(N, C, H, W\), got x.shape=\(2, 3\)"):
        SpatialDropout2d(0.5, seed=0).forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"spatial_dropout2d_forward: keep must have shape \(2, 3, 1, 1\)"):
        spatial_dropout2d_forward(np.ones((2, 3, 4, 4)), np.ones((2, 3), dtype=bool), 0.5)
    with pytest.raises(TypeError, match="spatial_dropout2d_forward: keep must be a bool numpy array"):
        spatial_dropout2d_forward(np.ones((2, 3, 4, 4)), np.ones((2, 3, 1, 1)), 0.5)
    with pytest.raises(RuntimeError, match="SpatialDropout2d.backward: called before forward"):
        SpatialDropout2d(0.5, seed=0).backward(np.ones((2, 3, 4, 4)))
    layer = SpatialDropout2d(0.5, seed=0)
    layer.forward(np.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"SpatialDropout2d.backward: dout must have the shape"):
        layer.backward(np.ones((2, 3, 4, 5)))


def test_spatial_dropout_stays_on_for_monte_carlo_dropout_and_is_restored_after():
    layer = SpatialDropout2d(0.5, seed=0)
    x = np.random.default_rng(6).uniform(1.0, 2.0, size=(3, 4, 2, 2))
    mean, std = mc_predict(Sequential(layer), x, T=400)
    assert np.all(std > 0)                                  # the passes differ: maps were dropped
    np.testing.assert_allclose(mean, x, rtol=0.2)           # inverted scaling keeps the mean
    assert layer.mc_dropout is False
    np.testing.assert_array_equal(layer.eval().forward(x), x)
