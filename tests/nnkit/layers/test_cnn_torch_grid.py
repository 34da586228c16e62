"""The CNN layers against PyTorch (float64, to 1e-10) on a grid of shapes, and naive against fast.

Conv2d, MaxPool2d, AvgPool2d, SpatialDropout2d (with torch's own mask) and BatchNorm2d (training steps that
move the running statistics, then eval).

Grid: stride 1 and 2; padding 0, 1 and "same" (stride 1 only); odd and non-square images and kernels (an even
kernel side makes "same" padding asymmetric); C = 1 and 3; N = 1 and 5. The shapes are small so the naive loop
versions can run on the whole grid.
"""

import itertools
import zlib

import numpy as np
import pytest

from nnkit.layers.batchnorm import BatchNorm2d
from nnkit.layers.conv import conv2d_backward, conv2d_backward_naive, conv2d_forward, conv2d_forward_naive
from nnkit.layers.dropout2d import spatial_dropout2d_backward, spatial_dropout2d_forward
from nnkit.layers.pool import (
    avgpool2d_backward,
    avgpool2d_backward_naive,
    avgpool2d_forward,
    avgpool2d_forward_naive,
    maxpool2d_backward,
    maxpool2d_backward_naive,
    maxpool2d_forward,
    maxpool2d_forward_naive,
)

TOL = 1e-10
IMAGES = [(7, 9), (6, 5)]
KERNELS = [(3, 3), (2, 3)]
CONV_SETTINGS = [(1, 0), (1, 1), (1, "same"), (2, 0), (2, 1)]   # (stride, padding); "same" needs stride 1
CHANNELS = [1, 3]
BATCHES = [1, 5]

CONV_GRID = list(itertools.product(IMAGES, KERNELS, CONV_SETTINGS, CHANNELS, BATCHES))
CONV_IDS = [f"{h}x{w}-k{kh}x{kw}-s{s}-p{p}-C{c}-N{n}" for (h, w), (kh, kw), (s, p), c, n in CONV_GRID]


def seeded_rng(*params):
    """A generator seeded from the test's parameters (stable across runs, unlike hash())."""
    return np.random.default_rng(zlib.crc32(repr(params).encode()))


def close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)


def torch_forward_backward(torch, fn, arrays, dout):
    """Run fn on torch copies of arrays, backpropagate dout; return (out, [grad of each array])."""
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


# torch warns that an even kernel with padding="same" makes it copy the input; that is the case we want.
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
@pytest.mark.parametrize(("hw", "kernel", "setting", "C", "N"), CONV_GRID, ids=CONV_IDS)
def test_conv2d_matches_torch_and_naive_matches_fast(torch, hw, kernel, setting, C, N):
    stride, padding = setting
    rng = seeded_rng(hw, kernel, setting, C, N)
    F = 2
    x = rng.normal(size=(N, C) + hw)
    W = rng.normal(size=(F, C) + kernel)
    b = rng.normal(size=F)
    out_fast, cache_fast = conv2d_forward(x, W, b, stride, padding)
    out_naive, cache_naive = conv2d_forward_naive(x, W, b, stride, padding)
    dout = rng.normal(size=out_fast.shape)
    expected_out, expected_grads = torch_forward_backward(
        torch, lambda xt, wt, bt: torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding),
        (x, W, b), dout)
    close(out_fast, expected_out)
    close(out_naive, expected_out)
    for fast, naive, expected in zip(conv2d_backward(dout, cache_fast), conv2d_backward_naive(dout, cache_naive),
                                     expected_grads):
        close(fast, expected)
        close(naive, expected)


POOLS = {
    "max": (maxpool2d_forward, maxpool2d_backward, maxpool2d_forward_naive, maxpool2d_backward_naive, "max_pool2d"),
    "avg": (avgpool2d_forward, avgpool2d_backward, avgpool2d_forward_naive, avgpool2d_backward_naive, "avg_pool2d"),
}
POOL_GRID = list(itertools.product(["max", "avg"], IMAGES, KERNELS, [1, 2, (2, 1)], CHANNELS, BATCHES))
POOL_IDS = [f"{kind}-{h}x{w}-k{kh}x{kw}-s{s if isinstance(s, int) else '%dx%d' % s}-C{c}-N{n}"
            for kind, (h, w), (kh, kw), s, c, n in POOL_GRID]


@pytest.mark.parametrize(("kind", "hw", "kernel", "stride", "C", "N"), POOL_GRID, ids=POOL_IDS)
def test_pooling_matches_torch_including_ties_and_naive_matches_fast(torch, kind, hw, kernel, stride, C, N):
    fwd, bwd, fwd_naive, bwd_naive, torch_name = POOLS[kind]
    rng = seeded_rng(kind, hw, kernel, stride, C, N)
    x = rng.integers(-2, 3, size=(N, C) + hw).astype(float)    # five values only: windows full of ties
    out_fast, cache_fast = fwd(x, kernel, stride)
    out_naive, cache_naive = fwd_naive(x, kernel, stride)
    dout = rng.normal(size=out_fast.shape)
    torch_pool = getattr(torch.nn.functional, torch_name)
    expected_out, (expected_dx,) = torch_forward_backward(
        torch, lambda xt: torch_pool(xt, kernel, stride), (x,), dout)
    close(out_fast, expected_out)
    close(out_naive, expected_out)
    close(bwd(dout, cache_fast), expected_dx)
    close(bwd_naive(dout, cache_naive), expected_dx)


@pytest.mark.parametrize(("p", "shape"), [(0.5, (5, 3, 7, 9)), (0.2, (1, 3, 6, 5)), (0.7, (5, 1, 4, 4))])
def test_spatial_dropout_matches_torch_dropout2d_with_the_same_mask(torch, p, shape):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)   # never 0: the mask is visible
    torch.manual_seed(0)
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch.nn.functional.dropout2d(xt, p=p, training=True)
    dout = rng.normal(size=shape)
    out_t.backward(torch.tensor(dout))
    keep = (out_t.detach().numpy()[:, :, :1, :1] != 0)                # torch's own mask, (N, C, 1, 1)
    out, cache = spatial_dropout2d_forward(x, keep, p)
    close(out, out_t.detach().numpy())
    close(spatial_dropout2d_backward(dout, cache), xt.grad.numpy())


BN_GRID = list(itertools.product(IMAGES, CHANNELS, BATCHES))


@pytest.mark.parametrize(("hw", "C", "N"), BN_GRID, ids=[f"{h}x{w}-C{c}-N{n}" for (h, w), c, n in BN_GRID])
def test_batchnorm2d_matches_torch_in_training_then_eval(torch, hw, C, N):
    rng = seeded_rng("bn", hw, C, N)
    layer = BatchNorm2d(C, momentum=0.2)
    gamma, beta = rng.uniform(0.5, 2.0, size=C), rng.normal(size=C)
    layer.params["gamma"], layer.params["beta"] = gamma.copy(), beta.copy()
    running_mean, running_var = torch.zeros(C), torch.ones(C)
    for step in range(2):                                  # two training steps move the running statistics
        x = rng.normal(loc=3.0, scale=2.0, size=(N, C) + hw)
        dout = rng.normal(size=x.shape)
        expected_out, (expected_dx, expected_dgamma, expected_dbeta) = torch_forward_backward(
            torch, lambda xt, gt, bt: torch.nn.functional.batch_norm(
                xt, running_mean, running_var, gt, bt, training=True, momentum=0.2, eps=1e-5),
            (x, gamma, beta), dout)
        close(layer.train().forward(x), expected_out)
        close(layer.backward(dout), expected_dx)
        close(layer.grads["gamma"], expected_dgamma)
        close(layer.grads["beta"], expected_dbeta)
        close(layer.buffers["running_mean"], running_mean.numpy())
        close(layer.buffers["running_var"], running_var.numpy())
    x = rng.normal(size=(N, C) + hw)
    dout = rng.normal(size=x.shape)
    expected_out, (expected_dx, expected_dgamma, expected_dbeta) = torch_forward_backward(
        torch, lambda xt, gt, bt: torch.nn.functional.batch_norm(
            xt, running_mean, running_var, gt, bt, training=False, eps=1e-5),
        (x, gamma, beta), dout)
    close(layer.eval().forward(x), expected_out)
    close(layer.backward(dout), expected_dx)
    close(layer.grads["gamma"], expected_dgamma)
    close(layer.grads["beta"], expected_dbeta)


@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), ((2, 3), 1), (3, (1, 2))])
def test_maxpool_ties_send_the_gradient_to_the_first_maximum_as_torch_does(torch, kernel, stride):
    x = np.zeros((2, 2, 6, 7))                          # all-zero windows: every entry ties
    x[0, 0, 1:3, 2:5] = 4.0                             # a 2x3 plateau of equal maxima
    x[1, 1, ::2, ::3] = -1.0
    x[1, 0] = np.tile([1.0, 3.0, 3.0, 1.0, 3.0, 2.0, 3.0], (6, 1))   # equal maxima along each row
    out, cache = maxpool2d_forward(x, kernel, stride)
    _, naive_cache = maxpool2d_forward_naive(x, kernel, stride)
    dout = np.random.default_rng(0).normal(size=out.shape)
    expected_out, (expected_dx,) = torch_forward_backward(
        torch, lambda xt: torch.nn.functional.max_pool2d(xt, kernel, stride), (x,), dout)
    close(out, expected_out)
    close(maxpool2d_backward(dout, cache), expected_dx)
    close(maxpool2d_backward_naive(dout, naive_cache), expected_dx)
    assert np.count_nonzero(expected_dx) <= out.size    # one winner per window, not every tied entry
