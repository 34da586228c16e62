"""Unit 4 (training in practice): the checks of every graded cell.

The notebook gives students the unit 3 layers and losses in a locked cell, so, as in
unit 3, every item forbids all of ``nnkit`` except the data and plotting helpers
(the ``Item`` default): importing ``nnkit.optim``, ``nnkit.init`` or ``nnkit.layers``
(whose ``Dropout`` draws its mask exactly as the dropout task asks) costs the credit.

Optimizers are graded as pure update functions (state in, state out) on
multi-step trajectories: the grader computes each gradient at the student's
current point, feeds it to the student's step, to ``nnkit.optim`` and to a few
recognisable mistakes, and compares the trajectories.
"""

from __future__ import annotations

import numpy as np

from autograder.handle import StudentCodeError
from autograder.items import Item
from nnkit import optim as ref_optim



# -- helpers ----------------------------------------------------------------------------------------------
def _raises_value_error(ns, t, what, name, *args, **kwargs) -> bool:
    try:
        ns.call(name, *args, **kwargs)
    except StudentCodeError as exc:
        if exc.not_implemented:
            raise
        return t.true(what, exc.exc_type == "ValueError", f"raised {exc.exc_type} ({exc.message})")
    return t.fail(what, "returned a result instead of raising ValueError")


def _tuple(t, what, got, n):
    if not isinstance(got, (tuple, list)) or len(got) != n:
        t.fail(what, f"expected a tuple of {n} values, got {type(got).__name__}"
                     f"{f' of length {len(got)}' if isinstance(got, (tuple, list)) else ''}")
        return None
    return got


def _quadratic(t, shape=(4, 3)):
    """A random convex quadratic: returns (w0, grad(w)) with grad(w) = H @ w + c, H symmetric positive definite."""
    k = shape[0]
    A = t.rng.normal(size=(k, k))
    H = A @ A.T / k + 0.5 * np.eye(k)
    c = t.rng.normal(size=shape)
    return t.rng.normal(size=shape), (lambda w: H @ w + c)


class _Reference:
    """One nnkit.optim optimizer on a single array, stepped with given gradients."""

    def __init__(self, cls, w0, **hyper):
        self.params, self.grads = {"w": np.array(w0, dtype=float)}, {"w": np.zeros_like(w0, dtype=float)}
        self.opt = cls([(self.params, self.grads)], decay="all", **hyper)

    def step(self, g):
        self.grads["w"][...] = g
        self.opt.step()
        return self.params["w"].copy()


def _trajectory(ns, t, label, name, cls, hyper, state0, *, ref_hyper=None, steps=6, mistakes=None,
                state_update=None):
    """Run the student's ``name(w, g, *state, **hyper)`` and ``cls`` side by side for ``steps`` steps.

    Each gradient is computed at the student's current ``w`` and given to both, and to every rule in
    ``mistakes`` ({description: step(w, g, state) -> (w, state)}), so a student who made one of those mistakes
    is recognised from the whole trajectory. Sub-checks: ``w`` after the first step, the whole trajectory of
    ``w``, and the state after the last step (``state_update(state, g)`` replays the correct state). A function
    without state (``state0`` empty) returns ``w`` alone.
    """
    w0, grad = _quadratic(t)
    ref = _Reference(cls, w0, **(ref_hyper or hyper))
    w, state = w0.copy(), list(state0(w0))
    expected_state = list(state)
    wrong = {desc: (w0.copy(), list(state0(w0)), []) for desc in (mistakes or {})}
    got_ws, ref_ws = [], []
    for step in range(steps):
        g = grad(w)
        result = ns.call(name, w, g, *state, **hyper)
        if state:
            result = _tuple(t, f"{name} returns (w, {', '.join(['state'] * len(state))}) as a tuple", result,
                            1 + len(state))
            if result is None:
                return
            new_w, state = result[0], list(result[1:])
        else:
            new_w = result
        ref_ws.append(ref.step(g))
        for desc, (ww, ws, path) in wrong.items():
            ww, ws = mistakes[desc](ww, g, ws)
            path.append(ww)
            wrong[desc] = (ww, ws, path)
        if state_update is not None:
            expected_state = state_update(expected_state, g)
        if not (isinstance(new_w, np.ndarray) and new_w.shape == w.shape):
            t.close(f"{label}: w after step {step + 1}", new_w, ref_ws[-1])   # records what came back instead
            return
        got_ws.append(np.asarray(new_w, dtype=float))
        w = got_ws[-1]
    t.close(f"{label}: the whole {steps}-step trajectory of w (steps x shape)", np.stack(got_ws), np.stack(ref_ws),
            rtol=1e-9, atol=1e-12, known_wrong={desc: np.stack(path) for desc, (_, _, path) in wrong.items()})
    _state_matches(t, f"{label}: the state after {steps} steps", name, hyper, state, expected_state)


def _state_matches(t, what, name, hyper, state, expected_state):
    """One sub-check for the whole returned state; the first mismatching part is reported in detail."""
    for i, (s_got, s_exp) in enumerate(zip(state, expected_state)):
        if isinstance(s_exp, int):
            if not (isinstance(s_got, int) and s_got == s_exp):
                t.equal(f"{what}: part {i} (the step count)", s_got, s_exp)
                return
            continue
        if not (isinstance(s_got, np.ndarray) and s_got.shape == s_exp.shape
                and np.allclose(s_got, s_exp, rtol=1e-9, atol=1e-12)):
            folded = {"the velocity with lr folded in (the lecture notes' v <- gamma v + eta g; here v must not "
                      "include lr)": hyper["lr"] * s_exp} if name in ("momentum_step", "nesterov_step") else None
            t.close(f"{what}: part {i}", s_got, s_exp, rtol=1e-9, atol=1e-12, known_wrong=folded)
            return
    t.record(what + " matches the reference", 1.0)   # every part matched above


# -- SGD, momentum, Nesterov ------------------------------------------------------------------------------
def sgd_matches_reference(ns, t):
    _trajectory(ns, t, "sgd_step (lr 0.1)", "sgd_step", ref_optim.SGD, {"lr": 0.1}, lambda w: [])


def _momentum_state(mu):
    return lambda state, g: [mu * state[0] + g]


def momentum_matches_reference(ns, t):
    lr, mu = 0.05, float(t.rng.choice([0.8, 0.9]))
    _trajectory(ns, t, f"momentum_step (lr {lr}, momentum {mu})", "momentum_step", ref_optim.SGD,
                {"lr": lr, "momentum": mu}, lambda w: [np.zeros_like(w)], state_update=_momentum_state(mu),
                mistakes={"plain SGD (the velocity is never used)": lambda w, g, s: (w - lr * g, s),
                          "dampened momentum v <- mu v + (1 - mu) g": lambda w, g, s: (
                              w - lr * (mu * s[0] + (1 - mu) * g), [mu * s[0] + (1 - mu) * g])})


def nesterov_matches_reference(ns, t):
    lr, mu = 0.05, float(t.rng.choice([0.8, 0.9]))
    _trajectory(ns, t, f"nesterov_step (lr {lr}, momentum {mu})", "nesterov_step", ref_optim.SGD,
                {"lr": lr, "momentum": mu}, lambda w: [np.zeros_like(w)],
                ref_hyper={"lr": lr, "momentum": mu, "nesterov": True}, state_update=_momentum_state(mu),
                mistakes={"classical momentum, w - lr * v (Nesterov steps by g + momentum * v)":
                          lambda w, g, s: (w - lr * (mu * s[0] + g), [mu * s[0] + g])})


def nesterov_is_not_classical_momentum(ns, t):
    w, g, v = t.rng.normal(size=(3, 2)), t.rng.normal(size=(3, 2)), t.rng.normal(size=(3, 2))
    lr, mu = 0.1, 0.9
    v_new = mu * v + g
    got = _tuple(t, "nesterov_step returns (w, v)", ns.call("nesterov_step", w, g, v, lr, momentum=mu), 2)
    if got is not None:
        t.close("nesterov_step from a non-zero velocity", got[0], w - lr * (g + mu * v_new),
                known_wrong={"classical momentum (w - lr * v_new)": w - lr * v_new,
                             "the old velocity in the look-ahead (g + momentum * v_old)": w - lr * (g + mu * v)})


# -- RMSProp and Adam --------------------------------------------------------------------------------------
def rmsprop_matches_reference(ns, t):
    lr, alpha, eps = 0.01, float(t.rng.choice([0.9, 0.99])), 1e-8

    def rule(inside=False, swapped=False):
        def step(w, g, s):
            a = 1 - alpha if swapped else alpha
            s_new = a * s[0] + (1 - a) * g * g
            return w - lr * g / (np.sqrt(s_new + eps) if inside else np.sqrt(s_new) + eps), [s_new]
        return step

    _trajectory(ns, t, f"rmsprop_step (lr {lr}, alpha {alpha})", "rmsprop_step", ref_optim.RMSprop,
                {"lr": lr, "alpha": alpha, "eps": eps}, lambda w: [np.zeros_like(w)],
                state_update=lambda state, g: [alpha * state[0] + (1 - alpha) * g * g],
                mistakes={"eps inside the square root": rule(inside=True),
                          "alpha and 1 - alpha swapped (alpha weighs the old average)": rule(swapped=True)})


def rmsprop_default_hyperparameters(ns, t):
    w, g = t.rng.normal(size=5), t.rng.normal(size=5)
    got = _tuple(t, "rmsprop_step(w, g, s) returns (w, s)", ns.call("rmsprop_step", w, g, np.zeros(5)), 2)
    if got is not None:
        ref = _Reference(ref_optim.RMSprop, w)   # PyTorch's defaults: lr 0.01, alpha 0.99, eps 1e-8
        t.close("rmsprop_step with its default hyperparameters", got[0], ref.step(g), rtol=1e-9, atol=1e-12)


def _adam_state(b1, b2):
    return lambda state, g: [b1 * state[0] + (1 - b1) * g, b2 * state[1] + (1 - b2) * g * g, state[2] + 1]


def adam_matches_reference(ns, t):
    lr, betas, eps = 0.01, (0.9, float(t.rng.choice([0.99, 0.999]))), 1e-8

    def rule(correct=True, inside=False, late_t=False):
        def step(w, g, s):
            m, v, k = betas[0] * s[0] + (1 - betas[0]) * g, betas[1] * s[1] + (1 - betas[1]) * g * g, s[2] + 1
            tc = k - 1 if late_t else k
            m_hat = m / (1 - betas[0] ** tc) if correct else m
            v_hat = v / (1 - betas[1] ** tc) if correct else v
            with np.errstate(divide="ignore", invalid="ignore"):
                return w - lr * m_hat / (np.sqrt(v_hat + eps) if inside else np.sqrt(v_hat) + eps), [m, v, k]
        return step

    _trajectory(ns, t, f"adam_step (lr {lr}, betas {betas})", "adam_step", ref_optim.Adam,
                {"lr": lr, "betas": betas, "eps": eps}, lambda w: [np.zeros_like(w), np.zeros_like(w), 0],
                steps=8, state_update=_adam_state(*betas),
                mistakes={"Adam without bias correction": rule(correct=False),
                          "eps inside the square root": rule(inside=True),
                          "t incremented after the bias correction": rule(late_t=True)})


def adam_first_step_moves_every_coordinate_by_lr(ns, t):
    w, g = t.rng.normal(size=6), t.rng.normal(size=6) * np.logspace(-2, 3, 6)
    got = _tuple(t, "adam_step returns (w, m, v, t)", ns.call("adam_step", w, g, np.zeros(6), np.zeros(6), 0), 4)
    if got is None:
        return
    t.close("adam's first step is about lr * sign(g) whatever the gradient's size", got[0], w - 1e-3 * np.sign(g),
            rtol=0, atol=1e-8)


# -- initialisation ------------------------------------------------------------------------------------------
def _sample_stats(t, what, W, shape, var, *, uniform_bound=None, alternatives=None):
    """Shape, mean, variance and distribution-shape checks with tolerances of 6 standard errors.

    ``alternatives`` maps a description of a common mistake to the variance it would give.
    """
    if not t.true(f"{what} has shape {shape} (fan_in, fan_out)", isinstance(W, np.ndarray) and W.shape == shape,
                  f"got {getattr(W, 'shape', type(W).__name__)}"
                  + (" -- transposed?" if getattr(W, "shape", None) == shape[::-1] else "")):
        return
    n = W.size
    mean, sample_var = float(W.mean()), float(W.var())
    t.true(f"{what}: mean {mean:.2e} is 0 within sampling error", abs(mean) <= 6 * np.sqrt(var / n))
    # The variance of a sample variance is (mu4 - var^2) / n, with mu4 = 3 var^2 (normal) or 9/5 var^2 (uniform).
    rel_se = np.sqrt((0.8 if uniform_bound else 2.0) / n)
    ratio = sample_var / var
    hints = [f"this looks like {label}" for label, alt in (alternatives or {}).items()
             if abs(sample_var / alt - 1) <= 6 * rel_se]
    t.true(f"{what}: variance {sample_var:.4g} matches {var:.4g} within sampling error (ratio {ratio:.3f})",
           abs(ratio - 1) <= 6 * rel_se, "; ".join([f"expected the ratio within 1 +- {6 * rel_se:.3f}"] + hints))
    kurt = float(np.mean((W - mean) ** 4) / sample_var ** 2) - 3
    if uniform_bound is None:
        t.true(f"{what}: the entries look normal (excess kurtosis {kurt:.2f}, expected 0)",
               abs(kurt) <= 6 * np.sqrt(24 / n), "a uniform draw has excess kurtosis -1.2: use rng.normal")
    else:
        t.true(f"{what}: every entry lies in [-a, a] with a = {uniform_bound:.4f}",
               bool(np.max(np.abs(W)) <= uniform_bound), f"max |w| = {np.max(np.abs(W)):.4f}")
        # excess kurtosis of a uniform sample: -1.2, standard error about sqrt(1.1 / n)
        t.true(f"{what}: the entries look uniform (excess kurtosis {kurt:.2f}, expected -1.2)",
               abs(kurt + 1.2) <= 6 * np.sqrt(1.1 / n), "a normal draw has excess kurtosis 0: use rng.uniform")


def _he_alternatives(fan_in, fan_out):
    return {"1 / fan_in (LeCun), not 2 / fan_in": 1.0 / fan_in, "2 / fan_out instead of 2 / fan_in": 2.0 / fan_out,
            "std 2 / fan_in (the variance must be 2 / fan_in)": 4.0 / fan_in ** 2}


def _xavier_alternatives(fan_in, fan_out):
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return {"U(-a, a) with a = sqrt(2 / (fan_in + fan_out)) (that is the variance, not the bound)":
            2.0 / (fan_in + fan_out) / 3, "U(-a, a) with a = sqrt(6 / fan_in)": 2.0 / fan_in,
            "U(0, a) instead of U(-a, a)": a * a / 12}


def he_normal_statistics(ns, t):
    fan_in, fan_out = 400, 300
    W = ns.call("he_normal", fan_in, fan_out, seed=int(t.rng.integers(2**31)))
    _sample_stats(t, f"he_normal({fan_in}, {fan_out})", W, (fan_in, fan_out), 2.0 / fan_in,
                  alternatives=_he_alternatives(fan_in, fan_out))


def xavier_uniform_statistics(ns, t):
    fan_in, fan_out = 250, 500
    W = ns.call("xavier_uniform", fan_in, fan_out, seed=int(t.rng.integers(2**31)))
    a = np.sqrt(6.0 / (fan_in + fan_out))
    _sample_stats(t, f"xavier_uniform({fan_in}, {fan_out})", W, (fan_in, fan_out), 2.0 / (fan_in + fan_out),
                  uniform_bound=a, alternatives=_xavier_alternatives(fan_in, fan_out))


def init_is_seeded(ns, t):
    for name in ("he_normal", "xavier_uniform"):
        seed = int(t.rng.integers(2**31))
        a, b = ns.call(name, 7, 5, seed=seed), ns.call(name, 7, 5, seed=seed)
        t.equal(f"{name}(7, 5, seed) twice gives the same array", a, b)
        c = ns.call(name, 7, 5, seed=seed + 1)
        t.true(f"{name} with another seed gives another array", isinstance(c, np.ndarray) and
               not np.array_equal(a, c))
    _raises_value_error(ns, t, "he_normal(0, 5) raises ValueError", "he_normal", 0, 5)


def init_other_shapes(ns, t):
    fan_in, fan_out = 900, 120
    W = ns.call("he_normal", fan_in, fan_out, seed=int(t.rng.integers(2**31)))
    _sample_stats(t, f"he_normal({fan_in}, {fan_out})", W, (fan_in, fan_out), 2.0 / fan_in,
                  alternatives=_he_alternatives(fan_in, fan_out))
    W = ns.call("xavier_uniform", fan_out, fan_in, seed=int(t.rng.integers(2**31)))
    _sample_stats(t, f"xavier_uniform({fan_out}, {fan_in})", W, (fan_out, fan_in), 2.0 / (fan_in + fan_out),
                  uniform_bound=np.sqrt(6.0 / (fan_in + fan_out)))


# -- gradient norms per layer ---------------------------------------------------------------------------------
def _deep_sigmoid(ns, t, depth, width, scale):
    """The same deep sigmoid net on both sides: the student's (via ns) and the reference."""
    from nnkit.layers import Linear, Sequential, Sigmoid

    student, reference = [], []
    for k in range(depth):
        d, m = (width, width) if k < depth - 1 else (width, 1)
        W, b = t.rng.normal(size=(d, m)) * scale, t.rng.normal(size=m) * 0.1
        layer = ns.new("Linear", d, m)
        ns.setitem(layer, "params", "W", W)
        ns.setitem(layer, "params", "b", b)
        ref = Linear(d, m, seed=0)
        ref.params["W"], ref.params["b"] = W.copy(), b.copy()
        student.append(layer)
        reference.append(ref)
        if k < depth - 1:
            student.append(ns.new("Sigmoid"))
            reference.append(Sigmoid())
    return ns.new("Sequential", student), Sequential(reference)


def grad_norms_match_reference(ns, t):
    from nnkit.losses import mse

    net, ref = _deep_sigmoid(ns, t, depth=6, width=8, scale=1.0)
    X, Y = t.rng.normal(size=(16, 8)), t.rng.normal(size=(16, 1))
    got = ns.call("layer_grad_norms", net, X, Y)
    _, dout = mse(ref.forward(X), Y)
    ref.backward(dout)
    expected = np.array([np.linalg.norm(layer.grads["W"]) for layer in ref.layers if "W" in layer.params])
    if not t.true("layer_grad_norms returns a list with one float per Linear layer (6)",
                  isinstance(got, (list, tuple)) and len(got) == 6, f"got {got!r:.100}"):
        return
    sq = expected ** 2
    t.close("the gradient norm of every layer, first layer first", np.asarray(got, dtype=float), expected,
            kind="backward", known_wrong={"the squared norms (take the square root)": sq,
                                          "the layers in reverse order": expected[::-1]})


def grad_norms_vanish_in_deep_sigmoid_net(ns, t):
    net, _ = _deep_sigmoid(ns, t, depth=10, width=16, scale=0.25)   # Xavier-sized weights: std 1/sqrt(16)
    got = ns.call("layer_grad_norms", net, t.rng.normal(size=(32, 16)), t.rng.normal(size=(32, 1)))
    ok = isinstance(got, (list, tuple)) and len(got) == 10
    t.true("in a 10-layer sigmoid net the first layer's gradient is over 100x smaller than the last's",
           ok and float(got[0]) * 100 < float(got[-1]), f"got {got!r:.160}")


# -- dropout ------------------------------------------------------------------------------------------------
def _ref_dropout(x, p, seed):
    keep = np.random.default_rng(seed).random(x.shape) >= p
    mask = keep / (1.0 - p)
    return x * mask, mask


def dropout_forward_is_exact(ns, t):
    x, p, seed = t.rng.normal(size=(20, 30)), float(t.rng.choice([0.2, 0.3, 0.5])), int(t.rng.integers(2**31))
    got = _tuple(t, "dropout_forward returns (out, mask)", ns.call("dropout_forward", x, p, seed=seed), 2)
    if got is None:
        return
    out, mask = _ref_dropout(x, p, seed)
    keep = mask > 0
    wrong = {"dropout without the 1/(1-p) scaling (not inverted)": keep.astype(float),
             "keep = rng.random(x.shape) < 1 - p (the convention is keep = rng.random(x.shape) >= p)":
                 (np.random.default_rng(seed).random(x.shape) < 1 - p) / (1 - p),
             "p used as the probability of keeping": (np.random.default_rng(seed).random(x.shape) < p) / p}
    t.close(f"the mask for p = {p} with keep = default_rng(seed).random(x.shape) >= p", got[1], mask,
            known_wrong=wrong)
    t.close("out = x * mask", got[0], out)
    if isinstance(got[1], np.ndarray) and got[1].shape == x.shape:
        t.close("out equals x times your own mask", got[0], x * got[1])


def dropout_statistics_and_modes(ns, t):
    p = 0.4
    x = np.ones((100, 100))
    got = _tuple(t, "dropout_forward returns (out, mask)", ns.call("dropout_forward", x, p,
                                                                   seed=int(t.rng.integers(2**31))), 2)
    if got is None:
        return
    out = np.asarray(got[0], dtype=float)
    dropped = float(np.mean(out == 0))
    t.true(f"about p = {p} of the units are dropped (got {dropped:.3f})",
           abs(dropped - p) <= 6 * np.sqrt(p * (1 - p) / x.size))
    t.true(f"kept units are scaled by 1/(1-p) = {1 / (1 - p):.4f}",
           bool(np.allclose(out[out != 0], 1 / (1 - p))))
    ev = _tuple(t, "dropout_forward(training=False) returns (out, mask)",
                ns.call("dropout_forward", x * 3, p, seed=1, training=False), 2)
    if ev is not None:
        t.close("with training=False dropout is the identity", ev[0], x * 3)
        t.close("with training=False the mask is all ones", ev[1], np.ones_like(x))


def dropout_backward_uses_the_mask(ns, t):
    x, p, seed = t.rng.normal(size=(6, 7)), 0.3, int(t.rng.integers(2**31))
    dout = t.rng.normal(size=x.shape)
    _, mask = _ref_dropout(x, p, seed)
    dx = ns.call("dropout_backward", dout, mask)
    t.close("dropout_backward(dout, mask) = dout * mask", dx, dout * mask, kind="backward",
            known_wrong={"the mask without the 1/(1-p) scaling": dout * (mask > 0)})
    got = ns.call("dropout_forward", x, p, seed=seed)
    if isinstance(got, (tuple, list)) and len(got) == 2:
        t.grad_matches_numeric("dropout_backward against numeric differentiation of your forward (fixed seed)",
                               lambda v: ns.call("dropout_forward", v, p, seed=seed)[0], x, dout,
                               ns.call("dropout_backward", dout, got[1]))


def dropout_edge_cases(ns, t):
    x = t.rng.normal(size=(3, 4))
    got = ns.call("dropout_forward", x, 0.0, seed=3)
    if _tuple(t, "dropout_forward returns (out, mask)", got, 2) is not None:
        t.close("p = 0 keeps every unit unchanged", got[0], x)
    _raises_value_error(ns, t, "p = 1 raises ValueError", "dropout_forward", x, 1.0, seed=3)
    _raises_value_error(ns, t, "p = -0.1 raises ValueError", "dropout_forward", x, -0.1, seed=3)


# -- penalties and max-norm ---------------------------------------------------------------------------------
def penalties_match_reference(ns, t):
    W, lam = t.rng.normal(size=(5, 4)), float(t.rng.choice([0.01, 0.1, 0.5]))
    W[0, 0] = 0.0
    for name, ref in (("l2_penalty", ref_optim.l2_penalty), ("l1_penalty", ref_optim.l1_penalty)):
        got = _tuple(t, f"{name} returns (value, gradient)", ns.call(name, W, lam), 2)
        if got is None:
            continue
        value, grad = ref(W, lam)
        t.close(f"{name}(W, {lam}) value", got[0], np.float64(value))
        t.close(f"{name}(W, {lam}) gradient", got[1], grad, kind="backward")


def penalties_numeric(ns, t):
    lam = 0.3
    for name in ("l2_penalty", "l1_penalty"):
        W = t.away_from_kinks((3, 4))
        got = _tuple(t, f"{name} returns (value, gradient)", ns.call(name, W, lam), 2)
        if got is not None:
            t.grad_matches_numeric(f"{name} gradient against numeric differentiation of your value",
                                   lambda v, n=name: ns.call(n, v, lam)[0], W, np.float64(1.0), got[1])


def max_norm_matches_reference(ns, t):
    W = t.rng.normal(size=(6, 5)) * np.array([0.2, 1.0, 3.0, 0.5, 2.0])
    c = 1.5
    expected = ref_optim.max_norm_(W.copy(), c, axis=0)
    norms = np.linalg.norm(W, axis=0)
    row_norms = np.linalg.norm(W, axis=1, keepdims=True)
    t.close(f"max_norm(W, {c}) rescales only the columns longer than c", ns.call("max_norm", W, c), expected,
            known_wrong={"rescaling rows instead of columns": W * np.minimum(1, c / row_norms),
                         "rescaling every column to norm c": W * (c / norms)})
    _raises_value_error(ns, t, "max_norm with c = 0 raises ValueError", "max_norm", W, 0.0)


# -- early stopping ------------------------------------------------------------------------------------------
def _ref_early_stopping(losses, patience, min_delta=0.0):
    best, best_epoch = np.inf, 0
    for epoch, loss in enumerate(losses):
        if loss < best - min_delta:
            best, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            return epoch, best_epoch
    return None, best_epoch


def _as_epochs(got):
    """Normalise a returned (stop, best) pair: integral numbers become int, None stays None."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return got
    out = []
    for v in got:
        if v is None or (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                         and float(v).is_integer()):
            out.append(None if v is None else int(v))
        else:
            return got
    return tuple(out)


def _es_case(ns, t, losses, patience, min_delta=0.0, label=""):
    expected = _ref_early_stopping(losses, patience, min_delta)
    got = _as_epochs(ns.call("early_stopping", list(map(float, losses)), patience, min_delta=min_delta))
    t.equal(f"early_stopping({label or losses}, patience={patience}, min_delta={min_delta})", got, expected)


def early_stopping_examples(ns, t):
    _es_case(ns, t, [5, 4, 3, 3.5, 3.2, 3.1, 3.3], 3)
    _es_case(ns, t, [5, 4, 3, 2, 1], 2)                 # never stops
    _es_case(ns, t, [1.0, 2.0, 1.0, 3.0, 4.0], 3)         # a tie is not an improvement: the earliest best
    _es_case(ns, t, [3.0, 2.95, 2.9, 2.85, 2.8], 2, min_delta=0.1)


def early_stopping_random_histories(ns, t):
    for _ in range(6):
        n = int(t.rng.integers(5, 30))
        losses = np.round(2.0 * np.exp(-np.arange(n) / 5) + 0.05 * np.arange(n) / 5
                          + t.rng.normal(size=n) * 0.05, 3).tolist()
        _es_case(ns, t, losses, int(t.rng.integers(1, 6)), float(t.rng.choice([0.0, 0.01])),
                 label=f"a noisy history of {n} epochs")
    _raises_value_error(ns, t, "an empty history raises ValueError", "early_stopping", [], 3)
    _raises_value_error(ns, t, "patience = 0 raises ValueError", "early_stopping", [1.0, 2.0], 0)


ITEMS = [
    Item("u4_sgd_momentum", 3, "sgd_step and momentum_step", names=("sgd_step", "momentum_step"),
         checks=(sgd_matches_reference, momentum_matches_reference),
         hidden_checks=(momentum_matches_reference,)),
    Item("u4_nesterov", 2, "nesterov_step", names=("nesterov_step",), checks=(nesterov_matches_reference,),
         hidden_checks=(nesterov_is_not_classical_momentum, nesterov_matches_reference)),
    Item("u4_rmsprop", 2, "rmsprop_step", names=("rmsprop_step",), checks=(rmsprop_matches_reference,),
         hidden_checks=(rmsprop_default_hyperparameters, rmsprop_matches_reference)),
    Item("u4_adam", 3, "adam_step", names=("adam_step",), checks=(adam_matches_reference,),
         hidden_checks=(adam_first_step_moves_every_coordinate_by_lr, adam_matches_reference)),
    Item("u4_init", 3, "He normal and Xavier uniform initialisation", names=("he_normal", "xavier_uniform"),
         checks=(he_normal_statistics, xavier_uniform_statistics),
         hidden_checks=(init_is_seeded, init_other_shapes)),
    Item("u4_grad_norms", 2, "gradient norm per layer",
         names=("layer_grad_norms", "Linear", "Sigmoid", "Sequential"),
         checks=(grad_norms_match_reference,), hidden_checks=(grad_norms_vanish_in_deep_sigmoid_net,)),
    Item("u4_dropout", 3, "inverted dropout forward and backward", names=("dropout_forward", "dropout_backward"),
         checks=(dropout_forward_is_exact, dropout_backward_uses_the_mask),
         hidden_checks=(dropout_statistics_and_modes, dropout_edge_cases, dropout_forward_is_exact)),
    Item("u4_penalties", 3, "L2 and L1 penalties and max-norm", names=("l2_penalty", "l1_penalty", "max_norm"),
         checks=(penalties_match_reference, max_norm_matches_reference),
         hidden_checks=(penalties_numeric, penalties_match_reference)),
    Item("u4_early_stopping", 2, "early stopping", names=("early_stopping",), checks=(early_stopping_examples,),
         hidden_checks=(early_stopping_random_histories,)),
]
