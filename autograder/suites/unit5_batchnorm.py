"""Unit 5: batch normalisation by hand, forward (training and evaluation, running statistics) and backward.

The reference is ``nnkit.layers.batchnorm`` (imported on the grader's side only), with the running-statistics
rule of DESIGN §3: ``r <- (1 - m) r + m * batch``, the running variance unbiased, m = 0.1, eps = 1e-5. The
student-facing signatures (``solutions/unit5/unit5.ipynb``):

=========================================================================  ===================================
``batchnorm_forward(x, gamma, beta, running_mean, running_var,             -> (out, new_mean, new_var, cache)
training=True, momentum=0.1, eps=1e-5)``
``batchnorm_backward(dout, cache)``                                        -> (dx, dgamma, dbeta)
=========================================================================  ===================================

Backward is checked against the reference and against numeric differentiation of the student's own forward.
"""

from __future__ import annotations

import numpy as np

M, EPS = 0.1, 1e-5


def _axes(x):
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _reference(x, gamma, beta, rmean, rvar, training):
    """(out, new_mean, new_var) and, for the diagnosis, the outputs of common mistakes."""
    from nnkit.layers.batchnorm import batchnorm_forward

    axes = _axes(x)
    count = x.size // x.shape[1]
    if not training:
        out = batchnorm_forward(x, gamma, beta, axes=axes, eps=EPS, mean=rmean, var=rvar)[0]
        batch_out = batchnorm_forward(x, gamma, beta, axes=axes, eps=EPS)[0]
        no_eps = batchnorm_forward(x, gamma, beta, axes=axes, eps=0.0, mean=rmean, var=rvar)[0]
        updated = "running statistics updated in evaluation mode: they stay as they are (return copies)"
        b_mean, b_var = x.mean(axis=axes), x.var(axis=axes) * count / (count - 1)
        return out, rmean.copy(), rvar.copy(), {"out": {"the batch statistics in evaluation mode (use the running "
                                                        "ones)": batch_out,
                                                        "eps left out in evaluation: divide by sqrt(running_var + eps)":
                                                        no_eps},
                                                "mean": {updated: (1 - M) * rmean + M * b_mean},
                                                "var": {updated: (1 - M) * rvar + M * b_var}}
    out, mean, var, _ = batchnorm_forward(x, gamma, beta, axes=axes, eps=EPS)
    unbiased = var * count / (count - 1)
    shape = [1] * x.ndim
    shape[1] = -1
    wrong_out = {"the unbiased variance used to normalise (normalise with the biased one, divide by m)":
                 gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(unbiased.reshape(shape) + EPS)
                 + beta.reshape(shape),
                 "eps outside the square root: divide by sqrt(var + eps)":
                 gamma.reshape(shape) * (x - mean.reshape(shape)) / (np.sqrt(var.reshape(shape)) + EPS)
                 + beta.reshape(shape),
                 "eps left out: divide by sqrt(var + eps)":
                 gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape)) + beta.reshape(shape),
                 "gamma and beta swapped: out = gamma * xhat + beta":
                 beta.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + EPS)
                 + gamma.reshape(shape)}
    if x.ndim == 4:
        flat_mean, flat_var = x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)
        wrong_out["statistics per (channel, row, column) over the batch only (for (N, C, H, W) average over "
                  "axes 0, 2 and 3)"] = (gamma.reshape(shape) * (x - flat_mean) / np.sqrt(flat_var + EPS)
                                         + beta.reshape(shape))
    new_mean = (1 - M) * rmean + M * mean
    new_var = (1 - M) * rvar + M * unbiased
    wrong_out["the updated running statistics used to normalise in training (normalise with the batch's own "
              "mean and variance)"] = (gamma.reshape(shape) * (x - new_mean.reshape(shape))
                                       / np.sqrt(new_var.reshape(shape) + EPS) + beta.reshape(shape))
    wrong_var = {"the biased batch variance in the running variance (PyTorch keeps the unbiased one)":
                 (1 - M) * rvar + M * var,
                 "momentum on the wrong side: m * running + (1 - m) * batch": M * rvar + (1 - M) * unbiased}
    wrong_mean = {"momentum on the wrong side: m * running + (1 - m) * batch": M * rmean + (1 - M) * mean}
    return out, new_mean, new_var, {"out": wrong_out, "mean": wrong_mean, "var": wrong_var}


def _case(t, shape):
    C = shape[1]
    x = t.rng.normal(size=shape) * t.rng.uniform(0.5, 3.0, size=(1, C) + (1,) * (len(shape) - 2)) + 2.0
    return (x, t.rng.uniform(0.5, 2.0, size=C), t.rng.normal(size=C), t.rng.normal(size=C) * 0.1,
            t.rng.uniform(0.5, 1.5, size=C))


def _forward_case(ns, t, shape, training):
    x, gamma, beta, rmean, rvar = _case(t, shape)
    label = f"batchnorm_forward(x {shape}, training={training})"
    got = ns.call("batchnorm_forward", x, gamma, beta, rmean, rvar, training=training)
    got = t.unpack(f"{label} returns (out, new_mean, new_var, cache)", got, 4)
    if got is None:
        return None
    out, new_mean, new_var, wrong = _reference(x, gamma, beta, rmean, rvar, training)
    t.close(f"{label}: out", got[0], out, known_wrong=wrong.get("out"))
    t.close(f"{label}: the new running mean", got[1], new_mean, known_wrong=wrong.get("mean"))
    t.close(f"{label}: the new running variance", got[2], new_var, known_wrong=wrong.get("var"))
    return x, gamma, beta, rmean, rvar, got


def forward_visible(ns, t):
    _forward_case(ns, t, (8, 3), True)
    _forward_case(ns, t, (4, 2, 3, 3), True)
    _forward_case(ns, t, (5, 3), False)


def forward_hidden(ns, t):
    _forward_case(ns, t, (2, 5), True)                  # the smallest batch with a variance
    _forward_case(ns, t, (3, 4, 2, 5), True)
    _forward_case(ns, t, (1, 2, 4, 3), True)           # one image: the statistics are over its positions
    _forward_case(ns, t, (2, 3, 3, 2), False)


def _backward_case(ns, t, shape, training, *, numeric: bool):
    from nnkit.layers.batchnorm import batchnorm_backward as ref_backward
    from nnkit.layers.batchnorm import batchnorm_forward as ref_forward

    x, gamma, beta, rmean, rvar = _case(t, shape)
    label = f"batchnorm_backward (x {shape}, training={training})"
    got = ns.call("batchnorm_forward", x, gamma, beta, rmean, rvar, training=training)
    got = t.unpack("batchnorm_forward returns (out, new_mean, new_var, cache)", got, 4)
    if got is None:
        return
    dout = t.rng.normal(size=shape)
    grads = t.unpack(f"{label} returns (dx, dgamma, dbeta)", ns.call("batchnorm_backward", dout, got[3]), 3)
    if grads is None:
        return
    axes = _axes(x)
    stats = {} if training else {"mean": rmean, "var": rvar}
    _, _, _, cache = ref_forward(x, gamma, beta, axes=axes, eps=EPS, **stats)
    dx, dgamma, dbeta = ref_backward(dout, cache)
    g = gamma.reshape(cache.inv_std.shape)
    t.close(f"{label}: dx", grads[0], dx, kind="backward", known_wrong=_wrong_dx(dout, g, cache, axes, training))
    swapped = "dgamma and dbeta swapped (dgamma = sum(dout * xhat), dbeta = sum(dout))"
    batch_only = ("summed over the batch only: for (N, C, H, W) sum over the batch and every position, "
                  "axes (0, 2, 3)")
    t.close(f"{label}: dgamma", grads[1], dgamma, kind="backward", known_wrong={
        swapped: dbeta, "dgamma = sum(dout * x): use the normalised xhat, sum(dout * xhat)": (dout * x).sum(axis=axes),
        batch_only: (dout * cache.xhat).sum(axis=0)})
    t.close(f"{label}: dbeta", grads[2], dbeta, kind="backward",
            known_wrong={"dbeta averaged instead of summed": dbeta / (x.size // x.shape[1]), swapped: dgamma,
                         batch_only: dout.sum(axis=0)})
    if numeric:
        def forward(xv):
            res = ns.call("batchnorm_forward", xv, gamma, beta, rmean, rvar, training=training)
            return res[0] if isinstance(res, (tuple, list)) and len(res) == 4 else res   # a list of the four too

        t.grad_matches_numeric(f"{label}: dx against numeric differentiation of your forward", forward, x, dout,
                               grads[0])


def _wrong_dx(dout, gamma, cache, axes, training):
    """dx of the usual wrong backward passes (``gamma`` shaped to broadcast against x)."""
    dxhat, xhat, inv_std = dout * gamma, cache.xhat, cache.inv_std
    full = inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                      - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
    if not training:
        return {"the training formula in evaluation: there the statistics are the running ones, constants, so "
                "dx = dout * gamma / sqrt(running_var + eps)": full}
    wrong = {}
    if dout.ndim == 4:
        m, n = dout.size // dout.shape[1], dout.shape[0]
        wrong[f"means over the batch size N = {n} instead of the {m} values per channel (N*H*W for (N, C, H, W))"] = (
            inv_std * (dxhat - dxhat.sum(axis=axes, keepdims=True) / n
                       - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True) / n))
    return wrong | {"mean and variance treated as constants (in training they depend on x)": dxhat * inv_std,
            "dx without the path through the mean (the - mean(dxhat) term)":
            inv_std * (dxhat - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)),
            "dx without the path through the variance (the - xhat * mean(dxhat * xhat) term)":
            inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)),
            "dx without the factor gamma (dxhat = dout * gamma)": full / gamma}


def backward_visible(ns, t):
    _backward_case(ns, t, (6, 3), True, numeric=True)
    _backward_case(ns, t, (3, 2, 2, 3), True, numeric=True)
    _backward_case(ns, t, (4, 3), False, numeric=False)


def backward_hidden(ns, t):
    _backward_case(ns, t, (5, 4), True, numeric=True)
    _backward_case(ns, t, (2, 3, 3, 2), True, numeric=True)
    _backward_case(ns, t, (2, 2, 2, 2), False, numeric=True)
