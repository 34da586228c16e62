"""Adam and AdamW against their docstrings' update equations, written out independently (fast, no torch).

tests/nnkit/optim/test_vs_torch.py compares the trajectories with torch.optim; these tests pin each option and
default one at a time, so that scripts/mutation.py can run the module against them in seconds.
"""

import numpy as np
import pytest

from nnkit import optim

SHAPES = {"W": (3, 2), "b": (2,)}


def reference(steps, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False,
              maximize=False, decay=("W",)):
    """The documented update, for the params of make(); returns the params after the steps."""
    params, grads = make()
    m = {k: np.zeros(v.shape) for k, v in params.items()}
    v2 = {k: np.zeros(v.shape) for k, v in params.items()}
    vmax = {k: np.zeros(v.shape) for k, v in params.items()}
    for t, g_step in enumerate(steps, start=1):
        for k in params:
            g = -g_step[k] if maximize else g_step[k].copy()
            if weight_decay and k in decay:
                if decoupled:
                    params[k] = params[k] * (1 - lr * weight_decay)
                else:
                    g = g + weight_decay * params[k]
            m[k] = betas[0] * m[k] + (1 - betas[0]) * g
            v2[k] = betas[1] * v2[k] + (1 - betas[1]) * g * g
            vmax[k] = np.maximum(vmax[k], v2[k])
            second = vmax[k] if amsgrad else v2[k]
            m_hat = m[k] / (1 - betas[0] ** t)
            params[k] = params[k] - lr * m_hat / (np.sqrt(second / (1 - betas[1] ** t)) + eps)
    return params


def make():
    rng = np.random.default_rng(0)
    return {k: rng.normal(size=s) for k, s in SHAPES.items()}, {}


def gradient_steps(n=6):
    rng = np.random.default_rng(1)
    return [{k: rng.normal(scale=rng.uniform(0.01, 3.0), size=s) for k, s in SHAPES.items()} for _ in range(n)]


def run(cls, steps, **kwargs):
    params, grads = make()
    opt = cls([(params, grads)], **kwargs)
    for g in steps:
        grads.update({k: v.copy() for k, v in g.items()})
        opt.step()
    return params, opt


@pytest.mark.parametrize("kwargs", [
    {}, {"lr": 0.05}, {"betas": (0.5, 0.9)}, {"eps": 0.3}, {"weight_decay": 0.2}, {"amsgrad": True},
    {"maximize": True}, {"weight_decay": 0.2, "decay": "all"}, {"lr": 0.02, "amsgrad": True, "maximize": True},
    {"weight_decay": 1.0}, {"betas": (0.0, 0.0)}, {"amsgrad": True, "betas": (0.9, 0.5)},
])
def test_adam_follows_its_equations(kwargs):
    steps = gradient_steps()
    ours, _ = run(optim.Adam, steps, **kwargs)
    decay = ("W", "b") if kwargs.get("decay") == "all" else ("W",)
    expected = reference(steps, decoupled=False, decay=decay, **{k: v for k, v in kwargs.items() if k != "decay"})
    for k in ours:
        np.testing.assert_allclose(ours[k], expected[k], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kwargs", [
    {}, {"lr": 0.05}, {"betas": (0.5, 0.9)}, {"eps": 0.3}, {"weight_decay": 0.3}, {"amsgrad": True},
    {"maximize": True}, {"weight_decay": 0.0}, {"weight_decay": 1.0, "lr": 0.5},
    {"amsgrad": True, "betas": (0.9, 0.5)}, {"weight_decay": 0.2, "decay": "all"},
])
def test_adamw_follows_its_equations(kwargs):
    steps = gradient_steps()
    ours, _ = run(optim.AdamW, steps, **kwargs)
    decay = ("W", "b") if kwargs.get("decay") == "all" else ("W",)
    expected = reference(steps, decoupled=True, decay=decay,
                         **{"weight_decay": 1e-2, **{k: v for k, v in kwargs.items() if k != "decay"}})
    for k in ours:
        np.testing.assert_allclose(ours[k], expected[k], rtol=1e-13, atol=1e-15)


def test_adam_state_after_two_steps():
    _, opt = run(optim.Adam, gradient_steps(2), amsgrad=True)
    state = opt.state[0]["W"]
    assert state["step"] == 2 and sorted(state) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    g1, g2 = (g["W"] for g in gradient_steps(2))
    np.testing.assert_allclose(state["exp_avg"], 0.9 * 0.1 * g1 + 0.1 * g2, rtol=1e-14)
    np.testing.assert_allclose(state["exp_avg_sq"], 0.999 * 0.001 * g1 ** 2 + 0.001 * g2 ** 2, rtol=1e-14)


def test_defaults_are_torchs():
    adam, adamw = optim.Adam([make()]), optim.AdamW([make()])
    for opt, decay in ((adam, 0.0), (adamw, 1e-2)):
        assert (opt.lr, opt.betas, opt.eps, opt.weight_decay, opt.amsgrad, opt.maximize) == \
            (1e-3, (0.9, 0.999), 1e-8, decay, False, False)
        assert opt.decay == "weights"


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"lr": -1e-3}, ValueError, r"Adam: lr must be a number >= 0, got -0.001"),
    ({"betas": (0.9, 1.0)}, ValueError, r"Adam: betas\[1\] must be in \[0, 1\), got 1.0"),
    ({"betas": (-0.1, 0.9)}, ValueError, r"Adam: betas\[0\] must be in \[0, 1\), got -0.1"),
    ({"betas": np.array([0.8, 0.9])}, None, None),
    ({"betas": 0.9}, ValueError, r"Adam: betas must be a pair \(beta1, beta2\), got 0.9"),
    ({"eps": -1.0}, ValueError, r"Adam: eps must be a number >= 0"),
    ({"weight_decay": -0.1}, ValueError, r"Adam: weight_decay must be a number >= 0"),
    ({"amsgrad": 1}, TypeError, r"Adam: amsgrad must be True or False, got int 1"),
])
def test_adam_checks_its_hyperparameters(kwargs, error, message):
    if error is None:
        assert optim.Adam([make()], **kwargs).betas == (0.8, 0.9)
        return
    with pytest.raises(error, match=message):
        optim.Adam([make()], **kwargs)
