"""nnkit.train: the seeds' small nets learn, fit() is deterministic, stops early, checkpoints."""

import os
import sys

import numpy as np
import pytest

from nnkit import losses
from nnkit.data import make_blobs, make_regression_1d
from nnkit.layers import BatchNorm1d, Dropout, Linear, ReLU, Sequential, Sigmoid, SoftmaxCrossEntropy, Tanh
from nnkit.optim import SGD, Adam
from nnkit.train import (
    History,
    accuracy,
    evaluate,
    fit,
    load_checkpoint,
    predict,
    save_checkpoint,
)

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def three_classes(n=60, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    X = np.vstack([rng.normal(c, 1.0, size=(n, 2)) for c in centers])
    return X, np.repeat(np.arange(3), n)


def classifier(seed=0, hidden=8):
    return Sequential(Linear(2, hidden, seed=seed), Tanh(), Linear(hidden, 3, seed=seed + 1))


# ---- the seeds' small networks ---------------------------------------------------------

def test_2_2_1_sigmoid_mlp_learns_xor():
    # Two hidden sigmoid units can represent XOR (as OR and NAND), but gradient descent
    # has local minima here (loss ~0.347, one pattern wrong) that catch some
    # initialisations; with this seed full-batch SGD with momentum reaches the solution.
    net = Sequential(Linear(2, 2, seed=0), Sigmoid(), Linear(2, 1, seed=1), Sigmoid())
    history = fit(net, "binary_cross_entropy", SGD(net, lr=2.0, momentum=0.9), (XOR_X, XOR_Y),
                  epochs=1000, batch_size=None)
    assert history.train_accuracy[-1] == 1.0
    np.testing.assert_array_equal(predict(net, XOR_X) > 0.5, XOR_Y == 1)
    assert history.train_loss[-1] < 0.01


def test_1_2_1_regression_net_with_7_weights_fits_a_smooth_curve():
    # The seeds' regression example: 1 input, 2 hidden units, 1 output, 7 weights, MSE.
    # Data: y = sin(2x) + 0.1 * noise on [-1.5, 1.5], so the best possible MSE is about 0.01.
    x, y = make_regression_1d(100, seed=0)
    net = Sequential(Linear(1, 2, seed=0), Tanh(), Linear(2, 1, seed=1))
    assert net.num_parameters() == 7
    history = fit(net, "mse", Adam(net, lr=0.05), (x, y), epochs=1500, batch_size=None)
    # Bars: MSE < 0.02 on the data (the best straight line gets 0.17) and < 0.01 against
    # the noise-free curve.
    assert losses.mse(predict(net, x), y)[0] < 0.02
    assert losses.mse(predict(net, x), np.sin(2 * x))[0] < 0.01
    assert history.train_loss[-1] < history.train_loss[0] / 10
    assert history.train_accuracy == []  # regression: no accuracy by default


def test_2_2_1_classifier_with_9_weights_separates_two_classes():
    X, labels = make_blobs(200, seed=0)
    y = labels[:, None].astype(np.float64)  # (N, 1) targets for the one sigmoid output
    net = Sequential(Linear(2, 2, seed=0), Sigmoid(), Linear(2, 1, seed=1), Sigmoid())
    assert net.num_parameters() == 9
    history = fit(net, "binary_cross_entropy", SGD(net, lr=0.5), (X, y), epochs=50, batch_size=20)
    assert history.train_accuracy[-1] == 1.0
    assert evaluate(net, "binary_cross_entropy", X, y)["accuracy"] == 1.0


def test_digits_mlp_reaches_97_percent_test_accuracy(capsys):
    from nnkit.examples.mlp import train_digits_mlp

    model, history, test_accuracy = train_digits_mlp(seed=0)
    assert test_accuracy >= 0.97
    assert history.epochs == 40 and history.val_accuracy[-1] >= 0.95
    assert capsys.readouterr().out == ""  # silent unless verbose


# ---- fit(): batches, determinism, losses ---------------------------------------------

class CountingOptimizer:
    """Wraps an optimizer and records the batch sizes the model saw before each step."""

    def __init__(self, model, inner):
        self.model, self.inner, self.steps = model, inner, 0
        self.batch_sizes = []

    def step(self):
        self.steps += 1
        self.batch_sizes.append(self.model[0]._x.shape[0])
        self.inner.step()

    def zero_grad(self):
        self.inner.zero_grad()


@pytest.mark.parametrize("batch_size, sizes", [(None, [180]), (180, [180]), (1, [1] * 180), (50, [50, 50, 50, 30])])
def test_batch_gd_sgd_and_mini_batch_are_batch_sizes(batch_size, sizes):
    X, y = three_classes()
    net = classifier()
    opt = CountingOptimizer(net, SGD(net, lr=0.1))
    fit(net, "cross_entropy", opt, (X, y), epochs=2, batch_size=batch_size)
    assert opt.batch_sizes == sizes * 2


def test_every_example_is_seen_once_per_epoch_in_a_seeded_order():
    X = np.arange(10.0)[:, None]
    y = np.zeros((10, 1))
    seen = []

    class Recorder(Linear):
        def forward(self, x):
            if self.training:
                seen.append(x[:, 0].copy())
            return super().forward(x)

    def run(seed):
        seen.clear()
        net = Sequential(Recorder(1, 1, seed=0))
        fit(net, "mse", SGD(net, lr=0.0), (X, y), epochs=2, batch_size=4, seed=seed)
        return [np.concatenate(seen[:3]), np.concatenate(seen[3:])]

    first, second = run(0)
    assert sorted(first) == sorted(second) == list(range(10))
    assert not np.array_equal(first, second)  # reshuffled each epoch
    np.testing.assert_array_equal(run(0)[0], first)
    assert not np.array_equal(run(1)[0], first)


def test_fit_is_deterministic_for_a_seed():
    X, y = three_classes()

    def run(seed):
        net = Sequential(Linear(2, 8, seed=0), ReLU(), Dropout(0.2, seed=1), Linear(8, 3, seed=2))
        history = fit(net, "cross_entropy", Adam(net, lr=0.01), (X, y), epochs=3, batch_size=16, seed=seed)
        return history, net.state_dict()

    (h1, s1), (h2, s2), (h3, _) = run(5), run(5), run(6)
    assert h1.train_loss == h2.train_loss and h1.train_accuracy == h2.train_accuracy
    for name in s1:
        np.testing.assert_array_equal(s1[name], s2[name])
    assert h3.train_loss != h1.train_loss


def test_loss_layer_name_and_function_train_identically():
    X, y = three_classes()
    runs = []
    for loss in (SoftmaxCrossEntropy(), "cross_entropy", losses.cross_entropy):
        net = classifier()
        runs.append(fit(net, loss, SGD(net, lr=0.1), (X, y), epochs=3, batch_size=32, metrics=("accuracy",)))
    assert runs[0].train_loss == runs[1].train_loss == runs[2].train_loss
    assert runs[0].train_accuracy == runs[1].train_accuracy == runs[2].train_accuracy


def test_history_records_train_and_val_per_epoch():
    X, y = three_classes()
    Xv, yv = three_classes(seed=1)
    net = classifier()
    history = fit(net, "cross_entropy", Adam(net, lr=0.01), (X, y), epochs=4, batch_size=32, val_data=(Xv, yv))
    assert isinstance(history, History) and history.epochs == 4
    for values in history.as_dict().values():
        assert len(values) == 4
    assert history.val_loss[-1] == pytest.approx(evaluate(net, "cross_entropy", Xv, yv)["loss"], rel=1e-12)
    assert history.val_accuracy[-1] == evaluate(net, "cross_entropy", Xv, yv)["accuracy"]
    assert history.train_loss[-1] < history.train_loss[0]
    assert len(history.epoch_seconds) == 4 and min(history.epoch_seconds) > 0


def test_train_loss_is_the_batch_size_weighted_mean_of_batch_losses():
    X, y = three_classes()
    net = classifier()
    history = fit(net, "cross_entropy", SGD(net, lr=0.0), (X, y), epochs=1, batch_size=50, shuffle=False)
    expected = sum(losses.cross_entropy(net.forward(X[i:i + 50]), y[i:i + 50])[0] * len(y[i:i + 50])
                   for i in range(0, 180, 50)) / 180
    assert history.train_loss[0] == pytest.approx(expected, rel=1e-12)


def test_nan_loss_stops_training_naming_epoch_and_batch():
    X, y = three_classes()
    calls = []

    def flaky_loss(out, target):
        calls.append(1)
        value, grad = losses.cross_entropy(out, target)
        return (float("nan") if len(calls) == 7 else value), grad

    net = classifier()
    with pytest.raises(FloatingPointError, match=r"fit: the loss is nan at epoch 2, batch 3 of 4"):
        fit(net, flaky_loss, SGD(net, lr=0.1), (X, y), epochs=3, batch_size=50)


def test_diverging_training_raises_instead_of_returning_inf():
    x = np.linspace(-1, 1, 20)[:, None]
    net = Sequential(Linear(1, 1, seed=0))
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(FloatingPointError, match=r"fit: the loss is (inf|nan) at epoch \d+, batch \d+ of 1"):
        fit(net, "mse", SGD(net, lr=1e6), (x, 1e150 * x), epochs=50, batch_size=None)


# ---- early stopping and checkpoints ----------------------------------------------------

def overfitting_setup():
    """A wide net on 12 noisy points: validation loss turns up after a few epochs."""
    rng = np.random.default_rng(0)
    X, Xv = rng.normal(size=(12, 2)), rng.normal(size=(200, 2))
    y, yv = rng.integers(0, 3, size=12), rng.integers(0, 3, size=200)
    net = Sequential(Linear(2, 64, seed=0), ReLU(), Linear(64, 3, seed=1))
    return net, (X, y), (Xv, yv)


def test_early_stopping_stops_after_patience_and_restores_best_weights():
    net, data, val = overfitting_setup()
    history = fit(net, "cross_entropy", Adam(net, lr=0.02), data, epochs=200, batch_size=None, val_data=val, patience=5)
    assert history.stopped_early
    best = history.best_epoch
    assert history.epochs == best + 5
    assert history.val_loss[best - 1] == min(history.val_loss)
    assert history.val_loss[-1] > history.val_loss[best - 1]
    assert evaluate(net, "cross_entropy", *val)["loss"] == pytest.approx(history.val_loss[best - 1], rel=1e-12)


def test_early_stopping_restores_batchnorm_running_stats_too():
    net, data, val = overfitting_setup()
    net = Sequential(Linear(2, 64, seed=0), BatchNorm1d(64), ReLU(), Linear(64, 3, seed=1))
    history = fit(net, "cross_entropy", Adam(net, lr=0.02), data, epochs=200, batch_size=None, val_data=val, patience=3)
    assert history.stopped_early
    assert evaluate(net, "cross_entropy", *val)["loss"] == pytest.approx(history.val_loss[history.best_epoch - 1], rel=1e-12)


def test_patience_needs_validation_data():
    X, y = three_classes()
    with pytest.raises(ValueError, match="fit: patience .* needs val_data"):
        fit(classifier(), "cross_entropy", SGD(classifier(), lr=0.1), (X, y), epochs=2, batch_size=8, patience=2)


def test_checkpoint_round_trip_restores_every_param_and_buffer(tmp_path):
    rng = np.random.default_rng(1)
    net = Sequential(Linear(3, 4, seed=0), BatchNorm1d(4), ReLU(), Linear(4, 2, seed=1))
    net.forward(rng.normal(size=(5, 3)))  # moves the running statistics
    path = tmp_path / "model.npz"
    save_checkpoint(net, path)
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted([
            "layer0.W", "layer0.b", "layer1.gamma", "layer1.beta",
            "layer1.running_mean", "layer1.running_var", "layer3.W", "layer3.b",
        ])
    other = Sequential(Linear(3, 4, seed=7), BatchNorm1d(4), ReLU(), Linear(4, 2, seed=8))
    W_before = other[0].params["W"]
    load_checkpoint(other, path)
    assert other[0].params["W"] is W_before  # loaded in place: optimizers keep their references
    x = rng.normal(size=(3, 3))
    np.testing.assert_array_equal(other.eval().forward(x), net.eval().forward(x))


def test_load_checkpoint_names_a_shape_mismatch(tmp_path):
    path = tmp_path / "m.npz"
    save_checkpoint(Sequential(Linear(3, 4, seed=0), ReLU(), Linear(4, 2, seed=1)), path)
    wrong = Sequential(Linear(3, 5, seed=0), ReLU(), Linear(5, 2, seed=1))
    with pytest.raises(ValueError, match=r"layer0.W must have shape \(3, 5\), got shape \(3, 4\)"):
        load_checkpoint(wrong, path)


def test_load_checkpoint_names_missing_and_unexpected_entries(tmp_path):
    path = tmp_path / "m.npz"
    save_checkpoint(Sequential(Linear(3, 4, seed=0), ReLU(), Linear(4, 2, seed=1)), path)
    wrong = Sequential(Linear(3, 4, seed=0), Linear(4, 2, seed=1))
    with pytest.raises(ValueError, match=r"missing: \['layer1.W', 'layer1.b'\], unexpected: \['layer2.W', 'layer2.b'\]"):
        load_checkpoint(wrong, path)
    with pytest.raises(FileNotFoundError, match="load_checkpoint: no checkpoint at"):
        load_checkpoint(wrong, tmp_path / "absent.npz")


def test_load_checkpoint_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"layer0.W": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle"):
        load_checkpoint(Sequential(Linear(1, 1, seed=0)), path)


def test_fit_checkpoints_the_best_epoch(tmp_path):
    net, data, val = overfitting_setup()
    path = tmp_path / "best.npz"
    history = fit(net, "cross_entropy", Adam(net, lr=0.02), data, epochs=30, batch_size=None, val_data=val,
                  checkpoint_path=path)
    assert not history.stopped_early and history.best_epoch < 30
    best = Sequential(Linear(2, 64, seed=5), ReLU(), Linear(64, 3, seed=6))
    load_checkpoint(best, path)
    assert evaluate(best, "cross_entropy", *val)["loss"] == pytest.approx(min(history.val_loss), rel=1e-12)


def test_load_state_dict_copies_and_checks():
    a, b = classifier(seed=0), classifier(seed=3)
    state = a.state_dict()
    state["layer0.W"] += 1.0  # a copy: the model is unchanged
    assert not np.array_equal(state["layer0.W"], a[0].params["W"])
    b.load_state_dict(state)
    np.testing.assert_array_equal(b[0].params["W"], state["layer0.W"])


# ---- progress bar, argument checks, accuracy --------------------------------------------

def test_progress_bar_shows_epochs(capsys):
    X, y = three_classes()
    net = classifier()
    fit(net, "cross_entropy", SGD(net, lr=0.1), (X, y), epochs=3, batch_size=64, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err


def test_progress_without_tqdm_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    X, y = three_classes()
    net = classifier()
    with pytest.raises(ImportError, match=r"fit: progress=True needs tqdm"):
        fit(net, "cross_entropy", SGD(net, lr=0.1), (X, y), epochs=1, batch_size=64, progress=True)


def test_tqdm_is_imported_only_when_asked():
    import subprocess

    code = ("import sys, numpy as np; from nnkit.train import fit; from nnkit.layers import Linear, Sequential; "
            "from nnkit.optim import SGD; n = Sequential(Linear(1, 1, seed=0)); "
            "fit(n, 'mse', SGD(n, lr=0.1), (np.ones((4, 1)), np.ones((4, 1))), epochs=1, batch_size=2); "
            "print('tqdm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ})
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(epochs=0, batch_size=4), ValueError, "fit: epochs must be a positive int, got 0"),
    (dict(epochs=1, batch_size=0), ValueError, "fit: batch_size must be a positive int, got 0"),
    (dict(epochs=1, batch_size=2.5), TypeError, "fit: batch_size must be an int, got float 2.5"),
])
def test_fit_rejects_bad_counts(kwargs, error, message):
    X, y = three_classes()
    net = classifier()
    with pytest.raises(error, match=message):
        fit(net, "cross_entropy", SGD(net, lr=0.1), (X, y), **kwargs)


def test_fit_rejects_bad_data():
    net = classifier()
    opt = SGD(net, lr=0.1)
    with pytest.raises(ValueError, match=r"fit: data X and y differ in length: X.shape=\(5, 2\), y.shape=\(4,\)"):
        fit(net, "cross_entropy", opt, (np.zeros((5, 2)), np.zeros(4, dtype=int)), epochs=1, batch_size=2)
    X = np.zeros((4, 2))
    X[1, 1] = np.nan
    with pytest.raises(ValueError, match=r"fit: data X must be finite, found nan at index \(1, 1\)"):
        fit(net, "cross_entropy", opt, (X, np.zeros(4, dtype=int)), epochs=1, batch_size=2)
    with pytest.raises(TypeError, match=r"fit: data must be a pair \(X, y\) of arrays, got ndarray"):
        fit(net, "cross_entropy", opt, np.zeros((4, 2)), epochs=1, batch_size=2)
    with pytest.raises(ValueError, match="unknown"):
        fit(net, "crossentropy", opt, (np.zeros((4, 2)), np.zeros(4, dtype=int)), epochs=1, batch_size=2)


def test_fit_does_not_modify_the_data():
    X, y = three_classes()
    X0, y0 = X.copy(), y.copy()
    net = classifier()
    fit(net, "cross_entropy", SGD(net, lr=0.1), (X, y), epochs=2, batch_size=16)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_accuracy_handles_indices_one_hot_and_binary_outputs():
    scores = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 1.0], [5.0, 0.0, 0.0]])
    labels = np.array([0, 1, 1, 0])
    assert accuracy(scores, labels) == 0.75
    assert accuracy(scores, np.eye(3)[labels]) == 0.75
    assert accuracy(np.array([[0.7], [0.2], [0.6]]), np.array([[1.0], [0.0], [0.0]])) == pytest.approx(2 / 3)
    assert accuracy(np.array([[0.3], [-0.2]]), np.array([[1.0], [0.0]]), threshold=0.0) == 1.0
    with pytest.raises(ValueError, match=r"accuracy: target must be \(N,\) class indices or \(N, C\) one-hot"):
        accuracy(scores, labels[:, None])


def test_fit_matches_a_torch_training_loop_step_for_step(torch):
    # Same initial weights, same batches (fit's seeded order), Adam: after 3 epochs every
    # weight and running statistic agrees with PyTorch to 1e-10.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(37, 5)), rng.integers(0, 3, size=37)
    # (Batch norm after the nonlinearity: a bias right before batch norm has a zero gradient,
    # and Adam would turn its round-off into full-size steps.)
    net = Sequential(Linear(5, 7, seed=1), Tanh(), BatchNorm1d(7), Linear(7, 3, seed=2))
    net[0].params["b"][:] = rng.normal(size=7)
    ref = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.BatchNorm1d(7), torch.nn.Linear(7, 3))
    with torch.no_grad():
        for i in (0, 3):
            ref[i].weight.copy_(torch.from_numpy(net[i].params["W"].T))
            ref[i].bias.copy_(torch.from_numpy(net[i].params["b"]))
    opt_t = torch.optim.Adam(ref.parameters(), lr=0.01)
    order_rng = np.random.default_rng(4)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(3):
        order = order_rng.permutation(37)
        for start in range(0, 37, 8):
            idx = torch.from_numpy(order[start:start + 8])
            opt_t.zero_grad()
            torch.nn.functional.cross_entropy(ref(Xt[idx]), yt[idx]).backward()
            opt_t.step()

    history = fit(net, SoftmaxCrossEntropy(), Adam(net, lr=0.01), (X, y), epochs=3, batch_size=8, seed=4)
    assert history.epochs == 3
    for i in (0, 3):
        np.testing.assert_allclose(net[i].params["W"], ref[i].weight.detach().numpy().T, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(net[i].params["b"], ref[i].bias.detach().numpy(), rtol=1e-10, atol=1e-12)
    bn, bn_t = net[2], ref[2]
    np.testing.assert_allclose(bn.params["gamma"], bn_t.weight.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.params["beta"], bn_t.bias.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.buffers["running_mean"], bn_t.running_mean.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn.buffers["running_var"], bn_t.running_var.numpy(), rtol=1e-10, atol=1e-12)
