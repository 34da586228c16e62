"""Tests for nnkit.plot: every figure renders to a PNG and shows what it claims to."""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from nnkit import plot  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def save_png(fig, path):
    fig.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000
    return mpimg.imread(path)[..., :3]  # (H, W, 3) floats in [0, 1]


def colour_fraction(image, colour):
    """Fraction of pixels within 2/255 of the colour in every channel."""
    return float(np.mean(np.all(np.abs(image - np.array(to_rgb(colour))) <= 2 / 255, axis=-1)))


def test_importing_plot_loads_no_other_nnkit_module_but_the_input_checks():
    code = "import sys, nnkit.plot; print(sorted(m for m in sys.modules if m.startswith('nnkit')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['nnkit', 'nnkit._validate', 'nnkit.plot']"


def two_blobs():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal((-1.5, 0.0), 0.4, (20, 2)), rng.normal((1.5, 0.0), 0.4, (20, 2))])
    return X, np.repeat([0, 1], 20)


def test_decision_boundary_colours_each_side_by_its_class(tmp_path):
    X, y = two_blobs()
    ax = plot.decision_boundary(lambda P: (P[:, 0] > 0).astype(int), X, y, resolution=50)
    grid_index = ax.images[0].get_array()
    xs = np.linspace(X[:, 0].min() - 0.5, X[:, 0].max() + 0.5, 50)
    np.testing.assert_array_equal(grid_index, np.tile(xs > 0, (50, 1)).astype(int))
    image = save_png(ax.figure, tmp_path / "boundary.png")
    assert colour_fraction(image, plot.REGION_COLORS[0]) > 0.15
    assert colour_fraction(image, plot.REGION_COLORS[1]) > 0.15
    left, right = image[:, : image.shape[1] // 3], image[:, 2 * image.shape[1] // 3:]
    assert colour_fraction(left, plot.REGION_COLORS[0]) > colour_fraction(left, plot.REGION_COLORS[1])
    assert colour_fraction(right, plot.REGION_COLORS[1]) > colour_fraction(right, plot.REGION_COLORS[0])


def test_decision_boundary_thresholds_scores_and_draws_the_level_curve(tmp_path):
    from nnkit.logic import input_table, xor_network

    X = input_table(2)
    y = np.array([0, 1, 1, 0])
    ax = plot.decision_boundary(xor_network, X, y, resolution=81, title="XOR")
    assert len(ax.collections) >= 3  # the 0.5 contour and one scatter per class
    index = ax.images[0].get_array()  # grid over [-0.5, 1.5]^2, step 0.025
    assert index[20, 20] == 0 and index[60, 60] == 0  # (0, 0) and (1, 1)
    assert index[20, 60] == 1 and index[60, 20] == 1  # (1, 0) and (0, 1)
    image = save_png(ax.figure, tmp_path / "xor.png")
    assert colour_fraction(image, plot.REGION_COLORS[0]) > 0.1
    assert colour_fraction(image, plot.REGION_COLORS[1]) > 0.1


def test_decision_boundary_takes_argmax_of_class_scores(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    y = np.arange(30) % 3
    centres = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5]])
    scores = lambda P: -((P[:, None, :] - centres[None]) ** 2).sum(axis=2)  # noqa: E731 (M, 3)
    ax = plot.decision_boundary(scores, X, y)
    assert set(np.unique(ax.images[0].get_array())) == {0, 1, 2}
    image = save_png(ax.figure, tmp_path / "three.png")
    for colour in plot.REGION_COLORS[:3]:
        assert colour_fraction(image, colour) > 0.03


def test_decision_boundary_draws_into_a_given_axes():
    X, y = two_blobs()
    fig, (a0, a1) = plt.subplots(1, 2)
    assert plot.decision_boundary(lambda P: P[:, 0] > 0, X, y, ax=a1, resolution=20) is a1
    assert not a0.images and len(a1.images) == 1


def test_decision_boundary_rejects_bad_input():
    X, y = two_blobs()
    with pytest.raises(ValueError, match=r"decision_boundary: predict_fn must return shape \(M,\), \(M, 1\) or "
                                         r"\(M, K\) with M = 100, got \(50,\)"):
        plot.decision_boundary(lambda P: P[:50, 0], X, y, resolution=10)
    with pytest.raises(ValueError, match=r"decision_boundary: X must have shape \(N, 2\), got X.shape=\(40, 3\)"):
        plot.decision_boundary(lambda P: P[:, 0], np.zeros((40, 3)), y)
    with pytest.raises(ValueError, match="y must hold integer class labels"):
        plot.decision_boundary(lambda P: P[:, 0], X, y + 0.5)
    with pytest.raises(TypeError, match="predict_fn must be callable"):
        plot.decision_boundary(None, X, y)


def test_history_curves_splits_losses_and_accuracies(tmp_path):
    history = {"train_loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.7, 0.6],
               "train_accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.45, 0.65, 0.7], "epoch_seconds": [1, 1, 1]}
    fig = plot.history_curves(history, title="run 1")
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train_loss", "val_loss"]
    assert [line.get_label() for line in acc_ax.lines] == ["train_accuracy", "val_accuracy"]
    np.testing.assert_array_equal(loss_ax.lines[1].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss_ax.lines[1].get_ydata(), [1.1, 0.7, 0.6])
    assert acc_ax.get_ylabel() == "accuracy"
    save_png(fig, tmp_path / "history.png")


def test_history_curves_accepts_an_object_with_as_dict_and_skips_empty_entries():
    class FakeHistory:
        def as_dict(self):
            return {"train_loss": [0.9, 0.5], "train_accuracy": [], "val_loss": [], "val_accuracy": []}

    fig = plot.history_curves(FakeHistory())
    assert len(fig.axes) == 1 and [line.get_label() for line in fig.axes[0].lines] == ["train_loss"]
    with pytest.raises(ValueError, match=r"history_curves: nothing to plot .*history has \['lr'\]"):
        plot.history_curves({"lr": [0.1]})


def test_compare_curves_marks_a_diverged_run(tmp_path):
    curves = {"lr=0.01": [1.0, 0.9, 0.8, 0.7], "lr=0.1": [1.0, 0.5, 0.3, 0.2],
              "lr=10": [1.0, 50.0, 1e6, np.inf]}
    ax = plot.compare_curves(curves, ylabel="training loss", log_y=True, title="learning rates")
    labels = [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]
    assert labels == ["lr=0.01", "lr=0.1", "lr=10 (diverged)"]
    diverged = ax.lines[2]
    np.testing.assert_array_equal(diverged.get_ydata(), [1.0, 50.0, 1e6])
    assert ax.lines[3].get_marker() == "x"
    assert ax.get_yscale() == "log"
    save_png(ax.figure, tmp_path / "lr.png")


@pytest.mark.parametrize("shape, n_images", [((4, 1, 3, 3), 4), ((6, 3, 5, 5), 6), ((2, 4, 3, 2), 8)])
def test_filter_grid_draws_one_tile_per_filter_or_filter_channel(tmp_path, shape, n_images):
    W = np.random.default_rng(0).normal(size=shape)
    fig = plot.filter_grid(W, title="conv1")
    images = [im for a in fig.axes for im in a.images]
    assert len(images) == n_images
    if shape[1] == 3:
        tile = images[1].get_array()
        assert tile.shape == (5, 5, 3) and tile.min() == 0.0 and tile.max() == 1.0
    else:
        np.testing.assert_array_equal(images[0].get_array(), W[0, 0])
    save_png(fig, tmp_path / "filters.png")


def test_feature_maps_draw_one_tile_per_channel(tmp_path):
    maps = np.random.default_rng(0).normal(size=(5, 6, 7))
    fig = plot.feature_maps(maps, ncols=3)
    images = [im for a in fig.axes for im in a.images]
    assert len(images) == 5
    np.testing.assert_array_equal(images[4].get_array(), maps[4])
    save_png(fig, tmp_path / "maps.png")
    with pytest.raises(ValueError, match=r"feature_maps: maps must be \(C, H, W\) for one image, got a batch "
                                         r"of shape \(2, 5, 6, 7\); pass maps\[i\]"):
        plot.feature_maps(np.zeros((2, 5, 6, 7)))
    with pytest.raises(ValueError, match=r"filter_grid: W must be 4-D \(F, C, HH, WW\), got W.shape=\(3, 3\)"):
        plot.filter_grid(np.zeros((3, 3)))


def test_gradcheck_error_map_shows_log_error_and_circles_bad_entries(tmp_path):
    rng = np.random.default_rng(0)
    analytic = rng.normal(size=(4, 6))
    numeric = analytic * (1 + 1e-9)
    numeric[2, 5] = 2 * analytic[2, 5]  # a wrong entry: relative error 1/3
    numeric[0, 0] = np.nan  # not checked
    ax = plot.gradcheck_error_map(analytic, numeric, tol=1e-6)
    shown = ax.images[0].get_array()
    assert shown.shape == (4, 6)
    assert shown[2, 5] == pytest.approx(np.log10(1 / 3))
    assert shown[1, 1] == pytest.approx(np.log10(1e-9 / (2 + 1e-9)), abs=1e-3)
    assert np.ma.is_masked(shown[0, 0]) or np.isnan(shown[0, 0])
    circles = ax.collections[0].get_offsets()
    np.testing.assert_array_equal(circles, [[5, 2]])  # (column, row)
    assert "max 3.33e-01" in ax.get_title()
    save_png(ax.figure, tmp_path / "gradcheck.png")


def test_gradcheck_error_map_accepts_a_result_object_and_flattens_conv_shapes():
    class Result:
        analytic = np.ones((2, 3, 2, 2))
        numeric = np.ones((2, 3, 2, 2))

    ax = plot.gradcheck_error_map(Result())
    assert ax.images[0].get_array().shape == (2, 12)
    assert not ax.collections  # nothing above tol
    with pytest.raises(ValueError, match=r"gradcheck_error_map: numeric must have shape \(\.\.\.\) = \(3,\), got numeric.shape=\(4,\)"):
        plot.gradcheck_error_map(np.ones(3), np.ones(4))
