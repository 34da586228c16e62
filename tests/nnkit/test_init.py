"""Initialisers: moments against their formulas, bounds, fans, seeding, lookup.

The moment checks use the known mean 0: the sample second moment m2 = mean(x**2)
estimates the variance with standard error sqrt(Var(x**2) / n), where
Var(x**2) = 2 sigma**4 for a normal and 4 a**4 / 45 for U(-a, a). Each check
allows 5 standard errors, a test that a wrong gain or fan (a factor of 2 or
more in the variance, or fan_in + fan_out instead of fan_in) fails by hundreds
of standard errors.
"""

import math

import numpy as np
import pytest

from nnkit import init

DENSE = (300, 700)  # D, M: fan_in 300, fan_out 700
CONV = (128, 12, 5, 7)  # F, C, HH, WW: fan_in 420, fan_out 4480
SHAPES = {"dense": (DENSE, 300, 700), "conv": (CONV, 12 * 35, 128 * 35)}

# name -> (distribution, variance as a function of fans)
EXPECTED = {
    "small_normal": ("normal", lambda fi, fo: 0.01**2),
    "xavier_uniform": ("uniform", lambda fi, fo: 2.0 / (fi + fo)),
    "xavier_normal": ("normal", lambda fi, fo: 2.0 / (fi + fo)),
    "he_uniform": ("uniform", lambda fi, fo: 2.0 / fi),
    "he_normal": ("normal", lambda fi, fo: 2.0 / fi),
    "kaiming_normal": ("normal", lambda fi, fo: 2.0 / fi),
    "kaiming_uniform": ("uniform", lambda fi, fo: 1.0 / (3.0 * fi)),  # bound 1/sqrt(fan_in)
}


def check_moments(x, distribution, variance):
    x = x.ravel()
    n = x.size
    m2 = float(np.mean(x**2))
    var_of_square = 2 * variance**2 if distribution == "normal" else 4 * (3 * variance) ** 2 / 45
    assert abs(m2 - variance) <= 5 * math.sqrt(var_of_square / n), (m2, variance)
    assert abs(float(np.mean(x))) <= 5 * math.sqrt(variance / n)
    kurtosis = float(np.mean(x**4)) / m2**2  # 3 for a normal, 9/5 for a uniform: tells the two apart
    assert abs(kurtosis - (3.0 if distribution == "normal" else 1.8)) <= 5 * kurtosis_standard_error(distribution, n)


def kurtosis_standard_error(distribution, n):
    """Delta-method standard error of m4 / m2**2, from the moments mu2..mu8 of the standardised law."""
    if distribution == "normal":
        mu2, mu4, mu6, mu8 = 1.0, 3.0, 15.0, 105.0
    else:  # U(-1, 1)
        mu2, mu4, mu6, mu8 = 1 / 3, 1 / 5, 1 / 7, 1 / 9
    var = ((mu8 - mu4**2) / mu2**4 - 4 * mu4 * (mu6 - mu2 * mu4) / mu2**5
           + 4 * mu4**2 * (mu4 - mu2**2) / mu2**6)
    return math.sqrt(var / n)


@pytest.mark.parametrize("layout", list(SHAPES))
@pytest.mark.parametrize("name", list(EXPECTED))
def test_sample_moments_match_the_formula(name, layout):
    shape, fan_in, fan_out = SHAPES[layout]
    distribution, variance = EXPECTED[name]
    x = init.get(name)(shape, seed=11)
    assert x.shape == shape and x.dtype == np.float64
    check_moments(x, distribution, variance(fan_in, fan_out))


@pytest.mark.parametrize("layout", list(SHAPES))
@pytest.mark.parametrize("name", [n for n, (dist, _) in EXPECTED.items() if dist == "uniform"])
def test_uniform_initialisers_stay_inside_and_reach_their_bound(name, layout):
    shape, fan_in, fan_out = SHAPES[layout]
    bound = math.sqrt(3 * EXPECTED[name][1](fan_in, fan_out))
    x = init.get(name)(shape, seed=3)
    assert float(np.max(np.abs(x))) <= bound
    assert float(np.max(x)) > 0.999 * bound and float(np.min(x)) < -0.999 * bound


def test_fans_of_dense_and_conv_shapes():
    assert init.compute_fans((5, 3)) == (5, 3)
    assert init.compute_fans((8, 3, 5, 2)) == (30, 80)


def test_fans_of_dense_weights_are_torch_fans_of_the_transposed_weight(torch):
    """nnkit's W (D, M) is nn.Linear's weight (M, D) transposed; conv layouts agree."""
    fans = torch.nn.init._calculate_fan_in_and_fan_out
    assert init.compute_fans((5, 3)) == fans(torch.empty(3, 5))
    assert init.compute_fans((8, 3, 5, 2)) == fans(torch.empty(8, 3, 5, 2))


@pytest.mark.parametrize(("ours", "theirs"), [
    (lambda s: init.kaiming_uniform(s, seed=0), lambda t, w: t.nn.init.kaiming_uniform_(w, a=math.sqrt(5))),
    (lambda s: init.he_uniform(s, seed=0), lambda t, w: t.nn.init.kaiming_uniform_(w, nonlinearity="relu")),
    (lambda s: init.xavier_uniform(s, gain=5 / 3, seed=0), lambda t, w: t.nn.init.xavier_uniform_(w, gain=5 / 3)),
    (lambda s: init.kaiming_uniform(s, a=0.2, mode="fan_out", seed=0),
     lambda t, w: t.nn.init.kaiming_uniform_(w, a=0.2, mode="fan_out")),
])
def test_uniform_bounds_agree_with_torch_on_the_transposed_layout(torch, ours, theirs):
    torch.manual_seed(0)
    D, M = 200, 150
    mine = ours((D, M))
    ref = theirs(torch, torch.empty(M, D)).numpy()
    # The largest of 30000 uniform draws lies within 0.1% of the bound; different bounds differ by far more.
    assert np.max(np.abs(mine)) == pytest.approx(np.max(np.abs(ref)), rel=2e-3)


def test_default_kaiming_uniform_is_torch_linear_default(torch):
    torch.manual_seed(0)
    weight = torch.nn.Linear(80, 300).weight.detach().numpy()  # (M, D)
    W = init.get("kaiming_uniform")((80, 300), seed=0)
    assert np.max(np.abs(W)) <= 1 / math.sqrt(80)
    assert np.max(np.abs(W)) == pytest.approx(np.max(np.abs(weight)), rel=2e-3)


@pytest.mark.parametrize("nonlinearity", ["linear", "sigmoid", "tanh", "relu", "selu", "conv2d"])
def test_calculate_gain_matches_torch(torch, nonlinearity):
    assert init.calculate_gain(nonlinearity) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity), rel=1e-15)


@pytest.mark.parametrize("slope", [None, 0.0, 0.2, math.sqrt(5)])
def test_leaky_relu_gain_matches_torch(torch, slope):
    assert init.calculate_gain("leaky_relu", slope) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", slope), rel=1e-15)


def test_gain_and_mode_change_the_spread():
    base = init.xavier_normal(DENSE, seed=1)
    check_moments(init.xavier_normal(DENSE, gain=5 / 3, seed=1), "normal", (5 / 3) ** 2 * 2 / 1000)
    np.testing.assert_allclose(init.xavier_normal(DENSE, gain=2.0, seed=1), 2 * base, rtol=1e-15)
    check_moments(init.kaiming_normal(DENSE, mode="fan_out", seed=2), "normal", 2.0 / 700)
    check_moments(init.kaiming_normal(DENSE, nonlinearity="tanh", seed=2), "normal", (5 / 3) ** 2 / 300)
    check_moments(init.small_normal(DENSE, std=0.1, seed=2), "normal", 0.01)


@pytest.mark.parametrize("name", init.names())
def test_each_initialiser_is_deterministic_per_seed_and_uses_no_global_state(name):
    fn = init.get(name)
    state = np.random.get_state()[1].copy()
    a = fn((6, 4, 3, 3), seed=5)
    np.testing.assert_array_equal(a, fn((6, 4, 3, 3), seed=5))
    np.testing.assert_array_equal(a, fn((6, 4, 3, 3), rng=np.random.default_rng(5)))
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    if name != "zeros":
        assert not np.array_equal(a, fn((6, 4, 3, 3), seed=6))


def test_a_shared_rng_advances_between_calls():
    rng = np.random.default_rng(0)
    first, second = init.he_normal((4, 3), rng=rng), init.he_normal((4, 3), rng=rng)
    assert not np.array_equal(first, second)


def test_zeros_is_zeros_for_biases():
    np.testing.assert_array_equal(init.zeros((3,)), np.zeros(3))
    np.testing.assert_array_equal(init.get("zeros")(5, seed=0), np.zeros(5))


def test_get_binds_keyword_arguments():
    np.testing.assert_array_equal(init.get("xavier_uniform", gain=2.0)((5, 4), seed=0),
                                  init.xavier_uniform((5, 4), gain=2.0, seed=0))
    assert init.get("glorot_normal") is init.xavier_normal


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"nnkit.init.get: unknown initialiser 'he_uniformm'; known: .*he_uniform"):
        init.get("he_uniformm")


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: init.he_normal((5,), seed=0), ValueError, r"compute_fans: fans need a weight of at least 2 dim.*\(5,\)"),
    (lambda: init.xavier_uniform((0, 3), seed=0), ValueError, r"zero fan \(fan_in=0, fan_out=3\)"),
    (lambda: init.xavier_uniform((2.5, 3), seed=0), ValueError, r"shape must be a tuple of non-negative ints"),
    (lambda: init.he_normal((4, 3), seed=0, rng=np.random.default_rng(0)), ValueError, r"pass seed or rng, not both"),
    (lambda: init.he_normal((4, 3), rng=0), TypeError, r"rng must be a numpy.random.Generator, got int"),
    (lambda: init.he_normal((4, 3), seed=1.5), TypeError, r"seed must be an int, got float 1.5"),
    (lambda: init.kaiming_normal((4, 3), mode="fan_avg"), ValueError, r"mode must be 'fan_in' or 'fan_out'"),
    (lambda: init.kaiming_normal((4, 3), nonlinearity="swish"), ValueError, r"unknown nonlinearity 'swish'"),
    (lambda: init.small_normal((4, 3), std=-0.01), ValueError, r"small_normal: std must be a finite number > 0, got -0.01"),
    (lambda: init.xavier_normal((4, 3), gain=0), ValueError, r"xavier_normal: gain must be a finite number > 0, got 0"),
])
def test_bad_arguments_raise_naming_the_function(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("name", [n for n in init.names() if n != "zeros"])
def test_without_seed_or_rng_draws_fresh_entropy_not_the_global_state(name):
    saved = np.random.get_state()
    try:
        np.random.seed(0)
        first = init.get(name)((5, 4))
        np.random.seed(0)
        state = np.random.get_state()[1].copy()
        second = init.get(name)((5, 4))
        np.testing.assert_array_equal(np.random.get_state()[1], state)
    finally:
        np.random.set_state(saved)
    assert not np.array_equal(first, second)  # seeded from the global state, the two would be equal
