"""Max and average pooling: hand-worked examples, the first-maximum tie rule, overlapping windows,
naive == fast, numeric gradients, errors and the layers. The PyTorch grid is in test_cnn_torch_grid.py."""

import numpy as np
import pytest

from nnkit.gradcheck import check_function, check_layer
from nnkit.layers.pool import (
    AvgPool2d,
    MaxPool2d,
    avgpool2d_backward,
    avgpool2d_backward_naive,
    avgpool2d_forward,
    avgpool2d_forward_naive,
    maxpool2d_backward,
    maxpool2d_backward_naive,
    maxpool2d_forward,
    maxpool2d_forward_naive,
)

MAX = [(maxpool2d_forward_naive, maxpool2d_backward_naive), (maxpool2d_forward, maxpool2d_backward)]
AVG = [(avgpool2d_forward_naive, avgpool2d_backward_naive), (avgpool2d_forward, avgpool2d_backward)]
IDS = ["naive", "fast"]


def distinct_values(shape, rng):
    """Inputs with no ties and gaps of at least 0.05, so a 1e-6 nudge never changes a maximum."""
    return rng.permutation(np.arange(np.prod(shape)) * 0.05 - 1.0).reshape(shape)


@pytest.mark.parametrize(("forward", "backward"), MAX, ids=IDS)
def test_maxpool_forward_and_backward_on_a_hand_worked_example(forward, backward):
    x = np.array([[1.0, 3.0, 2.0, 0.0, 9.0],
                  [4.0, 2.0, 8.0, 1.0, 9.0],
                  [0.0, 5.0, 1.0, 7.0, 9.0]]).reshape(1, 1, 3, 5)
    out, cache = forward(x, 2)                         # 2x2 windows, stride 2: last row and column dropped
    np.testing.assert_array_equal(out, [[[[4.0, 8.0]]]])
    dx = backward(np.array([[[[10.0, 20.0]]]]), cache)
    expected = np.zeros((3, 5))
    expected[1, 0], expected[1, 2] = 10.0, 20.0
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize(("forward", "backward"), MAX, ids=IDS)
def test_maxpool_backward_sends_gradient_to_first_max_in_row_major_order(forward, backward):
    x = np.array([[0.0, 5.0, 5.0, 1.0],
                  [5.0, 5.0, 2.0, 2.0],
                  [3.0, 3.0, 7.0, 6.0],
                  [3.0, 3.0, 7.0, 7.0]]).reshape(1, 1, 4, 4)
    out, cache = forward(x, 2)
    np.testing.assert_array_equal(out[0, 0], [[5.0, 5.0], [3.0, 7.0]])
    dx = backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    expected = np.array([[0.0, 1.0, 2.0, 0.0],    # window (0,0): 5 at (0,1) before (1,0), (1,1)
                         [0.0, 0.0, 0.0, 0.0],    # window (0,1): 5 at (0,2) only
                         [3.0, 0.0, 4.0, 0.0],    # window (1,0): all four equal -> top-left
                         [0.0, 0.0, 0.0, 0.0]])   # window (1,1): 7 at (2,2) before (3,2), (3,3)
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize(("forward", "backward"), MAX, ids=IDS)
def test_maxpool_overlapping_windows_accumulate_gradient(forward, backward):
    x = np.array([[1.0, 2.0, 1.0],
                  [2.0, 9.0, 2.0],
                  [1.0, 2.0, 1.0]]).reshape(1, 1, 3, 3)
    out, cache = forward(x, 2, stride=1)               # four windows, all contain the 9
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 9.0))
    dx = backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    expected = np.zeros((3, 3))
    expected[1, 1] = 10.0
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize(("forward", "backward"), AVG, ids=IDS)
def test_avgpool_forward_and_backward_with_non_square_overlapping_windows(forward, backward):
    x = np.arange(12.0).reshape(1, 1, 3, 4)           # [[0 1 2 3] [4 5 6 7] [8 9 10 11]]
    out, cache = forward(x, (2, 3), stride=(1, 1))    # (2, 2) outputs
    np.testing.assert_allclose(out[0, 0], [[3.0, 4.0], [7.0, 8.0]], rtol=0, atol=1e-15)
    dx = backward(np.array([[[[6.0, 12.0], [18.0, 24.0]]]]), cache)
    # each window shares its dout over 6 inputs: 1, 2, 3, 4 per input from the four windows
    expected = np.array([[1.0, 3.0, 3.0, 2.0],
                         [4.0, 10.0, 10.0, 6.0],
                         [3.0, 7.0, 7.0, 4.0]])
    np.testing.assert_allclose(dx[0, 0], expected, rtol=0, atol=1e-14)


GRID = [
    # x shape, kernel, stride
    ((1, 1, 5, 7), 2, None),
    ((2, 3, 7, 6), (3, 2), (2, 1)),
    ((3, 2, 6, 9), (2, 3), (3, 2)),
    ((2, 1, 5, 5), 3, 1),
    ((1, 2, 4, 7), (4, 1), (1, 3)),
]


@pytest.mark.parametrize(("x_shape", "kernel", "stride"), GRID)
@pytest.mark.parametrize("pairs", [MAX, AVG], ids=["max", "avg"])
def test_pool_naive_and_fast_agree_including_ties(pairs, x_shape, kernel, stride):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=x_shape).astype(float)     # few distinct values: many ties
    (fwd_naive, bwd_naive), (fwd_fast, bwd_fast) = pairs
    out_naive, cache_naive = fwd_naive(x, kernel, stride)
    out_fast, cache_fast = fwd_fast(x, kernel, stride)
    np.testing.assert_allclose(out_fast, out_naive, rtol=0, atol=1e-15)
    dout = rng.normal(size=out_fast.shape)
    np.testing.assert_allclose(bwd_fast(dout, cache_fast), bwd_naive(dout, cache_naive), rtol=0, atol=1e-14)


@pytest.mark.parametrize(("x_shape", "kernel", "stride"), [((2, 2, 5, 4), (3, 2), (2, 1)),
                                                         ((1, 2, 6, 7), (2, 3), (3, 2)),
                                                         ((2, 1, 5, 5), 3, 1)])
@pytest.mark.parametrize(("forward", "backward"), MAX + AVG, ids=["max-naive", "max-fast", "avg-naive", "avg-fast"])
def test_pool_gradients_match_central_differences(forward, backward, x_shape, kernel, stride):
    rng = np.random.default_rng(1)
    x = distinct_values(x_shape, rng)
    result = check_function(lambda x_: forward(x_, kernel, stride)[0],
                            lambda x_, dout: backward(dout, forward(x_, kernel, stride)[1]), x, rng=rng)
    assert result.ok, str(result)


@pytest.mark.parametrize("layer", [MaxPool2d((2, 3), stride=1), AvgPool2d(3, stride=(1, 2))], ids=repr)
def test_pool_layers_pass_check_layer(layer):
    rng = np.random.default_rng(3)
    results = check_layer(layer, distinct_values((2, 3, 5, 7), rng), rng=rng)
    assert list(results) == ["x"] and results["x"].ok, str(results["x"])


@pytest.mark.parametrize(("forward", "name"), [(maxpool2d_forward, "maxpool2d_forward"),
                                               (avgpool2d_forward_naive, "avgpool2d_forward_naive")])
def test_pool_rejects_bad_arguments_with_a_clear_message(forward, name):
    x = np.ones((2, 3, 4, 5))
    with pytest.raises(ValueError, match=f"^{name}: kernel width 6 is larger than the padded input width 5"):
        forward(x, (2, 6))
    with pytest.raises(ValueError, match=f"^{name}: stride must be >= 1, got 0"):
        forward(x, 2, 0)
    with pytest.raises(TypeError, match=f"^{name}: kernel_size must be an int or a pair of ints, got 2.0"):
        forward(x, 2.0)
    with pytest.raises(ValueError, match=rf"^{name}: x must be 4-D \(N, C, H, W\), got x.shape=\(3, 4, 5\)"):
        forward(x[0], 2)
    x_inf = x.copy()
    x_inf[1, 2, 3, 4] = np.inf
    with pytest.raises(ValueError, match=rf"^{name}: x must be finite, found inf at index \(1, 2, 3, 4\)"):
        forward(x_inf, 2)


def test_pool_backward_rejects_wrong_dout_and_foreign_cache():
    x = np.ones((2, 3, 4, 4))
    _, max_cache = maxpool2d_forward(x, 2)
    _, avg_cache = avgpool2d_forward(x, 2)
    with pytest.raises(ValueError, match=r"maxpool2d_backward: dout must have the shape of the last forward's output \(2, 3, 2, 2\)"):
        maxpool2d_backward(np.ones((2, 3, 2, 3)), max_cache)
    with pytest.raises(TypeError, match="maxpool2d_backward: cache must come from maxpool2d_forward"):
        maxpool2d_backward(np.ones((2, 3, 2, 2)), avg_cache)
    with pytest.raises(TypeError, match="avgpool2d_backward: cache must come from avgpool2d_forward, got a cache "
                                        "from maxpool2d_forward"):
        avgpool2d_backward(np.ones((2, 3, 2, 2)), max_cache)
    _, naive_max_cache = maxpool2d_forward_naive(x, 2)
    with pytest.raises(TypeError, match="avgpool2d_backward_naive: cache must come from avgpool2d_forward_naive"):
        avgpool2d_backward_naive(np.ones((2, 3, 2, 2)), naive_max_cache)


@pytest.mark.parametrize(("layer_cls", "pair"), [(MaxPool2d, MAX[1]), (AvgPool2d, AVG[1])])
def test_pool_layers_wrap_the_fast_pair_and_have_no_parameters(layer_cls, pair):
    rng = np.random.default_rng(2)
    layer = layer_cls((3, 2), stride=(2, 1))
    assert layer.params == {} and layer.parameters() == []
    x = rng.normal(size=(2, 3, 7, 5))
    x_copy = x.copy()
    out = layer.forward(x)
    expected, cache = pair[0](x, (3, 2), (2, 1))
    np.testing.assert_array_equal(out, expected)
    dout = rng.normal(size=out.shape)
    np.testing.assert_array_equal(layer.backward(dout), pair[1](dout, cache))
    np.testing.assert_array_equal(x, x_copy)
    assert layer_cls(2).stride == (2, 2)                      # stride defaults to the kernel
    with pytest.raises(RuntimeError, match=f"{layer_cls.__name__}.backward: called before forward"):
        layer_cls(2).backward(dout)
    with pytest.raises(TypeError, match=rf"{layer_cls.__name__}.forward: x must be a numpy array, got list"):
        layer_cls(2).forward(x.tolist())


@pytest.mark.parametrize(("x_shape", "kernel", "stride"), GRID)
@pytest.mark.parametrize("pairs", [MAX, AVG], ids=["max", "avg"])
def test_pool_fast_in_chunks_on_threads_agrees_with_naive(monkeypatch, pairs, x_shape, kernel, stride):
    from nnkit.layers import _chunks

    before = _chunks.get_num_threads()
    monkeypatch.setattr(_chunks, "CHUNK_SIZE", 1)             # cut even these small batches into chunks
    _chunks.set_num_threads(3)
    try:
        rng = np.random.default_rng(5)
        x = rng.integers(0, 3, size=(5,) + x_shape[1:]).astype(float)
        (fwd_naive, bwd_naive), (fwd_fast, bwd_fast) = pairs
        out_naive, cache_naive = fwd_naive(x, kernel, stride)
        out_fast, cache_fast = fwd_fast(x, kernel, stride)
        np.testing.assert_allclose(out_fast, out_naive, rtol=0, atol=1e-15)
        dout = rng.normal(size=out_fast.shape)
        np.testing.assert_allclose(bwd_fast(dout, cache_fast), bwd_naive(dout, cache_naive), rtol=0, atol=1e-14)
    finally:
        _chunks.set_num_threads(before)


# ----------------------------------------------------------------------------------------------------------------
# what the caches record, inputs outside every window, and the checks' messages (each was a surviving mutant)
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("forward", "backward"), MAX + AVG, ids=["max-naive", "max-fast", "avg-naive", "avg-fast"])
def test_pool_cache_records_the_shapes_and_the_function_that_made_it(forward, backward):
    x = np.random.default_rng(4).normal(size=(2, 3, 7, 6))
    _, cache = forward(x, (3, 2), (2, 1))
    assert cache.made_by == forward.__name__
    assert (cache.x_shape, cache.kernel, cache.stride, cache.out_hw) == ((2, 3, 7, 6), (3, 2), (2, 1), (3, 5))


def _dirty_the_allocator(size):
    """Free a NaN-filled block of ``size`` floats, so that a following np.empty of that size likely reuses it."""
    junk = np.full(size, np.nan)
    del junk


@pytest.mark.parametrize(("x_shape", "kernel", "stride"), [((2, 3, 5, 6), 2, None),     # a row left over
                                                         ((2, 3, 6, 7), 2, None),     # a column left over
                                                         ((2, 3, 6, 6), 2, 3),        # gaps between windows
                                                         ((2, 3, 6, 6), (3, 2), None)])
@pytest.mark.parametrize(("forward", "backward"), [MAX[1], AVG[1]], ids=["max", "avg"])
def test_pool_backward_gives_exactly_zero_to_inputs_outside_every_window(forward, backward, x_shape, kernel, stride):
    rng = np.random.default_rng(5)
    x = distinct_values(x_shape, rng)
    out, cache = forward(x, kernel, stride)
    dout = rng.normal(size=out.shape)
    naive_forward = maxpool2d_forward_naive if forward is maxpool2d_forward else avgpool2d_forward_naive
    naive_backward = maxpool2d_backward_naive if forward is maxpool2d_forward else avgpool2d_backward_naive
    expected = naive_backward(dout, naive_forward(x, kernel, stride)[1])
    for _ in range(3):                     # memory handed back by the allocator must not leak into dx
        _dirty_the_allocator(x.size)
        np.testing.assert_allclose(backward(dout, cache), expected, rtol=0, atol=1e-14)


def test_pool_errors_name_the_axis_the_function_and_what_arrived():
    x = np.ones((2, 3, 4, 5))
    with pytest.raises(ValueError, match="^maxpool2d_forward: kernel height 5 is larger than the padded input height 4"):
        maxpool2d_forward(x, (5, 2))
    with pytest.raises(ValueError, match=r"^avgpool2d_forward: x must not be empty, got x.shape=\(0, 3, 4, 5\)"):
        avgpool2d_forward(np.ones((0, 3, 4, 5)), 2)
    with pytest.raises(TypeError, match="^maxpool2d_backward: cache must come from maxpool2d_forward, got str"):
        maxpool2d_backward(np.ones((2, 3, 2, 2)), "cache")
    with pytest.raises(ValueError, match="^AvgPool2d.forward: kernel width 6 is larger than the padded input width 5"):
        AvgPool2d((2, 6)).forward(x)
    layer = MaxPool2d(2)
    layer.forward(x)
    with pytest.raises(ValueError, match=r"^MaxPool2d.backward: dout must have the shape of the last forward's "
                                         r"output \(2, 3, 2, 2\)"):
        layer.backward(np.ones((2, 3, 2, 3)))


@pytest.mark.parametrize("layer_cls", [MaxPool2d, AvgPool2d])
def test_pool_layers_take_1x1_windows_name_themselves_and_print_their_settings(layer_cls):
    x = np.random.default_rng(6).normal(size=(2, 3, 4, 5))
    np.testing.assert_array_equal(layer_cls(1).forward(x), x)           # a 1x1 window is the identity
    assert repr(layer_cls((2, 3), stride=1)) == f"{layer_cls.__name__}(kernel_size=(2, 3), stride=(1, 1))"
    with pytest.raises(ValueError, match=f"^{layer_cls.__name__}: kernel_size must be >= 1, got 0"):
        layer_cls(0)
    with pytest.raises(TypeError, match=f"^{layer_cls.__name__}: stride must be an int or a pair of ints, got 1.5"):
        layer_cls(2, stride=1.5)
