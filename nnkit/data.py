"""Data for the course: truth tables, 2-D toy sets, a 1-D regression curve, the 8x8 digits, and helpers.

Everything random is seeded: ``seed`` is an int (or a ``np.random.Generator``),
and the same seed always gives the same data. Classification sets return
``X`` (N, 2) float64 and ``y`` (N,) int64 with rows in random order.

The digits come from a file inside the package, so no network is needed.
"""

from __future__ import annotations

import numbers
from importlib import resources

import numpy as np

from nnkit import _validate as check

_GATES = {
    "AND": (0, 0, 0, 1),
    "OR": (0, 1, 1, 1),
    "NAND": (1, 1, 1, 0),
    "NOR": (1, 0, 0, 0),
    "XOR": (0, 1, 1, 0),
    "XNOR": (1, 0, 0, 1),
    "NOT": (1, 0),
}


def truth_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The truth table of a logic gate.

    Parameters
    ----------
    name : str
        One of AND, OR, NAND, NOR, XOR, XNOR (two inputs) or NOT (one input);
        case does not matter.

    Returns
    -------
    X : array of shape (2**n, n), float64
        Every input combination, counting in binary: (0, 0), (0, 1), (1, 0), (1, 1).
    y : array of shape (2**n,), float64
        The gate's output for each row.
    """
    key = check.known(name, _GATES, "truth_table", "gate")
    y = np.array(_GATES[key], dtype=np.float64)
    n = 1 if key == "NOT" else 2
    X = np.array([[(row >> (n - 1 - bit)) & 1 for bit in range(n)] for row in range(2**n)], dtype=np.float64)
    return X, y


# ---- argument checks ---------------------------------------------------------------------

def _toy_args(func: str, seed, n_samples, noise, minimum: int = 2) -> tuple[np.random.Generator, int, float]:
    """The generator, the sample count (at least ``minimum``) and the noise (>= 0) every toy set takes."""
    return (check.generator(func, seed), check.integer(n_samples, func, "n_samples", minimum=minimum),
            check.number(noise, func, "noise", low=0.0, finite=True))


def _shuffled(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return X[order], y[order].astype(np.int64)


def _split_evenly(n: int, parts: int) -> np.ndarray:
    """Sizes of ``parts`` groups that add up to ``n`` and differ by at most one."""
    return np.array([n // parts + (k < n % parts) for k in range(parts)])


# ---- 2-D toy classification sets ------------------------------------------------------------

def make_blobs(n_samples: int = 200, *, noise: float = 0.75, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs that are always linearly separable.

    Class 0 is centred at (-1.5, -1.5) and class 1 at (1.5, 1.5), each with
    standard deviation ``noise`` per coordinate. Any point that lands on the
    wrong side of the line ``x1 + x2 = 0``, or within 0.1 of it, is drawn again,
    so a separating line always exists (the perceptron rule converges).
    Class sizes differ by at most one.
    """
    rng, n, noise = _toy_args("make_blobs", seed, n_samples, noise)
    points = []
    for label, size in enumerate(_split_evenly(n, 2)):
        centre = np.full(2, 1.5 if label else -1.5)
        kept = np.empty((0, 2))
        while len(kept) < size:
            draw = centre + noise * rng.standard_normal((size, 2))
            margin = (draw.sum(axis=1) if label else -draw.sum(axis=1)) / np.sqrt(2.0)
            kept = np.concatenate([kept, draw[margin > 0.1]])
        points.append(kept[:size])
    y = np.repeat([0, 1], _split_evenly(n, 2))
    return _shuffled(np.concatenate(points), y, rng)


def make_xor(n_samples: int = 200, *, noise: float = 0.15, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Four Gaussian clouds at the corners of the XOR truth table.

    The clouds sit at (0, 0) and (1, 1) with label 0 and at (0, 1) and (1, 0)
    with label 1, each with standard deviation ``noise``. No line separates the
    classes; a 2-2-1 network can. Cloud sizes differ by at most one.
    """
    rng, n, noise = _toy_args("make_xor", seed, n_samples, noise, minimum=4)
    X_table, y_table = truth_table("XOR")
    corner = np.repeat(np.arange(4), _split_evenly(n, 4))
    X = X_table[corner] + noise * rng.standard_normal((n, 2))
    return _shuffled(X, y_table[corner], rng)


def make_moons(n_samples: int = 200, *, noise: float = 0.1, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles.

    Class 0: ``(cos t, sin t)``; class 1: ``(1 - cos t, 0.5 - sin t)``, for ``t``
    evenly spaced in [0, pi], plus Gaussian noise of standard deviation ``noise``
    (the layout of scikit-learn's ``make_moons``).
    """
    rng, n, noise = _toy_args("make_moons", seed, n_samples, noise)
    n0, n1 = _split_evenly(n, 2)
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    X = np.concatenate([np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]])
    X = X + noise * rng.standard_normal(X.shape)
    return _shuffled(X, np.repeat([0, 1], [n0, n1]), rng)


def make_circles(n_samples: int = 200, *, noise: float = 0.05, factor: float = 0.5,
                 seed=0) -> tuple[np.ndarray, np.ndarray]:
    """A circle of radius 1 (class 0) around a circle of radius ``factor`` (class 1).

    Points are evenly spaced in angle, plus Gaussian noise of standard
    deviation ``noise``. ``factor`` must lie in (0, 1).
    """
    rng, n, noise = _toy_args("make_circles", seed, n_samples, noise)
    if not (isinstance(factor, numbers.Real) and 0 < factor < 1):
        raise ValueError(f"make_circles: factor must lie in (0, 1), got {factor!r}")
    sizes = _split_evenly(n, 2)
    rings = []
    for radius, size in zip((1.0, float(factor)), sizes):
        angle = np.linspace(0, 2 * np.pi, size, endpoint=False)
        rings.append(radius * np.c_[np.cos(angle), np.sin(angle)])
    X = np.concatenate(rings) + noise * rng.standard_normal((n, 2))
    return _shuffled(X, np.repeat([0, 1], sizes), rng)


def make_spirals(n_samples: int = 300, *, noise: float = 0.05, n_classes: int = 2,
                 seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class.

    Arm ``k`` is ``r (cos a, sin a)`` with ``r = t`` and
    ``a = 2 pi k / n_classes + 3 pi t`` for ``t`` evenly spaced in [0.05, 1]
    (one and a half turns), plus Gaussian noise of standard deviation ``noise``.
    Arm sizes differ by at most one.
    """
    k_classes = check.integer(n_classes, "make_spirals", "n_classes", minimum=2)
    rng, n, noise = _toy_args("make_spirals", seed, n_samples, noise, minimum=k_classes)
    sizes = _split_evenly(n, k_classes)
    arms = []
    for k, size in enumerate(sizes):
        t = np.linspace(0.05, 1.0, size)
        angle = 2 * np.pi * k / k_classes + 3 * np.pi * t
        arms.append(t[:, None] * np.c_[np.cos(angle), np.sin(angle)])
    X = np.concatenate(arms) + noise * rng.standard_normal((n, 2))
    return _shuffled(X, np.repeat(np.arange(k_classes), sizes), rng)


def make_regression_1d(n_samples: int = 100, *, noise: float = 0.1, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy 1-D curve for regression: ``y = sin(2 x) + noise * e``.

    ``x`` is drawn uniformly from [-1.5, 1.5] and ``e`` is standard normal. The
    curve is an S shape that a 1-2-1 network with tanh or sigmoid hidden units
    (7 weights) can fit.

    Returns
    -------
    x : array of shape (N, 1), float64
    y : array of shape (N, 1), float64
    """
    rng, n, noise = _toy_args("make_regression_1d", seed, n_samples, noise, minimum=1)
    x = rng.uniform(-1.5, 1.5, size=(n, 1))
    return x, np.sin(2.0 * x) + noise * rng.standard_normal((n, 1))


# ---- digits ------------------------------------------------------------------------------------

def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits: 1797 images of the digits 0-9, read from the package.

    Source: the UCI Machine Learning Repository's "Optical Recognition of
    Handwritten Digits" (E. Alpaydin and C. Kaynak, 1998,
    https://doi.org/10.24432/C50P49), licensed CC BY 4.0; this is the copy that
    scikit-learn bundles (the UCI test set). Each pixel counts the "on" pixels of
    a 4x4 block of a 32x32 bitmap, so it is an integer in 0..16. See
    ``nnkit/datasets/README.md``.

    Returns
    -------
    X : array of shape (1797, 64), float64, values in [0, 16]
        One row per image, pixels in row-major order; ``X.reshape(-1, 1, 8, 8)``
        gives (N, C, H, W) images for a CNN.
    y : array of shape (1797,), int64
        The digit shown, 0..9 (174 to 183 images per class). Under the trusted
        grader the labels of the held-out test split read -1: hidden checks score
        against them, so graded code never sees them.
    """
    images, labels, _ = _digits_archive()
    if images.shape != (1797, 8, 8) or labels.shape != (1797,):
        raise ValueError(f"load_digits: nnkit/datasets/digits.npz is damaged (images {images.shape}, "
                         f"labels {labels.shape}); reinstall nnkit")
    return images.reshape(1797, 64).astype(np.float64), labels.astype(np.int64)


def _digits_archive() -> tuple[np.ndarray, np.ndarray, dict | None]:
    """Images, labels and, in the grader's copy (held-out labels hidden), the fixed seed-0 split indices."""
    source = resources.files("nnkit") / "datasets" / "digits.npz"
    with source.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"]
        fixed = {part: archive[f"split0_{part}"] for part in ("train", "val", "test")} \
            if "split0_test" in archive.files else None
    return images, labels, fixed


def digits_splits(seed: int = 0) -> dict[str, np.ndarray]:
    """The kit's fixed digits split: 60% train, 20% validation, 20% test, stratified.

    The notebooks and the grader's held-out checks use this split (with the
    default seed), so everyone sees the same test images. The features are
    standardised with a :class:`Standardizer` fitted on the training split
    only; validation and test are transformed with the training statistics.
    Split sizes: ``round(0.2 * 1797) = 359`` images each for validation and
    test, 1079 for training, every class in every split in proportion.

    Parameters
    ----------
    seed : int, default 0
        Another seed gives another split of the same proportions.

    Returns
    -------
    dict with ``X_train`` (1079, 64), ``y_train`` (1079,), ``X_val`` (359, 64),
    ``y_val``, ``X_test`` (359, 64), ``y_test``; X float64, y int64.
    """
    X, y = load_digits()
    _, _, fixed = _digits_archive()
    if fixed is not None and seed == 0:   # the grader's copy: y_test reads -1, the images are the same
        split = {key: arr[fixed[part]] for part in ("train", "val", "test")
                 for key, arr in ((f"X_{part}", X), (f"y_{part}", y))}
    else:
        split = train_val_test_split(X, y, val_size=0.2, test_size=0.2, seed=seed, stratify=True)
    scaler = Standardizer().fit(split["X_train"])
    for part in ("train", "val", "test"):
        split[f"X_{part}"] = scaler.transform(split[f"X_{part}"])
    return split


# ---- splits, scaling, encoding ---------------------------------------------------------------------

def _largest_remainder(total: int, counts: np.ndarray) -> np.ndarray:
    """Split ``total`` over groups in proportion to ``counts``, as integers that add up to ``total``."""
    ideal = total * counts / counts.sum()
    share = np.floor(ideal).astype(int)
    order = np.argsort(-(ideal - share), kind="stable")
    share[order[: total - share.sum()]] += 1
    return np.minimum(share, counts)


def train_val_test_split(X, y, *, val_size: float, test_size: float, seed=0,
                         stratify: bool = True) -> dict[str, np.ndarray]:
    """Split ``(X, y)`` into shuffled train, validation and test sets, deterministically per seed.

    Parameters
    ----------
    X : array of shape (N, ...)
    y : array of shape (N,) (class labels when ``stratify``) or (N, ...)
    val_size, test_size : float
        Fractions of N, each in [0, 1) with ``val_size + test_size < 1``. The
        split sizes are ``round(test_size * N)`` and ``round(val_size * N)``;
        train gets the rest.
    seed : int or numpy.random.Generator, default 0
    stratify : bool, default True
        Keep each class's share the same in every split: every class is split on
        its own (sizes rounded so the totals still match), then each split is
        shuffled.

    Returns
    -------
    dict with keys ``X_train, y_train, X_val, y_val, X_test, y_test``; new arrays,
    ``X`` and ``y`` are not modified.
    """
    func = "train_val_test_split"
    rng = check.generator(func, seed)
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"{func}: X and y need the same number of rows, got X.shape={X.shape} and y.shape={y.shape}")
    val_size, test_size = (check.number(v, func, a, low=0.0, high=1.0, high_open=True)
                           for v, a in ((val_size, "val_size"), (test_size, "test_size")))
    if val_size + test_size >= 1:
        raise ValueError(f"{func}: val_size + test_size must be below 1, got {val_size} + {test_size}")
    n = len(y)
    n_test, n_val = int(round(test_size * n)), int(round(val_size * n))
    if stratify:
        if y.ndim != 1:
            raise ValueError(f"{func}: stratify=True needs class labels of shape (N,), got y.shape={y.shape}")
        classes, members = np.unique(y, return_inverse=True)
        counts = np.bincount(members)
        test_k = _largest_remainder(n_test, counts)
        val_k = np.minimum(_largest_remainder(n_val, counts), counts - test_k)
        parts = {"train": [], "val": [], "test": []}
        for k in range(len(classes)):
            idx = rng.permutation(np.flatnonzero(members == k))
            parts["test"].append(idx[: test_k[k]])
            parts["val"].append(idx[test_k[k]: test_k[k] + val_k[k]])
            parts["train"].append(idx[test_k[k] + val_k[k]:])
        index = {name: rng.permutation(np.concatenate(chunks)) for name, chunks in parts.items()}
    else:
        order = rng.permutation(n)
        index = {"test": order[:n_test], "val": order[n_test: n_test + n_val], "train": order[n_test + n_val:]}
    out = {}
    for name in ("train", "val", "test"):
        out[f"X_{name}"], out[f"y_{name}"] = X[index[name]], y[index[name]]
    return out


class Standardizer:
    """Shift and scale each feature to mean 0 and standard deviation 1, using statistics of the data it was fitted on.

    Fit on the training split only, then transform every split with those
    statistics, so nothing about validation or test leaks into training.
    Statistics are taken over axis 0 (the samples), so ``X`` may be (N, D) or
    (N, C, H, W). The standard deviation is the population one (``ddof=0``, as
    scikit-learn's ``StandardScaler``). A constant feature gets scale 1, so it
    becomes 0 instead of a division by zero.

    Attributes
    ----------
    mean_ : array of shape X.shape[1:]
    scale_ : array of shape X.shape[1:]
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, X) -> "Standardizer":
        X = check.real_array(X, "Standardizer.fit", "X", "(N, D, ...)", empty=False)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        # a feature whose spread is only round-off counts as constant
        constant = std <= 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(self.mean_))
        self.scale_ = np.where(constant, 1.0, std)
        return self

    def transform(self, X) -> np.ndarray:
        if self.mean_ is None:
            raise RuntimeError("Standardizer.transform: called before fit; run fit(X_train) first")
        X = check.real_array(X, "Standardizer.transform", "X", "(N, D, ...)", sizes=self._fitted_sizes())
        return (X - self.mean_) / self.scale_

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, X) -> np.ndarray:
        """Undo :meth:`transform`."""
        if self.mean_ is None:
            raise RuntimeError("Standardizer.inverse_transform: called before fit; run fit(X_train) first")
        X = check.real_array(X, "Standardizer.inverse_transform", "X", "(N, D, ...)", sizes=self._fitted_sizes())
        return X * self.scale_ + self.mean_

    def _fitted_sizes(self) -> dict:
        """The feature axes seen by fit, as the layout ``(N, D, ...)`` names them."""
        return {"D": self.mean_.shape[0], "...": self.mean_.shape[1:]}


def one_hot(y, num_classes: int) -> np.ndarray:
    """One-hot rows: ``out[n, y[n]] = 1``.

    Parameters
    ----------
    y : integer array of shape (N,), values in [0, num_classes)
    num_classes : int
        C, the number of columns.

    Returns
    -------
    array of shape (N, C), float64
    """
    num_classes = check.integer(num_classes, "one_hot", "num_classes", minimum=1)
    y = check.class_indices(y, num_classes, "one_hot", "y")
    out = np.zeros((len(y), num_classes))
    out[np.arange(len(y)), y] = 1.0
    return out
