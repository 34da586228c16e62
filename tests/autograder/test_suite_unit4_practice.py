"""The unit 4 practice items (Adagrad, Adadelta, symmetry, the training loop, the search, schedules and clipping).

The students are the instructor notebook's code with one solution cell edited per bug (as in
``test_suite_unit4``); each bug must cost points and the feedback must name it. The references the suite
replays are compared with torch where torch defines the operation.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograder.suites import unit4_adaptive as adaptive
from autograder.suites import unit4_fit as fit
from tests.autograder.test_suite_unit4 import grade, namespace

torch = pytest.importorskip("torch")

# Each case: (grade_id, solution cell, edit, text the feedback must contain).
BUGS = [
    ("u4_adagrad", "u4_adagrad_impl", [("np.sqrt(s_new) + eps", "np.sqrt(s_new + eps)")], "eps inside the square root"),
    ("u4_adagrad", "u4_adagrad_impl", [("s_new = np.asarray(s, dtype=float) + g * g", "s_new = g * g")],
     "only this step's g**2, not the running sum"),
    ("u4_adagrad", "u4_adagrad_impl", [("lr * g / (np.sqrt(s_new) + eps), s_new",
                                        "lr * g / (np.sqrt(np.asarray(s, dtype=float)) + eps), s_new")],
     "the old sum in the step"),
    ("u4_adadelta", "u4_adadelta_impl", [("np.sqrt(u + eps) / np.sqrt(a_new + eps)", "(np.sqrt(u) + eps) / (np.sqrt(a_new) + eps)")],
     "eps outside the square roots"),
    ("u4_adadelta", "u4_adadelta_impl", [("np.sqrt(u + eps) / np.sqrt(a_new + eps)", "np.sqrt(u + eps) / np.sqrt(a + eps)")],
     "the old average a in the step"),
    ("u4_adadelta", "u4_adadelta_impl", [("(1.0 - rho) * delta * delta", "(1.0 - rho) * g * g")],
     "u averages g**2"),
    ("u4_adadelta", "u4_adadelta_impl", [("delta = np.sqrt(u + eps) / np.sqrt(a_new + eps) * g", "delta = g / np.sqrt(a_new + eps)")],
     "without the factor sqrt(u + eps)"),
    ("u4_adadelta", "u4_adadelta_impl", [("a_new = rho * a + (1.0 - rho) * g * g", "a_new = (1.0 - rho) * a + rho * g * g"),
                                         ("u_new = rho * u + (1.0 - rho) * delta * delta", "u_new = (1.0 - rho) * u + rho * delta * delta")],
     "rho and 1 - rho swapped"),
    ("u4_adadelta", "u4_adadelta_impl", [("return w - lr * delta, a_new, u_new", "return w - delta, a_new, u_new")],
     "adadelta_step (lr 0.5"),
    ("u4_symmetry", "u4_symmetry_impl", [("dout = 2.0 * (out - Y) / Y.size", "dout = 2.0 * (out - Y)")],
     "the sum of squared errors instead of their mean"),
    ("u4_symmetry", "u4_symmetry_count", [("np.round(units, 9), axis=0", "np.round(units[:, :-1], 9), axis=0")],
     "whose weights match another's but whose bias differs"),
    ("u4_fit", "u4_fit_impl", [("if k == len(params) - 1:\n            caches.append((h, None, None))\n            return z, caches",
                                "if k == len(params) - 1:\n            caches.append((h, None, None))\n            return np.maximum(z, 0), caches")],
     "ReLU after the last layer too"),
    ("u4_fit", "u4_fit_impl", [("grads[k] = (h_in.T @ dout, dout.sum(axis=0))",
                                "grads[k] = (h_in.T @ dout, dout.mean(axis=0))")],
     "db averaged over the batch"),
    ("u4_fit", "u4_fit_impl", [("dW = dW + l2_penalty(W, weight_decay)[1]      # weight decay on W only, never on b",
                                "dW = dW + l2_penalty(W, weight_decay)[1]\n                db = db + weight_decay * b")],
     "weight decay on the biases too"),
    ("u4_fit", "u4_fit_impl", [("    return best_params, history", "    return params, history")],
     "the last epoch's weights returned instead of the best epoch's"),
    ("u4_search", "u4_search_impl", [("scores.append(float(np.mean(mlp_predict(params, X_val) == y_val)))",
                                      "scores.append(float(np.mean(mlp_predict(params, X_train) == y_train)))")],
     "the accuracy on the training data: score each config on the (X_val, y_val) passed in"),
    ("u4_schedule_clip", "u4_schedule_clip_impl", [("drop ** (epoch // every)", "drop ** (epoch / every)")],
     "no floor"),
    ("u4_schedule_clip", "u4_schedule_clip_impl", [("np.cos(np.pi * step / total)", "np.cos(step / total)")],
     "without pi"),
    ("u4_schedule_clip", "u4_schedule_clip_impl", [("scale = min(1.0, max_norm / (total + 1e-6))",
                                                    "scale = max_norm / (total + 1e-6)")],
     "scaled to max_norm even when the norm is already smaller"),
]


@pytest.mark.parametrize("grade_id, cell, edits, named", BUGS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BUGS)])
def test_a_typical_bug_costs_points_and_is_named(grade_id, cell, edits, named):
    result = grade(grade_id, namespace({cell: edits}))
    text = result.render(show_hidden_details=True)
    assert result.score < result.points, text
    assert named in text, text


def test_a_buggy_adam_step_shows_up_in_fit_mlp():
    result = grade("u4_fit", namespace({"u4_adam_impl": [("m_hat = m_new / (1.0 - beta1 ** t_new)", "m_hat = m_new")]}))
    assert result.score < result.points


def test_a_search_that_reads_the_digits_test_split_is_caught():
    """select_config that ignores the validation data it is given and scores on a fixed split instead."""
    edit = [("scores.append(float(np.mean(mlp_predict(params, X_val) == y_val)))",
             "fixed = data.digits_splits()\n        "
             "scores.append(float(np.mean(mlp_predict(params, fixed['X_test']) == fixed['y_test'])))")]
    result = grade("u4_search", namespace({"u4_search_impl": edit}))
    assert result.score < result.points, result.render(show_hidden_details=True)


# -- the references against torch -------------------------------------------------------------------------------
def test_adagrad_reference_matches_torch():
    rng = np.random.default_rng(0)
    w, gs = rng.normal(size=(3, 4)), rng.normal(size=(5, 3, 4))
    p = torch.tensor(w.copy(), requires_grad=True)
    opt = torch.optim.Adagrad([p], lr=0.1, eps=1e-10)
    ours, s = w.copy(), np.zeros_like(w)
    rule = adaptive._adagrad_rule(0.1, 1e-10)
    for g in gs:
        p.grad = torch.tensor(g)
        opt.step()
        ours, s = rule(ours, g, s)
    np.testing.assert_allclose(ours, p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_adadelta_reference_and_rule_match_torch():
    from nnkit.optim import Adadelta

    rng = np.random.default_rng(4)
    w, gs = rng.normal(size=(3, 4)), rng.normal(size=(6, 3, 4))
    for lr, rho, eps in ((1.0, 0.9, 1e-6), (0.5, 0.95, 1e-4)):
        p = torch.tensor(w.copy(), requires_grad=True)
        opt = torch.optim.Adadelta([p], lr=lr, rho=rho, eps=eps)
        params, grads = {"w": w.copy()}, {"w": np.zeros_like(w)}
        ref = Adadelta([(params, grads)], lr=lr, rho=rho, eps=eps, decay="all")
        ours, state = w.copy(), [np.zeros_like(w), np.zeros_like(w)]
        rule = adaptive._adadelta_rule(lr, rho, eps)
        for g in gs:
            p.grad = torch.tensor(g)
            opt.step()
            grads["w"][...] = g
            ref.step()
            ours, state = rule(ours, g, state)
        np.testing.assert_allclose(ours, p.detach().numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(params["w"], p.detach().numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(state[0], opt.state[p]["square_avg"].numpy(), rtol=1e-12)
        np.testing.assert_allclose(state[1], opt.state[p]["acc_delta"].numpy(), rtol=1e-12)


def test_clip_rule_matches_torch_clip_grad_norm():
    rng = np.random.default_rng(1)
    for scale, max_norm in ((10.0, 1.0), (0.01, 5.0)):
        grads = [rng.normal(size=(4, 3)) * scale, rng.normal(size=3) * scale]
        ts = [torch.zeros_like(torch.tensor(g), requires_grad=True) for g in grads]
        for t_, g in zip(ts, grads):
            t_.grad = torch.tensor(g.copy())
        total = float(torch.nn.utils.clip_grad_norm_(ts, max_norm))
        from nnkit.optim import clip_grad_norm_
        copies = [g.copy() for g in grads]
        assert clip_grad_norm_(copies, max_norm) == pytest.approx(total, rel=1e-12)
        for c, t_ in zip(copies, ts):
            np.testing.assert_allclose(c, t_.grad.numpy(), rtol=1e-12)


def test_schedule_formulas_match_torch_schedulers():
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    step = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    for epoch in range(13):
        assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** (epoch // 4), rel=1e-12)
        opt.step()
        step.step()
    opt = torch.optim.SGD([p], lr=0.1)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20, eta_min=1e-3)
    for t_ in range(21):
        expected = 1e-3 + 0.5 * (0.1 - 1e-3) * (1 + np.cos(np.pi * t_ / 20))
        assert opt.param_groups[0]["lr"] == pytest.approx(expected, rel=1e-9)
        opt.step()
        cos.step()


def test_fit_reference_forward_backward_match_torch_autograd():
    rng = np.random.default_rng(2)
    params = [(rng.normal(size=(5, 4)), rng.normal(size=4)), (rng.normal(size=(4, 3)), rng.normal(size=3))]
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)
    scores, caches = fit.ref_forward(params, X)
    loss, dout = fit.ref_cross_entropy(scores, y)
    grads = fit.ref_backward(params, caches, dout)
    tp = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in params]
    h = torch.tensor(X)
    h = torch.relu(h @ tp[0][0] + tp[0][1])
    out = h @ tp[1][0] + tp[1][1]
    tl = torch.nn.functional.cross_entropy(out, torch.tensor(y))
    tl.backward()
    assert loss == pytest.approx(float(tl.detach()), rel=1e-12)
    for (dW, db), (W, b) in zip(grads, tp):
        np.testing.assert_allclose(dW, W.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(db, b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_the_early_stopping_case_really_stops_early_and_restoring_matters():
    """The hidden fit check must exercise early stopping: the run stops before its last epoch and the best
    epoch's weights differ from the last epoch's."""
    from autograder.tester import Tester

    t = Tester("u4_fit", hidden=True)
    t.start("fit_dropout_and_early_stopping")
    fit.digits_subset(t, 60, 80)
    X, y, Xv, yv = fit.digits_subset(t, 60, 80)
    hyper = dict(hidden=(64,), lr=3e-2, batch_size=10, epochs=25, patience=2, seed=3)
    best, hist = fit.ref_fit(X, y, Xv, yv, **hyper)
    last, _ = fit.ref_fit(X, y, Xv, yv, restore=False, **hyper)
    assert hist["stop_epoch"] is not None and hist["stop_epoch"] < 24
    assert not np.allclose(best[0][0], last[0][0])


def test_mlp_forward_returning_a_list_gets_full_marks():
    """The task says it returns (scores, caches); a list of the two is the same answer, also to the numeric check
    of mlp_backward, which differentiates the student's own mlp_forward."""
    edit = [("            return z, caches\n", "            return [z, caches]\n")]
    result = grade("u4_fit", namespace({"u4_fit_impl": edit}))
    assert result.score == result.points, result.render(show_hidden_details=True)


@pytest.mark.parametrize("returned", ["tuple(scores)", "[np.float32(s) for s in scores]", "np.array(scores)"])
def test_select_config_returning_its_scores_as_a_tuple_numpy_scalars_or_an_array_gets_full_marks(returned):
    edit = [("    return configs[int(np.argmax(scores))], scores",
             f"    return configs[int(np.argmax(scores))], {returned}")]
    result = grade("u4_search", namespace({"u4_search_impl": edit}))
    assert result.score == result.points, result.render(show_hidden_details=True)
