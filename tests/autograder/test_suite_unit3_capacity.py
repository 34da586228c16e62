"""The unit 3 capacity item: each plausible mistake costs points and is named, the locked data cell is the one the
suite regenerates, and the reference forward pass and error measure agree with torch."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.suites import unit3_capacity as capacity
from tests.autograder.test_suite_unit3 import grade, namespace
from tests.notebooks._kit import read_notebook, solution_notebook_path

CELL = "u3_capacity_impl"
MISTAKES = [
    ([("        if k < len(sizes) - 2:\n            layers.append(Tanh())", "        layers.append(Tanh())")],
     "a Tanh after the output layer too"),
    ([("sizes = [1, *hidden, 1]", "sizes = [1, hidden[0], 1]")], "only the first hidden layer is built"),
    ([("return float(np.mean((pred - y) ** 2))", "return float(np.sqrt(np.mean((pred - y) ** 2)))")],
     "the root of the mean squared error (RMSE)"),
    ([("return float(np.mean((pred - y) ** 2))", "return float(np.sum((pred - y) ** 2))")],
     "the sum of squared errors"),
    ([("errors.append(heldout_mse(model, x_held, y_held))", "errors.append(heldout_mse(model, x_fit, y_fit))")],
     "the error on the training points (x_fit, y_fit)"),
    ([("model = make_mlp(hidden, seed=seed)", "model = make_mlp((4,), seed=seed)")], "capacity is not increasing"),
    ([("        train(model, x_fit, y_fit,", "        errors.append(heldout_mse(model, x_held, y_held))\n"
                                            "        train(model, x_fit, y_fit,"),
      ("        errors.append(heldout_mse(model, x_held, y_held))\n    return", "    return")],
     "the error of the untrained network"),
    ([("        train(model, x_fit, y_fit, loss=\"mse\", lr=lr, epochs=epochs, batch_size=batch_size, seed=seed)\n",
       "")], "MSE by width"),
    ([("lr=0.1, epochs=100", "lr=0.1, epochs=3")], "the 12-unit net fits the curve"),
]


@pytest.mark.parametrize("edits, phrase", MISTAKES, ids=[f"capacity-{i}" for i in range(len(MISTAKES))])
def test_a_capacity_mistake_loses_points_with_a_useful_message(edits, phrase):
    result = grade("u3_capacity", namespace({CELL: edits}))
    text = result.render(show_hidden_details=True)
    assert result.score < result.points, text
    assert phrase in text, text


def test_networks_that_are_all_alike_are_told_so():
    """One shared network trained again and again: every entry has the same weights, and the error stays flat."""
    edit = [("model = make_mlp(hidden, seed=seed)", "model = shared"),
            ("models, errors = [], []", "models, errors = [], []\n    shared = make_mlp((2,), seed=seed)")]
    text = grade("u3_capacity", namespace({CELL: edit})).render(show_hidden_details=True)
    assert "capacity is not increasing: every network has 7 weights" in text, text


def test_a_missing_run_is_reported_by_name_and_the_functions_still_earn_credit():
    ns = namespace()
    del ns["capacity_models"], ns["capacity_errors"]
    result = grade("u3_capacity", ns)
    text = result.render()
    assert "`capacity_models` is not defined" in text
    assert 0 < result.score < result.points


def test_the_locked_data_cell_is_the_data_the_suite_regenerates():
    nb = read_notebook(solution_notebook_path("unit3"))
    source = next(c.source for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                  == "u3_capacity_data")
    ns = {"np": np}
    exec(source, ns)
    for name, expected in zip(("x_fit", "y_fit", "x_held", "y_held"), capacity.capacity_data()):
        np.testing.assert_array_equal(ns[name], expected)
    assert [tuple(h) for h in ns["CAPACITY_RUN"]] == list(capacity.RUN)
    x = np.linspace(-2, 2, 9)
    np.testing.assert_array_equal(ns["curve"](x), capacity.curve(x))


def test_the_graded_property_is_not_met_by_chance():
    """The thresholds separate: the solution's widest net clears them by a margin, the 1-unit net misses them."""
    ns = namespace()
    x = np.linspace(-2, 2, 401)[:, None]
    errs = [float(np.mean((m.forward(x, training=False) - capacity.curve(x)) ** 2)) for m in ns["capacity_models"]]
    assert errs[3] < 0.5 * capacity.WIDEST_MAX < capacity.WIDEST_MAX < errs[0]
    assert errs[3] < 0.5 * capacity.FALLS_BY * errs[0]


def test_reference_forward_and_mse_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    sizes = [1, 4, 3, 1]
    pairs = [(rng.normal(size=(d, m)), rng.normal(size=m)) for d, m in zip(sizes[:-1], sizes[1:])]
    x, y = rng.uniform(-2, 2, size=(11, 1)), rng.normal(size=(11, 1))
    layers = []
    for k, (W, b) in enumerate(pairs):
        lin = torch.nn.Linear(W.shape[0], W.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(W.T))      # torch stores (out, in); nnkit stores (in, out)
            lin.bias.copy_(torch.tensor(b))
        layers.append(lin)
        if k < len(pairs) - 1:
            layers.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*layers)
    with torch.no_grad():
        out = net(torch.tensor(x))
        mse = float(torch.nn.functional.mse_loss(out, torch.tensor(y)))
    np.testing.assert_allclose(capacity._reference_forward(pairs, x), out.numpy(), rtol=1e-12, atol=1e-14)
    assert capacity._mse(capacity._reference_forward(pairs, x), y) == pytest.approx(mse, rel=1e-12)
    assert capacity.n_weights((4, 3)) == sum(p.numel() for p in net.parameters())
