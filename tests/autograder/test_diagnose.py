"""The diagnoses, pinned: their match tolerance, the scale factor, which factors are worth a hint, and
each decision at its boundary (recognised just inside, silent just outside)."""

import numpy as np
import pytest

from autograder import diagnose as dg
from autograder.diagnose import diagnose, describe_factor, meaningful_factors, scale_factor
from autograder.tester import Tester


def _e(shape=(4, 3), seed=0):
    return np.random.default_rng(seed).normal(size=shape)


# -- constants ---------------------------------------------------------------------------------------
def test_match_tolerance_and_factor_tolerance_are_pinned():
    assert dg.MATCH == {"rtol": 1e-6, "atol": 1e-9}
    assert dg.FACTOR_RTOL == 1e-6


@pytest.mark.parametrize("rel, matches", [(0.9e-6, True), (1.1e-6, False)])
def test_known_wrong_matches_within_rtol_only(rel, matches):
    e = _e()
    wrong = e[::-1].copy()
    got = wrong * (1 + rel)
    notes = diagnose(got, e, {"the rows in reverse order": wrong})
    assert ("this looks like the rows in reverse order" in notes) is matches


@pytest.mark.parametrize("offset, matches", [(0.9e-9, True), (1.1e-9, False)])
def test_known_wrong_matches_within_atol_at_zero(offset, matches):
    e = np.array([1.0, 2.0])
    wrong = np.array([0.0, 5.0])
    notes = diagnose(np.array([offset, 5.0]), e, {"a dropped entry": wrong})
    assert ("this looks like a dropped entry" in notes) is matches


# -- scale_factor ----------------------------------------------------------------------------------------
def test_scale_factor_is_the_least_squares_k_when_exactly_proportional():
    e = _e()
    assert scale_factor(3.5 * e, e) == pytest.approx(3.5, rel=1e-12)
    assert scale_factor(-e, e) == pytest.approx(-1.0, rel=1e-12)
    assert scale_factor(np.array(6.0), np.array(3.0)) == pytest.approx(2.0, rel=1e-12)
    assert scale_factor(np.array([2, 4]), np.array([1, 2])) == pytest.approx(2.0)   # integers are fine


def test_scale_factor_is_none_unless_proportional_within_the_match_tolerance():
    e = np.array([1.0, 2.0, 3.0])
    assert scale_factor(2 * e * (1 + np.array([0.0, 0.0, 0.9e-6])), e) is not None
    assert scale_factor(2 * e * (1 + np.array([0.0, 0.0, 1e-4])), e) is None
    assert scale_factor(e + 1.0, e) is None


def test_scale_factor_is_none_for_degenerate_inputs():
    assert scale_factor(np.zeros(0), np.zeros(0)) is None
    assert scale_factor(np.ones(3), np.zeros(3)) is None
    assert scale_factor(np.array([1.0, np.inf]), np.array([1.0, 2.0])) is None
    assert scale_factor(np.array([1.0, np.nan]), np.array([1.0, 2.0])) is None
    assert scale_factor(np.zeros(3), np.ones(3)) is None          # k = 0: nothing was computed
    assert scale_factor(np.array([1e-20, -1e-20]), np.array([1.0, 1.0])) is None   # k exactly 0


# -- which factors are worth a sentence -----------------------------------------------------------------------
def test_the_always_meaningful_factors_and_their_causes():
    table = meaningful_factors()
    assert set(table) == {-1.0, 2.0, 0.5}
    assert "sign is flipped" in table[-1.0] and "a - y" in table[-1.0]
    assert "exactly 2x" in table[2.0] and "counted twice" in table[2.0]
    assert "exactly 1/2" in table[0.5] and "+=" in table[0.5]


def test_batch_size_adds_n_and_one_over_n():
    table = meaningful_factors(batch_size=7)
    assert set(table) == {-1.0, 2.0, 0.5, 7.0, 1.0 / 7}
    assert "exactly 7x" in table[7.0] and "summed over the batch instead of averaging" in table[7.0]
    assert "N=7" in table[7.0]
    assert "exactly 1/7" in table[1.0 / 7] and "N=7 once too often" in table[1.0 / 7]
    assert set(meaningful_factors(batch_size=1)) == {-1.0, 2.0, 0.5}     # 1x is no mistake
    assert set(meaningful_factors(batch_size=None)) == {-1.0, 2.0, 0.5}


def test_check_specific_factors_add_or_override():
    table = meaningful_factors(batch_size=4, factors={4: "the 2x2 window was summed", 2: "stride ignored"})
    assert table[4.0] == "the 2x2 window was summed"
    assert table[2.0] == "stride ignored"
    assert table[0.25].startswith("your result is exactly 1/4")


@pytest.mark.parametrize("k, expected", [
    (2.0 * (1 + 0.9e-6), dg.TWICE), (2.0 * (1 + 1.1e-6), None),
    (0.5 * (1 - 0.9e-6), dg.HALF), (0.5 * (1 - 1.1e-6), None),
    (-1.0 * (1 + 0.9e-6), dg.SIGN_FLIPPED), (-1.0 * (1 + 1.1e-6), None),
    (1.06942, None), (3.0, None), (1 / 3, None), (64.0, None), (1.0, None), (-2.0, None),
])
def test_describe_factor_only_names_meaningful_factors(k, expected):
    assert describe_factor(k) == expected


def test_describe_factor_with_batch_and_custom_factors():
    assert "summed over the batch" in describe_factor(5.0 * (1 + 0.9e-6), batch_size=5)
    assert describe_factor(5.0 * (1 + 1.1e-6), batch_size=5) is None
    assert "once too often" in describe_factor(0.2, batch_size=5)
    assert describe_factor(9.0, factors={9: "the 3x3 window"}) == "the 3x3 window"
    assert describe_factor(9.0) is None


# -- diagnose: the decisions ------------------------------------------------------------------------------
def test_a_wrong_scalar_gets_no_noise_factor():
    assert diagnose(np.float64(1.06942), np.float64(1.0)) == []
    assert diagnose(np.float64(3.0), np.float64(1.0)) == []
    assert diagnose(np.float64(7.0), np.float64(1.0), batch_size=7) == [meaningful_factors(7)[7.0]]


@pytest.mark.parametrize("k, note", [(2.0, dg.TWICE), (0.5, dg.HALF), (-1.0, dg.SIGN_FLIPPED)])
def test_meaningful_factors_are_reported_for_arrays(k, note):
    e = _e()
    assert diagnose(k * e, e) == [note]


def test_factor_one_and_random_errors_say_nothing():
    e = _e()
    assert diagnose(e, e) == []
    assert diagnose(e + _e(seed=1), e) == []


def test_known_wrong_is_reported_once_and_not_when_it_equals_the_expected():
    e = _e()
    twice = 2 * e
    # the named mistake replaces the generic 2x sentence
    assert diagnose(twice, e, {"dividing by eps instead of 2 eps": twice}) == \
        ["this looks like dividing by eps instead of 2 eps"]
    # a "wrong" answer equal to the expected names nothing (the result is not wrong in that way)
    assert diagnose(e * 1.5, e, {"same as expected": e.copy(), "one and a half": e * 1.5}) == \
        ["this looks like one and a half"]
    # several matching known wrongs are all named, in order
    assert diagnose(e * 3, e, {"a": e * 3, "b": e * 3}) == ["this looks like a", "this looks like b"]


def test_known_wrong_of_non_numeric_dtype_or_other_shape_is_ignored():
    e = _e()
    assert diagnose(3 * e, e, {"text": np.array(["a"]), "shape": np.ones(5)}) == []


def test_non_numeric_results_get_no_diagnosis():
    e = _e()
    assert diagnose(np.array(["x"] * 12).reshape(4, 3), e) == []
    assert diagnose(e, np.array(["x"])) == []
    assert diagnose(np.array([None, None], dtype=object), np.ones(2)) == []


def test_non_finite_where_expected_is_finite_is_an_overflow():
    e = _e()
    bad = e.copy()
    bad[1, 2] = np.inf
    notes = diagnose(bad, e)
    assert len(notes) == 1 and "NaN/inf" in notes[0] and "subtract the row max" in notes[0]
    # NaN where the expected is NaN too is not an overflow of the student's
    both = e.copy()
    both[0, 0] = np.nan
    assert diagnose(both, both) == []


def test_overflow_note_suppresses_a_factor_note():
    e = np.array([1.0, 2.0, 3.0])
    got = -e
    got[0] = np.nan
    assert [n for n in diagnose(got, e) if "sign" in n] == []


def test_transpose_is_recognised_only_for_2d_and_only_when_values_match():
    e = _e((3, 4))
    notes = diagnose(e.T.copy(), e)
    assert notes == ["your result is the transpose of the expected (shape (4, 3) instead of (3, 4))"]
    assert diagnose(e.T * 2, e) == []
    assert diagnose(np.ones((2, 2)), np.ones((2, 2))) == []
    square = _e((3, 3))
    assert diagnose(square.T.copy(), square) == ["your result is the transpose of the expected"]
    symmetric = square + square.T
    assert diagnose(symmetric * (1 + 1e-3), symmetric) == []     # its own transpose: not a transpose mistake
    # only 2-D results are called transposes; a 3-D one with the right values is a reshape
    assert "reshape" in diagnose(np.ones((2, 3, 1)), np.ones((1, 3, 2)))[0]


def test_right_values_in_the_wrong_shape():
    e = _e((2, 3))
    notes = diagnose(e.reshape(6), e)
    assert notes == ["the values are right but the shape is (6,), expected (2, 3) (reshape before returning)"]
    assert diagnose(e.reshape(6) + 1, e) == []
    assert diagnose(np.ones(5), np.ones((2, 3))) == []
    # a (3, 2) that is the transpose is called a transpose, not a reshape
    assert "transpose" in diagnose(e.T.copy(), e)[0]
    # a (3, 2) that is only a reshape is called a reshape
    assert "reshape" in diagnose(e.reshape(3, 2), e)[0]


# -- the tester passes its context on ----------------------------------------------------------------------
def test_close_passes_batch_size_and_factors_to_the_diagnosis():
    t = Tester("g")
    e = _e((6, 2))
    t.close("batch", 6 * e, e, batch_size=6)
    assert "summed over the batch" in t.results[-1].diagnosis[0]
    t.close("window", 4 * e, e, factors={4: "you summed the 2x2 window"})
    assert t.results[-1].diagnosis == ["you summed the 2x2 window"]
    t.close("noise", 1.3 * e, e)
    assert t.results[-1].diagnosis == []


def test_numeric_check_blames_the_forward_when_the_gradient_is_the_reference():
    t = Tester("g")
    x = np.array([0.3, -1.2, 2.0, 0.7])
    true_grad = 2 * x                        # gradient of the correct mean-free loss sum(x**2)

    def summed_forward(v):                   # a forward 4x too large: summed where the mean is wanted
        return np.float64(4 * np.sum(v ** 2))
    assert not t.grad_matches_numeric("g", summed_forward, x, np.float64(1.0), true_grad, reference=true_grad,
                                      batch_size=4)
    assert len(t.results[-1].diagnosis) == 1
    assert "the forward is what is wrong" in t.results[-1].diagnosis[0]
    # without the reference, the gradient is 1/4 of the numeric one and the batch size names it
    assert not t.grad_matches_numeric("g", summed_forward, x, np.float64(1.0), true_grad, batch_size=4)
    assert "1/4" in t.results[-1].diagnosis[0]
    # a gradient that is wrong against both is blamed on itself
    assert not t.grad_matches_numeric("g", lambda v: np.float64(np.sum(v ** 2)), x, np.float64(1.0),
                                      -true_grad, reference=true_grad)
    assert t.results[-1].diagnosis == [dg.SIGN_FLIPPED]


def test_factor_tolerance_boundary_is_inclusive():
    # factor 2**-20 / FACTOR_RTOL makes |k - factor| == FACTOR_RTOL * factor exactly in floating point
    factor = 2.0 ** -20 / dg.FACTOR_RTOL
    k = factor + 2.0 ** -20
    assert abs(k - factor) == dg.FACTOR_RTOL * factor
    assert describe_factor(k, factors={factor: "on the boundary"}) == "on the boundary"


def test_a_batch_of_two_names_the_batch_not_a_generic_double():
    assert "summed over the batch" in describe_factor(2.0, batch_size=2)
    assert "N=2 once too often" in describe_factor(0.5, batch_size=2)


def test_a_known_wrong_answer_with_nan_matches_a_nan_result_and_replaces_the_overflow_note():
    e = np.array([1.0, 2.0, 3.0])
    wrong = np.array([np.nan, 2.0, np.inf])
    notes = diagnose(wrong.copy(), e, {"dividing by 1 - beta**0 = 0": wrong})
    assert notes == ["this looks like dividing by 1 - beta**0 = 0"]
    # NaN where the known wrong answer is finite is not that mistake
    assert "this looks like dividing by 1 - beta**0 = 0" not in diagnose(np.array([np.nan, 2.0, 3.0]), e,
                                                                        {"dividing by 1 - beta**0 = 0": e * 0})
