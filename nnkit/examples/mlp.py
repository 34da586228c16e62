"""A multi-layer perceptron on the 8x8 handwritten digits, trained with nnkit.

This is the reference solution for the digits classifier of unit 3, and what
``nnkit demo`` runs: 64 pixels -> 128 ReLU units -> 10 class scores, trained
with Adam on mini-batches of 32 and the fused softmax cross-entropy loss.
Gaussian noise on the (standardised) inputs during training is the one
regulariser; on the kit's split it lifts test accuracy from about 96-97% to
about 97.5-98% (seeds 0-5).
"""

from __future__ import annotations

from nnkit.data import digits_splits
from nnkit.layers import GaussianNoise, Linear, ReLU, Sequential, SoftmaxCrossEntropy
from nnkit.optim import Adam
from nnkit.train import History, accuracy, fit


def digits_mlp(hidden: int = 128, *, noise_std: float | None = None, seed: int = 0) -> Sequential:
    """The 64-``hidden``-10 ReLU network (PyTorch's default Linear initialisation), seeded.

    With ``noise_std`` a :class:`GaussianNoise` layer first perturbs the
    inputs while training (it is the identity at evaluation).
    """
    layers = [Linear(64, hidden, seed=seed), ReLU(), Linear(hidden, 10, seed=seed + 1)]
    if noise_std is not None:
        layers.insert(0, GaussianNoise(noise_std, seed=seed + 2))
    return Sequential(*layers)


def train_digits_mlp(
    seed: int = 0,
    *,
    hidden: int = 128,
    noise_std: float | None = 0.3,
    epochs: int = 40,
    batch_size: int = 32,
    lr: float = 3e-3,
    verbose: bool = False,
) -> tuple[Sequential, History, float]:
    """Train :func:`digits_mlp` on the kit's fixed digits split.

    Parameters
    ----------
    seed : int, default 0
        Seeds the initial weights, the input noise and the shuffling (the
        split itself is :func:`nnkit.data.digits_splits`'s fixed one).
    hidden, noise_std, epochs, batch_size, lr
        Width of the hidden layer, standard deviation of the input noise
        (``None`` for none), passes over the training split, examples per Adam
        step, Adam's learning rate.
    verbose : bool, default False
        Print one line per epoch and the test accuracy.

    Returns
    -------
    model : Sequential
        The trained network, in eval mode; ``model.forward(X)`` gives (N, 10) logits.
    history : History
        Per-epoch training and validation loss and accuracy.
    test_accuracy : float
        Accuracy on the held-out test split, which training never sees.
    """
    split = digits_splits()
    model = digits_mlp(hidden, noise_std=noise_std, seed=seed)
    history = fit(
        model, SoftmaxCrossEntropy(), Adam(model, lr=lr), (split["X_train"], split["y_train"]),
        epochs=epochs, batch_size=batch_size, seed=seed, val_data=(split["X_val"], split["y_val"]),
    )
    test_accuracy = accuracy(model.eval().forward(split["X_test"]), split["y_test"])
    if verbose:
        for epoch in range(history.epochs):
            print(
                f"epoch {epoch + 1:3d}  train loss {history.train_loss[epoch]:.4f}  "
                f"val loss {history.val_loss[epoch]:.4f}  val accuracy {history.val_accuracy[epoch]:.3f}"
            )
        print(f"test accuracy {test_accuracy:.4f} on {len(split['y_test'])} held-out digits")
    return model, history, test_accuracy
