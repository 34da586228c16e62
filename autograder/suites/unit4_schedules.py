"""Unit 4: learning-rate schedules and gradient clipping, against closed forms and ``nnkit.optim.clip_grad_norm_``.

===============================================  ==========================================================
``step_decay_lr(epoch, base_lr, drop, every)``    base_lr * drop ** (epoch // every)
``cosine_lr(step, base_lr, total, min_lr=0)``     min_lr + (base_lr - min_lr) (1 + cos(pi step / total)) / 2
``clip_by_global_norm(grads, max_norm)``          -> (new arrays scaled by min(1, c / (norm + 1e-6)), norm)
===============================================  ==========================================================
"""

from __future__ import annotations

import numpy as np

from autograder.tester import watch_calls

# -- schedules and clipping ------------------------------------------------------------------------------------
def schedules_match(ns, t):
    """Both schedules over a whole run. The settings come from the secret in the hidden check, whose descriptions
    therefore say "hidden settings" and leave the settings to the details of a failure."""
    base, drop, every = float(t.rng.choice([0.1, 0.05])), 0.5, int(t.rng.integers(3, 7))
    epochs = list(range(0, 3 * every + 2))
    got = [ns.call("step_decay_lr", e, base, drop=drop, every=every) for e in epochs]
    exp = [base * drop ** (e // every) for e in epochs]
    since = len(t.results)
    t.close("step_decay_lr on hidden settings, every epoch up to the third drop and one past it" if t.hidden else
            f"step_decay_lr(epoch, {base}, drop={drop}, every={every}) for epochs 0..{epochs[-1]}",
            _floats(got), np.array(exp), rtol=1e-12, atol=0,
            known_wrong={"drop ** (epoch / every) (no floor: a smooth decay, not steps)":
                         np.array([base * drop ** (e / every) for e in epochs]),
                         "the first drop one epoch early ((epoch + 1) // every)":
                         np.array([base * drop ** ((e + 1) // every) for e in epochs]),
                         "drop * (epoch // every): drop is raised to the power epoch // every, not multiplied":
                         np.array([base * drop * (e // every) for e in epochs])})
    t.note_hidden_case(since, f"step_decay_lr(epoch, {base}, drop={drop}, every={every}) for epochs 0..{epochs[-1]}")
    total, lo = int(t.rng.integers(10, 30)), float(t.rng.choice([0.0, 1e-3]))
    steps = list(range(total + 1))
    got = [ns.call("cosine_lr", s, base, total, min_lr=lo) for s in steps]
    exp = [lo + 0.5 * (base - lo) * (1 + np.cos(np.pi * s / total)) for s in steps]
    since = len(t.results)
    t.close("cosine_lr on hidden settings, every step from 0 to total" if t.hidden else
            f"cosine_lr(step, {base}, total={total}, min_lr={lo}) for steps 0..{total}", _floats(got),
            np.array(exp), rtol=1e-12, atol=1e-15,
            known_wrong={"min_lr ignored": np.array([0.5 * base * (1 + np.cos(np.pi * s / total)) for s in steps]),
                         "cos(step / total) without pi": np.array(
                             [lo + 0.5 * (base - lo) * (1 + np.cos(s / total)) for s in steps]),
                         "the factor 1/2 left out: (base_lr - min_lr) (1 + cos(pi step / total)) / 2": np.array(
                             [lo + (base - lo) * (1 + np.cos(np.pi * s / total)) for s in steps]),
                         "pi * step / (total - 1): min_lr is reached at step total, not total - 1": np.array(
                             [lo + 0.5 * (base - lo) * (1 + np.cos(np.pi * s / (total - 1))) for s in steps])})
    t.note_hidden_case(since, f"cosine_lr(step, {base}, total={total}, min_lr={lo}) for steps 0..{total}")


def _floats(values):
    try:
        return np.array([float(v) for v in values])
    except (TypeError, ValueError):
        return values[0] if values else None


def _clip_case(ns, t, grads, max_norm, label):
    from nnkit.optim import clip_grad_norm_

    copies = [g.copy() for g in grads]
    total = clip_grad_norm_(copies, max_norm)
    got = t.unpack("clip_by_global_norm returns (clipped, total_norm)", ns.call("clip_by_global_norm", grads,
                                                                                  max_norm), 2)
    if got is None:
        return
    clipped, norm = got
    scale = min(1.0, max_norm / (total + 1e-6))
    t.close(f"{label}: the norm before clipping", np.asarray(norm) if isinstance(norm, float) else norm,
            np.asarray(total), rtol=1e-12, atol=0, known_wrong={
                "the squared norm (take the square root of the sum of squares)": np.asarray(total ** 2),
                "the norm after clipping (return the norm the gradients had before)": np.asarray(total * scale)})
    if not (isinstance(clipped, (list, tuple)) and len(clipped) == len(grads)):
        t.fail(f"{label}: clipped", f"expected a list of {len(grads)} arrays, got {type(clipped).__name__}")
        return
    per_array = [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads]
    always = [g * max_norm / (total + 1e-6) for g in grads]
    by_value = [np.clip(g, -max_norm, max_norm) for g in grads]
    with np.errstate(divide="ignore", invalid="ignore"):
        no_eps = [g * min(1.0, max_norm / np.float64(total)) for g in grads]
    for k, (c, e) in enumerate(zip(clipped, copies)):
        t.close(f"{label}: clipped array {k}", c, e, rtol=1e-9, atol=1e-15,
                known_wrong={"each array clipped by its own norm (clip by the global norm of all arrays)": per_array[k],
                             "scaled to max_norm even when the norm is already smaller": always[k],
                             "clipping each entry by value (np.clip to [-max_norm, max_norm]); clip by the global "
                             "norm: scale every array by min(1, max_norm / (norm + 1e-6))": by_value[k],
                             "max_norm / norm without the + 1e-6 (PyTorch's clip_grad_norm_ divides by "
                             "norm + 1e-6)": no_eps[k]})


@watch_calls()
def clipping_matches_torch_rule(ns, t):
    grads = [t.rng.normal(size=(4, 3)) * 10, t.rng.normal(size=3) * 10, t.rng.normal(size=(3, 2))]
    _clip_case(ns, t, grads, 1.0, "clip_by_global_norm(three arrays with norm ~40, max_norm 1)")
    small = [t.rng.normal(size=(2, 2)) * 0.01, t.rng.normal(size=2) * 0.01]
    _clip_case(ns, t, small, 5.0, "clip_by_global_norm(norm ~0.03 below max_norm 5: unchanged)")


@watch_calls()
def clipping_edge_cases(ns, t):
    grads = [t.rng.normal(size=(3, 3)) * 100, t.rng.normal(size=(5,)) * 0.1]
    _clip_case(ns, t, grads, float(t.rng.uniform(0.5, 2.0)), "clip_by_global_norm (one large and one small array)")
    _clip_case(ns, t, [t.rng.normal(size=(2, 3)) * 1e-4], 1e-5, "clip_by_global_norm(norm ~2e-4, max_norm 1e-5)")
    _clip_case(ns, t, [np.zeros((2, 3))], 1.0, "clip_by_global_norm of a zero gradient")
    t.raises_value_error("clip_by_global_norm with max_norm 0 raises ValueError", ns.call,
                         "clip_by_global_norm", [np.ones(2)], 0.0)

