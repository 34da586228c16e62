"""Unit 4: the adaptive optimizers students write as pure steps, Adagrad and Adadelta.

Each is graded on a multi-step trajectory on a random convex quadratic: the grader computes every gradient at the
student's current point, feeds it to the student's step, to ``nnkit.optim`` and to a few recognisable mistakes,
and compares the whole trajectory (the mistakes name themselves when a student's trajectory matches one).

===============================================  ==========================================================
``adagrad_step(w, g, s, lr=0.01, eps=1e-10)``     -> (w, s); s += g**2, w -= lr g / (sqrt(s) + eps)
``adadelta_step(w, g, a, u, lr=1.0, rho=0.9,``    -> (w, a, u); a = rho a + (1 - rho) g**2,
``eps=1e-6)``                                     delta = sqrt(u + eps) / sqrt(a + eps) g, u = rho u + (1 - rho)
                                                  delta**2, w -= lr delta
===============================================  ==========================================================
"""

from __future__ import annotations

import numpy as np

from autograder.tester import watch_calls


# -- Adagrad ---------------------------------------------------------------------------------------------------
def _adagrad_rule(lr, eps, *, inside=False, old_s=False, no_sum=False):
    def step(w, g, s):
        s_new = g * g if no_sum else s + g * g
        denom_s = s if old_s else s_new
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = np.sqrt(denom_s + eps) if inside else np.sqrt(denom_s) + eps
            return w - lr * g / denom, s_new
    return step


def quadratic(t, shape=(4, 3)):
    """A random convex quadratic: returns (w0, grad(w)) with grad(w) = H @ w + c, H symmetric positive definite."""
    k = shape[0]
    A = t.rng.normal(size=(k, k))
    H = A @ A.T / k + 0.5 * np.eye(k)
    c = t.rng.normal(size=shape)
    return t.rng.normal(size=shape), (lambda w: H @ w + c)


def _adagrad_trajectory(ns, t, ref_lr, ref_eps, steps=6, **hyper):
    from nnkit.optim import Adagrad

    w, gradient = quadratic(t)
    params, grads = {"w": w.copy()}, {"w": np.zeros_like(w)}
    lr, eps = ref_lr, ref_eps
    ref = Adagrad([(params, grads)], lr=lr, eps=eps, decay="all")
    wrong = {"eps inside the square root": _adagrad_rule(lr, eps, inside=True),
             "the old sum in the step (s is updated after w)": _adagrad_rule(lr, eps, old_s=True),
             "only this step's g**2, not the running sum (that is sign descent)": _adagrad_rule(lr, eps, no_sum=True)}
    wrong_state = {d: (w.copy(), np.zeros_like(w), []) for d in wrong}
    s, got_ws, ref_ws, s_ref = np.zeros_like(w), [], [], np.zeros_like(w)
    label = f"adagrad_step (lr {lr}, eps {eps:g})"
    for step in range(steps):
        g = gradient(w)
        got = t.unpack("adagrad_step returns (w, s)", ns.call("adagrad_step", w, g, s, **hyper), 2)
        if got is None:
            return
        grads["w"][...] = g
        ref.step()
        ref_ws.append(params["w"].copy())
        s_ref = s_ref + g * g
        for d, rule in wrong.items():
            ww, ws, path = wrong_state[d]
            ww, ws = rule(ww, g, ws)
            wrong_state[d] = (ww, ws, path + [ww])
        if not (isinstance(got[0], np.ndarray) and got[0].shape == w.shape):
            _broke(t, label, step, got[0], ref_ws[-1])
            return
        w, s = np.asarray(got[0], dtype=float), got[1]
        got_ws.append(w)
    t.close(f"{label}: the whole {steps}-step trajectory of w", np.stack(got_ws), np.stack(ref_ws), rtol=1e-9,
            atol=1e-12, known_wrong={d: np.stack(p) for d, (_, _, p) in wrong_state.items()})
    t.close(f"{label}: the sum of squares s after {steps} steps", s, s_ref, rtol=1e-9, atol=1e-12)


def _broke(t, label, step, w, expected, known_wrong=None):
    """Judge the step after which the student's ``w`` broke (wrong shape, NaN) alone. The step is measured on the
    student's output, so a hidden description does not say it: it goes into the details."""
    t.close(f"{label}: w after every step" if t.hidden else f"{label}: w after step {step + 1}", w, expected,
            known_wrong=known_wrong)
    t.note_hidden_case(len(t.results) - 1, f"w broke at step {step + 1}")


def adagrad_matches_reference(ns, t):
    _adagrad_trajectory(ns, t, 0.1, 1e-2, lr=0.1, eps=1e-2)   # a large eps: where it sits shows


def adagrad_defaults_and_inputs(ns, t):
    _adagrad_trajectory(ns, t, 0.01, 1e-10)
    w0, g0, s0 = t.rng.normal(size=5), t.rng.normal(size=5), t.rng.uniform(0.5, 1.0, size=5)
    a = t.unpack("adagrad_step returns (w, s)", ns.call("adagrad_step", w0, g0, s0, lr=0.5), 2)
    if a is not None:
        t.close("adagrad_step from a non-zero sum of squares", a[0], w0 - 0.5 * g0 / (np.sqrt(s0 + g0 * g0) + 1e-10),
                rtol=1e-9, atol=1e-12)


# -- Adadelta --------------------------------------------------------------------------------------------------
def _adadelta_rule(lr, rho, eps, *, outside=False, old_a=False, g_in_u=False, no_numerator=False, swapped=False):
    """One Adadelta step as a function (w, g, [a, u]) -> (w, [a, u]); the flags replay common mistakes."""
    r = 1.0 - rho if swapped else rho

    def step(w, g, state):
        a, u = state
        a_new = r * a + (1 - r) * g * g
        a_used = a if old_a else a_new
        with np.errstate(divide="ignore", invalid="ignore"):
            if no_numerator:
                delta = g / np.sqrt(a_used + eps)
            elif outside:
                delta = (np.sqrt(u) + eps) / (np.sqrt(a_used) + eps) * g
            else:
                delta = np.sqrt(u + eps) / np.sqrt(a_used + eps) * g
        u_new = r * u + (1 - r) * (g * g if g_in_u else delta * delta)
        return w - lr * delta, [a_new, u_new]
    return step


def _adadelta_trajectory(ns, t, ref_lr, ref_rho, ref_eps, steps=8, **hyper):
    """The student's adadelta_step(w, g, a, u, **hyper) against nnkit.optim.Adadelta(lr=ref_lr, rho=ref_rho,
    eps=ref_eps) on a convex quadratic; ``hyper`` is empty when the student's defaults are under test."""
    from nnkit.optim import Adadelta

    lr, rho, eps = ref_lr, ref_rho, ref_eps

    w, gradient = quadratic(t)
    params, grads = {"w": w.copy()}, {"w": np.zeros_like(w)}
    ref = Adadelta([(params, grads)], lr=lr, rho=rho, eps=eps, decay="all")
    right = _adadelta_rule(lr, rho, eps)
    wrong = {"eps outside the square roots (Adadelta adds eps inside both: sqrt(u + eps) / sqrt(a + eps))":
             _adadelta_rule(lr, rho, eps, outside=True),
             "the old average a in the step (update a with this g**2 first, then compute the step)":
             _adadelta_rule(lr, rho, eps, old_a=True),
             "u averages g**2 (u is the running average of the squared *steps* delta**2)":
             _adadelta_rule(lr, rho, eps, g_in_u=True),
             "the step g / sqrt(a + eps) without the factor sqrt(u + eps) (that is RMSProp without a learning rate)":
             _adadelta_rule(lr, rho, eps, no_numerator=True),
             "rho and 1 - rho swapped (rho weighs the old average)": _adadelta_rule(lr, rho, eps, swapped=True)}
    paths = {d: (w.copy(), [np.zeros_like(w), np.zeros_like(w)], []) for d in wrong}
    a, u = np.zeros_like(w), np.zeros_like(w)
    ref_state = [np.zeros_like(w), np.zeros_like(w)]
    got_ws, ref_ws = [], []
    label = f"adadelta_step (lr {lr:g}, rho {rho:g}, eps {eps:g})"
    for step in range(steps):
        g = gradient(w)
        got = t.unpack("adadelta_step returns (w, a, u)", ns.call("adadelta_step", w, g, a, u, **hyper), 3)
        if got is None:
            return
        grads["w"][...] = g
        ref.step()
        ref_ws.append(params["w"].copy())
        _, ref_state = right(ref_ws[-1], g, ref_state)
        for d, rule in wrong.items():
            ww, ws, path = paths[d]
            ww, ws = rule(ww, g, ws)
            paths[d] = (ww, ws, path + [ww])
        if not (isinstance(got[0], np.ndarray) and got[0].shape == w.shape and np.all(np.isfinite(got[0]))):
            _broke(t, label, step, got[0], ref_ws[-1], known_wrong={d: p[-1] for d, (_, _, p) in paths.items()})
            return
        w, a, u = np.asarray(got[0], dtype=float), got[1], got[2]
        got_ws.append(w)
    t.close(f"{label}: the whole {steps}-step trajectory of w", np.stack(got_ws), np.stack(ref_ws), rtol=1e-9,
            atol=1e-12, known_wrong={d: np.stack(p) for d, (_, _, p) in paths.items()})
    t.close(f"{label}: the running average a of g**2 after {steps} steps", a, ref_state[0], rtol=1e-9, atol=1e-14)
    t.close(f"{label}: the running average u of the squared steps after {steps} steps", u, ref_state[1], rtol=1e-9,
            atol=1e-14)


@watch_calls()
def adadelta_matches_reference(ns, t):
    _adadelta_trajectory(ns, t, 1.0, 0.9, 1e-6, lr=1.0, rho=0.9, eps=1e-6)


@watch_calls()
def adadelta_defaults_and_other_settings(ns, t):
    _adadelta_trajectory(ns, t, 1.0, 0.9, 1e-6)                          # PyTorch's defaults
    _adadelta_trajectory(ns, t, 0.5, 0.95, 1e-4, lr=0.5, rho=0.95, eps=1e-4)
