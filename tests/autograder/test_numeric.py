"""Central differences as pure functions: the perturbed inputs, the quotients, and the two together."""

import numpy as np
import pytest

from autograder import tolerance
from autograder.numeric import central_differences, numeric_gradient, perturbed_inputs, sample_coords


def test_perturbed_inputs_are_plus_then_minus_per_coordinate_and_leave_x_alone():
    x = np.arange(6.0).reshape(2, 3)
    inputs = perturbed_inputs(x, [4, 1], eps=0.5)
    assert len(inputs) == 4 and all(v.shape == (2, 3) and v.dtype == np.float64 for v in inputs)
    steps = [v - x for v in inputs]
    assert steps[0].flat[4] == 0.5 and steps[1].flat[4] == -0.5
    assert steps[2].flat[1] == 0.5 and steps[3].flat[1] == -0.5
    assert all(np.count_nonzero(s) == 1 for s in steps)
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(2, 3))
    assert len({id(v) for v in inputs}) == 4 and not any(np.shares_memory(v, x) for v in inputs)


def test_perturbed_inputs_default_to_every_coordinate_and_the_policys_step():
    inputs = perturbed_inputs(np.zeros(3))
    assert len(inputs) == 6
    assert [float(v.sum()) for v in inputs] == [tolerance.NUMERIC_EPS, -tolerance.NUMERIC_EPS] * 3


def test_central_differences_is_the_symmetric_quotient():
    np.testing.assert_allclose(central_differences([3.0, 1.0, -2.0, 4.0], eps=0.5), [2.0, -6.0])


@pytest.mark.parametrize("values", [[1.0, 2.0, 3.0], [[1.0, 2.0]]])
def test_central_differences_needs_flat_pairs(values):
    with pytest.raises(ValueError, match="central_differences: values"):
        central_differences(values)


@pytest.mark.parametrize("coords", [[6], [-1], [0.5], [[0, 1]]])
def test_bad_coordinates_are_refused_naming_them(coords):
    with pytest.raises(ValueError, match="numeric: coords"):
        perturbed_inputs(np.zeros((2, 3)), coords)


def test_numeric_gradient_matches_the_analytic_one():
    rng = np.random.default_rng(4)
    x, w = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    f = lambda v: float(np.sum(np.sin(v) * w))        # noqa: E731
    grad = numeric_gradient(f, x)
    assert grad.shape == (3, 4)
    assert tolerance.normwise_rel_error(grad, np.cos(x) * w) < 1e-8
    picked = numeric_gradient(f, x, coords=np.array([11, 0]))
    assert picked.shape == (2,)
    assert tolerance.normwise_rel_error(picked, (np.cos(x) * w).reshape(-1)[[11, 0]]) < 1e-8


def test_small_inputs_use_every_coordinate_and_large_ones_a_sorted_sample():
    rng = np.random.default_rng(7)
    state = rng.bit_generator.state
    np.testing.assert_array_equal(sample_coords(tolerance.NUMERIC_MAX_COORDS, rng), np.arange(64))
    assert rng.bit_generator.state == state         # no draw: the checks' later inputs do not move
    picked = sample_coords(1000, rng)
    assert picked.size == tolerance.NUMERIC_MAX_COORDS == len(set(picked.tolist()))
    assert np.all(np.diff(picked) > 0) and picked.max() < 1000
    rng.bit_generator.state = state                 # the same draw from the same generator: hidden inputs stay put
    np.testing.assert_array_equal(picked, sample_coords(1000, rng))
    assert sample_coords(10, rng, limit=3).size == 3
