"""Mini-batch training: fit(), History, early stopping and .npz checkpoints.

Batch gradient descent, stochastic gradient descent and mini-batch gradient
descent are the same loop with different batch sizes: ``batch_size=None`` (or
N) is full-batch GD, ``batch_size=1`` is SGD, anything between is mini-batch.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from nnkit import _validate as check
from nnkit import losses

LossFn = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]

# Losses whose targets are classes; for these fit() reports accuracy by default.
# The number is the decision threshold for one-column outputs: 0 for logits, 0.5 for probabilities.
# (A function passed as the loss is looked up by its __name__, e.g. nnkit.losses.cross_entropy.)
_CLASSIFICATION_LOSSES = {
    "cross_entropy": 0.0,
    "softmax_cross_entropy": 0.0,  # the SoftmaxCrossEntropy layer
    "binary_cross_entropy_with_logits": 0.0,
    "binary_cross_entropy": 0.5,
    "categorical_cross_entropy": 0.5,
    "nll_loss": 0.5,
}


@dataclass
class History:
    """What :func:`fit` measured, one entry per completed epoch.

    Attributes
    ----------
    train_loss : list of float
        Mean loss over the epoch's batches, weighted by batch size, measured
        while training (the model changes during the epoch, as in Keras).
    train_accuracy : list of float
        Accuracy of those same training-mode outputs (empty if not measured).
    val_loss, val_accuracy : list of float
        The validation set in eval mode after each epoch (empty without ``val_data``).
    epoch_seconds : list of float
        Wall-clock time of each epoch's training (not the validation pass).
    best_epoch : int or None
        1-based epoch with the lowest validation loss (None without ``val_data``).
    stopped_early : bool
        True if early stopping ended training before ``epochs``.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    def as_dict(self) -> dict[str, list[float]]:
        """The per-epoch lists by name (e.g. for :mod:`nnkit.plot`)."""
        return {
            "train_loss": list(self.train_loss), "train_accuracy": list(self.train_accuracy),
            "val_loss": list(self.val_loss), "val_accuracy": list(self.val_accuracy),
        }


def fit(
    model,
    loss,
    optimizer,
    data: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    batch_size: int | None,
    seed: int = 0,
    val_data: tuple[np.ndarray, np.ndarray] | None = None,
    patience: int | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    progress: bool = False,
    metrics: tuple[str, ...] | None = None,
    shuffle: bool = True,
) -> History:
    """Train ``model`` with mini-batch gradient descent.

    Parameters
    ----------
    model : Layer
        Usually a :class:`nnkit.layers.Sequential`; trained in place, in training mode (``model.train()``)
        for the updates and eval mode for ``val_data``; its own mode is restored at the end.
    loss : SoftmaxCrossEntropy, str or callable
        A :class:`nnkit.layers.SoftmaxCrossEntropy` layer, a loss name for
        :func:`nnkit.losses.get` (``"cross_entropy"``, ``"mse"``, ...), or a
        function ``(output, target) -> (value, doutput)`` like those in :mod:`nnkit.losses`.
    optimizer : nnkit.optim optimizer
        Built on the model's parameters; ``fit`` calls ``step()`` once per batch.
    data : (X, y)
        X (N, ...) inputs and y (N, ...) targets; never modified.
    epochs : int
        Maximum number of passes over the data.
    batch_size : int or None
        Examples per update; ``None`` means all N (batch gradient descent).
    seed : int, default 0
        Seeds the shuffling; the same seed, model and optimizer give the same run.
    val_data : (X_val, y_val), optional
        Evaluated in eval mode after every epoch.
    patience : int, optional
        Early stopping: stop after ``patience`` epochs without a lower validation
        loss. When training ends (stopped early or not) the weights and
        batch-norm statistics of the best epoch are restored. Needs ``val_data``.
    checkpoint_path : path, optional
        Where to save the model (:func:`save_checkpoint`): after every epoch that
        lowers the validation loss, or after every epoch without ``val_data``.
    progress : bool, default False
        Show a tqdm progress bar over epochs (needs ``tqdm`` installed).
    metrics : tuple of str, optional
        ``("accuracy",)`` or ``()``. Default: accuracy for classification losses
        (cross-entropies), nothing for regression losses.
    shuffle : bool, default True
        Visit the examples in a new seeded random order every epoch.

    Returns
    -------
    History

    Raises
    ------
    FloatingPointError
        If a batch's loss is NaN or infinite; the message names the epoch and batch.
    """
    X, y = _check_data(data, "data")
    if val_data is not None:
        val_data = _check_data(val_data, "val_data")
    epochs = check.positive_int(epochs, "fit", "epochs")
    batch_size = check.positive_int(X.shape[0] if batch_size is None else batch_size, "fit", "batch_size")
    if patience is not None and val_data is None:
        raise ValueError("fit: patience (early stopping) needs val_data to watch, got val_data=None")
    patience = None if patience is None else check.positive_int(patience, "fit", "patience")
    loss_name, loss_fn = _resolve_loss(loss)
    threshold = _accuracy_threshold(loss_name, metrics)

    history = History()
    rng = np.random.default_rng(seed)
    best_state = None
    bar = _progress_bar(epochs) if progress else None
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            order = rng.permutation(X.shape[0]) if shuffle else np.arange(X.shape[0])
            with _mode(model, training=True):
                loss_value, acc = _train_one_epoch(model, loss_fn, optimizer, X, y, order, batch_size, epoch,
                                                   threshold)
            history.epoch_seconds.append(time.perf_counter() - start)
            _record(history, "train", loss_value, acc)
            improved = True if val_data is None else _validate(model, loss_fn, val_data, threshold, history, epoch)
            if improved and patience is not None:
                best_state = model.state_dict()
            if improved and checkpoint_path is not None:
                save_checkpoint(model, checkpoint_path)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(_postfix(history))
            if patience is not None and epoch - history.best_epoch >= patience:
                history.stopped_early = epoch < epochs
                break
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def _record(history: History, split: str, loss_value: float, acc: float | None) -> None:
    getattr(history, f"{split}_loss").append(loss_value)
    if acc is not None:
        getattr(history, f"{split}_accuracy").append(acc)


def _validate(model, loss_fn, val_data, threshold, history: History, epoch: int) -> bool:
    """Evaluate on the validation set, record it, and say whether this epoch is the best so far."""
    val = _evaluate(model, loss_fn, *val_data, threshold)
    if not np.isfinite(val["loss"]):
        raise FloatingPointError(f"fit: the validation loss is {val['loss']} after epoch {epoch}")
    improved = not history.val_loss or val["loss"] < min(history.val_loss)
    _record(history, "val", val["loss"], val.get("accuracy"))
    if improved:
        history.best_epoch = epoch
    return improved


def _train_one_epoch(model, loss_fn, optimizer, X, y, order, batch_size, epoch, threshold):
    """One pass over the data in ``order``; returns (mean loss, accuracy or None)."""
    n_batches = -(-len(order) // batch_size)
    total_loss, correct = 0.0, 0.0
    for b in range(n_batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        xb, yb = X[idx], y[idx]
        out = model.forward(xb)
        value, dout = loss_fn(out, yb)
        if not np.isfinite(value):
            raise FloatingPointError(
                f"fit: the loss is {value} at epoch {epoch}, batch {b + 1} of {n_batches}; training diverged. "
                "Try a smaller learning rate, standardised inputs, or gradient clipping."
            )
        # Layers overwrite their grads in backward (the Layer protocol), so no zero_grad is needed.
        model.backward(dout)
        optimizer.step()
        total_loss += value * len(idx)
        if threshold is not None:
            correct += accuracy(out, yb, threshold=threshold) * len(idx)
    return total_loss / len(order), (correct / len(order) if threshold is not None else None)


def evaluate(model, loss, X: np.ndarray, y: np.ndarray, *, metrics: tuple[str, ...] | None = None) -> dict[str, float]:
    """Loss (and accuracy, for classification losses) of ``model`` on (X, y) in eval mode.

    Returns
    -------
    dict
        ``{"loss": float}`` plus ``"accuracy"`` when measured (see ``metrics`` in :func:`fit`).
    """
    X, y = _check_data((X, y), "(X, y)", where="evaluate")
    loss_name, loss_fn = _resolve_loss(loss, where="evaluate")
    return _evaluate(model, loss_fn, X, y, _accuracy_threshold(loss_name, metrics, where="evaluate"))


def _evaluate(model, loss_fn, X, y, threshold) -> dict[str, float]:
    out = predict(model, X)
    value, _ = loss_fn(out, y)
    result = {"loss": float(value)}
    if threshold is not None:
        result["accuracy"] = accuracy(out, y, threshold=threshold)
    return result


def predict(model, X: np.ndarray) -> np.ndarray:
    """The model's output for X in eval mode (dropout off, batch norm on running statistics).

    The model's own mode (``model.training``) is restored afterwards.
    """
    with _mode(model, training=False):
        return model.forward(X)


@contextlib.contextmanager
def _mode(model, *, training: bool) -> Iterator[None]:
    """Run a block with ``model.train(training)``, then put the model back in the mode it had."""
    previous = model.training
    model.train(training)
    try:
        yield
    finally:
        model.train(previous)


def accuracy(output: np.ndarray, target: np.ndarray, *, threshold: float = 0.5) -> float:
    """Fraction of correct predictions.

    Parameters
    ----------
    output : np.ndarray
        (N, C) class scores or probabilities with C >= 2 (prediction: argmax), or
        (N,) / (N, 1) binary scores (prediction: ``output > threshold``).
    target : np.ndarray
        (N,) class indices or 0/1 labels, (N, C) one-hot, or (N, 1) 0/1 labels.
    threshold : float, default 0.5
        For binary outputs: 0.5 for probabilities, 0 for logits.
    """
    output, target = np.asarray(output), np.asarray(target)
    if output.ndim == 2 and output.shape[1] >= 2:
        predicted = output.argmax(axis=1)
        if target.shape == output.shape:
            target = target.argmax(axis=1)
        elif target.shape != (output.shape[0],):
            raise ValueError(f"accuracy: target must be (N,) class indices or (N, C) one-hot for "
                             f"output.shape={output.shape}, got target.shape={target.shape}")
    elif output.ndim in (1, 2) and output.shape == target.shape:
        predicted = (output > threshold).astype(target.dtype)
    else:
        raise ValueError(f"accuracy: output and target must be (N, C) with (N,) or (N, C), or binary (N,)/(N, 1) "
                         f"with the same shape, got {output.shape} and {target.shape}")
    return float(np.mean(predicted == target))


# ---- model state and checkpoints -----------------------------------------------------

def save_checkpoint(model, path: str | os.PathLike) -> None:
    """Save every param and buffer of ``model`` to an ``.npz`` file (no pickle).

    The file maps names like ``"layer0.W"`` (see :meth:`nnkit.layers.Layer.state_dict`) to arrays.
    It is written to a temporary file first and then renamed, so an interrupted
    save never leaves a half-written checkpoint. ``path`` is used as given (no
    ``.npz`` is appended).
    """
    path = os.fspath(path)
    state = model.state_dict()
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **state)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(model, path: str | os.PathLike):
    """Load a checkpoint written by :func:`save_checkpoint` into ``model``; returns the model.

    Names and shapes must match the model exactly; the file is read with
    ``allow_pickle=False``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {path!r}")
    with np.load(path, allow_pickle=False) as archive:
        state = {name: archive[name] for name in archive.files}
    model.load_state_dict(state)
    return model


# ---- argument handling ----------------------------------------------------------------

def _check_data(data, arg: str, where: str = "fit") -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{where}: {arg} must be a pair (X, y) of arrays, got {type(data).__name__}")
    X, y = data
    for name, value in (("X", X), ("y", y)):   # checked, not converted: y may hold integer class labels
        check.real_array(value, where, f"{arg} {name}", ndarray=True, finite=name == "X", empty=False)
    if X.ndim == 0 or y.ndim == 0 or y.shape[0] != X.shape[0]:
        raise ValueError(f"{where}: {arg} X and y differ in length: X.shape={X.shape}, y.shape={y.shape}")
    return X, y


def _resolve_loss(loss, where: str = "fit") -> tuple[str, LossFn]:
    """(name, function (output, target) -> (value, doutput)) for any accepted form of ``loss``."""
    if isinstance(loss, str):
        return loss.strip().lower(), losses.get(loss)
    if hasattr(loss, "forward") and hasattr(loss, "backward"):
        def layer_loss(output, target):
            value = loss.forward(output, target)
            return value, loss.backward()

        return "softmax_cross_entropy", layer_loss
    if callable(loss):
        return getattr(loss, "__name__", "custom"), loss
    raise TypeError(f"{where}: loss must be a SoftmaxCrossEntropy layer, a loss name such as 'cross_entropy', "
                    f"or a function (output, target) -> (value, grad), got {type(loss).__name__}")


def _accuracy_threshold(loss_name: str, metrics, where: str = "fit") -> float | None:
    """The binary decision threshold if accuracy is measured, else None."""
    if metrics is None:
        return _CLASSIFICATION_LOSSES.get(loss_name)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m != "accuracy"]
    if unknown:
        raise ValueError(f"{where}: unknown metrics {unknown}; the known metric is 'accuracy'")
    if not metrics:
        return None
    return _CLASSIFICATION_LOSSES.get(loss_name, 0.5)


def _progress_bar(epochs: int):
    try:
        from tqdm.auto import tqdm  # imported here: tqdm is optional for nnkit
    except ImportError as exc:
        raise ImportError("fit: progress=True needs tqdm (pip install tqdm)") from exc
    return tqdm(total=epochs, desc="epochs", unit="epoch")


def _postfix(history: History) -> dict[str, str]:
    shown = {"loss": history.train_loss}
    if history.val_loss:
        shown["val_loss"] = history.val_loss
    if history.val_accuracy:
        shown["val_acc"] = history.val_accuracy
    return {name: f"{values[-1]:.4f}" for name, values in shown.items()}
