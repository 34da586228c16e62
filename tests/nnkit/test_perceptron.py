"""Tests for nnkit.perceptron: TLUs, the perceptron rule and the delta rule."""

import numpy as np
import pytest

from nnkit.perceptron import (
    add_bias,
    delta_rule,
    perceptron_step,
    tlu_predict,
    train_perceptron,
)

# Truth tables in counting order (x1, x2) = 00, 01, 10, 11.
X2 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
TABLES = {
    "AND": np.array([0.0, 0.0, 0.0, 1.0]),
    "OR": np.array([0.0, 1.0, 1.0, 1.0]),
    "NAND": np.array([1.0, 1.0, 1.0, 0.0]),
    "XOR": np.array([0.0, 1.0, 1.0, 0.0]),
}


def blobs(n_per_class, centers, std, seed):
    """Seeded Gaussian blobs, shuffled: X (N, 2) float64, y (N,) int class indices."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(c, std, size=(n_per_class, 2)) for c in centers])
    y = np.repeat(np.arange(len(centers)), n_per_class)
    perm = rng.permutation(len(y))
    return X[perm], y[perm]


# --- TLUs and one step -------------------------------------------------------------------

def test_add_bias_puts_ones_in_column_zero_without_touching_input():
    X = np.array([[2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    before = X.copy()
    Xb = add_bias(X)
    np.testing.assert_array_equal(Xb, [[1, 2, 3], [1, 4, 5], [1, 6, 7]])
    np.testing.assert_array_equal(X, before)


def test_tlu_predict_maps_zero_preactivation_to_lower_level():
    theta = np.array([[0.0, 0.0], [1.0, -1.0]])  # (D+1, K) = (2, 2)
    X = np.array([[-1.0], [0.0], [2.0]])
    np.testing.assert_array_equal(tlu_predict(theta, X), [[0, 1], [0, 0], [1, 0]])
    np.testing.assert_array_equal(tlu_predict(theta, X, activation="sign"), [[-1, 1], [-1, -1], [1, -1]])


def test_perceptron_step_reproduces_seeds_cat_dog_example():
    # Two TLUs (cat, dog), all weights 1, x = (x0, x1, x2) = (1, 0.5, 1), y = (1, 0), eta = 0.1.
    theta = np.ones((3, 2))
    new = perceptron_step(theta, np.array([0.5, 1.0]), np.array([1.0, 0.0]), lr=0.1)
    np.testing.assert_array_equal(new[:, 0], [1.0, 1.0, 1.0])  # a1 = h(2.5) = 1 = y1: unchanged
    np.testing.assert_array_equal(new[:, 1], [0.9, 0.95, 0.9])  # a2 = 1 != y2 = 0
    np.testing.assert_array_equal(theta, np.ones((3, 2)))  # never mutates theta


def test_perceptron_step_with_sign_moves_weights_by_two_lr():
    theta = np.zeros((3, 1))  # z = 0 -> sign = -1, target +1 is a mistake
    new = perceptron_step(theta, np.array([2.0, -1.0]), np.array([1.0]), lr=0.5, activation="sign")
    np.testing.assert_array_equal(new[:, 0], [1.0, 2.0, -1.0])


def test_perceptron_step_leaves_theta_unchanged_when_all_units_are_right():
    theta = np.array([[-1.0, 1.0], [2.0, -2.0]])
    new = perceptron_step(theta, np.array([1.0]), np.array([1.0, 0.0]), lr=0.3)
    np.testing.assert_array_equal(new, theta)
    assert new is not theta


# --- training ------------------------------------------------------------------------------

def test_train_perceptron_and_matches_hand_trace():
    # lr = 1 keeps every weight an integer, so the trace below is exact. Zero start, data order:
    # epoch 1: only (1,1) is wrong -> (1,1,1); epoch 2: (0,0), (0,1), (1,1) wrong -> (0,2,1);
    # epoch 3: (0,1), (1,0), (1,1) -> (-1,2,1); epoch 4: (1,0), (1,1) -> (-1,2,2);
    # epoch 5: (0,1) -> (-2,2,1); epoch 6: no mistake.
    result = train_perceptron(X2, TABLES["AND"], lr=1.0)
    assert result.converged
    assert result.epochs == 6
    assert result.mistakes_per_epoch == [1, 3, 3, 2, 1, 0]
    np.testing.assert_array_equal(result.theta, [[-2.0], [2.0], [1.0]])


@pytest.mark.parametrize("name", ["AND", "OR", "NAND"])
def test_train_perceptron_converges_on_separable_gates_within_ten_epochs(name):
    result = train_perceptron(X2, TABLES[name], lr=0.1, max_epochs=10)
    assert result.converged, result.mistakes_per_epoch
    assert result.epochs <= 10
    assert result.mistakes_per_epoch[-1] == 0
    np.testing.assert_array_equal(result.predict(X2)[:, 0], TABLES[name])


def test_train_perceptron_on_xor_reports_no_convergence_after_max_epochs():
    result = train_perceptron(X2, TABLES["XOR"], lr=0.1, max_epochs=40)
    assert not result.converged
    assert result.epochs == 40
    assert len(result.mistakes_per_epoch) == 40
    assert min(result.mistakes_per_epoch) >= 1


def test_train_perceptron_equals_repeated_perceptron_step_in_data_order():
    X, y = blobs(15, [(-1.0, 0.0), (1.0, 0.5)], 0.8, seed=11)
    Y = np.eye(2)[y]
    theta0 = np.random.default_rng(0).normal(size=(3, 2))
    result = train_perceptron(X, Y, lr=0.05, max_epochs=3, theta0=theta0)
    theta = theta0.copy()
    for _ in range(result.epochs):
        for i in range(len(X)):
            theta = perceptron_step(theta, X[i], Y[i], lr=0.05)
    np.testing.assert_allclose(result.theta, theta, rtol=0, atol=1e-14)


def test_train_perceptron_shuffle_draws_one_permutation_per_epoch_from_seed():
    X, y = blobs(20, [(-1.0, -1.0), (1.0, 1.0)], 0.9, seed=5)
    result = train_perceptron(X, y, lr=0.1, max_epochs=4, shuffle=True, seed=123)
    rng = np.random.default_rng(123)
    theta = np.zeros((3, 1))
    for _ in range(result.epochs):
        for i in rng.permutation(len(X)):
            theta = perceptron_step(theta, X[i], y[i:i + 1], lr=0.1)
    np.testing.assert_allclose(result.theta, theta, rtol=0, atol=1e-14)
    again = train_perceptron(X, y, lr=0.1, max_epochs=4, shuffle=True, seed=np.random.default_rng(123))
    np.testing.assert_array_equal(again.theta, result.theta)
    in_order = train_perceptron(X, y, lr=0.1, max_epochs=4)
    assert not np.array_equal(in_order.theta, result.theta)


def test_train_perceptron_shuffle_without_seed_is_an_error():
    with pytest.raises(ValueError, match="train_perceptron: shuffle=True needs a seed"):
        train_perceptron(X2, TABLES["AND"], shuffle=True)


def test_train_perceptron_does_not_modify_inputs():
    X, y, theta0 = X2.copy(), TABLES["OR"].copy(), np.full((3, 1), 0.5)
    train_perceptron(X, y, theta0=theta0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, TABLES["OR"])
    np.testing.assert_array_equal(theta0, np.full((3, 1), 0.5))


# --- comparison with scikit-learn ------------------------------------------------------

def _sklearn_perceptron(lr, max_epochs):
    from sklearn.linear_model import Perceptron
    return Perceptron(penalty=None, eta0=lr, fit_intercept=True, shuffle=False, tol=None, max_iter=max_epochs)


def test_sklearn_perceptron_matches_exactly_when_no_example_lands_on_z_zero():
    """scikit-learn's Perceptron and ours make the same updates except at z = 0.

    sklearn maps the labels to t = -1/+1 and updates ``w += eta0 * t * x`` whenever
    ``t * z <= 0``. Ours, with 0/1 targets and heaviside(0) = 0, updates
    ``w += eta * (y - a) * x``, which is ``+eta * x`` when (y=1, z <= 0) and
    ``-eta * x`` when (y=0, z > 0). The two rules agree on every example except a
    negative example with z exactly 0: sklearn counts it a mistake, ours does not
    (our class-0 side of the step includes 0). No convention on our side can match
    this, because a heaviside-style step must put z = 0 on one side and sklearn
    treats it as wrong for both classes.

    With a random (continuous) starting point no example ever has z exactly 0, so
    the whole trajectory, the epoch count and the final weights agree exactly, for
    one unit and for K units (sklearn trains one-vs-rest units independently; ours
    updates all units on each example, and a unit that is right is not changed).
    """
    X, y = blobs(30, [(-1.5, -0.5), (1.5, 0.8)], 0.7, seed=2)
    theta0 = np.random.default_rng(7).normal(size=(3, 1))
    ours = train_perceptron(X, y, lr=0.1, max_epochs=200, theta0=theta0)
    sk = _sklearn_perceptron(0.1, 200).fit(X, y, coef_init=theta0[1:, 0][None, :].copy(),
                                           intercept_init=theta0[0].copy())
    assert ours.converged and ours.epochs > 2
    np.testing.assert_array_equal(ours.theta[0], sk.intercept_)
    np.testing.assert_array_equal(ours.theta[1:, 0], sk.coef_[0])

    X3, y3 = blobs(20, [(-3.0, 0.0), (0.0, 3.0), (3.0, 0.0)], 0.5, seed=4)
    theta0 = np.random.default_rng(8).normal(size=(3, 3))
    ours3 = train_perceptron(X3, np.eye(3)[y3], lr=0.1, max_epochs=200, theta0=theta0)
    sk3 = _sklearn_perceptron(0.1, 200).fit(X3, y3, coef_init=theta0[1:].T.copy(), intercept_init=theta0[0].copy())
    assert ours3.converged
    np.testing.assert_array_equal(ours3.theta[0], sk3.intercept_)
    np.testing.assert_array_equal(ours3.theta[1:], sk3.coef_.T)


def test_sklearn_perceptron_from_zero_differs_only_by_the_tie_at_z_zero():
    """From zero weights the first example has z = 0 exactly.

    If it is a positive example both implementations update by +eta * x and then
    agree exactly. If it is negative, sklearn updates by -eta * x_tilde_1 and ours
    does not; starting ours from theta0 = -eta * x_tilde_1 reproduces sklearn
    exactly (example 1 then has z < 0, so ours leaves it alone, as sklearn did after
    its update). Both end separating the training data, so predictions on it agree.
    """
    X, y = blobs(40, [(-2.0, -1.0), (2.0, 1.5)], 0.8, seed=3)
    pos_first = np.argsort(y != 1, kind="stable")[[0]]
    order = np.r_[pos_first, np.delete(np.arange(len(y)), pos_first)]
    Xp, yp = X[order], y[order]
    ours = train_perceptron(Xp, yp, lr=0.1, max_epochs=100)
    sk = _sklearn_perceptron(0.1, 100).fit(Xp, yp)
    np.testing.assert_array_equal(ours.theta[:, 0], np.r_[sk.intercept_, sk.coef_[0]])

    neg_first = np.argsort(y != 0, kind="stable")[[0]]
    order = np.r_[neg_first, np.delete(np.arange(len(y)), neg_first)]
    Xn, yn = X[order], y[order]
    sk = _sklearn_perceptron(0.1, 100).fit(Xn, yn)
    plain = train_perceptron(Xn, yn, lr=0.1, max_epochs=100)
    assert not np.array_equal(plain.theta[:, 0], np.r_[sk.intercept_, sk.coef_[0]])
    shifted = train_perceptron(Xn, yn, lr=0.1, max_epochs=100, theta0=-0.1 * add_bias(Xn[:1]).T)
    np.testing.assert_array_equal(shifted.theta[:, 0], np.r_[sk.intercept_, sk.coef_[0]])
    assert plain.converged
    np.testing.assert_array_equal(plain.predict(Xn)[:, 0], sk.predict(Xn))
    np.testing.assert_array_equal(plain.predict(Xn)[:, 0], yn)


def test_sign_activation_matches_sklearn_with_doubled_eta():
    # With targets -1/+1, a sign-unit mistake moves theta by 2 * lr * t * x: sklearn's eta0 = 2 * lr.
    X, y = blobs(25, [(-1.0, 1.0), (1.0, -1.0)], 0.7, seed=9)
    t = np.where(y == 1, 1.0, -1.0)
    theta0 = np.random.default_rng(1).normal(size=(3, 1))
    ours = train_perceptron(X, t, lr=0.25, max_epochs=100, theta0=theta0, activation="sign")
    sk = _sklearn_perceptron(0.5, 100).fit(X, t, coef_init=theta0[1:, 0][None, :].copy(),
                                           intercept_init=theta0[0].copy())
    np.testing.assert_array_equal(ours.theta[:, 0], np.r_[sk.intercept_, sk.coef_[0]])


# --- input validation --------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(y=np.array([0.0, 1.0, 2.0, 1.0])), r"targets must be 0 or 1, got y\[2, 0\] = 2"),
    (dict(y=np.array([0.0, 1.0, 1.0])), r"y must have shape \(N,\) = \(4,\) or \(N, K\) = \(4, K\), got y.shape=\(3,\)"),
    (dict(X=X2[:, 0]), r"X must be 2-D \(N, D\), got X.shape=\(4,\)"),
    (dict(theta0=np.zeros((2, 1))), r"theta0 must have shape \(D\+1, K\) = \(3, 1\), got theta0.shape=\(2, 1\)"),
    (dict(lr=0.0), "lr must be a finite number > 0, got 0.0"),
    (dict(max_epochs=0), "max_epochs must be a positive int, got 0"),
    (dict(activation="relu"), "activation must be 'heaviside' or 'sign', got 'relu'"),
    (dict(X=np.array([[0.0, np.nan]] * 4)), r"X must be finite, found nan at index \(0, 1\)"),
    (dict(activation="sign"), r"targets must be -1 or 1, got y\[0, 0\] = 0"),
])
def test_train_perceptron_rejects_bad_input(kwargs, match):
    args = dict(X=X2, y=TABLES["AND"])
    args.update(kwargs)
    X, y = args.pop("X"), args.pop("y")
    with pytest.raises(ValueError, match=match):
        train_perceptron(X, y, **args)


def test_tlu_predict_and_step_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"tlu_predict: theta must have shape \(D\+1, K\) = \(3, K\), got theta.shape=\(2, 1\)"):
        tlu_predict(np.zeros((2, 1)), X2)
    with pytest.raises(ValueError, match=r"tlu_predict: theta must be 2-D \(D\+1, K\), got theta.shape=\(3,\)"):
        tlu_predict(np.zeros(3), X2)
    with pytest.raises(ValueError, match=r"perceptron_step: y must have shape \(K,\) = \(2,\)"):
        perceptron_step(np.ones((3, 2)), np.array([0.5, 1.0]), np.array([1.0]), lr=0.1)
    with pytest.raises(TypeError, match="perceptron_step: lr must be a real number"):
        perceptron_step(np.ones((3, 2)), np.array([0.5, 1.0]), np.array([1.0, 0.0]), lr="0.1")
    with pytest.raises(TypeError, match="add_bias: X must hold real numbers"):
        add_bias([["a", "b"]])


# --- delta rule -----------------------------------------------------------------------------

def _regression_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 3))
    w_true = np.array([[0.5], [1.0], [-2.0], [0.25]])
    y = add_bias(X) @ w_true + 0.1 * rng.normal(size=(30, 1))
    return X, y


def test_delta_rule_batch_step_is_summed_gradient_of_half_squared_error():
    X, y = _regression_data()
    w0 = np.random.default_rng(1).normal(size=(4, 1))
    result = delta_rule(X, y, lr=0.01, epochs=1, w0=w0)
    Xb = add_bias(X)
    expected = w0.copy()
    for n in range(len(X)):  # the sum over examples, written out
        expected[:, 0] += 0.01 * (y[n, 0] - Xb[n] @ w0[:, 0]) * Xb[n]
    np.testing.assert_allclose(result.w, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(result.losses[0], 0.5 * np.sum((y - Xb @ expected) ** 2), rtol=1e-13)


@pytest.mark.parametrize("mode, lr", [("batch", 0.01), ("online", 0.005)])
def test_delta_rule_converges_to_least_squares_solution(mode, lr):
    X, y = _regression_data()
    result = delta_rule(X, y, lr=lr, epochs=400, mode=mode)
    w_ls = np.linalg.lstsq(add_bias(X), y, rcond=None)[0]
    tol = 1e-8 if mode == "batch" else 5e-3  # online LMS with a fixed step hovers near the optimum
    np.testing.assert_allclose(result.w, w_ls, atol=tol)
    assert not result.diverged
    if mode == "batch":
        assert np.all(np.diff(result.losses) <= 1e-12)


def test_delta_rule_online_updates_one_example_at_a_time_in_order():
    X, y = _regression_data(3)
    result = delta_rule(X[:5], y[:5, 0], lr=0.1, epochs=1, mode="online")
    w = np.zeros(4)
    for xb, target in zip(add_bias(X[:5]), y[:5, 0]):
        w = w + 0.1 * (target - xb @ w) * xb
    np.testing.assert_allclose(result.w[:, 0], w, rtol=1e-13)


def test_delta_rule_reports_divergence_without_warnings():
    X, y = _regression_data()
    result = delta_rule(X, y, lr=10.0, epochs=500)
    assert result.diverged
    assert not np.isfinite(result.losses[-1])
    assert len(result.losses) < 500


def test_delta_rule_rejects_bad_input():
    X, y = _regression_data()
    with pytest.raises(ValueError, match="delta_rule: mode must be 'batch' or 'online', got 'minibatch'"):
        delta_rule(X, y, lr=0.1, epochs=1, mode="minibatch")
    with pytest.raises(ValueError, match=r"delta_rule: w0 must have shape \(D\+1, K\) = \(4, 1\)"):
        delta_rule(X, y, lr=0.1, epochs=1, w0=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="shuffle=True has no effect with mode='batch'"):
        delta_rule(X, y, lr=0.1, epochs=1, shuffle=True, seed=0)


def test_on_nnkit_blobs_predictions_agree_with_sklearn():
    from nnkit.data import make_blobs

    X, y = make_blobs(120, noise=1.0, seed=3)
    X_new = np.random.default_rng(5).uniform(-4, 4, size=(500, 2))
    # Zero start (the default of both): both separate the training data.
    ours = train_perceptron(X, y, lr=0.1, max_epochs=500)
    sk = _sklearn_perceptron(0.1, 500).fit(X, y)
    assert ours.converged
    np.testing.assert_array_equal(ours.predict(X)[:, 0], sk.predict(X))
    # Same random start: identical weights, so identical predictions everywhere.
    theta0 = np.random.default_rng(6).normal(size=(3, 1))
    ours = train_perceptron(X, y, lr=0.1, max_epochs=500, theta0=theta0)
    sk = _sklearn_perceptron(0.1, 500).fit(X, y, coef_init=theta0[1:, 0][None, :].copy(),
                                           intercept_init=theta0[0].copy())
    np.testing.assert_array_equal(ours.predict(X_new)[:, 0], sk.predict(X_new))
