"""The digits CNN example: it must reach 98% on the kit's held-out test split with its default settings."""

import numpy as np
import pytest

from nnkit.data import digits_splits
from nnkit.examples.cnn import as_images, cnn_figures, digits_cnn, train_digits_cnn
from nnkit.layers.activation import ReLU
from nnkit.layers.batchnorm import BatchNorm2d
from nnkit.layers.conv import Conv2d
from nnkit.layers.dense import Linear
from nnkit.layers.pool import MaxPool2d
from nnkit.layers.shape import Flatten


@pytest.fixture(scope="module")
def trained():
    return train_digits_cnn(seed=0)


def test_digits_cnn_reaches_98_percent_on_the_held_out_test_split(trained):
    model, history, test_accuracy = trained
    split = digits_splits()
    predictions = model.eval().forward(as_images(split["X_test"])).argmax(axis=1)
    assert test_accuracy == np.mean(predictions == split["y_test"])     # the number is what it claims to be
    assert len(split["y_test"]) == 359
    assert test_accuracy >= 0.98, f"test accuracy {test_accuracy:.4f} after {history.epochs} epochs"
    assert history.epochs == len(history.val_accuracy) and history.best_epoch is not None
    assert history.train_loss[-1] < history.train_loss[0]


def test_digits_cnn_is_conv_norm_relu_pool_twice_then_flatten_linear():
    model = digits_cnn((4, 6), seed=0)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [Conv2d, BatchNorm2d, ReLU, MaxPool2d, Conv2d, BatchNorm2d, ReLU, MaxPool2d, Flatten, Linear]
    assert model.layers[0].params["W"].shape == (4, 1, 3, 3)
    assert model.eval().forward(np.zeros((5, 1, 8, 8))).shape == (5, 10)


def test_digits_cnn_is_reproducible_from_its_seed():
    a, b = digits_cnn(seed=3), digits_cnn(seed=3)
    for (pa, _), (pb, _) in zip(a.parameters(), b.parameters()):
        for name in pa:
            np.testing.assert_array_equal(pa[name], pb[name])


def test_as_images_puts_pixel_8h_plus_w_at_row_h_column_w():
    X = np.arange(128.0).reshape(2, 64)
    images = as_images(X)
    assert images.shape == (2, 1, 8, 8)
    assert images[1, 0, 2, 5] == X[1, 8 * 2 + 5]
    with pytest.raises(ValueError, match=r"as_images: X must be \(N, 64\) digit rows, got \(2, 1, 8, 8\)"):
        as_images(images)


def test_cnn_figures_show_every_first_layer_filter_and_feature_map():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = digits_cnn((6, 8), seed=0)
    image = as_images(digits_splits()["X_test"][:1])
    filters, maps = cnn_figures(model, image)
    try:
        assert sum(1 for ax in filters.axes if ax.images) == 6
        assert sum(1 for ax in maps.axes if ax.images) == 6
        shown = [ax.images[0].get_array() for ax in maps.axes if ax.images]
        conv, norm = model.layers[0], model.layers[1]
        expected = np.maximum(norm.eval().forward(conv.forward(image))[0], 0.0)
        np.testing.assert_allclose(np.array(shown), expected)
    finally:
        plt.close(filters)
        plt.close(maps)
    with pytest.raises(ValueError, match=r"cnn_figures: image must be one digit of shape \(1, 1, 8, 8\)"):
        cnn_figures(model, image[0])
