"""Flatten: row-major order (as torch.flatten(x, 1)), exact inverse in backward, no aliasing, errors."""

import numpy as np
import pytest

from nnkit.layers.shape import Flatten, flatten_backward, flatten_forward


def test_flatten_puts_feature_c_h_w_at_column_c_times_hw_plus_h_times_w_plus_w():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    out, _ = flatten_forward(x)
    assert out.shape == (2, 60)
    for n, c, h, w in [(0, 0, 0, 1), (1, 2, 3, 4), (0, 1, 0, 0), (1, 0, 2, 3)]:
        assert out[n, c * 20 + h * 5 + w] == x[n, c, h, w]


def test_flatten_matches_torch_flatten_forward_and_backward(torch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 2, 5, 3))
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch.flatten(xt, 1)
    dout = rng.normal(size=(3, 30))
    out_t.backward(torch.tensor(dout))
    layer = Flatten()
    np.testing.assert_array_equal(layer.forward(x), out_t.detach().numpy())
    np.testing.assert_array_equal(layer.backward(dout), xt.grad.numpy())


def test_flatten_backward_returns_a_new_array_shaped_like_the_input():
    x = np.arange(24.0).reshape(1, 2, 3, 4)
    out, cache = flatten_forward(x)
    out[0, 0] = 100.0
    assert x[0, 0, 0, 0] == 0.0                       # out does not alias x
    dout = np.arange(24.0).reshape(1, 24)
    dx = flatten_backward(dout, cache)
    np.testing.assert_array_equal(dx, x)
    dx[0, 0, 0, 0] = -1.0
    assert dout[0, 0] == 0.0                          # dx does not alias dout


def test_flatten_keeps_a_batch_of_one():
    out, cache = flatten_forward(np.ones((1, 4, 2, 2)))
    assert out.shape == (1, 16)
    assert flatten_backward(np.ones((1, 16)), cache).shape == (1, 4, 2, 2)


def test_flatten_rejects_bad_input():
    with pytest.raises(ValueError, match=r"flatten_forward: x must have shape \(N, D, \.\.\.\), got x.shape=\(5,\)"):
        flatten_forward(np.ones(5))
    _, cache = flatten_forward(np.ones((2, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"flatten_backward: dout must have the shape .*\(2, 12\), got dout.shape=\(2, 3, 2, 2\)"):
        flatten_backward(np.ones((2, 3, 2, 2)), cache)
    with pytest.raises(TypeError, match="flatten_backward: cache must come from flatten_forward"):
        flatten_backward(np.ones((2, 12)), (2, 3, 2, 2))
    with pytest.raises(RuntimeError, match="Flatten.backward: called before forward"):
        Flatten().backward(np.ones((2, 12)))
