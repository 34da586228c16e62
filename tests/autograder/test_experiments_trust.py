"""Items that grade a training outcome judge the weights a network reports, never the network's own forward.

``u3_small_nets`` and ``u3_capacity`` grade trained networks. The notebook's ``forward`` is student code: one
that returns the known answer (the curve sin(2x), or XOR's labels) passed on untrained weights. The grader now
takes the weights ``parameters()`` reports, checks that they are float arrays of the item's architecture, and
runs them through its own forward pass on its own inputs (``autograder.suites.unit3_nets.trained_weights``).
Weights that really are such a network pass, however they were found.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnkit import data
from tests.autograder.test_suite_unit3 import REGISTRY, grade, namespace
from tests.notebooks._kit import SOLVED

REG_TRAIN = 'reg_history = train(reg_net, x_reg, y_reg, loss="mse", lr=0.1, epochs=400, batch_size=20, seed=0)'
XOR_TRAIN = 'xor_history = train(xor_net, X_xor, Y_xor, loss="bce", lr=0.5, epochs=200, batch_size=20, seed=0)'
# Untrained networks whose forward returns the answer: XOR's label is 1 where the centred coordinates differ in sign.
XOR_BY_HAND = ("xor_net.forward = lambda X, training=False: np.where(X[:, :1] * X[:, 1:] < 0, 5.0, -5.0)\n"
               "xor_history = [0.0]")
CURVE_BY_HAND = "reg_net.forward = lambda x, training=False: np.sin(2.0 * x)\nreg_history = [0.0]"
FIT, ACC = "MSE on a fresh sample of the curve is below 0.06", "accuracy on a fresh XOR sample is at least 90%"


def _subchecks(result, phrase):
    found = [s for s in result.subchecks if phrase in s.what]
    assert found, result.render(show_hidden_details=True)
    return found


@pytest.fixture(scope="module")
def trained():
    return namespace({"u3_reg_net_impl": SOLVED, "u3_xor_net_impl": SOLVED})


def test_an_untrained_xor_net_whose_forward_hard_codes_xor_fails_the_accuracy_check():
    ns = namespace({"u3_reg_net_impl": SOLVED, "u3_xor_net_impl": [(XOR_TRAIN, XOR_BY_HAND)]})
    X, y = data.make_xor(400, seed=5)
    assert np.mean((ns["xor_net"].forward(X - 0.5)[:, 0] > 0) == (y == 1)) > 0.97   # the forward alone would pass
    result = grade("u3_small_nets", ns)
    text = result.render(show_hidden_details=True)
    assert not any(s.passed for s in _subchecks(result, ACC)), text
    assert all(s.passed for s in _subchecks(result, "xor_net (2-2-1) has 9 weights")), text
    assert all(s.passed for s in _subchecks(result, FIT)), text      # reg_net is trained: its part still counts
    assert result.score < result.points


def test_an_untrained_regression_net_whose_forward_returns_the_curve_fails_the_fit_check():
    ns = namespace({"u3_reg_net_impl": [(REG_TRAIN, CURVE_BY_HAND)], "u3_xor_net_impl": SOLVED})
    result = grade("u3_small_nets", ns)
    text = result.render(show_hidden_details=True)
    assert not any(s.passed for s in _subchecks(result, FIT)), text
    assert all(s.passed for s in _subchecks(result, ACC)), text


def test_trained_networks_are_judged_by_their_weights_whatever_their_forward_returns(trained):
    for name in ("reg_net", "xor_net"):
        trained[name].forward = lambda x, training=False: np.zeros((len(x), 1))
    try:
        result = grade("u3_small_nets", trained)
    finally:
        for name in ("reg_net", "xor_net"):
            del trained[name].forward                 # back to the class's forward
    assert result.score == result.points, result.render(show_hidden_details=True)


def _reported(ns, name, change):
    """``name``'s trained weights as parameters() reports them, after ``change(list of param dicts)``."""
    params = [{k: v.copy() for k, v in p.items()} for p, _ in ns[name].parameters()]
    change(params)
    return lambda: [(p, {k: np.zeros_like(v) if isinstance(v, np.ndarray) else v for k, v in p.items()})
                    for p in params]


def _transposed(params):
    params[0]["W"], params[1]["W"] = params[0]["W"].T.copy(), params[1]["W"].T.copy()


BAD_WEIGHTS = [
    ("integer", lambda ps: ps[0].update(W=np.round(ps[0]["W"]).astype(np.int64)), "must be a float array"),
    ("transposed", _transposed, "must be a float array of shape (1, 2)"),
    ("extra key", lambda ps: ps[1].update(scale=np.ones(1)), "must be {'W', 'b'}"),
    ("one layer", lambda ps: ps.pop(0), "returns 1 (params, grads) pairs"),
]


@pytest.mark.parametrize("change, message", [b[1:] for b in BAD_WEIGHTS], ids=[b[0] for b in BAD_WEIGHTS])
def test_weights_that_are_not_the_items_architecture_are_refused_by_name(trained, change, message):
    trained["reg_net"].parameters = _reported(trained, "reg_net", change)
    try:
        result = grade("u3_small_nets", trained)
    finally:
        del trained["reg_net"].parameters
    text = result.render(show_hidden_details=True)
    shapes = _subchecks(result, "reg_net.parameters() are the weights of a 1-2-1 network")
    assert not any(s.passed for s in shapes) and message in text, text
    assert not any(s.passed for s in _subchecks(result, FIT)) and "not measured" in text, text
    assert all(s.passed for s in _subchecks(result, ACC)), text


def test_weights_holding_nan_fail_the_fit_and_say_that_training_diverged(trained):
    trained["reg_net"].parameters = _reported(trained, "reg_net", lambda ps: ps[1]["W"].__setitem__((0, 0), np.nan))
    try:
        result = grade("u3_small_nets", trained)
    finally:
        del trained["reg_net"].parameters
    text = result.render(show_hidden_details=True)
    assert all(s.passed for s in _subchecks(result, "reg_net.parameters() are the weights of a 1-2-1 network")), text
    assert not any(s.passed for s in _subchecks(result, FIT)) and "training diverged" in text, text


# -- u3_capacity ----------------------------------------------------------------------------------------------
class _Reported:
    """A network whose forward returns the curve and whose parameters() report the given weights."""

    def __init__(self, weights):
        self.weights = weights

    def forward(self, x, training=False):
        return np.sin(2.0 * x)

    def parameters(self):
        return [({"W": W, "b": b}, {"W": np.zeros_like(W), "b": np.zeros_like(b)}) for W, b in self.weights]


def _least_squares_net(hidden, features, rng):
    """1 -> hidden -> 1 weights: random first layer, output layer fitted to the curve through ``features``."""
    from autograder.suites.unit3_capacity import capacity_data

    x_fit, y_fit = capacity_data()[:2]
    W1, b1 = rng.normal(scale=2.0, size=(1, hidden)), rng.uniform(-3.0, 3.0, size=hidden)
    H = np.hstack([features(x_fit @ W1 + b1), np.ones((len(x_fit), 1))])
    coef = np.linalg.lstsq(H, y_fit, rcond=None)[0]
    return [(W1, b1), (coef[:-1], coef[-1])]


def _capacity_with(ns, features):
    from autograder.suites.unit3_capacity import WIDTHS

    rng = np.random.default_rng(0)
    models = [_Reported(_least_squares_net(h[0], features, rng)) for h in WIDTHS]
    models.append(ns["capacity_models"][-1])               # the trained 1-4-4-1 network of the solution
    ns = dict(ns, capacity_models=models)
    ns["capacity_errors"] = [ns["heldout_mse"](m, ns["x_held"], ns["y_held"]) for m in models]
    return grade("u3_capacity", ns)


def test_capacity_weights_of_the_right_network_pass_however_they_were_found():
    # Least squares for the output layer on random tanh units is a 1-h-1 tanh network: its fit is real.
    result = _capacity_with(namespace(), np.tanh)
    assert all(s.passed for s in _subchecks(result, "the 12-unit net fits the curve")), \
        result.render(show_hidden_details=True)


def test_capacity_weights_fitted_for_another_network_do_not_pass():
    # The same recipe with sine units reports arrays of the right shapes, but they are no tanh network's fit;
    # the notebook's forward (returning the curve itself) is never asked.
    result = _capacity_with(namespace(), np.sin)
    assert not all(s.passed for s in _subchecks(result, "the 12-unit net fits the curve")), \
        result.render(show_hidden_details=True)


# -- through the sandbox: the weights cross the protocol as data --------------------------------------------
NETS = '''
import numpy as np

class Net:
    def __init__(self, W1, b1, W2, b2):
        self.params = [{"W": np.array(W1, float), "b": np.array(b1, float)},
                       {"W": np.array(W2, float), "b": np.array(b2, float)}]

    def forward(self, x, training=False):
        h = np.tanh(x @ self.params[0]["W"] + self.params[0]["b"])
        return h @ self.params[1]["W"] + self.params[1]["b"]

    def parameters(self):
        return [(p, {k: np.zeros_like(v) for k, v in p.items()}) for p in self.params]

# Hand-set 2-2-1 XOR: one hidden unit per class-1 corner, (0.5, -0.5) and (-0.5, 0.5).
xor_net = Net([[10.0, -10.0], [-10.0, 10.0]], [-5.0, -5.0], [[1.0], [1.0]], [1.0])
reg_net = Net([[2.0, -2.0]], [0.0, 0.0], [[0.0], [0.0]], [0.0])     # untrained: the fit fails either way
'''
CHEAT = "xor_net = Net(np.zeros((2, 2)), np.zeros(2), np.zeros((2, 1)), np.zeros(1))\n" \
        "xor_net.forward = lambda X, training=False: np.where(X[:, :1] * X[:, 1:] < 0, 5.0, -5.0)\n"


@pytest.mark.parametrize("cells, passes", [([NETS], True), ([NETS, CHEAT], False)], ids=["hand-set", "cheat"])
def test_through_the_sandbox_the_xor_accuracy_is_that_of_the_reported_weights(namespaces, cells, passes):
    from autograder.handle import RemoteHandle
    from autograder.runner import run_item
    from autograder.sandbox import Limits, Policy, Sandbox

    sandbox = Sandbox([(f"cell {n}", src) for n, src in enumerate(cells, 1)],
                      Limits(cell_timeout=5.0, call_timeout=5.0, memory_bytes=1024 ** 3, isolation="namespace"),
                      Policy())
    try:
        assert [r.status for r in sandbox.boot()] == ["ok"] * len(cells)
        sandbox.begin_item()
        result = run_item(REGISTRY.get("u3_small_nets"), RemoteHandle(sandbox), include_hidden=True)
    finally:
        sandbox.close()
    text = result.render(show_hidden_details=True)
    assert [s.passed for s in _subchecks(result, ACC)] == [passes, passes], text
    assert not any(s.passed for s in _subchecks(result, FIT)), text


# -- the digits: the held-out labels stay on the grader's side ----------------------------------------------
LOOKUP = """
import numpy as np
from nnkit import data

def predict_digits(X):
    splits = data.digits_splits()
    known = {x.tobytes(): y for s in ("val", "test") for x, y in zip(splits[f"X_{s}"], splits[f"y_{s}"])}
    return np.array([known[x.tobytes()] for x in np.asarray(X, dtype=float)], dtype=np.int64)
"""
HELD_OUT, VALIDATION = "held-out test accuracy", "validation accuracy"


def test_a_digits_classifier_that_looks_up_the_labels_scores_nothing_on_the_held_out_split(namespaces):
    """In trusted grading the worker's digits carry -1 for the held-out labels, so a lookup table of the labels
    it can read earns the validation credit (those labels are the student's) and none of the held-out credit.
    (In a student's own kernel, ``check()`` has the full data: self-study cannot hide labels from the student.)"""
    from autograder.handle import RemoteHandle
    from autograder.runner import run_item
    from autograder.sandbox import Limits, Policy, Sandbox

    ns = {}
    exec(LOOKUP, ns)                                   # control: with the host's labels the lookup is perfect
    assert [s.passed for s in grade("u3_digits", ns).subchecks] == [True, True]
    sandbox = Sandbox([("cell 1", LOOKUP)], Limits(cell_timeout=10.0, call_timeout=10.0, isolation="namespace"),
                      Policy())
    try:
        assert [r.status for r in sandbox.boot()] == ["ok"]
        sandbox.begin_item()
        result = run_item(REGISTRY.get("u3_digits"), RemoteHandle(sandbox), include_hidden=True)
    finally:
        sandbox.close()
    text = result.render(show_hidden_details=True)
    assert all(s.passed for s in _subchecks(result, VALIDATION)), text
    assert not any(s.passed for s in _subchecks(result, HELD_OUT)), text
    assert result.score < result.points, text


# -- unit 4's symmetry experiment: public inputs, so the grader replays the training ---------------------------
NO_TRAINING = ("def train_tiny(W1, b1, W2, b2, X, Y, lr, steps):\n"
               "    return W1.copy(), b1.copy(), W2.copy(), b2.copy()      # the starting weights, untrained\n")


def test_a_train_tiny_that_does_not_train_gets_nothing_for_the_symmetry_experiment():
    """Untrained weights already have the experiment's counts (1, 1 and 8 distinct units), so counting the
    units of whatever train_tiny returns earned full marks without any training; the grader now replays the
    2000 steps and compares the weights before it counts."""
    from tests.autograder.test_suite_unit4 import grade as grade4
    from tests.autograder.test_suite_unit4 import namespace as namespace4

    honest = grade4("u4_symmetry", namespace4())
    assert honest.score == honest.points, honest.render(show_hidden_details=True)
    result = grade4("u4_symmetry", namespace4({"u4_symmetry_impl": NO_TRAINING}))
    text = result.render(show_hidden_details=True)
    counts = _subchecks(result, "distinct hidden units (counted by the grader)")
    assert len(counts) == 3 and not any(s.passed for s in counts), text
    for start in ("zeros", "constant 0.5", "random N(0, 1)"):       # from zeros only b2 moves: it is named
        assert not all(s.passed for s in _subchecks(result, f"from {start} weights, 2000 steps: ")), text
