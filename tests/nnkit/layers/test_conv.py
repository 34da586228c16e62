"""Conv2d: a hand-worked example, the shape rules, naive == fast, numeric gradients, errors, and the layer.

The comparison with PyTorch on the full grid lives in test_cnn_torch_grid.py.
"""

import numpy as np
import pytest

from nnkit.gradcheck import check_function, check_layer
from nnkit.layers.conv import (
    Conv2d,
    Conv2dCache,
    conv2d_backward,
    conv2d_backward_naive,
    conv2d_forward,
    conv2d_forward_naive,
)

PAIRS = [(conv2d_forward_naive, conv2d_backward_naive), (conv2d_forward, conv2d_backward)]
PAIR_IDS = ["naive", "fast"]


@pytest.mark.parametrize(("forward", "backward"), PAIRS, ids=PAIR_IDS)
def test_conv2d_forward_matches_hand_worked_cross_correlation(forward, backward):
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)      # [[1 2 3] [4 5 6] [7 8 9]]
    W = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])       # top-left minus bottom-right, NOT flipped
    b = np.array([0.5])
    out, _ = forward(x, W, b)
    # every 2x2 window gives x[i, j] - x[i+1, j+1] = -4, plus the bias
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), -3.5))
    out, _ = forward(x, W, b, stride=1, padding=1)
    # with a zero border: out[i, j] = xpad[i, j] - xpad[i+1, j+1] + 0.5, xpad[i, j] = x[i-1, j-1]
    expected = np.array([[-0.5, -1.5, -2.5, 0.5],
                         [-3.5, -3.5, -3.5, 3.5],
                         [-6.5, -3.5, -3.5, 6.5],
                         [0.5, 7.5, 8.5, 9.5]])
    np.testing.assert_array_equal(out[0, 0], expected)


@pytest.mark.parametrize(("forward", "backward"), PAIRS, ids=PAIR_IDS)
def test_conv2d_backward_matches_hand_worked_gradients(forward, backward):
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    W = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, cache = forward(x, W, np.zeros(1))
    dout = np.array([[[[1.0, 0.0], [0.0, 2.0]]]])
    dx, dW, db = backward(dout, cache)
    # dW[p, q] = sum_ij dout[i, j] * x[i+p, j+q] = x[p, q] + 2 x[p+1, q+1]
    np.testing.assert_array_equal(dW[0, 0], [[1 + 2 * 5, 2 + 2 * 6], [4 + 2 * 8, 5 + 2 * 9]])
    np.testing.assert_array_equal(db, [3.0])
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 0], [3, 4 + 2, 4], [0, 6, 8]])


@pytest.mark.parametrize(("forward", "backward"), PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize(("kernel", "pads"), [((3, 3), (1, 1, 1, 1)), ((2, 4), (0, 1, 1, 2)), ((1, 5), (0, 0, 2, 2)),
                                             ((2, 1), (0, 1, 0, 0)), ((1, 2), (0, 0, 0, 1))])
def test_conv2d_same_padding_keeps_size_and_puts_extra_zero_bottom_right(forward, backward, kernel, pads):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 6))
    W = rng.normal(size=(4, 3) + kernel)
    b = rng.normal(size=4)
    out, _ = forward(x, W, b, padding="same")
    assert out.shape == (2, 4, 5, 6)
    top, bottom, left, right = pads
    x_padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    expected, _ = conv2d_forward_naive(x_padded, W, b)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("forward", "backward"), PAIRS, ids=PAIR_IDS)
def test_conv2d_stride_that_does_not_fit_floors_and_ignores_the_leftover_rows(forward, backward):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 2, 8, 7))
    W = rng.normal(size=(3, 2, 3, 3))
    out, cache = forward(x, W, np.zeros(3), stride=(2, 3))
    assert out.shape == (2, 3, 1 + (8 - 3) // 2, 1 + (7 - 3) // 3)    # (3, 2)
    dx, _, _ = backward(rng.normal(size=out.shape), cache)
    # windows start at rows 0, 2, 4 (last row used: 6) and columns 0, 3 (last column used: 5)
    assert np.all(dx[:, :, 7, :] == 0) and np.all(dx[:, :, :, 6] == 0)
    assert np.all(dx[:, :, 6, :6] != 0)


GRID = [
    # (N, C, H, W), (F, HH, WW), stride, padding
    ((1, 1, 5, 7), (2, 3, 3), 1, 0),
    ((2, 3, 7, 6), (3, 3, 2), 2, 1),
    ((2, 2, 6, 5), (2, 2, 4), 1, "same"),
    ((3, 1, 7, 9), (2, 5, 3), (2, 1), (2, 0)),
    ((2, 3, 4, 4), (4, 4, 4), 3, "valid"),
]


def _assert_fast_matches_naive(rng, x_shape, w_shape, stride, padding):
    """conv2d_forward/backward against the naive loops, on random x, W, b and dout."""
    x = rng.normal(size=x_shape)
    W = rng.normal(size=(w_shape[0], x_shape[1]) + w_shape[1:])
    b = rng.normal(size=w_shape[0])
    out_fast, cache_fast = conv2d_forward(x, W, b, stride, padding)
    out_naive, cache_naive = conv2d_forward_naive(x, W, b, stride, padding)
    np.testing.assert_allclose(out_fast, out_naive, rtol=0, atol=1e-12)
    dout = rng.normal(size=out_fast.shape)
    for fast, naive in zip(conv2d_backward(dout, cache_fast), conv2d_backward_naive(dout, cache_naive)):
        np.testing.assert_allclose(fast, naive, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding"), GRID)
def test_conv2d_naive_and_fast_agree_forward_and_backward(x_shape, w_shape, stride, padding):
    rng = np.random.default_rng(2)
    _assert_fast_matches_naive(rng, x_shape, w_shape, stride, padding)


GRAD_GRID = [
    ((2, 2, 5, 4), (2, 3, 2), 2, 1),
    ((1, 2, 5, 6), (2, 2, 4), 1, "same"),
    ((2, 1, 6, 5), (3, 3, 3), (2, 1), (1, 0)),
]


@pytest.mark.parametrize(("forward", "backward"), PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding"), GRAD_GRID)
def test_conv2d_gradients_match_central_differences(forward, backward, x_shape, w_shape, stride, padding):
    rng = np.random.default_rng(3)
    x = rng.normal(size=x_shape)
    W = rng.normal(size=(w_shape[0], x_shape[1]) + w_shape[1:])
    b = rng.normal(size=w_shape[0])

    def grads(x_, W_, b_, dout):
        return backward(dout, forward(x_, W_, b_, stride, padding)[1])

    results = [
        check_function(lambda x_: forward(x_, W, b, stride, padding)[0],
                       lambda x_, dout: grads(x_, W, b, dout)[0], x, rng=rng),
        check_function(lambda W_: forward(x, W_, b, stride, padding)[0],
                       lambda W_, dout: grads(x, W_, b, dout)[1], W, rng=rng),
        check_function(lambda b_: forward(x, W, b_, stride, padding)[0],
                       lambda b_, dout: grads(x, W, b_, dout)[2], b, rng=rng),
    ]
    for result in results:
        assert result.ok, str(result)


def test_conv2d_does_not_mutate_its_inputs():
    rng = np.random.default_rng(4)
    x, W, b = rng.normal(size=(2, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    copies = [a.copy() for a in (x, W, b)]
    for forward, backward in PAIRS:
        out, cache = forward(x, W, b, 1, 1)
        dout = rng.normal(size=out.shape)
        dout_copy = dout.copy()
        backward(dout, cache)
        np.testing.assert_array_equal(dout, dout_copy)
    for a, copy in zip((x, W, b), copies):
        np.testing.assert_array_equal(a, copy)


def test_conv2d_accepts_integer_arrays_and_computes_in_float64():
    x = np.arange(16).reshape(1, 1, 4, 4)
    out, _ = conv2d_forward(x, np.ones((1, 1, 2, 2), dtype=np.int64), np.zeros(1, dtype=np.int32))
    assert out.dtype == np.float64
    assert out[0, 0, 0, 0] == 0 + 1 + 4 + 5


@pytest.mark.parametrize(("forward", "name"), [(conv2d_forward, "conv2d_forward"),
                                               (conv2d_forward_naive, "conv2d_forward_naive")])
@pytest.mark.parametrize(("x_shape", "w_shape", "kwargs", "error", "message"), [
    ((2, 3, 5, 5), (4, 1, 3, 3), {}, ValueError, r"W must have shape \(F, C, HH, WW\) = \(F, 3, HH, WW\), got W.shape=\(4, 1, 3, 3\)"),
    ((2, 1, 3, 3), (4, 1, 5, 2), {}, ValueError, "kernel height 5 is larger than the padded input height 3"),
    ((2, 1, 3, 3), (4, 1, 5, 2), {"padding": 1}, None, None),
    ((2, 1, 5, 5), (4, 1, 3, 3), {"padding": "same", "stride": 2}, ValueError, "padding='same' needs stride 1"),
    ((2, 1, 5, 5), (4, 1, 3, 3), {"padding": "full"}, ValueError, "'valid' or 'same', got 'full'"),
    ((2, 1, 5, 5), (4, 1, 3, 3), {"padding": -1}, ValueError, "padding must be >= 0"),
    ((2, 1, 5, 5), (4, 1, 3, 3), {"stride": 0}, ValueError, "stride must be >= 1"),
    ((2, 1, 5, 5), (4, 1, 3, 3), {"stride": True}, TypeError, "stride must be an int or a pair"),
    ((2, 1, 5, 5), (4, 1, 3, 3), {"stride": (1, 2, 3)}, TypeError, "stride must be an int or a pair"),
    ((1, 5, 5), (4, 1, 3, 3), {}, ValueError, r"x must be 4-D \(N, C, H, W\), got x.shape=\(1, 5, 5\)"),
])
def test_conv2d_rejects_bad_arguments_with_a_clear_message(forward, name, x_shape, w_shape, kwargs, error, message):
    x, W, b = np.ones(x_shape), np.ones(w_shape), np.zeros(w_shape[0])
    if error is None:
        out, _ = forward(x, W, b, **kwargs)
        assert out.shape == (2, 4, 1, 4)
        return
    with pytest.raises(error, match=f"{name}: .*{message}" if name in message else f"^{name}: .*{message}"):
        forward(x, W, b, **kwargs)


def test_conv2d_rejects_wrong_bias_nan_input_and_wrong_dout():
    x, W = np.ones((2, 1, 4, 4)), np.ones((3, 1, 2, 2))
    with pytest.raises(ValueError, match=r"conv2d_forward: b must have shape \(F,\) = \(3,\), got b.shape=\(2,\)"):
        conv2d_forward(x, W, np.zeros(2))
    x_nan = x.copy()
    x_nan[0, 0, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"conv2d_forward: x must be finite, found nan at index \(0, 0, 1, 1\)"):
        conv2d_forward(x_nan, W, np.zeros(3))
    out, cache = conv2d_forward(x, W, np.zeros(3))
    with pytest.raises(ValueError, match=r"conv2d_backward: dout must have the shape of the last forward's output \(2, 3, 3, 3\), "
                                         r"got dout.shape=\(2, 3, 3, 2\)"):
        conv2d_backward(np.ones((2, 3, 3, 2)), cache)
    with pytest.raises(TypeError, match="conv2d_backward_naive: cache must come from conv2d_forward_naive"):
        conv2d_backward_naive(np.ones(out.shape), cache)
    assert isinstance(cache, Conv2dCache)


def test_conv2d_layer_wraps_the_pure_pair_and_stores_grads():
    rng = np.random.default_rng(5)
    layer = Conv2d(3, 4, (3, 2), stride=(1, 2), padding=(1, 0), seed=0)
    assert layer.params["W"].shape == (4, 3, 3, 2) and layer.params["b"].shape == (4,)
    layer.params["b"] = rng.normal(size=4)
    x = rng.normal(size=(2, 3, 6, 7))
    out = layer.forward(x)
    expected, cache = conv2d_forward(x, layer.params["W"], layer.params["b"], (1, 2), (1, 0))
    np.testing.assert_array_equal(out, expected)
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout)
    for got, want in zip((dx, layer.grads["W"], layer.grads["b"]), conv2d_backward(dout, cache)):
        np.testing.assert_array_equal(got, want)
    assert [p for p, _ in layer.parameters()] == [layer.params]


def test_conv2d_layer_passes_check_layer_for_x_w_and_b():
    rng = np.random.default_rng(6)
    layer = Conv2d(2, 3, (2, 3), stride=(2, 1), padding="valid", seed=1)
    layer.params["b"] = rng.normal(size=3)
    results = check_layer(layer, rng.normal(size=(2, 2, 5, 6)), rng=rng)
    assert set(results) == {"x", "W", "b"}
    for result in results.values():
        assert result.ok, str(result)


def test_conv2d_layer_is_seeded_and_initialises_with_filter_fan_in():
    a, b = Conv2d(3, 8, 3, seed=7), Conv2d(3, 8, 3, seed=7)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert not np.array_equal(a.params["W"], Conv2d(3, 8, 3, seed=8).params["W"])
    np.testing.assert_array_equal(a.params["b"], np.zeros(8))
    wide = Conv2d(16, 64, 3, seed=0).params["W"]        # fan_in = 16*3*3 = 144
    narrow = Conv2d(1, 64, 3, seed=0).params["W"]       # fan_in = 9
    assert np.std(narrow) / np.std(wide) == pytest.approx(4.0, rel=0.15)   # scale ~ 1/sqrt(fan_in)


def test_conv2d_layer_draws_from_the_given_generator_with_the_named_init_and_keeps_its_settings():
    from nnkit import init

    layer = Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1, init="xavier_normal",
                   rng=np.random.default_rng(11))
    expected = init.xavier_normal((3, 2, 3, 2), rng=np.random.default_rng(11))
    np.testing.assert_array_equal(layer.params["W"], expected)
    np.testing.assert_array_equal(Conv2d(2, 3, 3, rng=np.random.default_rng(4)).params["W"],
                                  Conv2d(2, 3, 3, seed=4).params["W"])
    assert (layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding) == \
        (2, 3, (3, 2), (2, 1), 1)
    assert layer.init == "xavier_normal"
    assert repr(layer) == "Conv2d(2, 3, kernel_size=(3, 2), stride=(2, 1), padding=1)"
    assert layer.forward(np.ones((1, 2, 5, 4))).shape == (1, 3, 3, 5)


def test_conv2d_layer_errors_name_the_layer():
    layer = Conv2d(1, 2, 3)
    with pytest.raises(RuntimeError, match=r"Conv2d.backward: called before forward"):
        layer.backward(np.ones((1, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"Conv2d.forward: x has 3 channels, the layer expects 1 \(x.shape=\(8, 3, 8, 8\)\)"):
        layer.forward(np.ones((8, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"Conv2d.forward: x must be 4-D \(N, C, H, W\), got x.shape=\(1, 8, 8\) "
                                         r"\(for one sample use x\[None\]\)"):
        layer.forward(np.ones((1, 8, 8)))
    with pytest.raises(ValueError, match="Conv2d: padding='same' needs stride 1"):
        Conv2d(1, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Conv2d: kernel_size must be >= 1"):
        Conv2d(1, 2, 0)


# ----------------------------------------------------------------------------------------------------------------
# big batches are cut into chunks on a thread pool; small test shapes go through it with the thresholds lowered
# ----------------------------------------------------------------------------------------------------------------
# ``chunked`` (three threads, tiny chunks) is in conftest.py


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding"), GRID)
def test_conv2d_fast_in_chunks_on_threads_agrees_with_naive(chunked, x_shape, w_shape, stride, padding):
    rng = np.random.default_rng(4)
    _assert_fast_matches_naive(rng, (5,) + x_shape[1:], w_shape, stride, padding)


def test_conv2d_fast_gives_the_same_bits_on_one_thread_and_on_three(chunked):
    rng = np.random.default_rng(6)
    x, W, b = rng.normal(size=(7, 3, 6, 5)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
    dout = rng.normal(size=(7, 4, 6, 5))

    def run():
        out, cache = conv2d_forward(x, W, b, 1, "same")
        return (out,) + conv2d_backward(dout, cache)

    on_three = run()
    chunked.set_num_threads(1)
    for a, b_ in zip(on_three, run()):
        np.testing.assert_array_equal(a, b_)


# ----------------------------------------------------------------------------------------------------------------
# defaults, the layer's own checks, and where the chunks' BLAS runs (each was a surviving mutant)
# ----------------------------------------------------------------------------------------------------------------
def test_conv2d_defaults_are_stride_1_and_no_padding():
    rng = np.random.default_rng(7)
    x, W, b = rng.normal(size=(2, 2, 6, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    for forward in (conv2d_forward, conv2d_forward_naive):
        out, _ = forward(x, W, b)
        np.testing.assert_array_equal(out, forward(x, W, b, stride=1, padding=0)[0])
        assert out.shape == (2, 3, 4, 3)
    layer = Conv2d(2, 3, 3, seed=0)
    assert (layer.stride, layer.padding) == ((1, 1), 0)
    assert layer.forward(x).shape == (2, 3, 4, 3)


def test_conv2d_layer_accepts_same_padding_with_stride_1():
    layer = Conv2d(1, 2, (2, 4), padding="same", seed=0)
    x = np.random.default_rng(8).normal(size=(1, 1, 5, 6))
    expected, _ = conv2d_forward_naive(x, layer.params["W"], layer.params["b"], padding="same")
    np.testing.assert_allclose(layer.forward(x), expected, rtol=0, atol=1e-12)
    assert expected.shape == (1, 2, 5, 6)


def test_conv2d_layer_checks_x_once_with_its_own_name():
    layer = Conv2d(1, 2, 3, seed=0)
    with pytest.raises(TypeError, match=r"^Conv2d.forward: x must be a numpy array, got list"):
        layer.forward(np.ones((1, 1, 4, 4)).tolist())
    with pytest.raises(ValueError, match=r"^Conv2d.forward: x must not be empty"):
        layer.forward(np.ones((0, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"^Conv2d.forward: x must be finite"):
        layer.forward(np.full((1, 1, 4, 4), np.inf))
    with pytest.raises(ValueError, match=r"^Conv2d.forward: kernel height 3 is larger than the padded input height 2"):
        layer.forward(np.ones((1, 1, 2, 4)))
    layer.forward(np.ones((2, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"^Conv2d.backward: dout must have the shape of the last forward's output "
                                         r"\(2, 2, 2, 2\)"):
        layer.backward(np.ones((2, 2, 2, 3)))


def test_conv2d_backward_names_what_it_got_instead_of_a_cache():
    with pytest.raises(TypeError, match="^conv2d_backward: cache must come from conv2d_forward, got str"):
        conv2d_backward(np.ones((1, 1, 2, 2)), "cache")
    _, cache = conv2d_forward(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.zeros(1))
    with pytest.raises(TypeError, match="^conv2d_backward_naive: cache must come from conv2d_forward_naive, "
                                        "got Conv2dCache"):
        conv2d_backward_naive(np.ones((1, 1, 2, 2)), cache)


def test_conv2d_chunks_run_their_matrix_products_with_blas_on_one_thread(chunked, monkeypatch):
    from nnkit.layers import conv

    seen = []

    def spy(work, n, size, *, blas=False, macs=0):
        seen.append((blas, macs))
        chunked.in_batch_chunks(work, n, size, blas=blas, macs=macs)

    monkeypatch.setattr(conv, "in_batch_chunks", spy)
    rng = np.random.default_rng(9)
    out, cache = conv2d_forward(rng.normal(size=(4, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), np.zeros(3))
    conv2d_backward(rng.normal(size=out.shape), cache)
    # cols is (C*HH*WW, N*H'*W') = (18, 36): F=3 multiply-adds per element forward, two products backward
    assert seen == [(True, 18 * 36 * 3), (True, 2 * 18 * 36 * 3)]


def test_conv2d_valid_padding_adds_nothing_and_errors_name_the_width_and_empty_inputs():
    rng = np.random.default_rng(10)
    x, W, b = rng.normal(size=(2, 2, 5, 6)), rng.normal(size=(3, 2, 2, 3)), rng.normal(size=3)
    for forward in (conv2d_forward, conv2d_forward_naive):
        out, _ = forward(x, W, b, padding="valid")
        assert out.shape == (2, 3, 4, 4)
        np.testing.assert_array_equal(out, forward(x, W, b, padding=0)[0])
    with pytest.raises(ValueError, match="^conv2d_forward: kernel width 7 is larger than the padded input width 6"):
        conv2d_forward(x, rng.normal(size=(3, 2, 2, 7)), b)
    with pytest.raises(ValueError, match=r"^conv2d_forward: x must not be empty"):
        conv2d_forward(np.ones((0, 2, 5, 6)), W, b)
