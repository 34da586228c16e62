"""Every optimizer follows torch.optim's trajectory step by step, in float64.

The params are several arrays of odd shapes in three (params, grads) pairs; the
gradient at each step depends on the current params (a quadratic pull towards a
fixed target) plus seeded noise whose scale changes from step to step, so the
running maxima of AMSGrad, the centered estimate of RMSprop and the momentum
buffers are all exercised.
"""

import numpy as np
import pytest

from nnkit import optim

STEPS = 25
TOL = 1e-12

SHAPES = [{"W": (5, 3), "b": (3,)}, {"W": (2, 3, 3, 2), "b": (2,)}, {"gamma": (7,), "K": (1, 4)}]


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [{name: rng.normal(size=shape) for name, shape in pair.items()} for pair in SHAPES]


def gradient_sequence(seed=1):
    """Per step: targets and noise for every array, drawn once so both sides see the same numbers."""
    rng = np.random.default_rng(seed)
    targets = [{name: rng.normal(size=shape) for name, shape in pair.items()} for pair in SHAPES]
    steps = []
    for _ in range(STEPS):
        scale = rng.uniform(0.05, 3.0)
        steps.append([{name: scale * rng.normal(size=shape) for name, shape in pair.items()} for pair in SHAPES])
    return targets, steps


def gradient(params, target, noise):
    return {name: 0.7 * (params[name] - target[name]) + noise[name] for name in params}


def run_nnkit(cls, kwargs):
    params = make_params()
    grads = [{} for _ in params]
    opt = cls(list(zip(params, grads)), **kwargs)
    targets, steps = gradient_sequence()
    trajectory = []
    for noise in steps:
        for p, g, t, n in zip(params, grads, targets, noise):
            g.update(gradient(p, t, n))
        opt.step()
        trajectory.append([{k: v.copy() for k, v in p.items()} for p in params])
    return trajectory


def run_torch(torch, cls, kwargs):
    """The same run with torch.optim; nnkit's decay choice becomes PyTorch param groups."""
    kwargs = dict(kwargs)
    decay = kwargs.pop("decay", "weights")
    params = [{k: torch.tensor(v) for k, v in p.items()} for p in make_params()]
    decayed, plain = [], []
    for p in params:
        for name, tensor in p.items():
            keep = decay == "all" or (tensor.ndim >= 2 if decay == "weights" else name in decay)
            (decayed if keep else plain).append(tensor)
    groups = [{"params": decayed}] + ([{"params": plain, "weight_decay": 0.0}] if plain else [])
    opt = cls(groups, **kwargs)
    targets, steps = gradient_sequence()
    trajectory = []
    for noise in steps:
        for p, t, n in zip(params, targets, noise):
            for name, g in gradient({k: v.numpy() for k, v in p.items()}, t, n).items():
                p[name].grad = torch.tensor(g)
        opt.step()
        trajectory.append([{k: v.detach().numpy().copy() for k, v in p.items()} for p in params])
    return trajectory


def max_deviation(ours, theirs):
    return max(
        float(np.max(np.abs(a[k] - b[k]) / np.maximum(1.0, np.abs(b[k]))))
        for step_a, step_b in zip(ours, theirs)
        for a, b in zip(step_a, step_b)
        for k in a
    )


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1, decay="all")),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.03, momentum=0.5, nesterov=True, weight_decay=0.2, decay={"W", "gamma"})),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-6)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, decay="all")),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.8, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.005, alpha=0.95, centered=True)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.1, decay="all")),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, amsgrad=True, weight_decay=0.05, decay="all")),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, betas=(0.85, 0.995), weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, decay="all")),
    ("AdamW", dict(lr=0.01, eps=1e-2)),
    # maximize=True: every optimizer climbs, with the gradient negated before weight decay (torch's order)
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.05, maximize=True)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, maximize=True)),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch_optim(torch, name, kwargs):
    ours = run_nnkit(getattr(optim, name), kwargs)
    theirs = run_torch(torch, getattr(torch.optim, name), kwargs)
    assert max_deviation(ours, theirs) <= TOL


@pytest.mark.parametrize(("name", "base", "variant"), [
    ("SGD", dict(lr=0.05, momentum=0.9), dict(nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9), dict(dampening=0.5)),
    ("Adagrad", dict(lr=0.1), dict(lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1), dict(initial_accumulator_value=0.5)),
    ("RMSprop", dict(lr=0.01), dict(centered=True)),
    ("Adam", dict(lr=0.02), dict(amsgrad=True)),
    ("AdamW", dict(lr=0.02), dict(amsgrad=True)),
    ("Adam", dict(lr=0.02, weight_decay=0.3), dict(decay="all")),
    ("Adam", dict(lr=0.02), dict(eps=0.1)),
    ("AdamW", dict(lr=0.02), dict(eps=0.1)),
    ("SGD", dict(lr=0.05), dict(maximize=True)),
    ("Adagrad", dict(lr=0.1), dict(maximize=True)),
    ("Adadelta", dict(lr=0.5), dict(maximize=True)),
    ("RMSprop", dict(lr=0.01), dict(maximize=True)),
    ("Adam", dict(lr=0.02), dict(maximize=True)),
    ("AdamW", dict(lr=0.02), dict(maximize=True)),
])
def test_each_variant_changes_the_trajectory(name, base, variant):
    """Guards the torch comparison: a variant that silently did nothing would still match torch's base."""
    a = run_nnkit(getattr(optim, name), base)[-1]
    b = run_nnkit(getattr(optim, name), {**base, **variant})[-1]
    assert max(float(np.max(np.abs(x[k] - y[k]))) for x, y in zip(a, b) for k in x) > 1e-6


def test_adamw_decay_differs_from_adam_l2():
    """Decoupled decay is not the coupled L2 term: the two runs must part ways."""
    adam = run_nnkit(optim.Adam, dict(lr=0.02, weight_decay=0.3))[-1]
    adamw = run_nnkit(optim.AdamW, dict(lr=0.02, weight_decay=0.3))[-1]
    assert max(float(np.max(np.abs(x["W"] - y["W"]))) for x, y in zip(adam, adamw) if "W" in x) > 1e-4


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW"])
def test_maximize_is_off_by_default_and_must_be_a_bool(name):
    cls = getattr(optim, name)
    assert cls([({"W": np.ones((2, 2))}, {})]).maximize is False
    with pytest.raises(TypeError, match=rf"{name}: maximize must be True or False, got int"):
        cls([({"W": np.ones((2, 2))}, {})], maximize=1)


def test_maximize_climbs_a_concave_objective():
    """f(w) = -(w - 3)^2 has its maximum at 3; its gradient is -2 (w - 3)."""
    params, grads = {"w": np.zeros(1)}, {}
    opt = optim.SGD([(params, grads)], lr=0.1, maximize=True)
    for _ in range(100):
        grads["w"] = -2.0 * (params["w"] - 3.0)
        opt.step()
    np.testing.assert_allclose(params["w"], [3.0], rtol=1e-8)
