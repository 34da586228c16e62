"""The tolerance policy, pinned: every constant, every formula, and the decisions at their boundaries.

A change to any number in ``autograder/tolerance.py`` changes what the grader accepts, so each one is
written down here once; changing the policy means changing this file too, on purpose.
"""

import dataclasses

import numpy as np
import pytest

from autograder import tolerance
from autograder.tester import Tester


class FixedDraws:
    """A stand-in for np.random.Generator whose ``normal`` returns chosen values."""

    def __init__(self, values):
        self.values = np.asarray(values, dtype=np.float64)
        self.sizes = []

    def normal(self, size=None):
        self.sizes.append(size)
        return self.values.copy().reshape(size)


# -- the constants ---------------------------------------------------------------------------------
def test_policy_constants_have_their_documented_values():
    assert tolerance.FORWARD == tolerance.Tolerance(rtol=1e-7, atol=1e-9)
    assert tolerance.BACKWARD == tolerance.Tolerance(rtol=1e-6, atol=1e-8)
    assert tolerance.KINDS == {"forward": tolerance.FORWARD, "backward": tolerance.BACKWARD}
    assert tolerance.NUMERIC_EPS == 1e-6
    assert tolerance.NUMERIC_MAX_REL_ERROR == 1e-6
    assert tolerance.NUMERIC_FLOOR == 1e-8
    assert tolerance.NUMERIC_MAX_COORDS == 64
    assert tolerance.KINK_MARGIN == 1e-2
    assert tolerance.REPORT_FLOOR == 1e-300


def test_tolerance_is_frozen_and_keyword_named():
    tol = tolerance.Tolerance(rtol=0.5, atol=0.25)
    assert (tol.rtol, tol.atol) == (0.5, 0.25)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tol.rtol = 1.0


# -- tolerance_for ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, base", [("forward", tolerance.FORWARD), ("backward", tolerance.BACKWARD)])
def test_tolerance_for_without_overrides_is_the_policy(kind, base):
    assert tolerance.tolerance_for(kind) == base
    assert tolerance.tolerance_for(kind, None, None) == base


def test_tolerance_for_overrides_each_number_alone_and_returns_floats():
    only_rtol = tolerance.tolerance_for("forward", rtol=3)
    assert only_rtol == tolerance.Tolerance(3.0, 1e-9) and type(only_rtol.rtol) is float
    only_atol = tolerance.tolerance_for("backward", atol=2)
    assert only_atol == tolerance.Tolerance(1e-6, 2.0) and type(only_atol.atol) is float
    both = tolerance.tolerance_for("backward", 1e-3, 1e-4)
    assert both == tolerance.Tolerance(1e-3, 1e-4)
    # a zero override is an override, not "use the default"
    assert tolerance.tolerance_for("forward", rtol=0.0, atol=0.0) == tolerance.Tolerance(0.0, 0.0)


@pytest.mark.parametrize("kind", ["Forward", "grad", "", None])
def test_tolerance_for_rejects_unknown_kinds_by_name(kind):
    with pytest.raises(ValueError, match=r"tolerance_for: kind must be one of \['backward', 'forward'\]"):
        tolerance.tolerance_for(kind)


# -- normwise_rel_error ----------------------------------------------------------------------------
def test_normwise_rel_error_divides_the_max_difference_by_the_larger_norm():
    assert tolerance.normwise_rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.5])) == pytest.approx(0.5 / 2.5)
    assert tolerance.normwise_rel_error(np.array([3.0, -1.0]), np.array([1.0, -1.0])) == pytest.approx(2.0 / 3.0)
    # max of |a - n| (not the sum), sign of the entries ignored
    assert tolerance.normwise_rel_error(np.array([-4.0, 1.0, 0.0]), np.array([-4.0, 0.0, 1.0])) == \
        pytest.approx(1.0 / 4.0)


def test_normwise_rel_error_uses_the_floor_for_tiny_gradients():
    assert tolerance.normwise_rel_error(np.array([1e-9]), np.array([0.0])) == pytest.approx(1e-9 / 1e-8)
    assert tolerance.normwise_rel_error(np.array([0.0]), np.array([2e-9])) == pytest.approx(0.2)
    assert tolerance.normwise_rel_error(np.zeros(3), np.zeros(3)) == 0.0
    # just above the floor the norm takes over
    assert tolerance.normwise_rel_error(np.array([2e-8]), np.array([1e-8])) == pytest.approx(0.5)


def test_normwise_rel_error_is_symmetric_and_a_float():
    a, n = np.array([0.3, -0.7]), np.array([0.31, -0.69])
    assert tolerance.normwise_rel_error(a, n) == tolerance.normwise_rel_error(n, a)
    assert type(tolerance.normwise_rel_error(a, n)) is float


def test_normwise_rel_error_of_empty_arrays_is_zero():
    assert tolerance.normwise_rel_error(np.zeros(0), np.zeros(0)) == 0.0
    assert type(tolerance.normwise_rel_error(np.zeros(0), np.zeros(0))) is float


def test_normwise_rel_error_computes_in_float64():
    # unsigned integers would wrap around (0 - 1 = 255) without the float64 conversion
    got = tolerance.normwise_rel_error(np.array([0, 2], dtype=np.uint8), np.array([1, 2], dtype=np.uint8))
    assert got == pytest.approx(0.5)
    assert tolerance.normwise_rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0   # lists are accepted
    # abs(int8 -128) is -128 in int8: each side must be converted before its norm is taken
    lowest = np.array([-128], dtype=np.int8)
    assert tolerance.normwise_rel_error(lowest, np.array([0.0])) == 1.0
    assert tolerance.normwise_rel_error(np.array([0.0]), lowest) == 1.0


# -- report_rel_error ------------------------------------------------------------------------------
def test_report_rel_error_is_elementwise_and_symmetric():
    got, expected = np.array([1.1, 4.0, 0.0]), np.array([1.0, 5.0, 0.0])
    assert tolerance.report_rel_error(got, expected) == pytest.approx(0.2)        # 1/5, from max(|e|, |g|)
    assert tolerance.report_rel_error(expected, got) == pytest.approx(0.2)
    assert tolerance.report_rel_error(np.array([3.0]), np.array([-3.0])) == pytest.approx(2.0)
    assert tolerance.report_rel_error(np.array([1e-3]), np.array([0.0])) == pytest.approx(1.0)
    assert type(tolerance.report_rel_error(got, expected)) is float


def test_report_rel_error_skips_non_finite_entries_quietly():
    # inf - inf is NaN: no RuntimeWarning may escape (pytest turns warnings into errors)
    got = np.array([np.inf, 1.5, np.nan])
    expected = np.array([np.inf, 1.0, 1.0])
    assert tolerance.report_rel_error(got, expected) == pytest.approx(0.5 / 1.5)
    assert np.isnan(tolerance.report_rel_error(np.array([np.inf]), np.array([np.inf])))


def test_report_rel_error_floor_only_guards_zero_over_zero():
    # below the floor (subnormals) the error is measured against 1e-300; above it, against |got|
    assert tolerance.report_rel_error(np.array([0.0, 1e-310]), np.array([0.0, 0.0])) == pytest.approx(1e-10)
    assert tolerance.report_rel_error(np.array([0.0, 1e-200]), np.array([0.0, 0.0])) == pytest.approx(1.0)
    assert tolerance.report_rel_error(np.zeros(2), np.zeros(2)) == 0.0


def test_report_rel_error_handles_complex_without_dropping_the_imaginary_part():
    got = np.array([1.0 + 1.0j])
    expected = np.array([1.0 + 0.0j])
    assert tolerance.report_rel_error(got, expected) == pytest.approx(1.0 / np.sqrt(2.0))
    assert tolerance.report_rel_error(np.array([1.0]), expected) == 0.0
    assert tolerance.report_rel_error(expected, np.array([2.0])) == pytest.approx(0.5)


def test_report_rel_error_rejects_different_shapes():
    with pytest.raises(ValueError, match=r"report_rel_error: got and expected must have the same shape, "
                                         r"got \(2,\) and \(3,\)"):
        tolerance.report_rel_error(np.zeros(2), np.zeros(3))


# -- away_from_kinks -------------------------------------------------------------------------------
def test_away_from_kinks_pushes_near_draws_to_twice_the_margin_on_their_side():
    m = tolerance.KINK_MARGIN
    draws = FixedDraws([0.0, 0.5 * m, -0.5 * m, 0.999 * m, -0.999 * m, m, -m, 0.3])
    x = tolerance.away_from_kinks(draws, (8,))
    assert draws.sizes == [(8,)]
    np.testing.assert_array_equal(x, [2 * m, 2 * m, -2 * m, 2 * m, -2 * m, m, -m, 0.3])


def test_away_from_kinks_uses_each_kink_scale_and_margin():
    draws = FixedDraws([1.0, 0.52, 0.49, 2.0])
    x = tolerance.away_from_kinks(draws, (2, 2), kinks=(0.5, 4.0), scale=2.0, margin=0.1)
    # scaled first (2.0, 1.04, 0.98, 4.0); 0.98 is within 0.1 of 1.04? no: kinks are 0.5 and 4.0 only
    np.testing.assert_array_equal(x, [[2.0, 1.04], [0.98, 4.2]])
    near_half = tolerance.away_from_kinks(FixedDraws([0.26, 0.24]), (2,), kinks=(0.5,), scale=2.0, margin=0.1)
    np.testing.assert_allclose(near_half, [0.7, 0.3], rtol=0, atol=1e-15)


def test_away_from_kinks_defaults_are_zero_kink_unit_scale_policy_margin():
    x = tolerance.away_from_kinks(FixedDraws([0.005, 1.0, 0.011]), (3,))
    np.testing.assert_array_equal(x, [2 * tolerance.KINK_MARGIN, 1.0, 0.011])


def test_away_from_kinks_keeps_margin_on_real_draws():
    x = tolerance.away_from_kinks(np.random.default_rng(0), (10000,), kinks=(0.0, 1.0))
    assert np.min(np.abs(x)) >= tolerance.KINK_MARGIN and np.min(np.abs(x - 1.0)) >= tolerance.KINK_MARGIN


# -- the decisions the checks make with these numbers, at their boundaries -----------------------------
@pytest.mark.parametrize("kind", ["forward", "backward"])
@pytest.mark.parametrize("expected", [0.0, 1.0, -250.0])
def test_close_accepts_just_inside_and_rejects_just_outside_the_policy(kind, expected):
    tol = tolerance.KINDS[kind]
    bound = tol.atol + tol.rtol * abs(expected)
    t = Tester("g")
    assert t.close("inside", np.array([expected + 0.98 * bound]), np.array([expected]), kind=kind)
    assert not t.close("outside", np.array([expected + 1.02 * bound]), np.array([expected]), kind=kind)


def test_forward_is_ten_times_tighter_than_backward():
    t = Tester("g")
    got = np.array([1.0 + 5e-7])
    assert not t.close("forward", got, np.array([1.0]), kind="forward")
    assert t.close("backward", got, np.array([1.0]), kind="backward")


def test_close_overrides_reach_the_comparison():
    t = Tester("g")
    assert t.close("loose rtol", np.array([1.01]), np.array([1.0]), rtol=0.02)
    assert not t.close("tight rtol", np.array([1.01]), np.array([1.0]), rtol=0.005)
    assert t.close("loose atol", np.array([0.01]), np.array([0.0]), atol=0.02)
    assert not t.close("tight atol", np.array([0.01]), np.array([0.0]), atol=0.005)


@pytest.mark.parametrize("factor, passes", [(1 + 0.9e-6, True), (1 + 1.1e-6, False)])
def test_numeric_gradient_check_limit_is_one_in_a_million(factor, passes):
    t = Tester("g")
    x = np.array([0.3, -1.2, 2.0])
    dout = np.array([0.5, -2.0, 1.5])
    exact = dout * 2 * x
    # scale one entry so that the normwise error lands just inside / outside 1e-6 (numeric noise ~1e-10)
    analytic = exact.copy()
    worst = int(np.argmax(np.abs(exact)))
    analytic[worst] *= factor
    assert t.grad_matches_numeric("g", lambda v: v ** 2, x, dout, analytic) is passes


def test_numeric_gradient_uses_the_policy_step():
    steps = []
    x = np.array([0.7])

    def forward(v):
        steps.append(float(v[0] - x[0]))
        return v ** 2
    Tester("g").grad_matches_numeric("g", forward, x, np.array([1.0]), 2 * x)
    assert steps == pytest.approx([tolerance.NUMERIC_EPS, -tolerance.NUMERIC_EPS], rel=1e-6)
