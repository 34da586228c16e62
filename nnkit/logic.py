"""Logic gates as single sigmoid neurons, XOR as a two-layer network, and separability.

A gate with weights ``theta = (theta_0, theta_1, ..., theta_n)`` computes
``sigmoid(theta_0 + theta_1 * x_1 + ... + theta_n * x_n)`` on inputs ``x_i`` in
{0, 1}: the bias is the weight of a constant input ``x_0 = 1``, as in
:mod:`nnkit.perceptron`. The weights are large (|z| >= 10 on every row of the
table), so each output is within ``sigmoid(-10) ≈ 4.5e-5`` of 0 or 1.

Truth tables list their rows in counting order, with ``x_1`` the most
significant bit: for two inputs ``(0, 0), (0, 1), (1, 0), (1, 1)``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from math import lcm
from types import MappingProxyType
from typing import Callable

import numpy as np

from nnkit import _validate as check

from nnkit.activations import sigmoid

GATE_WEIGHTS = MappingProxyType({
    "OR": (-10.0, 20.0, 20.0),
    "AND": (-30.0, 20.0, 20.0),
    "NOT": (10.0, -20.0),
    "NAND": (30.0, -20.0, -20.0),
    "NOR": (10.0, -20.0, -20.0),
})
"""Read-only map from gate name to ``(theta_0, theta_1, ..., theta_n)``, bias first."""


def input_table(n_inputs: int) -> np.ndarray:
    """All ``2**n`` binary input rows in counting order, shape ``(2**n, n)`` float64."""
    n_inputs = check.positive_int(n_inputs, "input_table", "n_inputs")
    return np.array(list(itertools.product((0.0, 1.0), repeat=n_inputs)))


def neuron(theta, X: np.ndarray) -> np.ndarray:
    """One sigmoid neuron: ``sigmoid(theta[0] + X @ theta[1:])``.

    Parameters
    ----------
    theta : array-like, shape (n+1,)
        Bias first, then one weight per input.
    X : np.ndarray, shape (N, n)

    Returns
    -------
    np.ndarray, shape (N,)
    """
    theta, X = check.arrays("neuron", theta=(theta, "(n+1,)"), X=(X, "(N, n)"))
    return sigmoid(theta[0] + X @ theta[1:])


def gate(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The named gate as a function ``X (N, n) -> (N,)`` in (0, 1).

    ``name`` is one of ``GATE_WEIGHTS`` (case-insensitive); NOT takes ``n = 1``
    input, the others ``n = 2``.
    """
    key = check.known(name, GATE_WEIGHTS, "gate", "gate")
    theta = np.array(GATE_WEIGHTS[key])

    def apply(X: np.ndarray) -> np.ndarray:
        return neuron(theta, X)

    apply.__name__ = apply.__qualname__ = key
    apply.__doc__ = f"{key} gate: sigmoid{tuple(theta.tolist())} . (1, x), X (N, {theta.size - 1}) -> (N,)."
    return apply


def xor_network(X: np.ndarray, return_hidden: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """XOR as a two-layer network of gates: ``AND(OR(x1, x2), NAND(x1, x2))``.

    Parameters
    ----------
    X : np.ndarray, shape (N, 2)
    return_hidden : bool
        Also return the hidden activations.

    Returns
    -------
    out : np.ndarray, shape (N,)
        ``a^(3) = sigmoid(-30 + 20 a_1 + 20 a_2)``.
    hidden : np.ndarray, shape (N, 2), only if ``return_hidden``
        Column 0 is ``a_1 = OR(x) = sigmoid(-10 + 20 x1 + 20 x2)``, column 1 is
        ``a_2 = NAND(x) = sigmoid(30 - 20 x1 - 20 x2)``.
    """
    X = check.real_array(X, "xor_network", "X", "(N, 2)")
    hidden = np.stack([gate("OR")(X), gate("NAND")(X)], axis=1)  # (N, 2)
    out = gate("AND")(hidden)
    return (out, hidden) if return_hidden else out


@dataclass(frozen=True)
class TruthTable:
    """What :func:`evaluate_truth_table` returns.

    Attributes
    ----------
    inputs : np.ndarray, shape (2**n, n)
        Rows in counting order.
    outputs : np.ndarray, shape (2**n,)
        The network's raw outputs.
    bits : np.ndarray, shape (2**n,) int64
        ``outputs`` rounded to 0/1 (threshold 0.5).
    max_deviation : float
        ``max |outputs - bits|``: how far the network is from an exact 0/1 table.
    """

    inputs: np.ndarray
    outputs: np.ndarray
    bits: np.ndarray
    max_deviation: float

    def is_exact(self, tol: float = 1e-4) -> bool:
        """True when every output is within ``tol`` of 0 or 1."""
        return self.max_deviation <= tol

    def __str__(self) -> str:
        n = self.inputs.shape[1]
        head = " ".join(f"x{i + 1}" for i in range(n)) + " | output   | bit"
        rows = [" ".join(f"{int(v):>2}" for v in row) + f" | {out:.6f} | {bit}"
                for row, out, bit in zip(self.inputs, self.outputs, self.bits)]
        return "\n".join([head, "-" * len(head), *rows])


def evaluate_truth_table(network: Callable[[np.ndarray], np.ndarray], n_inputs: int) -> TruthTable:
    """Run ``network`` on all ``2**n_inputs`` binary inputs.

    Parameters
    ----------
    network : callable
        ``X (2**n, n) -> (2**n,)`` (or ``(2**n, 1)``), for example ``gate("AND")``
        or :func:`xor_network`.
    n_inputs : int

    Returns
    -------
    TruthTable
    """
    X = input_table(n_inputs)
    out = check.function(network, "evaluate_truth_table", "network")(X.copy())
    out = check.real_array(out, "evaluate_truth_table", "network(X)", ("(N,)", "(N, 1)"), sizes={"N": len(X)})
    out = out.reshape(len(X))
    bits = (out > 0.5).astype(np.int64)
    return TruthTable(inputs=X, outputs=out, bits=bits, max_deviation=float(np.max(np.abs(out - bits))))


# --- linear separability -------------------------------------------------------------------------

@dataclass(frozen=True)
class SeparabilityResult:
    """What :func:`is_linearly_separable` returns.

    Attributes
    ----------
    separable : bool
    theta : tuple[int, ...] or None
        When separable, integer weights ``(theta_0, ..., theta_n)`` (bias first) with
        ``theta . (1, x) >= 1`` on every row whose bit is 1 and ``<= -1`` on every
        row whose bit is 0, so ``heaviside`` and ``sigmoid(k * ...)`` reproduce the
        table. None when not separable.
    name : str
    """

    separable: bool
    theta: tuple[int, ...] | None
    name: str = "function"

    def __bool__(self) -> bool:
        return self.separable

    def __str__(self) -> str:
        if not self.separable:
            return f"{self.name}: not linearly separable"
        return f"{self.name}: linearly separable, e.g. theta = {self.theta}"


def _solve_exact(A: list[list[Fraction]], b: list[Fraction]) -> list[Fraction] | None:
    """Solve the square system A v = b by Gauss-Jordan elimination in exact rationals.

    Returns None when A is singular.
    """
    m = len(A)
    M = [row[:] + [rhs] for row, rhs in zip(A, b)]
    for col in range(m):
        pivot = next((r for r in range(col, m) if M[r][col] != 0), None)
        if pivot is None:
            return None
        M[col], M[pivot] = M[pivot], M[col]
        for r in range(m):
            if r != col and M[r][col] != 0:
                factor = M[r][col] / M[col][col]
                M[r] = [a - factor * p for a, p in zip(M[r], M[col])]
    return [M[r][m] / M[r][r] for r in range(m)]


def is_linearly_separable(y_table, name: str = "function") -> SeparabilityResult:
    """Decide exactly whether one threshold unit can compute a Boolean function.

    Parameters
    ----------
    y_table : array-like, shape (2**n,)
        The function's outputs (0/1) on the rows of ``input_table(n)``, counting
        order, for n = 1 .. 4.
    name : str
        Used in the printed verdict, e.g. ``"XOR: not linearly separable"``.

    Returns
    -------
    SeparabilityResult
        With integer weights as a certificate when separable.

    Notes
    -----
    Write ``s_i = +1`` for rows with bit 1 and ``-1`` for bit 0, and
    ``x_tilde_i = (1, x_i)``. The function is computed by a threshold unit iff some
    ``theta`` has ``s_i * theta . x_tilde_i > 0`` on every row, and (scaling theta)
    iff the polyhedron ``P = {theta : s_i * theta . x_tilde_i >= 1 for all i}`` is
    non-empty. The ``x_tilde_i`` of the full cube span ``R^(n+1)``, so ``P``
    contains no line; a non-empty polyhedron without a line has a vertex, and a
    vertex is the unique solution of ``n + 1`` linearly independent constraints
    taken with equality. So the method enumerates every set of ``n + 1`` rows,
    solves that square system in exact rationals (``fractions.Fraction``, no
    rounding), and checks the solution against all rows. Some candidate passes iff
    ``P`` is non-empty, so the answer is exact in both directions. For n = 4 that
    is C(16, 5) = 4368 small systems.
    """
    y = np.asarray(y_table)
    if y.ndim != 1 or y.size < 2 or y.size & (y.size - 1) or y.size > 16:
        raise ValueError(f"is_linearly_separable: y_table must have shape (2**n,) with 1 <= n <= 4, "
                         f"got shape {y.shape}")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError(f"is_linearly_separable: y_table must hold only 0 and 1, got {y.tolist()}")
    n = y.size.bit_length() - 1
    rows = [[Fraction(1)] + [Fraction(int(v)) for v in x] for x in input_table(n)]
    signs = [Fraction(1) if v == 1 else Fraction(-1) for v in y]
    constraints = [[s * a for a in row] for s, row in zip(signs, rows)]  # s_i * x_tilde_i
    for subset in itertools.combinations(range(len(rows)), n + 1):
        theta = _solve_exact([constraints[i] for i in subset], [Fraction(1)] * (n + 1))
        if theta is None:
            continue
        if all(sum(c * t for c, t in zip(con, theta)) >= 1 for con in constraints):
            scale = lcm(*(t.denominator for t in theta))
            return SeparabilityResult(True, tuple(int(t * scale) for t in theta), name)
    return SeparabilityResult(False, None, name)
