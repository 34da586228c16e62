"""Threshold logic units, the perceptron learning rule and the delta rule.

A threshold logic unit (TLU) computes a weighted sum of its inputs and passes it
through a step function. A perceptron is one fully connected layer of K TLUs.

Conventions (``shared/DESIGN.md`` §3):

- **Bias as an input.** Every example gets a constant input ``x0 = 1`` in column
  0 (:func:`add_bias`), so the weights are one matrix ``theta`` of shape
  ``(D+1, K)``: row 0 holds the K biases, rows 1..D the input weights, and
  column j belongs to unit j. The pre-activation is ``z = add_bias(X) @ theta``.
- **Steps.** ``heaviside(z) = 1`` for ``z > 0`` and ``0`` otherwise, so
  ``heaviside(0) = 0``; ``sign(z) = 1`` for ``z > 0`` and ``-1`` otherwise, so
  ``sign(0) = -1``. Targets are 0/1 with heaviside and -1/+1 with sign.
- **Perceptron rule.** ``theta_ij <- theta_ij + lr * (y_j - a_j) * x_i``, applied
  online, one example at a time, in data order unless a seeded shuffle is asked
  for. A correct prediction (``a_j == y_j``) leaves unit j unchanged.
- Everything is float64; caller arrays are never modified.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnkit import _validate as check
from nnkit import activations

ACTIVATIONS = ("heaviside", "sign")
_TARGETS = {"heaviside": (0.0, 1.0), "sign": (-1.0, 1.0)}


def _step(z: np.ndarray, activation: str) -> np.ndarray:
    """Apply the named step function; both map z = 0 to the lower level."""
    return activations.heaviside(z) if activation == "heaviside" else activations.sign(z)


def _check_targets(fn: str, y: np.ndarray, activation: str) -> None:
    levels = _TARGETS[activation]
    bad = ~np.isin(y, levels)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{fn}: with activation={activation!r} the targets must be {levels[0]:g} or "
                         f"{levels[1]:g}, got y[{', '.join(map(str, idx))}] = {y[idx]:g}")


def _make_rng(fn: str, shuffle: bool, seed) -> np.random.Generator | None:
    if not shuffle:
        return None
    if seed is None:
        raise ValueError(f"{fn}: shuffle=True needs a seed (an int or a Generator) to be reproducible, got None")
    return check.generator(fn, seed)


def add_bias(X: np.ndarray) -> np.ndarray:
    """Prepend the constant bias input ``x0 = 1`` to every example.

    Parameters
    ----------
    X : np.ndarray, shape (N, D)

    Returns
    -------
    np.ndarray, shape (N, D+1)
        A new float64 array whose column 0 is all ones and columns 1..D are ``X``.
    """
    return _with_bias(check.real_array(X, "add_bias", "X", "(N, D)"))


def _with_bias(X: np.ndarray) -> np.ndarray:
    return np.concatenate([np.ones((X.shape[0], 1)), X], axis=1)


def tlu_predict(theta: np.ndarray, X: np.ndarray, activation: str = "heaviside") -> np.ndarray:
    """Outputs of K threshold logic units on N examples.

    Parameters
    ----------
    theta : np.ndarray, shape (D+1, K)
        Row 0 holds the biases (the weights of ``x0 = 1``). A single unit still
        uses shape ``(D+1, 1)``.
    X : np.ndarray, shape (N, D)
        Inputs without the bias column.
    activation : {"heaviside", "sign"}
        ``heaviside(0) = 0`` and ``sign(0) = -1``.

    Returns
    -------
    np.ndarray, shape (N, K)
        ``step(add_bias(X) @ theta)``: 0/1 for heaviside, -1/+1 for sign.
    """
    check.choice(activation, ACTIVATIONS, "tlu_predict", "activation")
    X, theta = check.arrays("tlu_predict", X=(X, "(N, D)"), theta=(theta, "(D+1, K)"))
    return _step(_with_bias(X) @ theta, activation)


def perceptron_step(theta: np.ndarray, x: np.ndarray, y: np.ndarray, lr: float,
                    activation: str = "heaviside") -> np.ndarray:
    """One application of the perceptron rule to one example; returns a new theta.

    Parameters
    ----------
    theta : np.ndarray, shape (D+1, K)
        Current weights, row 0 the biases. Not modified.
    x : np.ndarray, shape (D,)
        One example without the bias input; ``x0 = 1`` is added here.
    y : np.ndarray, shape (K,)
        Its targets: 0/1 for heaviside, -1/+1 for sign.
    lr : float
        The learning rate eta > 0.
    activation : {"heaviside", "sign"}

    Returns
    -------
    np.ndarray, shape (D+1, K)
        ``theta + lr * outer(x_tilde, y - a)`` with ``x_tilde = (1, x)`` and
        ``a = step(x_tilde @ theta)``: a unit whose output was right is unchanged.

    Notes
    -----
    The rule is ``theta_ij <- theta_ij + lr * (y_j - a_j) * x_i``. With the sign
    activation a mistake changes the weights by ``2 * lr * y_j * x_i``.
    """
    fn = "perceptron_step"
    check.choice(activation, ACTIVATIONS, fn, "activation")
    x, theta, y = check.arrays(fn, x=(x, "(D,)"), theta=(theta, "(D+1, K)"), y=(y, "(K,)"))
    lr = check.number(lr, fn, "lr", low=0.0, low_open=True, finite=True)
    _check_targets(fn, y, activation)
    x_tilde = np.concatenate([[1.0], x])
    a = _step(x_tilde @ theta, activation)
    return theta + np.outer(x_tilde, lr * (y - a))


@dataclass(frozen=True)
class PerceptronResult:
    """What :func:`train_perceptron` returns.

    Attributes
    ----------
    converged : bool
        True when the last epoch made no mistake (the data are then separated).
    epochs : int
        Epochs run, including the final mistake-free one.
    mistakes_per_epoch : list[int]
        For each epoch, the number of examples on which at least one unit was wrong
        when the example was presented (each such example caused an update).
    theta : np.ndarray, shape (D+1, K)
        The final weights.
    activation : str
    """

    converged: bool
    epochs: int
    mistakes_per_epoch: list[int]
    theta: np.ndarray
    activation: str = "heaviside"

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``tlu_predict(self.theta, X, self.activation)``, shape (N, K)."""
        return tlu_predict(self.theta, X, self.activation)


def train_perceptron(X: np.ndarray, y: np.ndarray, *, lr: float = 0.1, max_epochs: int = 100,
                     theta0: np.ndarray | None = None, shuffle: bool = False,
                     seed: int | np.random.Generator | None = None,
                     activation: str = "heaviside") -> PerceptronResult:
    """Train K threshold logic units with the perceptron rule, online, epoch by epoch.

    Parameters
    ----------
    X : np.ndarray, shape (N, D)
        Inputs without the bias column.
    y : np.ndarray, shape (N, K) or (N,)
        Targets, 0/1 for heaviside and -1/+1 for sign. A 1-D ``y`` means one unit
        (K = 1); theta is then ``(D+1, 1)``.
    lr : float
        Learning rate eta > 0.
    max_epochs : int
        Upper bound on the number of passes over the data.
    theta0 : np.ndarray, shape (D+1, K), optional
        Starting weights (copied). Default: zeros.
    shuffle : bool
        False (default): every epoch visits the examples in data order.
        True: every epoch visits them in a fresh random permutation drawn from
        ``seed``, so ``seed`` is then required.
    seed : int or np.random.Generator, optional
        Source of the permutations; ignored when ``shuffle=False``.
    activation : {"heaviside", "sign"}

    Returns
    -------
    PerceptronResult
        ``converged`` is False when ``max_epochs`` passed with mistakes still being
        made (for example on XOR); this is reported, never raised.

    Notes
    -----
    Each example ``x`` updates every unit with ``theta_ij += lr * (y_j - a_j) * x_i``
    (``x_0 = 1``), using the weights as they are at that moment. Training stops
    after the first epoch with no mistake.
    """
    fn = "train_perceptron"
    check.choice(activation, ACTIVATIONS, fn, "activation")
    X, y = check.arrays(fn, X=(X, "(N, D)"), y=(y, ("(N,)", "(N, K)")), empty=False)
    Y = y.reshape(-1, 1) if y.ndim == 1 else y
    _check_targets(fn, Y, activation)
    lr = check.number(lr, fn, "lr", low=0.0, low_open=True, finite=True)
    max_epochs = check.positive_int(max_epochs, fn, "max_epochs")
    rng = _make_rng(fn, shuffle, seed)
    n, d = X.shape
    k = Y.shape[1]
    if theta0 is None:
        theta = np.zeros((d + 1, k))
    else:
        theta = check.real_array(theta0, fn, "theta0", "(D+1, K)", sizes={"D": d, "K": k}, copy=True)

    Xb = _with_bias(X)
    mistakes: list[int] = []
    for _ in range(max_epochs):
        order = rng.permutation(n) if rng is not None else range(n)
        wrong = 0
        for i in order:
            error = Y[i] - _step(Xb[i] @ theta, activation)  # (K,), zero where the unit was right
            if error.any():
                wrong += 1
                theta += np.outer(Xb[i], lr * error)
        mistakes.append(wrong)
        if wrong == 0:
            break
    return PerceptronResult(converged=mistakes[-1] == 0, epochs=len(mistakes),
                            mistakes_per_epoch=mistakes, theta=theta, activation=activation)


@dataclass(frozen=True)
class DeltaRuleResult:
    """What :func:`delta_rule` returns.

    Attributes
    ----------
    w : np.ndarray, shape (D+1, K)
        Final weights of the linear unit(s), row 0 the biases.
    losses : list[float]
        Squared error ``E = 1/2 * sum((y - X_tilde @ w)**2)`` over the whole data
        set after each epoch.
    diverged : bool
        True when the loss became infinite or NaN (the learning rate was too
        large); training stopped at that epoch.
    """

    w: np.ndarray
    losses: list[float]
    diverged: bool

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Linear outputs ``add_bias(X) @ self.w``, shape (N, K)."""
        X = check.real_array(X, "DeltaRuleResult.predict", "X", "(N, D)", sizes={"D": self.w.shape[0] - 1})
        return _with_bias(X) @ self.w


def _squared_error(Xb: np.ndarray, Y: np.ndarray, w: np.ndarray) -> float:
    return 0.5 * float(np.sum((Y - Xb @ w) ** 2))


def delta_rule(X: np.ndarray, y: np.ndarray, *, lr: float, epochs: int, mode: str = "batch",
               w0: np.ndarray | None = None, shuffle: bool = False,
               seed: int | np.random.Generator | None = None) -> DeltaRuleResult:
    """Train linear unit(s) on squared error with the delta (Widrow-Hoff / LMS) rule.

    Parameters
    ----------
    X : np.ndarray, shape (N, D)
        Inputs without the bias column (``x0 = 1`` is added).
    y : np.ndarray, shape (N, K) or (N,)
        Real-valued targets; a 1-D ``y`` means K = 1.
    lr : float
        Learning rate eta > 0.
    epochs : int
        Number of passes over the data.
    mode : {"batch", "online"}
        "batch": one update per epoch, summed over all N examples.
        "online": one update per example, in data order (or a seeded shuffle).
    w0 : np.ndarray, shape (D+1, K), optional
        Starting weights (copied). Default: zeros.
    shuffle, seed
        As in :func:`train_perceptron`; only meaningful with ``mode="online"``.

    Returns
    -------
    DeltaRuleResult

    Notes
    -----
    The unit is linear, ``y_hat = x_tilde @ w``, and the error is
    ``E = 1/2 * sum_n ||y_n - y_hat_n||**2``. Gradient descent on E gives
    ``w <- w + lr * sum_n outer(x_tilde_n, y_n - y_hat_n)`` (batch); the online
    form applies each term on its own. The batch update sums, it does not average,
    so a stable ``lr`` shrinks as N grows: batch descent converges for
    ``lr < 2 / lambda_max(X_tilde.T @ X_tilde)``.
    """
    fn = "delta_rule"
    check.choice(mode, ("batch", "online"), fn, "mode")
    X, y = check.arrays(fn, X=(X, "(N, D)"), y=(y, ("(N,)", "(N, K)")), empty=False)
    Y = y.reshape(-1, 1) if y.ndim == 1 else y
    lr = check.number(lr, fn, "lr", low=0.0, low_open=True, finite=True)
    epochs = check.positive_int(epochs, fn, "epochs")
    rng = _make_rng(fn, shuffle, seed)
    if rng is not None and mode == "batch":
        raise ValueError(f"{fn}: shuffle=True has no effect with mode='batch'; use mode='online'")
    n, d = X.shape
    sizes = {"D": d, "K": Y.shape[1]}
    w = np.zeros((d + 1, Y.shape[1])) if w0 is None else check.real_array(w0, fn, "w0", "(D+1, K)", sizes=sizes)

    Xb = _with_bias(X)
    losses: list[float] = []
    diverged = False
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and reported below
        for _ in range(epochs):
            if mode == "batch":
                w = w + lr * Xb.T @ (Y - Xb @ w)
            else:
                for i in (rng.permutation(n) if rng is not None else range(n)):
                    w = w + lr * np.outer(Xb[i], Y[i] - Xb[i] @ w)
            losses.append(_squared_error(Xb, Y, w))
            if not np.isfinite(losses[-1]):
                diverged = True
                break
    return DeltaRuleResult(w=w, losses=losses, diverged=diverged)
