"""Tests for nnkit.data: truth tables, toy sets, digits, splits, standardisation, one-hot."""

import hashlib
import importlib.util
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from nnkit import data as D

TOY_SETS = [D.make_blobs, D.make_xor, D.make_moons, D.make_circles, D.make_spirals]


# ---- truth tables ------------------------------------------------------------------------

@pytest.mark.parametrize("gate, expected", [
    ("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1]), ("NAND", [1, 1, 1, 0]),
    ("NOR", [1, 0, 0, 0]), ("XOR", [0, 1, 1, 0]), ("XNOR", [1, 0, 0, 1]),
])
def test_two_input_truth_tables(gate, expected):
    X, y = D.truth_table(gate)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, expected)
    assert X.dtype == np.float64 and y.dtype == np.float64 and y.shape == (4,)


def test_truth_tables_agree_with_python_logic():
    ops = {"AND": lambda a, b: a and b, "OR": lambda a, b: a or b, "XOR": lambda a, b: a != b,
           "NAND": lambda a, b: not (a and b), "NOR": lambda a, b: not (a or b), "XNOR": lambda a, b: a == b}
    for gate, op in ops.items():
        X, y = D.truth_table(gate.lower())
        assert [float(op(bool(a), bool(b))) for a, b in X] == list(y)


def test_not_has_one_input():
    X, y = D.truth_table("NOT")
    np.testing.assert_array_equal(X, [[0.0], [1.0]])
    np.testing.assert_array_equal(y, [1.0, 0.0])


def test_unknown_gate_lists_known_gates():
    with pytest.raises(ValueError, match=r"unknown gate 'IMPLIES'; known: AND, OR, NAND, NOR, XOR, XNOR, NOT"):
        D.truth_table("IMPLIES")


# ---- toy sets ----------------------------------------------------------------------------

@pytest.mark.parametrize("make", TOY_SETS)
def test_toy_sets_have_contract_shapes_dtypes_and_balanced_classes(make):
    X, y = make(101, seed=3)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == 2 and counts.max() - counts.min() <= 1
    assert np.all(np.isfinite(X))


@pytest.mark.parametrize("make", TOY_SETS)
def test_toy_sets_are_deterministic_per_seed(make):
    X1, y1 = make(60, seed=7)
    X2, y2 = make(60, seed=7)
    X3, _ = make(60, seed=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("make", TOY_SETS)
def test_toy_sets_do_not_touch_global_numpy_random_state(make):
    state = np.random.get_state()[1].copy()
    make(50, seed=1)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("make", TOY_SETS)
def test_toy_sets_shuffle_the_classes(make):
    _, y = make(200, seed=0)
    label_changes = np.count_nonzero(np.diff(y))
    assert label_changes > 60  # about 100 in random order; at most a handful in blocks


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("noise", [0.5, 2.0])
def test_blobs_are_linearly_separable_by_the_stated_line(seed, noise):
    X, y = D.make_blobs(300, noise=noise, seed=seed)
    margin = X.sum(axis=1) / np.sqrt(2)
    assert np.all(margin[y == 1] > 0.1) and np.all(margin[y == 0] < -0.1)


def test_xor_clouds_sit_at_the_truth_table_corners():
    X, y = D.make_xor(400, noise=0.1, seed=0)
    corner = np.round(X).clip(0, 1)
    assert np.mean(y == (corner[:, 0] != corner[:, 1])) > 0.99
    assert np.mean(y == (X.sum(axis=1) > 0.5)) < 0.8  # the best a line can do is 3 clouds of 4


def test_noise_free_moons_and_circles_lie_on_their_curves():
    X, y = D.make_moons(50, noise=0.0)
    outer, inner = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*outer.T), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1, inner[:, 1] - 0.5), 1.0, rtol=1e-12)
    X, y = D.make_circles(50, noise=0.0, factor=0.3)
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.hypot(*X[y == 1].T), 0.3, rtol=1e-12)


def test_spirals_support_more_classes():
    X, y = D.make_spirals(301, n_classes=3, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [101, 100, 100]
    assert np.all(np.hypot(*X.T) <= 1.0 + 1e-12)


def test_regression_1d_shapes_and_curve():
    x, y = D.make_regression_1d(500, noise=0.0, seed=2)
    assert x.shape == (500, 1) and y.shape == (500, 1)
    assert x.min() >= -1.5 and x.max() <= 1.5
    np.testing.assert_allclose(y, np.sin(2 * x), rtol=1e-15)
    _, y_noisy = D.make_regression_1d(500, noise=0.1, seed=2)
    assert 0.08 < np.std(y_noisy - np.sin(2 * x)) < 0.12


@pytest.mark.parametrize("bad, error", [
    (dict(n_samples=1), ValueError), (dict(n_samples=10.0), TypeError), (dict(n_samples=10, noise=-1), ValueError),
    (dict(n_samples=10, seed=-3), ValueError), (dict(n_samples=10, seed=1.5), TypeError),
])
def test_toy_set_arguments_are_validated(bad, error):
    with pytest.raises(error, match="make_moons: "):
        D.make_moons(**bad)


def test_a_generator_can_be_passed_as_seed():
    X1, _ = D.make_moons(20, seed=np.random.default_rng(5))
    X2, _ = D.make_moons(20, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(X1, X2)


# ---- digits --------------------------------------------------------------------------------

def test_digits_have_1797_images_in_0_to_16_with_balanced_classes():
    X, y = D.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.all(X == np.round(X))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_digits_match_scikit_learns_copy():
    # read scikit-learn's bundled CSV directly: importing sklearn.datasets costs seconds
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        pytest.skip("scikit-learn (a test dependency) is not installed")
    csv = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    ref = np.loadtxt(csv, delimiter=",")
    X, y = D.load_digits()
    np.testing.assert_array_equal(X, ref[:, :64])
    np.testing.assert_array_equal(y, ref[:, 64])


def test_digits_file_is_the_documented_one_and_loads_without_pickle():
    path = resources.files("nnkit") / "datasets" / "digits.npz"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    readme = (resources.files("nnkit") / "datasets" / "README.md").read_text()
    assert digest in readme
    assert "CC BY 4.0" in readme and "Optical Recognition of Handwritten Digits" in readme
    with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        assert archive["images"].dtype == np.uint8 and archive["images"].shape == (1797, 8, 8)


def test_load_digits_returns_fresh_arrays():
    X, _ = D.load_digits()
    X[:] = -1
    assert D.load_digits()[0].min() == 0


def test_digits_splits_are_stratified_60_20_20_and_fixed():
    s = D.digits_splits()
    assert [len(s[k]) for k in ("y_train", "y_val", "y_test")] == [1079, 359, 359]
    assert s["X_train"].shape == (1079, 64)
    full = np.bincount(D.load_digits()[1]) / 1797
    for part in ("y_train", "y_val", "y_test"):
        share = np.bincount(s[part], minlength=10) / len(s[part])
        assert np.abs(share - full).max() < 0.004
    again = D.digits_splits()
    for key in s:
        np.testing.assert_array_equal(s[key], again[key])
    other = D.digits_splits(seed=1)
    assert not np.array_equal(s["y_test"], other["y_test"])


def test_digits_split_uses_every_image_exactly_once():
    X, y = D.load_digits()
    s = D.digits_splits()
    raw = D.train_val_test_split(X, y, val_size=0.2, test_size=0.2, seed=0)
    scaler = D.Standardizer().fit(raw["X_train"])
    rows = np.concatenate([scaler.inverse_transform(s[f"X_{p}"]) for p in ("train", "val", "test")])
    labels = np.concatenate([s[f"y_{p}"] for p in ("train", "val", "test")])
    both = np.round(np.c_[rows, labels], 9)
    expected = np.c_[X, y]
    np.testing.assert_array_equal(both[np.lexsort(both.T)], expected[np.lexsort(expected.T)])


def test_digits_splits_standardise_with_training_statistics_only():
    X, y = D.load_digits()
    raw = D.train_val_test_split(X, y, val_size=0.2, test_size=0.2, seed=0)
    s = D.digits_splits()
    np.testing.assert_array_equal(s["y_test"], raw["y_test"])
    scaler = D.Standardizer().fit(raw["X_train"])
    np.testing.assert_allclose(s["X_test"], scaler.transform(raw["X_test"]), rtol=1e-15)
    np.testing.assert_allclose(s["X_train"].mean(axis=0), 0.0, atol=1e-12)
    assert abs(s["X_test"].mean()) > 1e-6  # test is not re-centred on its own statistics


# ---- train_val_test_split ---------------------------------------------------------------------

def test_split_partitions_the_rows_and_keeps_pairs_together():
    X = np.arange(200, dtype=float).reshape(100, 2)
    y = np.repeat(np.arange(4), 25)
    s = D.train_val_test_split(X, y, val_size=0.15, test_size=0.25, seed=3)
    assert [len(s[k]) for k in ("y_train", "y_val", "y_test")] == [60, 15, 25]
    rows = np.concatenate([s["X_train"], s["X_val"], s["X_test"]])[:, 0] / 2
    assert sorted(rows.astype(int).tolist()) == list(range(100))
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(y[(s[f"X_{part}"][:, 0] / 2).astype(int)], s[f"y_{part}"])


def test_stratified_split_keeps_class_shares_with_unbalanced_classes():
    y = np.array([0] * 70 + [1] * 20 + [2] * 10)
    X = np.zeros((100, 1))
    s = D.train_val_test_split(X, y, val_size=0.2, test_size=0.3, seed=0)
    assert np.bincount(s["y_test"]).tolist() == [21, 6, 3]
    assert np.bincount(s["y_val"]).tolist() == [14, 4, 2]
    assert np.bincount(s["y_train"]).tolist() == [35, 10, 5]


def test_unstratified_split_accepts_regression_targets():
    x, y = D.make_regression_1d(50, seed=0)
    s = D.train_val_test_split(x, y, val_size=0.2, test_size=0.2, stratify=False, seed=1)
    assert s["X_train"].shape == (30, 1) and s["y_val"].shape == (10, 1)


def test_split_is_deterministic_per_seed_and_leaves_inputs_alone():
    X, y = D.make_moons(80, seed=0)
    X0, y0 = X.copy(), y.copy()
    a = D.train_val_test_split(X, y, val_size=0.25, test_size=0.25, seed=5)
    b = D.train_val_test_split(X, y, val_size=0.25, test_size=0.25, seed=5)
    c = D.train_val_test_split(X, y, val_size=0.25, test_size=0.25, seed=6)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["X_test"], c["X_test"])
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    a["X_train"][:] = 0
    np.testing.assert_array_equal(X, X0)


def test_split_arguments_are_validated():
    X, y = np.zeros((10, 2)), np.zeros(9, dtype=int)
    with pytest.raises(ValueError, match=r"same number of rows, got X.shape=\(10, 2\) and y.shape=\(9,\)"):
        D.train_val_test_split(X, y, val_size=0.2, test_size=0.2)
    with pytest.raises(ValueError, match=r"val_size \+ test_size must be below 1"):
        D.train_val_test_split(X, np.zeros(10, dtype=int), val_size=0.5, test_size=0.5)
    with pytest.raises(ValueError, match=r"test_size must be in \[0, 1\), got 3"):
        D.train_val_test_split(X, np.zeros(10, dtype=int), val_size=0.2, test_size=3)
    with pytest.raises(ValueError, match=r"stratify=True needs class labels of shape \(N,\)"):
        D.train_val_test_split(X, np.zeros((10, 1)), val_size=0.2, test_size=0.2)


# ---- Standardizer and one_hot -------------------------------------------------------------------

def test_standardizer_matches_closed_form():
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(40, 5))
    Z = D.Standardizer().fit_transform(X)
    np.testing.assert_allclose(Z, (X - X.mean(0)) / X.std(0), rtol=1e-14)  # ddof=0, like StandardScaler
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-14)


def test_standardizer_uses_the_fitted_statistics_on_new_data():
    train = np.array([[0.0, 10.0], [2.0, 30.0]])
    scaler = D.Standardizer().fit(train)
    np.testing.assert_allclose(scaler.transform(np.array([[1.0, 50.0]])), [[0.0, 3.0]])
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(train)), train)


def test_standardizer_handles_constant_features_without_dividing_by_zero():
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    scaler = D.Standardizer().fit(X)
    Z = scaler.transform(X)
    np.testing.assert_array_equal(Z[:, 1], 0.0)
    assert scaler.scale_[1] == 1.0
    np.testing.assert_array_equal(scaler.transform(np.array([[0.0, 6.0]]))[:, 1], [1.0])
    # a feature constant up to round-off counts as constant too
    almost = np.full((3, 1), 0.1) + np.array([[0.0], [1e-17], [0.0]])
    assert D.Standardizer().fit(almost).scale_[0] == 1.0


def test_standardizer_works_on_image_batches_and_checks_shapes():
    X = np.random.default_rng(1).normal(size=(6, 1, 8, 8))
    scaler = D.Standardizer().fit(X)
    assert scaler.mean_.shape == (1, 8, 8)
    with pytest.raises(ValueError, match=r"Standardizer.transform: X must have shape \(N, D, \.\.\.\) = "
                                         r"\(N, 1, 8, 8\), got X.shape=\(6, 64\)"):
        scaler.transform(X.reshape(6, 64))
    # inverse_transform checks too: (2, 1) against 3 fitted features would broadcast silently
    with pytest.raises(ValueError, match=r"inverse_transform: X must have shape \(N, D, \.\.\.\) = \(N, 3\), "
                                         r"got X.shape=\(2, 1\)$"):
        D.Standardizer().fit(np.ones((5, 3))).inverse_transform(np.ones((2, 1)))
    with pytest.raises(RuntimeError, match="called before fit"):
        D.Standardizer().transform(X)
    with pytest.raises(ValueError, match=r"X must have shape \(N, D, \.\.\.\), got X.shape="):
        D.Standardizer().fit(np.ones(5))


def test_one_hot():
    np.testing.assert_array_equal(D.one_hot(np.array([2, 0, 1]), 4),
                                  [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    assert D.one_hot(np.array([1]), 2).dtype == np.float64
    with pytest.raises(ValueError, match=r"one_hot: y must be class indices in \[0, 2\], found 3 at index 1"):
        D.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"one_hot: y must be class indices of shape \(N,\), got y.shape=\(2, 1\)"):
        D.one_hot(np.array([[0], [1]]), 3)


def test_core_modules_import_only_numpy_at_runtime():
    # the grader's worker imports nnkit.data; runtime dependencies are numpy (and matplotlib in nnkit.plot)
    code = ("import sys, nnkit.activations, nnkit.losses, nnkit.gradcheck, nnkit.data; "
            "print(sorted(m for m in ('scipy', 'sklearn', 'torch', 'matplotlib', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
