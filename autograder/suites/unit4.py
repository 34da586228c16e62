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

from autograder.items import Item
from autograder.tester import watch_calls
from autograder.suites.unit4_regularize import (
    dropout_backward_uses_the_mask,
    dropout_edge_cases,
    dropout_forward_is_exact,
    dropout_statistics_and_modes,
    early_stopping_examples,
    early_stopping_random_histories,
    grad_norms_match_reference,
    grad_norms_vanish_in_deep_sigmoid_net,
    max_norm_matches_reference,
    penalties_match_reference,
    penalties_numeric,
)
from autograder.suites.unit4_adaptive import quadratic as _quadratic
from nnkit import optim as ref_optim


class _Reference:
    """One nnkit.optim optimizer on a single array, stepped with given gradients."""

    def __init__(self, cls, w0, **hyper):
        self.params, self.grads = {"w": np.array(w0, dtype=float)}, {"w": np.zeros_like(w0, dtype=float)}
        self.opt = cls([(self.params, self.grads)], decay="all", **hyper)

    def step(self, g):
        self.grads["w"][...] = g
        self.opt.step()
        return self.params["w"].copy()


def _trajectory(ns, t, settings, name, cls, hyper, state0, **kwargs):
    """Run the student's ``name(w, g, *state, **hyper)`` and ``cls`` side by side (see ``_run_trajectory``).

    ``settings`` ("lr 0.05, momentum 0.9") names the case in a visible check's descriptions. A hidden check's
    settings may come from the secret, so its descriptions say "on hidden settings" and the settings, with the
    step where ``w`` broke if it did, go into the details of its failed sub-checks, which only the instructor sees.
    """
    since = len(t.results)
    label = f"{name} on hidden settings" if t.hidden else f"{name} ({settings})"
    broke_at = _run_trajectory(ns, t, label, name, cls, hyper, state0, **kwargs)
    t.note_hidden_case(since, settings + ("" if broke_at is None else f"; w broke at step {broke_at}"))


def _run_trajectory(ns, t, label, name, cls, hyper, state0, *, ref_hyper=None, steps=6, mistakes=None,
                    state_update=None) -> int | None:
    """Run the student's ``name(w, g, *state, **hyper)`` and ``cls`` side by side for ``steps`` steps.

    Each gradient is computed at the student's current ``w`` and given to both, and to every rule in
    ``mistakes`` ({description: step(w, g, state) -> (w, state)}), so a student who made one of those mistakes
    is recognised from the whole trajectory. Sub-checks: ``w`` after the first step, the whole trajectory of
    ``w``, and the state after the last step (``state_update(state, g)`` replays the correct state). A function
    without state (``state0`` empty) returns ``w`` alone. Returns the step after which the student's ``w`` was
    not a finite array of the right shape, if it broke (and then judges that step alone).
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
            result = t.unpack(f"{name} returns (w, {', '.join(['state'] * len(state))}) as a tuple", result,
                            1 + len(state))
            if result is None:
                return None
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
        # where the student's w broke is measured on their output: a hidden description does not say it
        at_step = f"{label}: w after every step" if t.hidden else f"{label}: w after step {step + 1}"
        if not (isinstance(new_w, np.ndarray) and new_w.shape == w.shape):
            t.close(at_step, new_w, ref_ws[-1])   # records what came back instead
            return step + 1
        if not np.all(np.isfinite(new_w)):    # the reference cannot step from NaN: judge this step alone
            t.close(at_step, new_w, ref_ws[-1], known_wrong={desc: path[-1] for desc, (_, _, path) in wrong.items()})
            return step + 1
        got_ws.append(np.asarray(new_w, dtype=float))
        w = got_ws[-1]
    t.close(f"{label}: the whole {steps}-step trajectory of w (steps x shape)", np.stack(got_ws), np.stack(ref_ws),
            rtol=1e-9, atol=1e-12, known_wrong={desc: np.stack(path) for desc, (_, _, path) in wrong.items()})
    _state_matches(t, f"{label}: the state after {steps} steps", name, hyper, state, expected_state)
    return None


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
                      "include lr)": hyper["lr"] * s_exp,
                      "CS231n's velocity v <- mu v - lr g, w <- w + v (the same w, but v is negative and holds lr): "
                      "here v <- mu v + g and w <- w - lr v": -hyper["lr"] * s_exp} \
                if name in ("momentum_step", "nesterov_step") else None
            t.close(f"{what}: part {i}", s_got, s_exp, rtol=1e-9, atol=1e-12, known_wrong=folded)
            return
    t.record(what + " matches the reference", 1.0)   # every part matched above


# -- SGD, momentum, Nesterov ------------------------------------------------------------------------------
@watch_calls()
def sgd_matches_reference(ns, t):
    _trajectory(ns, t, "lr 0.1", "sgd_step", ref_optim.SGD, {"lr": 0.1}, lambda w: [],
                mistakes={"gradient ascent (w + lr * g): a descent step goes against the gradient":
                          lambda w, g, s: (w + 0.1 * g, s)})


def _momentum_state(mu):
    return lambda state, g: [mu * state[0] + g]


@watch_calls()
def momentum_matches_reference(ns, t):
    lr, mu = 0.05, float(t.rng.choice([0.8, 0.9]))
    _trajectory(ns, t, f"lr {lr}, momentum {mu}", "momentum_step", ref_optim.SGD,
                {"lr": lr, "momentum": mu}, lambda w: [np.zeros_like(w)], state_update=_momentum_state(mu),
                mistakes={"plain SGD (the velocity is never used)": lambda w, g, s: (w - lr * g, s),
                          "dampened momentum v <- mu v + (1 - mu) g": lambda w, g, s: (
                              w - lr * (mu * s[0] + (1 - mu) * g), [mu * s[0] + (1 - mu) * g]),
                          "w stepped with the old velocity (w - lr * v_old; the step uses the new v = mu v + g)":
                          lambda w, g, s: (w - lr * s[0], [mu * s[0] + g])})


@watch_calls()
def nesterov_matches_reference(ns, t):
    lr, mu = 0.05, float(t.rng.choice([0.8, 0.9]))
    _trajectory(ns, t, f"lr {lr}, momentum {mu}", "nesterov_step", ref_optim.SGD,
                {"lr": lr, "momentum": mu}, lambda w: [np.zeros_like(w)],
                ref_hyper={"lr": lr, "momentum": mu, "nesterov": True}, state_update=_momentum_state(mu),
                mistakes={"classical momentum, w - lr * v (Nesterov steps by g + momentum * v)":
                          lambda w, g, s: (w - lr * (mu * s[0] + g), [mu * s[0] + g])})


def nesterov_is_not_classical_momentum(ns, t):
    w, g, v = t.rng.normal(size=(3, 2)), t.rng.normal(size=(3, 2)), t.rng.normal(size=(3, 2))
    lr, mu = 0.1, 0.9
    v_new = mu * v + g
    got = t.unpack("nesterov_step returns (w, v)", ns.call("nesterov_step", w, g, v, lr, momentum=mu), 2)
    if got is not None:
        t.close("nesterov_step from a non-zero velocity", got[0], w - lr * (g + mu * v_new),
                known_wrong={"classical momentum (w - lr * v_new)": w - lr * v_new,
                             "the old velocity in the look-ahead (g + momentum * v_old)": w - lr * (g + mu * v)})


# -- RMSProp and Adam --------------------------------------------------------------------------------------
@watch_calls()
def rmsprop_matches_reference(ns, t):
    lr, alpha, eps = 0.01, float(t.rng.choice([0.9, 0.99])), 1e-8

    def rule(inside=False, swapped=False, abs_g=False, old_s=False, plain_g=False):
        def step(w, g, s):
            a = 1 - alpha if swapped else alpha
            s_new = a * s[0] + (1 - a) * (np.abs(g) if abs_g else g if plain_g else g * g)
            s_step = s[0] if old_s else s_new
            with np.errstate(divide="ignore", invalid="ignore"):
                return w - lr * g / (np.sqrt(s_step + eps) if inside else np.sqrt(s_step) + eps), [s_new]
        return step

    _trajectory(ns, t, f"lr {lr}, alpha {alpha}", "rmsprop_step", ref_optim.RMSprop,
                {"lr": lr, "alpha": alpha, "eps": eps}, lambda w: [np.zeros_like(w)],
                state_update=lambda state, g: [alpha * state[0] + (1 - alpha) * g * g],
                mistakes={"eps inside the square root": rule(inside=True),
                          "alpha and 1 - alpha swapped (alpha weighs the old average)": rule(swapped=True),
                          "|g| instead of g**2 in the running average of squared gradients": rule(abs_g=True),
                          "the old average s in the step (update s first, then divide by sqrt(s_new) + eps)":
                          rule(old_s=True),
                          "g instead of g**2 in the running average (the square root of a negative average is NaN)":
                          rule(plain_g=True)})


@watch_calls()
def rmsprop_default_hyperparameters(ns, t):
    w, g = t.rng.normal(size=5), t.rng.normal(size=5)
    got = t.unpack("rmsprop_step(w, g, s) returns (w, s)", ns.call("rmsprop_step", w, g, np.zeros(5)), 2)
    if got is not None:
        ref = _Reference(ref_optim.RMSprop, w)   # PyTorch's defaults: lr 0.01, alpha 0.99, eps 1e-8
        t.close("rmsprop_step with its default hyperparameters", got[0], ref.step(g), rtol=1e-9, atol=1e-12)


def _adam_state(b1, b2):
    return lambda state, g: [b1 * state[0] + (1 - b1) * g, b2 * state[1] + (1 - b2) * g * g, state[2] + 1]


@watch_calls()
def adam_matches_reference(ns, t):
    lr, betas, eps = 0.01, (0.9, float(t.rng.choice([0.99, 0.999]))), 1e-8

    def rule(correct=True, inside=False, late_t=False, abs_g=False, beta2_for_m=False, early_t=False,
             m_only=False, paper_eps=False, plain_g=False):
        def step(w, g, s):
            m = betas[0] * s[0] + (1 - betas[0]) * g
            v, k = betas[1] * s[1] + (1 - betas[1]) * (np.abs(g) if abs_g else g if plain_g else g * g), s[2] + 1
            tc = k - 1 if late_t else k + 1 if early_t else k
            m_hat = m / (1 - betas[1 if beta2_for_m else 0] ** tc) if correct else m
            v_hat = v / (1 - betas[1] ** tc) if correct and not m_only else v
            with np.errstate(divide="ignore", invalid="ignore"):
                if paper_eps:
                    return w - lr * np.sqrt(1 - betas[1] ** k) / (1 - betas[0] ** k) * m / (np.sqrt(v) + eps), [m, v, k]
                return w - lr * m_hat / (np.sqrt(v_hat + eps) if inside else np.sqrt(v_hat) + eps), [m, v, k]
        return step

    _trajectory(ns, t, f"lr {lr}, betas {betas}", "adam_step", ref_optim.Adam,
                {"lr": lr, "betas": betas, "eps": eps}, lambda w: [np.zeros_like(w), np.zeros_like(w), 0],
                steps=8, state_update=_adam_state(*betas),
                mistakes={"Adam without bias correction": rule(correct=False),
                          "eps inside the square root": rule(inside=True),
                          "the old t in the bias correction (increment t before using it: at the first step "
                          "1 - beta**0 = 0)": rule(late_t=True),
                          "|g| instead of g**2 in the second moment v": rule(abs_g=True),
                          "beta2 in the bias correction of m (m_hat = m / (1 - beta1**t))": rule(beta2_for_m=True),
                          "t + 1 in the bias correction: t is incremented once, then 1 - beta**t_new uses it "
                          "(at the first step 1 - beta1**1)": rule(early_t=True),
                          "the bias correction of m only (v_hat = v / (1 - beta2**t) is missing)": rule(m_only=True),
                          ADAM_PAPER_FORM: rule(paper_eps=True),
                          "g instead of g**2 in the second moment v (the square root of a negative v is NaN)":
                          rule(plain_g=True)})


@watch_calls()
def adam_first_step_moves_every_coordinate_by_lr(ns, t):
    # |g| from 1e-2 to 1e3: the step is lr * g / (|g| + eps), within 1e-9 of lr * sign(g) for every entry
    w, g = t.rng.normal(size=6), t.rng.choice([-1.0, 1.0], size=6) * np.logspace(-2, 3, 6)
    got = t.unpack("adam_step returns (w, m, v, t)", ns.call("adam_step", w, g, np.zeros(6), np.zeros(6), 0), 4)
    if got is None:
        return
    t.close("adam's first step is about lr * sign(g) whatever the gradient's size", got[0], w - 1e-3 * np.sign(g),
            rtol=0, atol=1e-8)


ADAM_PAPER_FORM = ("the paper's 'efficient' form lr_t = lr sqrt(1 - beta2**t) / (1 - beta1**t), w - lr_t m / (sqrt(v) "
                   "+ eps), whose eps is not bias-corrected: this course, like PyTorch, steps by "
                   "lr m_hat / (sqrt(v_hat) + eps)")


@watch_calls()
def adam_default_hyperparameters(ns, t):
    """Five steps with the defaults only; gradients from 1e-9 to 10, so that eps and beta2 show."""
    shape = (2, 6)
    scale = np.logspace(-9, 1, shape[1])
    w0, gs = t.rng.normal(size=shape), t.rng.normal(size=(5,) + shape) * scale

    def path(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, paper=False):
        w, m, v, out = w0.copy(), np.zeros(shape), np.zeros(shape), []
        for k, g in enumerate(gs, start=1):
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            if paper:
                w = w - lr * np.sqrt(1 - b2 ** k) / (1 - b1 ** k) * m / (np.sqrt(v) + eps)
            else:
                w = w - lr * (m / (1 - b1 ** k)) / (np.sqrt(v / (1 - b2 ** k)) + eps)
            out.append(w)
        return np.stack(out)

    w, state, got = w0.copy(), [np.zeros(shape), np.zeros(shape), 0], []
    for g in gs:
        res = t.unpack("adam_step(w, g, m, v, t) returns (w, m, v, t)", ns.call("adam_step", w, g, *state), 4)
        if res is None or not (isinstance(res[0], np.ndarray) and res[0].shape == shape):
            t.close("adam_step with its default hyperparameters", None if res is None else res[0], path()[0])
            return
        w, state = np.asarray(res[0], dtype=float), list(res[1:])
        got.append(w)
    t.close("adam_step with its default hyperparameters (lr 1e-3, betas (0.9, 0.999), eps 1e-8; PyTorch's): "
            "5 steps, gradients from 1e-9 to 10", np.stack(got), path(), rtol=1e-9, atol=1e-15, known_wrong={
                "a default beta2 = 0.99 (PyTorch's is 0.999)": path(b2=0.99),
                "a default eps = 1e-7 (Keras's; PyTorch's is 1e-8)": path(eps=1e-7),
                "a default eps = 1e-6 (PyTorch's is 1e-8)": path(eps=1e-6),
                "a default lr = 1e-2 (PyTorch's Adam uses 1e-3)": path(lr=1e-2), ADAM_PAPER_FORM: path(paper=True)})


# -- initialisation ------------------------------------------------------------------------------------------
def _sample_stats(t, what, W, shape, var, *, uniform_bound=None, alternatives=None):
    """Shape, mean, variance and distribution-shape checks with tolerances of 6 standard errors.

    ``alternatives`` maps a description of a common mistake to the variance it would give. A visible description
    quotes the statistics measured on the student's array; a hidden one does not (they are measured on an array
    drawn with a seed from the secret), and its measurements go into the details, which only a failure has.
    """
    if not t.true(f"{what} has shape {shape} (fan_in, fan_out)", isinstance(W, np.ndarray) and W.shape == shape,
                  f"got {getattr(W, 'shape', type(W).__name__)}"
                  + (" -- transposed?" if getattr(W, "shape", None) == shape[::-1] else "")):
        return
    n = W.size
    mean, sample_var = float(W.mean()), float(W.var())
    mean_se = np.sqrt(var / n)
    t.true(f"{what}: the mean is 0 within sampling error" if t.hidden else
           f"{what}: mean {mean:.2e} is 0 within sampling error", abs(mean) <= 6 * mean_se,
           f"the mean is {mean:.2e}, expected 0 within +- {6 * mean_se:.2e}")
    # The variance of a sample variance is (mu4 - var^2) / n, with mu4 = 3 var^2 (normal) or 9/5 var^2 (uniform).
    rel_se = np.sqrt((0.8 if uniform_bound else 2.0) / n)
    ratio = sample_var / var
    hints = [f"this looks like {label}" for label, alt in (alternatives or {}).items()
             if abs(sample_var / alt - 1) <= 6 * rel_se]
    t.true(f"{what}: the variance matches {var:.4g} within sampling error" if t.hidden else
           f"{what}: variance {sample_var:.4g} matches {var:.4g} within sampling error (ratio {ratio:.3f})",
           abs(ratio - 1) <= 6 * rel_se, "; ".join([f"the variance is {sample_var:.4g} (ratio {ratio:.3f}), "
                                                    f"expected the ratio within 1 +- {6 * rel_se:.3f}"] + hints))
    kurt = float(np.mean((W - mean) ** 4) / sample_var ** 2) - 3
    if uniform_bound is None:
        t.true(f"{what}: the entries look normal (excess kurtosis 0)" if t.hidden else
               f"{what}: the entries look normal (excess kurtosis {kurt:.2f}, expected 0)",
               abs(kurt) <= 6 * np.sqrt(24 / n),
               f"excess kurtosis {kurt:.2f}: a uniform draw has excess kurtosis -1.2: use rng.normal")
    else:
        t.true(f"{what}: every entry lies in [-a, a] with a = {uniform_bound:.4f}",
               bool(np.max(np.abs(W)) <= uniform_bound), f"max |w| = {np.max(np.abs(W)):.4f}")
        # excess kurtosis of a uniform sample: -1.2, standard error about sqrt(1.1 / n)
        t.true(f"{what}: the entries look uniform (excess kurtosis -1.2)" if t.hidden else
               f"{what}: the entries look uniform (excess kurtosis {kurt:.2f}, expected -1.2)",
               abs(kurt + 1.2) <= 6 * np.sqrt(1.1 / n),
               f"excess kurtosis {kurt:.2f}: a normal draw has excess kurtosis 0: use rng.uniform")


def _he_alternatives(fan_in, fan_out):
    return {"1 / fan_in (LeCun), not 2 / fan_in": 1.0 / fan_in, "2 / fan_out instead of 2 / fan_in": 2.0 / fan_out,
            "Xavier/Glorot's variance 2 / (fan_in + fan_out); He's is 2 / fan_in": 2.0 / (fan_in + fan_out),
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
    t.raises_value_error("he_normal(0, 5) raises ValueError", ns.call, "he_normal", 0, 5)


def init_other_shapes(ns, t):
    fan_in, fan_out = 900, 120
    W = ns.call("he_normal", fan_in, fan_out, seed=int(t.rng.integers(2**31)))
    _sample_stats(t, f"he_normal({fan_in}, {fan_out})", W, (fan_in, fan_out), 2.0 / fan_in,
                  alternatives=_he_alternatives(fan_in, fan_out))
    W = ns.call("xavier_uniform", fan_out, fan_in, seed=int(t.rng.integers(2**31)))
    _sample_stats(t, f"xavier_uniform({fan_out}, {fan_in})", W, (fan_out, fan_in), 2.0 / (fan_in + fan_out),
                  uniform_bound=np.sqrt(6.0 / (fan_in + fan_out)))


@watch_calls()
def max_norm_leaves_w_unchanged(ns, t):
    W = t.rng.normal(size=(4, 6)) * np.array([0.1, 4.0, 0.3, 2.5, 1.0, 6.0])
    expected = ref_optim.max_norm_(W.copy(), 1.0, axis=0)
    t.close("max_norm(W, 1.0) returns the rescaled copy", ns.call("max_norm", W, 1.0), expected)


# What this unit's notebook may import from nnkit: the worker's view holds exactly these (autograder.policy).
PROVIDES = ("nnkit.data", "nnkit.plot")

ITEMS = [
    Item("u4_sgd_momentum", 3, "sgd_step and momentum_step", names=("sgd_step", "momentum_step"),
         checks=(sgd_matches_reference, momentum_matches_reference),
         hidden_checks=(momentum_matches_reference,)),
    Item("u4_nesterov", 2, "nesterov_step", names=("nesterov_step",), checks=(nesterov_matches_reference,),
         hidden_checks=(nesterov_is_not_classical_momentum, nesterov_matches_reference)),
    Item("u4_rmsprop", 2, "rmsprop_step", names=("rmsprop_step",), checks=(rmsprop_matches_reference,),
         hidden_checks=(rmsprop_default_hyperparameters, rmsprop_matches_reference)),
    Item("u4_adam", 3, "adam_step", names=("adam_step",), checks=(adam_matches_reference,),
         hidden_checks=(adam_first_step_moves_every_coordinate_by_lr, adam_default_hyperparameters,
                        adam_matches_reference)),
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
         hidden_checks=(penalties_numeric, penalties_match_reference, max_norm_leaves_w_unchanged)),
    Item("u4_early_stopping", 2, "early stopping", names=("early_stopping",), checks=(early_stopping_examples,),
         hidden_checks=(early_stopping_random_histories,)),
]

# Training in practice: Adagrad, symmetry, the training loop, the search, schedules and clipping (issue 14).
from autograder.suites.unit4_practice import ITEMS as _PRACTICE_ITEMS  # noqa: E402

ITEMS += _PRACTICE_ITEMS
