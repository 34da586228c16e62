"""The optimizer contract: parameters in, in-place updates, no side effects, state, errors."""

import numpy as np
import pytest

from nnkit import optim
from nnkit.layers.base import Layer

ALL = [
    (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1)),
    (optim.Adadelta, dict(weight_decay=0.1)),
    (optim.RMSprop, dict(momentum=0.5, centered=True, weight_decay=0.1)),
    (optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    (optim.AdamW, dict(lr=0.01, amsgrad=True)),
]
IDS = [cls.__name__ for cls, _ in ALL]


class TwoArrays(Layer):
    """A parameter-only layer: enough to drive an optimizer without the layers package."""

    def __init__(self, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=(3,))}
        self.zero_grad()


def fill_grads(layer, rng):
    for name, value in layer.params.items():
        layer.grads[name] = layer.params[name] * 0.5 + rng.normal(size=value.shape)


@pytest.mark.parametrize(("cls", "kwargs"), ALL, ids=IDS)
def test_step_updates_the_layers_own_arrays_in_place(cls, kwargs):
    layer = TwoArrays()
    W, b = layer.params["W"], layer.params["b"]
    before = W.copy(), b.copy()
    opt = cls(layer, **kwargs)
    fill_grads(layer, np.random.default_rng(1))
    opt.step()
    assert layer.params["W"] is W and layer.params["b"] is b
    assert not np.array_equal(W, before[0]) and not np.array_equal(b, before[1])


@pytest.mark.parametrize(("cls", "kwargs"), ALL, ids=IDS)
def test_step_never_mutates_the_gradient_arrays(cls, kwargs):
    layer = TwoArrays()
    opt = cls(layer, **kwargs)
    rng = np.random.default_rng(2)
    given = []  # every gradient array handed over, with a private copy
    for _ in range(4):
        fill_grads(layer, rng)
        given += [(name, array, array.copy()) for name, array in layer.grads.items()]
        opt.step()
    opt.step()  # a step on the same arrays again
    for _, array, copy in given:  # checked at the end: a buffer aliasing an old array shows up later
        np.testing.assert_array_equal(array, copy)


@pytest.mark.parametrize(("cls", "kwargs"), ALL, ids=IDS)
def test_step_reads_the_current_grad_arrays_after_zero_grad_replaced_them(cls, kwargs):
    layer, twin = TwoArrays(), TwoArrays()
    opt, twin_opt = cls(layer, **kwargs), cls([(twin.params, twin.grads)], **kwargs)
    rng = np.random.default_rng(3)
    for _ in range(3):
        layer.zero_grad()  # replaces the arrays the optimizer saw last time
        grads = {name: rng.normal(size=v.shape) for name, v in layer.params.items()}
        layer.grads.update({k: v.copy() for k, v in grads.items()})
        twin.grads.update({k: v.copy() for k, v in grads.items()})
        opt.step()
        twin_opt.step()
    for name in layer.params:
        np.testing.assert_array_equal(layer.params[name], twin.params[name])


def test_zero_grad_gives_fresh_zero_arrays_and_leaves_the_old_ones_alone():
    layer = TwoArrays()
    fill_grads(layer, np.random.default_rng(0))
    old = layer.grads["W"]
    old_copy = old.copy()
    optim.SGD(layer, lr=0.1).zero_grad()
    assert layer.grads["W"] is not old
    np.testing.assert_array_equal(layer.grads["W"], np.zeros((4, 3)))
    np.testing.assert_array_equal(old, old_copy)


def run_steps(opt, layer, rng, n):
    for _ in range(n):
        fill_grads(layer, rng)
        opt.step()


@pytest.mark.parametrize(("cls", "kwargs"), ALL, ids=IDS)
def test_state_dict_resume_is_bit_identical(cls, kwargs):
    layer = TwoArrays()
    opt = cls(layer, **kwargs)
    run_steps(opt, layer, np.random.default_rng(5), 6)
    saved_params = {k: v.copy() for k, v in layer.params.items()}
    saved_state = opt.state_dict()
    rng_state = np.random.default_rng(6)
    run_steps(opt, layer, rng_state, 7)

    resumed = TwoArrays(seed=99)
    for name, value in saved_params.items():
        resumed.params[name][...] = value
    fresh = cls(resumed, lr=0.5)  # other hyperparameters: the state dict must restore them
    fresh.load_state_dict(saved_state)
    run_steps(fresh, resumed, np.random.default_rng(6), 7)
    for name in layer.params:
        np.testing.assert_array_equal(resumed.params[name], layer.params[name])


@pytest.mark.parametrize(("cls", "kwargs"), ALL, ids=IDS)
def test_state_dict_survives_a_round_trip_through_npz_style_arrays(cls, kwargs, tmp_path):
    """np.savez turns numbers into 0-d arrays and tuples into arrays; loading must undo that."""
    layer = TwoArrays()
    opt = cls(layer, **kwargs)
    run_steps(opt, layer, np.random.default_rng(5), 4)
    sd = opt.state_dict()
    flat = {f"h/{k}": np.asarray(v) for k, v in sd["hyperparameters"].items()}
    flat.update({f"s/{i}/{n}/{q}": np.asarray(v) for i, ps in enumerate(sd["state"])
                 for n, slot in ps.items() for q, v in slot.items()})
    np.savez(tmp_path / "opt.npz", **flat)
    with np.load(tmp_path / "opt.npz") as data:
        back = {"optimizer": sd["optimizer"], "decay": sd["decay"], "hyperparameters": {}, "state": [{}]}
        for key in data.files:
            parts = key.split("/")
            if parts[0] == "h":
                back["hyperparameters"][parts[1]] = data[key]
            else:
                back["state"][int(parts[1])].setdefault(parts[2], {})[parts[3]] = data[key]
    twin = TwoArrays()
    for name in layer.params:
        twin.params[name][...] = layer.params[name]
    twin_opt = cls(twin)
    twin_opt.load_state_dict(back)
    assert twin_opt.state_dict()["hyperparameters"] == sd["hyperparameters"]
    run_steps(opt, layer, np.random.default_rng(8), 3)
    run_steps(twin_opt, twin, np.random.default_rng(8), 3)
    for name in layer.params:
        np.testing.assert_array_equal(twin.params[name], layer.params[name])


def test_state_dict_holds_copies_in_both_directions():
    layer = TwoArrays()
    opt = optim.Adam(layer, lr=0.1)
    run_steps(opt, layer, np.random.default_rng(0), 2)
    sd = opt.state_dict()
    snapshot = sd["state"][0]["W"]["exp_avg"].copy()
    run_steps(opt, layer, np.random.default_rng(1), 2)
    np.testing.assert_array_equal(sd["state"][0]["W"]["exp_avg"], snapshot)  # later steps leave it alone
    assert sd["state"][0]["W"]["step"] == 2

    other = optim.Adam(TwoArrays(), lr=0.1)
    other.load_state_dict(sd)
    sd["state"][0]["W"]["exp_avg"][...] = 123.0  # editing the dict after loading changes nothing
    assert not np.any(other.state_dict()["state"][0]["W"]["exp_avg"] == 123.0)


def test_load_state_dict_rejects_a_state_from_another_optimizer_or_model():
    layer = TwoArrays()
    adam = optim.Adam(layer)
    run_steps(adam, layer, np.random.default_rng(0), 1)
    with pytest.raises(ValueError, match="saved by SGD, got one from 'Adam'"):
        optim.SGD(layer, lr=0.1).load_state_dict(adam.state_dict())
    wide = optim.Adam([({"W": np.zeros((4, 5)), "b": np.zeros(3)}, {})])
    with pytest.raises(ValueError, match=r"exp_avg.*shape \(4, 3\).*\(4, 5\)"):
        wide.load_state_dict(adam.state_dict())
    two = optim.Adam([(TwoArrays().params, {}), (TwoArrays().params, {})])
    with pytest.raises(ValueError, match="has 1 param pairs, this optimizer has 2"):
        two.load_state_dict(adam.state_dict())
    bad = adam.state_dict()
    bad["hyperparameters"]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr must be a number >= 0, got -1.0"):
        adam.load_state_dict(bad)
    assert adam.lr == 1e-3  # a rejected state dict leaves the optimizer as it was


def test_hyperparameters_can_be_changed_between_steps():
    a, b = TwoArrays(), TwoArrays()
    opt_a, opt_b = optim.SGD(a, lr=0.1), optim.SGD(b, lr=0.1)
    opt_a.lr = 0.01
    grads = {k: np.ones_like(v) for k, v in a.params.items()}
    a.grads.update(grads)
    b.grads.update(grads)
    opt_a.step()
    opt_b.step()
    np.testing.assert_allclose(TwoArrays().params["b"] - a.params["b"], 0.01)
    np.testing.assert_allclose(TwoArrays().params["b"] - b.params["b"], 0.1)


def test_default_weight_decay_leaves_one_dimensional_arrays_alone():
    layer = TwoArrays()
    start = {k: v.copy() for k, v in layer.params.items()}
    opt = optim.SGD(layer, lr=0.1, weight_decay=0.5)
    layer.zero_grad()
    opt.step()
    np.testing.assert_array_equal(layer.params["b"], start["b"])
    np.testing.assert_allclose(layer.params["W"], start["W"] * (1 - 0.1 * 0.5), rtol=1e-15)
    everything = TwoArrays()
    opt = optim.SGD(everything, lr=0.1, weight_decay=0.5, decay="all")
    everything.zero_grad()
    opt.step()
    np.testing.assert_allclose(everything.params["b"], start["b"] * 0.95, rtol=1e-15)


@pytest.mark.parametrize(("cls", "kwargs", "message"), [
    (optim.SGD, dict(lr=-0.1), r"SGD: lr must be a number >= 0, got -0.1"),
    (optim.SGD, dict(lr=float("nan")), r"SGD: lr must be a number >= 0, got nan"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), r"momentum must be a number >= 0, got -0.5"),
    (optim.SGD, dict(lr=0.1, dampening=1.5), r"dampening must be in \[0, 1\], got 1.5"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1), r"weight_decay must be a number >= 0, got -1"),
    (optim.SGD, dict(lr=0.1, nesterov=True), r"nesterov=True needs momentum > 0.*momentum=0.0"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), r"dampening == 0.*dampening=0.1"),
    (optim.Adagrad, dict(lr_decay=-0.1), r"Adagrad: lr_decay must be a number >= 0, got -0.1"),
    (optim.Adagrad, dict(initial_accumulator_value=-1), r"initial_accumulator_value must be a number >= 0, got -1"),
    (optim.Adagrad, dict(eps=-1e-10), r"eps must be a number >= 0, got -1e-10"),
    (optim.Adadelta, dict(rho=1.1), r"Adadelta: rho must be in \[0, 1\], got 1.1"),
    (optim.Adadelta, dict(lr=-1), r"lr must be a number >= 0, got -1"),
    (optim.RMSprop, dict(alpha=-0.1), r"RMSprop: alpha must be in \[0, 1\], got -0.1"),
    (optim.RMSprop, dict(alpha=1.5), r"alpha must be in \[0, 1\], got 1.5"),
    (optim.RMSprop, dict(momentum=-0.9), r"momentum must be a number >= 0, got -0.9"),
    (optim.Adam, dict(betas=(1.0, 0.999)), r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
    (optim.Adam, dict(betas=(0.9, -0.1)), r"betas\[1\] must be in \[0, 1\), got -0.1"),
    (optim.Adam, dict(betas=(0.9,)), r"betas must be a pair"),
    (optim.Adam, dict(eps=-1.0), r"eps must be a number >= 0, got -1.0"),
    (optim.AdamW, dict(weight_decay=-0.01), r"AdamW: weight_decay must be a number >= 0, got -0.01"),
    (optim.AdamW, dict(betas=(0.9, 1.0)), r"AdamW: betas\[1\] must be in \[0, 1\), got 1.0"),
])
def test_invalid_hyperparameters_raise_value_error_naming_them(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(TwoArrays(), **kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(lr="0.1"), r"SGD: lr must be a real number, got str"),
    (dict(lr=0.1, momentum=0.9, nesterov=1), r"nesterov must be True or False, got int"),
    (dict(lr=0.1, decay="biases"), r"decay must be 'weights', 'all' or a collection"),
])
def test_hyperparameters_of_the_wrong_type_raise_type_or_value_error(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        optim.SGD(TwoArrays(), **kwargs)


def test_decay_names_that_match_no_param_are_rejected():
    with pytest.raises(ValueError, match=r"decay names \['w'\] match no param; the params are named \['W', 'b'\]"):
        optim.SGD(TwoArrays(), lr=0.1, weight_decay=0.1, decay={"w"})


@pytest.mark.parametrize(("parameters", "error", "message"), [
    ([], ValueError, "got no parameters"),
    (Layer(), ValueError, "got no parameters"),
    ("W", TypeError, "must be a Layer .* or a list of \\(params, grads\\) dict pairs, got str"),
    ([{"W": np.zeros(2)}], TypeError, r"parameters\[0\] must be a \(params, grads\) pair of dicts, got dict"),
    ([({"W": np.zeros(2, dtype=int)}, {})], TypeError, r"param 'W' must be a float numpy array .* got dtype int64"),
    ([({"W": [0.0, 1.0]}, {})], TypeError, "param 'W' must be a float numpy array .* got list"),
])
def test_bad_parameters_are_rejected_at_construction(parameters, error, message):
    with pytest.raises(error, match=message):
        optim.SGD(parameters, lr=0.1)


def test_the_same_array_listed_twice_is_rejected():
    W = np.zeros((2, 2))
    with pytest.raises(ValueError, match="is the same array as parameters\\[0\\] param 'W'"):
        optim.SGD([({"W": W}, {}), ({"V": W}, {})], lr=0.1)


def test_a_single_pair_is_accepted():
    params, grads = {"W": np.ones(3)}, {"W": np.ones(3)}
    optim.SGD((params, grads), lr=0.5).step()
    np.testing.assert_array_equal(params["W"], np.full(3, 0.5))


@pytest.mark.parametrize(("grad", "error", "message"), [
    (None, ValueError, r"no gradient for parameters\[0\] param 'b': grads has keys \['W'\]"),
    (np.ones((3, 1)), ValueError, r"gradient for parameters\[0\] param 'b' must be 1-D \(3,\), got shape \(3, 1\)"),
    (np.ones(4), ValueError, r"gradient for parameters\[0\] param 'b' must have shape \(3,\), got shape \(4,\)"),
    (np.array([1.0, np.nan, 2.0]), ValueError, r"param 'b' must be finite, found nan at index \(1,\)"),
    (np.array([1.0, 2.0, -np.inf]), ValueError, r"must be finite, found -inf at index \(2,\)"),
    ([1.0, 2.0, 3.0], TypeError, "gradient for parameters\\[0\\] param 'b' must be a numpy array, got list"),
])
def test_bad_gradients_raise_and_leave_every_param_and_state_untouched(grad, error, message):
    layer = TwoArrays()
    opt = optim.Adam(layer, lr=0.1)
    run_steps(opt, layer, np.random.default_rng(0), 1)
    before = {k: v.copy() for k, v in layer.params.items()}
    state_before = opt.state_dict()
    layer.grads["W"] = np.ones((4, 3))
    if grad is None:
        del layer.grads["b"]
    else:
        layer.grads["b"] = grad
    with pytest.raises(error, match=message):
        opt.step()
    for name in before:  # W comes first and has a good gradient: it must not have moved either
        np.testing.assert_array_equal(layer.params[name], before[name])
    assert opt.state_dict()["state"][0]["W"]["step"] == state_before["state"][0]["W"]["step"]


@pytest.mark.parametrize(("cls", "kwargs"), ALL, ids=IDS)
def test_float32_params_stay_float32_and_follow_the_float64_run_closely(cls, kwargs):
    wide = TwoArrays()
    narrow = {k: v.astype(np.float32) for k, v in wide.params.items()}
    narrow_grads = {}
    opt64, opt32 = cls(wide, **kwargs), cls([(narrow, narrow_grads)], **kwargs)
    arrays = dict(narrow)
    rng = np.random.default_rng(4)
    for _ in range(5):
        grads = {k: rng.normal(size=v.shape) for k, v in wide.params.items()}
        wide.grads.update(grads)
        narrow_grads.update({k: g.astype(np.float32) for k, g in grads.items()})
        opt64.step()
        opt32.step()
    for name in narrow:
        assert narrow[name] is arrays[name] and narrow[name].dtype == np.float32
        np.testing.assert_allclose(narrow[name], wide.params[name], rtol=1e-4, atol=1e-5)


def test_a_failed_first_step_creates_no_state():
    layer = TwoArrays()
    opt = optim.RMSprop(layer, momentum=0.9)
    layer.grads["b"] = np.full(3, np.nan)
    with pytest.raises(ValueError, match="must be finite"):
        opt.step()
    assert opt.state_dict()["state"] == [{}]
