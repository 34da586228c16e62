"""Unit 5 (convolutional networks): the checks of every graded cell.

The references are ``nnkit.layers.conv``, ``nnkit.layers.pool`` and ``nnkit.layers.shape`` in float64, imported
lazily on the grader's side. Students build the CNN from their own conv/pool/flatten, so every item forbids
``nnkit.layers`` (and ``nnkit.examples``, whose CNN is built from it). Everything else of the kit stays allowed:
``nnkit.optim``, ``nnkit.train`` and ``nnkit.losses`` are units 3-4 material, and none of them imports
``nnkit.layers``. All items share one forbid list, because the worker records an import for every item that
forbids it. The student-facing signatures are those of ``solutions/unit5/unit5.ipynb``:

==============================================  ===============================================================
``conv_output_size(H, HH, stride, padding)``    ``1 + (H + 2*padding - HH) // stride`` as a Python int
``conv2d_forward(x, W, b, stride, padding)``    -> (out (N, F, H', W'), cache); x (N, C, H, W), W (F, C, HH, WW)
``conv2d_backward(dout, cache)``                -> (dx, dW, db)
``maxpool2d_forward(x, kernel_size, stride)``   -> (out (N, C, H', W'), cache); H' = 1 + (H - K) // S,
/ ``avgpool2d_forward``                         stride defaults to kernel_size
``maxpool2d_backward(dout, cache)`` / avg       -> dx (N, C, H, W); max-pool ties: the first maximum (row-major)
``flatten_forward(x)``                          -> (out (N, C*H*W), cache); ``flatten_backward(dout, cache)`` -> dx
``predict_digits(X)``                           X (N, 64) rows of ``nnkit.data.digits_splits()`` -> (N,) int labels
==============================================  ===============================================================

The names and arguments are the reference library's (``tests/notebooks/test_names.py`` keeps them so); the grade
ids keep their first names (``u5_conv_forward`` grades ``conv2d_forward``), so existing gradebooks still match.
"""

from __future__ import annotations

import numpy as np

from autograder.handle import StudentCodeError
from autograder.items import Item
from autograder.tester import watch_calls
from autograder.suites.digits import score_digits_split
from autograder.suites.unit5_mistakes import conv_wrong_dx, maxpool_wrong_grad, shape_hints, size_candidates

FORBID = ("nnkit.layers", "nnkit.examples")


def _ref():
    """The reference modules (imported on first use: grader side only)."""
    from nnkit.layers import conv, pool, shape

    return conv, pool, shape


# -- helpers ------------------------------------------------------------------------------------------------
def _pair(t, what: str, result, names: str):
    """``result`` as a 2-tuple ``(out, cache)``, or record a failure and return None."""
    if isinstance(result, (tuple, list)) and len(result) == 2:
        return result
    got = type(result).__name__ + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
    if isinstance(result, np.ndarray):
        got = f"a bare array of shape {result.shape}"
    t.fail(what, f"expected a pair {names}, got {got} (return the cache too: backward needs it)")
    return None


def _triple(t, what: str, result):
    if isinstance(result, (tuple, list)) and len(result) == 3:
        return result
    t.fail(what, f"expected a tuple (dx, dW, db), got {type(result).__name__}"
                 + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    return None


def _out_of(result):
    """The output of a ``(out, cache)`` forward result, or the result itself when it is not a pair."""
    return result[0] if isinstance(result, (tuple, list)) and len(result) == 2 else result


def _distinct(t, shape, gap: float = 0.1) -> np.ndarray:
    """Values that are pairwise at least ``gap`` apart (no max-pool ties, even after a +-1e-6 nudge)."""
    size = int(np.prod(shape))
    values = (t.rng.permutation(size) - size / 2) * gap + t.rng.uniform(0, gap / 10, size=size)
    return values.reshape(shape)


def _flip(W: np.ndarray) -> np.ndarray:
    return W[:, :, ::-1, ::-1].copy()


def _close_nchw(t, what, got, expected, dims, pool: bool = False, **kwargs):
    """``t.close`` with the output-size diagnosis when the spatial size is wrong."""
    if isinstance(got, np.ndarray) and got.shape != expected.shape:
        hints = shape_hints(got.shape, expected.shape, dims, pool)
        if hints:
            return t.fail(what, f"expected shape {expected.shape}, got shape {got.shape}", hints)
    return t.close(what, got, expected, **kwargs)


# -- the output-size formula --------------------------------------------------------------------------------
SIZE_CASES_VISIBLE = ((8, 3, 1, 1), (7, 3, 2, 0), (28, 5, 1, 0), (32, 3, 2, 1))
SIZE_CASES_HIDDEN = ((9, 4, 3, 2), (5, 5, 1, 2), (11, 2, 2, 0), (6, 3, 4, 1), (10, 1, 3, 0))


def _size_cases(ns, t, cases):
    for H, K, S, P in cases:
        what = f"conv_output_size(H={H}, HH={K}, stride={S}, padding={P})"
        got = ns.call("conv_output_size", H, K, S, P)
        expected = 1 + (H + 2 * P - K) // S
        if isinstance(got, (int, np.integer)) and not isinstance(got, bool) and int(got) == expected:
            t.record(what, 1.0)
            continue
        hits = [why for why, v in size_candidates(H, K, S, P).items()
                if isinstance(got, (int, float, np.number)) and not isinstance(got, bool) and v == got]
        if isinstance(got, (float, np.floating)):
            t.fail(what, f"expected the int {expected}, got the float {got!r}",
                   ["a size is a whole number of windows: use // (floor division), not /"])
        else:
            t.fail(what, f"expected {expected}, got {got!r}", [f"it looks like {hits[0]}"] if hits else [])


def output_size_visible(ns, t):
    _size_cases(ns, t, SIZE_CASES_VISIBLE)


def output_size_hidden(ns, t):
    _size_cases(ns, t, SIZE_CASES_HIDDEN)


# -- convolution forward ------------------------------------------------------------------------------------
# (N, C, H, W, F, HH, WW, stride, padding): odd, non-square images and kernels, strides 1 and 2, padding 0 and 1.
CONV_VISIBLE = ((2, 3, 7, 6, 4, 3, 3, 1, 1), (1, 1, 5, 9, 2, 3, 2, 2, 0), (3, 3, 8, 7, 2, 3, 3, 2, 1))
CONV_HIDDEN = ((4, 1, 9, 7, 3, 3, 3, 1, 0), (1, 3, 6, 11, 5, 2, 4, 2, 1), (2, 2, 10, 10, 1, 5, 5, 2, 1),
               (3, 1, 8, 8, 6, 1, 1, 1, 0))


def _conv_inputs(t, case):
    N, C, H, W, F, HH, WW, S, P = case
    return (t.rng.normal(size=(N, C, H, W)), t.rng.normal(size=(F, C, HH, WW)), t.rng.normal(size=F), S, P)


def _conv_dims(case):
    _, _, H, W, _, HH, WW, S, P = case
    return ((H, HH, S, P), (W, WW, S, P))


def _describe_case(case) -> str:
    N, C, H, W, F, HH, WW, S, P = case
    return f"x ({N}, {C}, {H}, {W}), W ({F}, {C}, {HH}, {WW}), stride {S}, padding {P}"


def _conv_forward_cases(ns, t, cases):
    conv, _, _ = _ref()
    for case in cases:
        x, W, b, S, P = _conv_inputs(t, case)
        what = f"conv2d_forward with {_describe_case(case)}"
        try:
            out = ns.call("conv2d_forward", x, W, b, S, P)
        except StudentCodeError as exc:
            if exc.not_implemented or P == 0:
                raise
            t.fail(what, exc.report,
                   ["with padding > 0 a window near the edge came out smaller than the kernel: the padding is ignored? "
                    "pad x on every side (np.pad) before sliding the windows over it; or the padding went on one "
                    "side only, or np.pad(x, padding) padded the batch and channel axes too: pad the two spatial "
                    "axes only, on both sides, np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))"])
            continue
        result = _pair(t, what, out, "(out, cache)")
        if result is None:
            continue
        expected, _ = conv.conv2d_forward_naive(x, W, b, S, P)
        flipped, _ = conv.conv2d_forward_naive(x, _flip(W), b, S, P)
        no_bias, _ = conv.conv2d_forward_naive(x, W, np.zeros_like(b), S, P)
        unit_stride, _ = conv.conv2d_forward_naive(x, W, b, 1, P)
        ones_pad, _ = conv.conv2d_forward_naive(np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)), constant_values=1.0),
                                                W, b, S, 0)
        one_axis = {f"the stride is ignored along the {axis} inside the loop: the window of out[i, j] starts at "
                    "(i*stride, j*stride)": conv.conv2d_forward_naive(x, W, b, pair, P)[0][
                        :, :, :expected.shape[2], :expected.shape[3]]
                    for axis, pair in (("height", (1, S)), ("width", (S, 1))) if S > 1}
        one_side = {where: conv.conv2d_forward_naive(np.pad(x, ((0, 0), (0, 0), pad, pad)), W, b, S, 0)[0]
                    for where, pad in (("top and left", (2 * P, 0)), ("bottom and right", (0, 2 * P)),
                                       ("P zeros top and left only", (P, 0)),
                                       ("P zeros bottom and right only", (0, P)))}
        one_side = {where: v[:, :, :expected.shape[2], :expected.shape[3]] for where, v in one_side.items()
                    if v.shape[2] >= expected.shape[2] and v.shape[3] >= expected.shape[3]}
        _close_nchw(t, what, result[0], expected, _conv_dims(case), known_wrong={
            "convolution with a flipped kernel: this course (like PyTorch) computes a cross-correlation, "
            "out = sum x[window] * W[f], without flipping W": flipped,
            "the bias b[f] is missing": no_bias,
            "the stride is ignored inside the loop: the window of out[i, j] starts at (i*stride, j*stride)":
            unit_stride[:, :, :expected.shape[2], :expected.shape[3]],
            "padding with ones instead of zeros (np.pad pads with 0 by default)": ones_pad, **one_axis,
            **{f"all the padding on one side ({where}): P zeros go on each side, "
               "np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))": v for where, v in one_side.items()}})


def conv_forward_visible(ns, t):
    _conv_forward_cases(ns, t, CONV_VISIBLE)


def conv_forward_hand_example(ns, t):
    # A 4x4 image x[i, j] = 4i + j and a 2x2 kernel [[1, 2], [0, 0]]: out[i, j] = x[i, j] + 2 x[i, j+1] = 12i + 3j + 2.
    # The flipped kernel [[0, 0], [2, 1]] gives 2 x[i+1, j] + x[i+1, j+1] = 12i + 3j + 13 instead.
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    W = np.array([[[[1.0, 2.0], [0.0, 0.0]]]])
    i, j = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
    what = "hand example: x[i, j] = 4i + j (4x4), W = [[1, 2], [0, 0]], so out[i, j] = x[i, j] + 2 x[i, j+1]"
    result = _pair(t, what, ns.call("conv2d_forward", x, W, np.zeros(1), 1, 0), "(out, cache)")
    if result is not None:
        t.close(what, result[0], (12.0 * i + 3 * j + 2)[None, None], known_wrong={
            "convolution with a flipped kernel (this course computes a cross-correlation)":
                (12.0 * i + 3 * j + 13)[None, None]})


def conv_forward_hidden(ns, t):
    _conv_forward_cases(ns, t, CONV_HIDDEN)


# -- convolution backward -----------------------------------------------------------------------------------
def _conv_backward_case(ns, t, case, *, numeric: bool):
    conv, _, _ = _ref()
    x, W, b, S, P = _conv_inputs(t, case)
    label = _describe_case(case)
    fwd = _pair(t, f"conv2d_forward ({label})", ns.call("conv2d_forward", x, W, b, S, P), "(out, cache)")
    if fwd is None:
        return
    expected_out, cache = conv.conv2d_forward_naive(x, W, b, S, P)
    if not (isinstance(fwd[0], np.ndarray) and fwd[0].shape == expected_out.shape):
        t.fail(f"conv2d_backward ({label})", f"conv2d_forward must return out of shape {expected_out.shape} first, "
                                           f"got {getattr(fwd[0], 'shape', type(fwd[0]).__name__)}")
        return
    dout = t.rng.normal(size=expected_out.shape)
    try:
        grads = _triple(t, f"conv2d_backward ({label})", ns.call("conv2d_backward", dout, fwd[1]))
    except StudentCodeError as exc:
        if exc.not_implemented or P == 0:
            raise
        t.fail(f"conv2d_backward ({label})", exc.report,
               ["with padding > 0 a window near the edge came out smaller than the kernel: in the backward too, "
                "take the windows from the padded input (xpad) for dW and add dx into a padded dxpad, cropped "
                "at the end"])
        return
    if grads is None:
        return
    dx, dW, db = conv.conv2d_backward_naive(dout, cache)
    _, flip_cache = conv.conv2d_forward_naive(x, _flip(W), b, S, P)
    fdx, fdW, _ = conv.conv2d_backward_naive(dout, flip_cache)
    matches_reference = [
        t.close(f"dx matches the reference ({label})", grads[0], dx, kind="backward",
                known_wrong={"dx of a convolution with a flipped kernel": fdx,
                             "overlapping windows overwrite each other's dx (use += to add them up)":
                             conv_wrong_dx(x, W, dout, S, P, "overwrite"),
                             "the stride is ignored in the backward pass (window (i, j) starts at i*stride, "
                             "j*stride)": conv_wrong_dx(x, W, dout, S, P, "stride"),
                             "dx cropped at the top-left corner: remove the padding on every side "
                             "(dxpad[:, :, padding:padding + H, padding:padding + W])":
                             conv_wrong_dx(x, W, dout, S, P, "corner"),
                             "dx without the windows that reach into the padding: every window adds to dx, "
                             "compute it on the padded input and crop the padding at the end":
                             conv_wrong_dx(x, W, dout, S, P, "inside"),
                             "dx of the padded input: the padding is not cut off (dx = dxpad[:, :, P:P + H, "
                             "P:P + W])": conv_wrong_dx(x, W, dout, S, P, "padded")}),
        t.close(f"dW matches the reference ({label})", grads[1], dW, kind="backward",
                known_wrong={"dW with the kernel flipped (cross-correlation: dW[f] = sum dout * x[window])":
                             fdW[:, :, ::-1, ::-1],
                             "dW averaged over the batch instead of summed (the loss already averaged)":
                             dW / x.shape[0]}),
        t.close(f"db matches the reference ({label})", grads[2], db, kind="backward",
                known_wrong={"db averaged over the batch instead of summed": db / x.shape[0],
                             "db averaged over the batch and the positions instead of summed":
                             db / (x.shape[0] * dout.shape[2] * dout.shape[3]),
                             "db summed over the batch only: sum over the positions too, "
                             "dout.sum(axis=(0, 2, 3))": dout.sum(axis=0),
                             "db summed per image: sum over the batch too, dout.sum(axis=(0, 2, 3))":
                             dout.sum(axis=(2, 3))})]
    if not numeric:
        return

    def out_for(xv, Wv, bv):
        return _out_of(ns.call("conv2d_forward", xv, Wv, bv, S, P))

    for k, (name, v0, forward) in enumerate((("dx", x, lambda v: out_for(v, W, b)),
                                             ("dW", W, lambda v: out_for(x, v, b)),
                                             ("db", b, lambda v: out_for(x, W, v)))):
        ok = t.grad_matches_numeric(f"{name} matches numeric differentiation of your conv2d_forward ({label})",
                                    forward, v0, dout, grads[k],
                                    batch_size=None if name == "dx" else x.shape[0])
        if not ok and matches_reference[k]:
            t.results[-1].diagnosis.append(f"your {name} is the reference's, so it is your conv2d_forward that "
                                           "computes something else: fix u5_conv_forward first")


def conv_backward_visible(ns, t):
    _conv_backward_case(ns, t, (2, 3, 6, 5, 3, 3, 3, 1, 1), numeric=True)
    _conv_backward_case(ns, t, (1, 1, 7, 6, 2, 3, 2, 2, 0), numeric=False)


def conv_backward_hidden(ns, t):
    _conv_backward_case(ns, t, (3, 2, 7, 9, 2, 3, 4, 2, 1), numeric=True)
    _conv_backward_case(ns, t, (1, 3, 5, 5, 4, 5, 5, 1, 2), numeric=False)
    _conv_backward_case(ns, t, (2, 1, 9, 8, 3, 2, 2, 2, 0), numeric=False)


# -- pooling ------------------------------------------------------------------------------------------------
# (N, C, H, W, K, S): 2x2 / stride 2, overlapping 3x3 / stride 2, a stride that leaves rows over, N = 1.
POOL_VISIBLE = ((2, 3, 6, 8, 2, 2), (1, 2, 7, 5, 3, 2))
POOL_HIDDEN = ((3, 1, 9, 7, 2, 1), (2, 2, 8, 11, 3, 3), (1, 3, 5, 6, 2, 2))


def _pool_label(name, case):
    N, C, H, W, K, S = case
    return f"{name} with x ({N}, {C}, {H}, {W}), kernel_size {K}, stride {S}"


def _pool_dims(case):
    _, _, H, W, K, S = case
    return ((H, K, S, 0), (W, K, S, 0))


def _pool_forward_cases(ns, t, kind, cases):
    _, pool, _ = _ref()
    forward = getattr(pool, f"{kind}pool2d_forward_naive")
    for case in cases:
        x = _distinct(t, case[:4]) if kind == "max" else t.rng.normal(size=case[:4])
        what = _pool_label(f"{kind}pool2d_forward", case)
        result = _pair(t, what, ns.call(f"{kind}pool2d_forward", x, case[4], case[5]), "(out, cache)")
        if result is None:
            continue
        expected, _ = forward(x, case[4], case[5])
        other = "avg" if kind == "max" else "max"
        wrong_kind, _ = getattr(pool, f"{other}pool2d_forward_naive")(x, case[4], case[5])
        K = case[4]
        summed = {K * K: f"your result is exactly {K * K}x the expected: you summed each {K}x{K} window instead "
                         f"of averaging it (divide by K*K = {K * K})",
                  K: f"your result is exactly {K}x the expected: you divided each window's sum by K = {K} instead "
                     f"of by its K*K = {K * K} inputs"} if kind == "avg" else None
        _close_nchw(t, what, result[0], expected, _pool_dims(case), pool=True,
                    known_wrong={f"{other}-pooling instead of {kind}-pooling": wrong_kind}, factors=summed)


def _pool_backward_case(ns, t, kind, case, x, *, numeric: bool, tie_note: str = ""):
    _, pool, _ = _ref()
    K, S = case[4], case[5]
    label = _pool_label(f"{kind}pool2d_backward", case) + tie_note
    fwd = _pair(t, label, ns.call(f"{kind}pool2d_forward", x, K, S), "(out, cache)")
    if fwd is None:
        return
    expected_out, cache = getattr(pool, f"{kind}pool2d_forward_naive")(x, K, S)
    if not (isinstance(fwd[0], np.ndarray) and fwd[0].shape == expected_out.shape):
        t.fail(label, f"{kind}pool2d_forward must return out of shape {expected_out.shape} first, "
                      f"got {getattr(fwd[0], 'shape', type(fwd[0]).__name__)}")
        return
    dout = t.rng.normal(size=expected_out.shape)
    try:
        dx_got = ns.call(f"{kind}pool2d_backward", dout, fwd[1])
    except StudentCodeError as exc:
        if exc.not_implemented or S == K:
            raise
        t.fail(f"dx matches the reference ({label})", exc.report,
               [_STRIDE_IN_BACKWARD.format(kind=kind, S=S, K=K) + " (with it the last windows run past the input)"])
        return
    dx = getattr(pool, f"{kind}pool2d_backward_naive")(dout, cache)
    kstride = _pool_dx_moved_by_k(pool, kind, x, dout, K)
    known = {}
    if kind == "max":
        first = "on a tie only the first maximum (in row-major order, as np.argmax picks it) gets it"
        overwrite = "overlapping windows overwrite each other's gradient (use += to add them)"
        known = {f"the gradient sent to every maximum of a window; {first}": maxpool_wrong_grad(x, dout, K, S, "all"),
                 f"the gradient sent to the first maximum in column-major order; {first}":
                 maxpool_wrong_grad(x, dout, K, S, "column"),
                 f"the gradient split between tied maxima; {first}": maxpool_wrong_grad(x, dout, K, S, "share"),
                 f"the gradient sent to the last maximum; {first}": maxpool_wrong_grad(x, dout, K, S, "last"),
                 overwrite: maxpool_wrong_grad(x, dout, K, S, "overwrite"),
                 overwrite + ", whole windows at a time": maxpool_wrong_grad(x, dout, K, S, "window"),
                 "dout sent to every input of the window: only the window's maximum gets it":
                 pool.avgpool2d_backward_naive(dout, pool.avgpool2d_forward_naive(x, K, S)[1]) * K * K}
    else:
        known = {f"a gradient not divided by the window size: each input of a window gets dout / (K*K) = "
                 f"dout / {K * K}": dx * K * K,
                 f"dout divided by K = {K} instead of by the window's K*K = {K * K} inputs": dx * K,
                 f"dout divided by stride*stride = {S * S} instead of by the window's K*K = {K * K} inputs":
                 dx * K * K / (S * S),
                 "overlapping windows overwrite each other's gradient (use += to add them)":
                 _avgpool_dx_overwritten(x.shape, dout, K, S)}
    if kstride is not None:
        known[_STRIDE_IN_BACKWARD.format(kind=kind, S=S, K=K)] = kstride
    t.close(f"dx matches the reference ({label})", dx_got, dx, kind="backward", known_wrong=known)
    if numeric:
        window = {K * K: f"your dx is exactly {K * K}x the expected: each input of a {K}x{K} window gets "
                         f"dout / (K*K), so divide by {K * K}"} if kind == "avg" else None
        t.grad_matches_numeric(f"dx matches numeric differentiation of your {kind}pool2d_forward "
                               f"({_pool_label(kind + 'pool', case)})",
                               lambda v: _out_of(ns.call(f"{kind}pool2d_forward", v, K, S)), x, dout, dx_got,
                               factors=window)


_STRIDE_IN_BACKWARD = ("the stride is ignored in the backward pass: your {kind}pool2d_backward moves its windows by "
                       "kernel_size {K}, not by stride {S}; window (i, j) starts at (i*stride, j*stride)")


def _pool_dx_moved_by_k(pool, kind, x, dout, K):
    """The backward of a pool whose windows move by K (the stride forgotten in the backward), when they fit."""
    H_out, W_out = dout.shape[2:]
    if H_out * K > x.shape[2] or W_out * K > x.shape[3]:
        return None
    _, cache = getattr(pool, f"{kind}pool2d_forward_naive")(x, K, K)
    full = np.zeros((*dout.shape[:2], x.shape[2] // K, x.shape[3] // K))
    full[:, :, :H_out, :W_out] = dout
    dx = getattr(pool, f"{kind}pool2d_backward_naive")(full, cache)
    return np.pad(dx, ((0, 0), (0, 0), (0, x.shape[2] - dx.shape[2]), (0, x.shape[3] - dx.shape[3])))


def _avgpool_dx_overwritten(x_shape, dout, K, S):
    dx = np.zeros(x_shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * S:i * S + K, j * S:j * S + K] = dout[:, :, i, j, None, None] / (K * K)
    return dx


def _tied(t, shape) -> np.ndarray:
    """Small integers: most windows contain a tie for the maximum."""
    return t.rng.integers(0, 3, size=shape).astype(np.float64)


def maxpool_forward_visible(ns, t):
    _pool_forward_cases(ns, t, "max", POOL_VISIBLE)


def maxpool_forward_hidden(ns, t):
    _pool_forward_cases(ns, t, "max", POOL_HIDDEN)
    _, pool, _ = _ref()
    x = -np.abs(t.rng.normal(size=(2, 2, 6, 6))) - 1.0       # all negative: a max initialised at 0 is wrong
    what = "maxpool2d_forward on all-negative inputs (start the maximum from the window, not from 0)"
    result = _pair(t, what, ns.call("maxpool2d_forward", x, 2, 2), "(out, cache)")
    if result is not None:
        t.close(what, result[0], pool.maxpool2d_forward_naive(x, 2, 2)[0],
                known_wrong={"a maximum that starts at 0 instead of the window's first value": np.zeros((2, 2, 3, 3))})
    x = _distinct(t, (1, 2, 6, 6))
    what = "maxpool2d_forward(x, 3) without a stride: the stride defaults to the kernel size"
    result = _pair(t, what, ns.call("maxpool2d_forward", x, 3), "(out, cache)")
    if result is not None:
        expected = pool.maxpool2d_forward_naive(x, 3, 3)[0]
        got = result[0]
        if not t.close(what, got, expected) and getattr(got, "shape", None) == (1, 2, 4, 4):
            t.results[-1].diagnosis.append("with stride=None your windows move by 1: the default stride is "
                                           "kernel_size (non-overlapping windows)")


def maxpool_backward_visible(ns, t):
    for case in POOL_VISIBLE:
        _pool_backward_case(ns, t, "max", case, _distinct(t, case[:4]), numeric=True)
    case = (2, 2, 6, 6, 2, 2)
    _pool_backward_case(ns, t, "max", case, _tied(t, case[:4]), numeric=False, tie_note=" with ties")


def maxpool_backward_hidden(ns, t):
    for case in POOL_HIDDEN:
        _pool_backward_case(ns, t, "max", case, _distinct(t, case[:4]), numeric=case[5] == 1)
    for case in ((1, 3, 7, 7, 3, 2), (2, 1, 5, 8, 2, 1)):
        _pool_backward_case(ns, t, "max", case, _tied(t, case[:4]), numeric=False, tie_note=" with ties")


def avgpool_visible(ns, t):
    _pool_forward_cases(ns, t, "avg", POOL_VISIBLE)
    for case in POOL_VISIBLE:
        _pool_backward_case(ns, t, "avg", case, t.rng.normal(size=case[:4]), numeric=True)


def avgpool_hidden(ns, t):
    _pool_forward_cases(ns, t, "avg", POOL_HIDDEN)
    for case in POOL_HIDDEN:
        _pool_backward_case(ns, t, "avg", case, t.rng.normal(size=case[:4]), numeric=case[0] == 1)


# -- flatten ------------------------------------------------------------------------------------------------
def _flatten_case(ns, t, shape):
    _, _, shape_ref = _ref()
    x = t.rng.normal(size=shape)
    what = f"flatten_forward on x {shape}"
    result = _pair(t, what, ns.call("flatten_forward", x), "(out, cache)")
    if result is None:
        return
    expected, cache = shape_ref.flatten_forward(x)
    N = shape[0]
    t.close(what, result[0], expected, known_wrong={
        "channels-last order (transpose to (N, H, W, C) before reshaping); keep the row-major (C, H, W) order "
        "that x.reshape(N, -1) gives": x.transpose(0, 2, 3, 1).reshape(N, -1),
        "column-major order (order='F'); keep NumPy's default row-major order": x.reshape(N, -1, order="F")})
    dout = t.rng.normal(size=expected.shape)
    t.close(f"flatten_backward on dout {expected.shape} gives dx {shape}", ns.call("flatten_backward", dout, result[1]),
            shape_ref.flatten_backward(dout, cache), kind="backward")


def flatten_visible(ns, t):
    _flatten_case(ns, t, (3, 2, 5, 4))
    _flatten_case(ns, t, (1, 3, 2, 7))


def flatten_hidden(ns, t):
    _flatten_case(ns, t, (4, 1, 8, 8))
    _flatten_case(ns, t, (2, 5, 3, 1))


# -- the CNN on the digits ----------------------------------------------------------------------------------
DIGITS_FULL, DIGITS_ZERO = 0.96, 0.86


def digits_validation_accuracy(ns, t):
    score_digits_split(ns, t, "validation", full=DIGITS_FULL, zero=DIGITS_ZERO)


def digits_test_accuracy(ns, t):
    score_digits_split(ns, t, "held-out test", full=DIGITS_FULL, zero=DIGITS_ZERO)


# What this unit's notebook may import from nnkit: the worker's view holds exactly these (autograder.policy).
PROVIDES = ("nnkit.data", "nnkit.plot", "nnkit.optim", "nnkit.train", "nnkit.losses",
            "nnkit.activations", "nnkit.init", "nnkit.gradcheck")

ITEMS = [
    Item("u5_conv_output_size", 1, "conv_output_size(H, HH, stride, padding)", names=("conv_output_size",),
         checks=(output_size_visible,), hidden_checks=(output_size_hidden,), forbid=FORBID),
    Item("u5_conv_forward", 3, "conv2d_forward: cross-correlation with stride, padding and filters",
         names=("conv2d_forward",), checks=(conv_forward_hand_example, conv_forward_visible),
         hidden_checks=(conv_forward_hidden,), forbid=FORBID),
    Item("u5_conv_backward", 4, "conv2d_backward: dx, dW and db", names=("conv2d_forward", "conv2d_backward"),
         checks=(conv_backward_visible,), hidden_checks=(conv_backward_hidden,), forbid=FORBID),
    Item("u5_maxpool_forward", 2, "maxpool2d_forward", names=("maxpool2d_forward",),
         checks=(maxpool_forward_visible,), hidden_checks=(maxpool_forward_hidden,), forbid=FORBID),
    Item("u5_maxpool_backward", 2, "maxpool2d_backward (ties: the first maximum)",
         names=("maxpool2d_forward", "maxpool2d_backward"),
         checks=(maxpool_backward_visible,), hidden_checks=(maxpool_backward_hidden,), forbid=FORBID),
    Item("u5_avgpool", 2, "avgpool2d_forward and avgpool2d_backward",
         names=("avgpool2d_forward", "avgpool2d_backward"),
         checks=(avgpool_visible,), hidden_checks=(avgpool_hidden,), forbid=FORBID),
    Item("u5_flatten", 1, "flatten_forward and flatten_backward", names=("flatten_forward", "flatten_backward"),
         checks=(flatten_visible,), hidden_checks=(flatten_hidden,), forbid=FORBID),
    Item("u5_cnn_digits", 5, "a CNN of your own layers on held-out digits", names=("predict_digits",),
         checks=(digits_validation_accuracy,), hidden_checks=(digits_test_accuracy,), forbid=FORBID,
         timeout=60.0),
]

# Batch normalisation by hand, forward and backward (issue 14).
from autograder.suites.unit5_batchnorm import (  # noqa: E402
    backward_hidden as _bn_backward_hidden,
    backward_visible as _bn_backward_visible,
    forward_hidden as _bn_forward_hidden,
    forward_visible as _bn_forward_visible,
)

# watch_calls: running_mean and running_var are returned as new arrays, the caller's stay as they are
ITEMS.append(Item("u5_batchnorm", 4, "batchnorm_forward (training and evaluation) and batchnorm_backward",
                  names=("batchnorm_forward", "batchnorm_backward"),
                  checks=(watch_calls()(_bn_forward_visible), _bn_backward_visible),
                  hidden_checks=(watch_calls()(_bn_forward_hidden), _bn_backward_hidden), forbid=FORBID))
