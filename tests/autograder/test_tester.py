import numpy as np
import pytest

from autograder import tolerance
from autograder.diagnose import diagnose
from autograder.tester import Tester, seed_for


def test_close_passes_within_policy_and_fails_beyond():
    t = Tester("g")
    x = np.linspace(-1, 1, 6)
    assert t.close("same", x * (1 + 1e-12), x)
    assert not t.close("off", x + 1e-5, x)
    assert [r.passed for r in t.results] == [True, False]
    assert "first mismatch at index" in "\n".join(t.results[1].details)


def test_close_rejects_wrong_shape_dtype_and_non_arrays():
    t = Tester("g")
    x = np.ones((2, 3))
    assert not t.close("shape", np.ones(6), x)
    assert not t.close("float32", x.astype(np.float32), x)
    assert not t.close("int", np.ones((2, 3), dtype=int), x)
    assert not t.close("list", [[1.0] * 3] * 2, x)
    assert not t.close("none", None, x)
    assert "did you forget `return`" in t.results[-1].details[0]
    assert "reshape" in " ".join(t.results[0].diagnosis)


def test_close_accepts_python_scalar_for_scalar_expected():
    t = Tester("g")
    assert t.close("scalar", 0.5, 0.5)
    assert not t.close("scalar", 0.6, 0.5)


@pytest.mark.parametrize("factor, phrase", [(2.0, "exactly 2x"), (0.5, "1/2"), (-1.0, "sign is flipped"),
                                            (8.0, "averaging")])
def test_scale_diagnoses(factor, phrase):
    expected = np.random.default_rng(0).normal(size=(8, 3))
    notes = diagnose(factor * expected, expected, batch_size=8)
    assert any(phrase in n for n in notes), notes


def test_transpose_nan_and_known_wrong_diagnoses():
    rng = np.random.default_rng(1)
    e = rng.normal(size=(3, 4))
    assert any("transpose" in n for n in diagnose(e.T, e))
    bad = e.copy(); bad[0, 0] = np.nan
    assert any("overflow" in n for n in diagnose(bad, e))
    wrong = e[:, ::-1].copy()
    assert diagnose(wrong, e, {"convolution with a flipped kernel": wrong}) == \
        ["this looks like convolution with a flipped kernel"]
    assert diagnose(e + rng.normal(size=e.shape), e) == []


def test_numeric_gradient_check_catches_wrong_backward():
    t = Tester("g")
    x = t.away_from_kinks((4, 3))
    dout = t.rng.normal(size=(4, 3))
    forward = lambda v: np.tanh(v)
    good = dout * (1 - np.tanh(x) ** 2)
    assert t.grad_matches_numeric("right", forward, x, dout, good)
    assert not t.grad_matches_numeric("2x", forward, x, dout, 2 * good)
    assert any("exactly 2x" in n for n in t.results[-1].diagnosis)


def test_numeric_gradient_samples_large_inputs():
    t = Tester("g")
    x = t.rng.normal(size=(20, 20))
    calls = []

    def forward(v):
        calls.append(1)
        return v ** 2
    assert t.grad_matches_numeric("sampled", forward, x, np.ones_like(x) * 0.5, x)
    assert len(calls) == 2 * tolerance.NUMERIC_MAX_COORDS


def test_away_from_kinks_keeps_margin():
    x = tolerance.away_from_kinks(np.random.default_rng(0), (10000,), kinks=(0.0, 1.0))
    assert np.min(np.abs(x)) >= tolerance.KINK_MARGIN and np.min(np.abs(x - 1.0)) >= tolerance.KINK_MARGIN


def test_hidden_seed_depends_on_secret_visible_does_not():
    assert seed_for("g", "visible", "c", "a") == seed_for("g", "visible", "c", "b")
    assert seed_for("g", "hidden", "c", "a") != seed_for("g", "hidden", "c", "b")
    assert seed_for("g", "hidden", "c", "a") != seed_for("g", "visible", "c", "a")
    assert Tester("g", hidden=True, secret="s").rng.random() == Tester("g", hidden=True, secret="s").rng.random()


def test_equal_true_and_score_fraction():
    t = Tester("g")
    assert t.equal("int", 3, 3) and not t.equal("bool vs int", True, 1)
    assert t.equal("numpy int", np.int64(3), 3) and not t.equal("float vs int", 3.0, 3)
    assert t.equal("list", [np.int64(1), 0], [1, 0]) and not t.equal("tuple vs list", (1, 0), [1, 0])
    assert not t.true("np false", np.bool_(False)) and t.true("np true", np.bool_(True))
    assert not t.true("truthy non-bool", 1)
    t.score_fraction("acc", 0.25)
    assert t.results[-1].credit == 0.25
    t.score_fraction("nan", float("nan"))
    assert t.results[-1].credit == 0.0


def _summary(t):
    return t.results[-1].details[0]


def test_mismatch_relative_error_is_sensible_when_expected_is_zero():
    t = Tester("g")
    assert not t.close("zeros", np.array([0.0, 0.0, 1e-3]), np.zeros(3))
    assert "max abs error 0.001, max rel error 1\n" in _summary(t) + "\n"      # not 1e+300
    assert not t.close("scalar zero", np.float64(2.0), np.array(0.0))
    assert "max rel error 1\n" in _summary(t) + "\n"
    # relative to max(|expected|, |got|), over the mismatching entries only (the 1e-10 at a 0 passes)
    assert not t.close("ten percent", np.array([1e-10, 2.2]), np.array([0.0, 2.0]))
    assert "max rel error 0.0909\n" in _summary(t) + "\n"
    assert not t.close("sign", np.array([-3.0]), np.array([3.0]))
    assert "max rel error 2\n" in _summary(t) + "\n"


def test_report_rel_error_matches_its_documented_formula():
    rng = np.random.default_rng(0)
    got, expected = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    expected[0, 0] = 0.0
    want = np.max(np.abs(got - expected) / np.maximum(np.abs(expected), np.abs(got)))
    assert tolerance.report_rel_error(got, expected) == pytest.approx(want, rel=1e-15)
    assert tolerance.report_rel_error(np.zeros(2), np.zeros(2)) == 0.0
    assert np.isnan(tolerance.report_rel_error(np.array([np.nan]), np.array([1.0])))
    with pytest.raises(ValueError, match="report_rel_error"):
        tolerance.report_rel_error(np.zeros(2), np.zeros(3))


def test_mismatch_shows_plain_values_not_numpy_reprs():
    t = Tester("g")
    t.close("heaviside", np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0]))
    details = "\n".join(t.results[0].details)
    assert "first mismatch at index (1,): expected 0.0, got 1.0" in details
    assert "np.float64" not in details


def test_unpack_accepts_n_values_and_records_a_failure_otherwise():
    t = Tester("g")
    assert t.unpack("pair", [1, 2], 2) == (1, 2)
    assert t.unpack("pair", (1, 2, 3), 2) is None
    assert t.unpack("pair", 5.0, 2) is None
    assert [r.passed for r in t.results] == [False, False]
    assert "expected a tuple of 2 values, got a tuple of length 3" in t.results[0].details
    assert "got a float" in t.results[1].details[0]


def test_watch_calls_fails_a_check_whose_call_changed_its_input():
    from autograder.handle import LocalHandle
    from autograder.tester import MUTATED_INPUT_HINT, watch_calls

    def sgd_step(w, g, lr):
        w -= lr * g
        return w

    @watch_calls()
    def step_matches(ns, t):
        w, g = np.ones(2), np.ones(2)
        t.close("value", ns.call("sgd_step", w, g, 0.5), w - 0.5 * g)

    assert step_matches.__name__ == "step_matches"       # the seed follows the name
    t = Tester("g")
    ns = LocalHandle({"sgd_step": sgd_step, "pure": lambda w, g, lr: w - lr * g})
    ns.call("sgd_step", np.ones(1), np.ones(1), 1.0)     # before the check: not its business
    step_matches(ns, t)
    assert [r.passed for r in t.results] == [True, False]
    assert t.results[1].what == "`sgd_step` leaves its inputs unchanged"
    assert t.results[1].details == ["`sgd_step` changed its argument `w` in place"]
    assert t.results[1].diagnosis == [MUTATED_INPUT_HINT] and "w -= lr * g" in MUTATED_INPUT_HINT

    t2 = Tester("g")
    watch_calls()(lambda ns, t: t.close("pure", ns.call("pure", np.ones(2), np.ones(2), 0.5), np.full(2, 0.5)))(
        ns, t2)
    assert [r.passed for r in t2.results] == [True]      # nothing recorded for clean calls


def test_watch_calls_warnings_only_when_asked():
    from autograder.handle import LocalHandle
    from autograder.tester import watch_calls

    def check(ns, t):
        t.close("values", ns.call("sigmoid", np.array([-1000.0])), np.array([0.0]))
    ns = LocalHandle({"sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))})
    quiet, loud = Tester("g"), Tester("g")
    watch_calls()(check)(ns, quiet)
    watch_calls(warnings=True)(check)(ns, loud)
    assert [r.passed for r in quiet.results] == [True]
    assert [r.passed for r in loud.results] == [True, False]
    assert "overflow encountered in exp" in loud.results[1].details[0]
    assert "np.exp(-np.abs(z))" in loud.results[1].diagnosis[0]


def test_a_gradient_check_through_a_handle_batches_its_evaluations_and_scores_the_same():
    from tests.autograder.test_handle import CountingHandle

    def run(batched: bool):
        ns = CountingHandle({"tanh": np.tanh})
        t = Tester("g")
        x = t.away_from_kinks((3, 4))
        dout = t.rng.normal(size=(3, 4))
        good = dout * (1 - np.tanh(x) ** 2)
        forward = (lambda v: ns.call("tanh", v)) if batched else (lambda v: np.tanh(v))
        t.grad_matches_numeric("right", forward, x, dout, good)
        t.grad_matches_numeric("2x", forward, x, dout, 2 * good)
        return [s.to_dict(True) for s in t.results], ns.requests

    batched, requests = run(True)
    assert requests == ["call", "call", "call_many"] * 2         # 24 evaluations each, in 3 requests
    assert batched == run(False)[0] and [s["passed"] for s in batched] == [True, False]
