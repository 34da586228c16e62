"""SGD against its docstring's update equations, written out independently (fast, no torch).

tests/nnkit/optim/test_vs_torch.py compares trajectories with torch.optim.SGD; these tests pin each option and
default one at a time, so that scripts/mutation.py can run the module against them in seconds.
"""

import numpy as np
import pytest

from nnkit import optim

SHAPES = {"W": (3, 2), "b": (2,)}


def make():
    rng = np.random.default_rng(0)
    return {k: rng.normal(size=s) for k, s in SHAPES.items()}, {}


def gradient_steps(n=5):
    rng = np.random.default_rng(1)
    return [{k: rng.normal(size=s) for k, s in SHAPES.items()} for _ in range(n)]


def reference(steps, *, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False,
              decay=("W",)):
    params, _ = make()
    buf = {}
    for g_step in steps:
        for k in params:
            g = -g_step[k] if maximize else g_step[k].copy()
            if weight_decay and k in decay:
                g = g + weight_decay * params[k]
            if momentum:
                buf[k] = g.copy() if k not in buf else momentum * buf[k] + (1 - dampening) * g
                g = g + momentum * buf[k] if nesterov else buf[k]
            params[k] = params[k] - lr * g
    return params


def run(steps, **kwargs):
    params, grads = make()
    opt = optim.SGD([(params, grads)], **kwargs)
    for g in steps:
        grads.update({k: v.copy() for k, v in g.items()})
        opt.step()
    return params, opt


@pytest.mark.parametrize("kwargs", [
    {}, {"lr": 0.1}, {"lr": 0.1, "momentum": 0.9}, {"lr": 0.1, "momentum": 0.9, "dampening": 0.4},
    {"lr": 0.1, "momentum": 0.8, "nesterov": True}, {"lr": 0.1, "weight_decay": 0.3},
    {"lr": 0.1, "weight_decay": 0.3, "decay": "all"}, {"lr": 0.1, "weight_decay": 0.3, "decay": {"b"}},
    {"lr": 0.1, "momentum": 0.5, "maximize": True, "weight_decay": 0.1},
    {"lr": 0.1, "weight_decay": 1.0}, {"lr": 0.1, "momentum": 1.0},   # the boundary values 1 are ordinary values
])
def test_sgd_follows_its_equations(kwargs):
    steps = gradient_steps()
    ours, _ = run(steps, **kwargs)
    decay = {"all": ("W", "b"), None: ("W",)}.get(kwargs.get("decay")) if not isinstance(kwargs.get("decay"), set) \
        else tuple(kwargs["decay"])
    expected = reference(steps, decay=decay, **{k: v for k, v in kwargs.items() if k != "decay"})
    for k in ours:
        np.testing.assert_allclose(ours[k], expected[k], rtol=1e-14, atol=1e-15)


def test_the_momentum_buffer_starts_as_the_first_gradient_undamped():
    steps = gradient_steps(1)
    _, opt = run(steps, lr=0.1, momentum=0.9, dampening=0.5)
    np.testing.assert_array_equal(opt.state[0]["W"]["momentum_buffer"], steps[0]["W"])


def test_defaults_are_torchs():
    opt = optim.SGD([make()])
    assert (opt.lr, opt.momentum, opt.dampening, opt.nesterov, opt.weight_decay, opt.maximize) == \
        (1e-3, 0.0, 0.0, False, 0.0, False)
    assert opt.decay == "weights"


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"lr": -0.1}, ValueError, r"SGD: lr must be a number >= 0, got -0.1"),
    ({"momentum": -0.5}, ValueError, r"SGD: momentum must be a number >= 0, got -0.5"),
    ({"dampening": 1.5}, ValueError, r"SGD: dampening must be in \[0, 1\], got 1.5"),
    ({"weight_decay": -1.0}, ValueError, r"SGD: weight_decay must be a number >= 0, got -1.0"),
    ({"nesterov": "yes"}, TypeError, r"SGD: nesterov must be True or False, got str 'yes'"),
    ({"nesterov": True}, ValueError, r"SGD: nesterov=True needs momentum > 0 and dampening == 0, got momentum=0.0"),
    ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, ValueError, r"dampening == 0, .*dampening=0.1"),
])
def test_sgd_checks_its_hyperparameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        optim.SGD([make()], **kwargs)


def test_nesterov_with_momentum_and_no_dampening_is_accepted():
    assert optim.SGD([make()], momentum=0.9, nesterov=True).nesterov is True
    assert optim.SGD([make()], dampening=1.0).dampening == 1.0
