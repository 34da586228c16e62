"""Tests for nnkit.logic: sigmoid gates, the XOR network, truth tables, separability."""

import itertools

import numpy as np
import pytest

from nnkit.logic import (
    GATE_WEIGHTS,
    evaluate_truth_table,
    gate,
    input_table,
    is_linearly_separable,
    neuron,
    xor_network,
)
from nnkit.perceptron import train_perceptron


def sig(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


# Counting order: (0,0), (0,1), (1,0), (1,1).
EXPECTED = {
    "OR": [0, 1, 1, 1],
    "AND": [0, 0, 0, 1],
    "NAND": [1, 1, 1, 0],
    "NOR": [1, 0, 0, 0],
    "NOT": [1, 0],
}


def test_gate_weights_are_the_seeds_values():
    assert dict(GATE_WEIGHTS) == {
        "OR": (-10, 20, 20), "AND": (-30, 20, 20), "NOT": (10, -20),
        "NAND": (30, -20, -20), "NOR": (10, -20, -20),
    }
    with pytest.raises(TypeError):
        GATE_WEIGHTS["OR"] = (0, 0, 0)


def test_input_table_is_in_counting_order():
    np.testing.assert_array_equal(input_table(2), [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(input_table(3)[5], [1, 0, 1])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_gate_reproduces_its_full_truth_table_within_1e_4(name):
    n = len(GATE_WEIGHTS[name]) - 1
    table = evaluate_truth_table(gate(name), n)
    np.testing.assert_array_equal(table.bits, EXPECTED[name])
    assert table.is_exact(1e-4)
    assert table.max_deviation == pytest.approx(sig(-10.0), rel=1e-12)  # the tightest row has |z| = 10
    theta = np.array(GATE_WEIGHTS[name])
    np.testing.assert_allclose(table.outputs, sig(theta[0] + input_table(n) @ theta[1:]), rtol=1e-14)


def test_gate_lookup_is_case_insensitive_and_rejects_unknown_names():
    np.testing.assert_array_equal(gate("nand")(input_table(2)), gate("NAND")(input_table(2)))
    with pytest.raises(ValueError, match=r"gate: unknown gate 'XNOR'; known: OR, AND, NOT, NAND, NOR"):
        gate("XNOR")
    with pytest.raises(ValueError, match=r"neuron: X must have shape \(N, n\) = \(N, 2\), got X.shape=\(4, 1\)"):
        gate("AND")(np.zeros((4, 1)))


def test_xor_network_hidden_activations_match_the_seeds_table():
    # Seeds' rows: x = (0,0), (1,0), (0,1), (1,1);
    # a1 = g(-10 + 20 x1 + 20 x2) -> g(-10), g(10), g(10), g(30) ~ 0, 1, 1, 1
    # a2 = g(30 - 20 x1 - 20 x2)  -> g(30), g(10), g(10), g(-10) ~ 1, 1, 1, 0
    # out = g(-30 + 20 a1 + 20 a2) ~ 0, 1, 1, 0
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    out, hidden = xor_network(X, return_hidden=True)
    a1 = sig([-10.0, 10.0, 10.0, 30.0])
    a2 = sig([30.0, 10.0, 10.0, -10.0])
    np.testing.assert_allclose(hidden[:, 0], a1, rtol=1e-14)
    np.testing.assert_allclose(hidden[:, 1], a2, rtol=1e-14)
    np.testing.assert_allclose(out, sig(-30.0 + 20.0 * a1 + 20.0 * a2), rtol=1e-14)
    np.testing.assert_allclose(hidden, [[0, 1], [1, 1], [1, 1], [1, 0]], atol=1e-4)
    np.testing.assert_allclose(out, [0, 1, 1, 0], atol=1e-4)
    np.testing.assert_array_equal(xor_network(X), out)


def test_xor_network_truth_table_is_xor():
    table = evaluate_truth_table(xor_network, 2)
    np.testing.assert_array_equal(table.bits, [0, 1, 1, 0])
    assert table.is_exact(1e-4)
    assert "0.999955" in str(table)


def test_evaluate_truth_table_accepts_column_outputs_and_rejects_bad_shapes():
    table = evaluate_truth_table(lambda X: gate("OR")(X)[:, None], 2)
    np.testing.assert_array_equal(table.bits, EXPECTED["OR"])
    with pytest.raises(ValueError, match=r"evaluate_truth_table: network\(X\) must have shape \(N,\) = \(4,\) or \(N, 1\) = \(4, 1\), got shape \(4, 2\)"):
        evaluate_truth_table(lambda X: X, 2)
    with pytest.raises(TypeError, match="network must be callable"):
        evaluate_truth_table("AND", 2)


def test_evaluate_truth_table_reports_an_unsaturated_network():
    weak = lambda X: neuron([-1.0, 2.0, 2.0], X)  # noqa: E731 - an OR neuron with small weights, |z| = 1
    table = evaluate_truth_table(weak, 2)
    assert table.max_deviation == pytest.approx(sig(-1.0), rel=1e-12)
    assert not table.is_exact(1e-4)


def _check_certificate(y, theta):
    n = int(np.log2(len(y)))
    z = np.array(theta[0]) + input_table(n) @ np.array(theta[1:], dtype=np.float64)
    s = np.where(np.asarray(y) == 1, 1.0, -1.0)
    assert np.all(s * z >= 1), (y, theta)


def test_separability_of_all_sixteen_two_input_functions():
    not_separable = []
    for bits in itertools.product((0, 1), repeat=4):
        result = is_linearly_separable(np.array(bits))
        if result.separable:
            _check_certificate(bits, result.theta)
        else:
            assert result.theta is None
            not_separable.append(bits)
    assert not_separable == [(0, 1, 1, 0), (1, 0, 0, 1)]  # exactly XOR and XNOR


def test_separability_verdict_reads_naturally():
    assert str(is_linearly_separable([0, 1, 1, 0], name="XOR")) == "XOR: not linearly separable"
    result = is_linearly_separable([0, 0, 0, 1], name="AND")
    assert str(result) == f"AND: linearly separable, e.g. theta = {result.theta}"
    assert bool(result) and not bool(is_linearly_separable([1, 0, 0, 1]))


def test_separability_counts_104_threshold_functions_of_three_inputs():
    # The number of linearly separable Boolean functions of n inputs is 4, 14, 104, 1882 for n = 1..4.
    counts = []
    for n in (1, 2, 3):
        tables = itertools.product((0, 1), repeat=2 ** n)
        results = [(t, is_linearly_separable(np.array(t))) for t in tables]
        counts.append(sum(r.separable for _, r in results))
        for t, r in results:
            if r.separable:
                _check_certificate(t, r.theta)
    assert counts == [4, 14, 104]


def test_separability_four_inputs_parity_is_not_and_threshold_is():
    X = input_table(4)
    parity = X.sum(axis=1).astype(int) % 2
    at_least_three = (X.sum(axis=1) >= 3).astype(int)
    assert not is_linearly_separable(parity).separable
    result = is_linearly_separable(at_least_three)
    assert result.separable
    _check_certificate(at_least_three, result.theta)


def test_perceptron_converges_on_every_function_separability_calls_separable():
    X = input_table(2)
    for bits in itertools.product((0, 1), repeat=4):
        y = np.array(bits, dtype=np.float64)
        trained = train_perceptron(X, y, lr=1.0, max_epochs=100)
        assert trained.converged == is_linearly_separable(y).separable, bits


@pytest.mark.parametrize("y_table, match", [
    ([0, 1, 1], r"must have shape \(2\*\*n,\) with 1 <= n <= 4, got shape \(3,\)"),
    ([[0, 1], [1, 0]], r"must have shape \(2\*\*n,\) with 1 <= n <= 4, got shape \(2, 2\)"),
    ([0, 2, 1, 0], r"must hold only 0 and 1, got \[0, 2, 1, 0\]"),
    ([0, 1] * 16, r"must have shape \(2\*\*n,\) with 1 <= n <= 4, got shape \(32,\)"),
])
def test_separability_rejects_bad_tables(y_table, match):
    with pytest.raises(ValueError, match="is_linearly_separable: y_table " + match):
        is_linearly_separable(y_table)


@pytest.mark.parametrize("name", ["AND", "OR", "NAND", "NOR", "NOT"])
def test_gates_agree_with_nnkit_data_truth_tables(name):
    from nnkit.data import truth_table

    X, y = truth_table(name)
    np.testing.assert_array_equal(input_table(X.shape[1]), X)  # same row order
    np.testing.assert_array_equal(evaluate_truth_table(gate(name), X.shape[1]).bits, y)


def test_separability_of_nnkit_data_tables_reports_xor_and_xnor():
    from nnkit.data import truth_table

    verdicts = {name: str(is_linearly_separable(truth_table(name)[1], name=name))
                for name in ["AND", "OR", "NAND", "NOR", "XOR", "XNOR"]}
    assert verdicts["XOR"] == "XOR: not linearly separable"
    assert verdicts["XNOR"] == "XNOR: not linearly separable"
    assert all("linearly separable, e.g." in verdicts[n] for n in ["AND", "OR", "NAND", "NOR"])
