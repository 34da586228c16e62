"""Wrong answers the unit 5 checks recognise: output sizes from the usual wrong formulas, and max-pool
gradients routed by the usual wrong rules. ``autograder.suites.unit5`` turns a match into a diagnosis.
"""

from __future__ import annotations

import numpy as np


def size_candidates(H: int, K: int, S: int, P: int, pool: bool = False) -> dict[str, int]:
    """Output sizes of the usual wrong formulas (only those that differ from the right one)."""
    right = 1 + (H + 2 * P - K) // S
    wrong = {}
    if pool:
        wrong["the stride argument is ignored (the windows moved by kernel_size instead)"] = 1 + (H - K) // K
        wrong["H // stride: the window size is left out (H' = 1 + (H - K) // stride)"] = H // S
    wrong |= {
        "you forgot the +1 (the first window sits at position 0)": (H + 2 * P - K) // S,
        "the padding is ignored (use H + 2*padding)": 1 + (H - K) // S,
        "the padding is added on one side only (it goes on both sides: 2*padding)": 1 + (H + P - K) // S,
        "the stride is ignored (divide by the stride)": 1 + (H + 2 * P - K),
        "you rounded up instead of down (use // : a window that does not fit is dropped)":
            1 + -(-(H + 2 * P - K) // S),
        "the output size is H' = (H + 2*padding - HH) / stride + 1 with the +1 inside the division":
            (H + 2 * P - K + 1) // S,
    }
    return {k: v for k, v in wrong.items() if v != right}


def shape_hints(got_shape, expected_shape, dims, pool: bool = False) -> list[str]:
    """Name the wrong size formula behind a wrong output height/width. ``dims``: ((H, K, S, P), (W, K, S, P))."""
    notes = []
    if len(got_shape) != len(expected_shape):
        return notes
    # a cause must explain both axes: several wrong formulas can give the same wrong height (padding ignored
    # and a forgotten +1 both give right - 1 when 2*padding = stride), but rarely the same height and width
    axes = list(zip((-2, -1), dims))
    causes = {why for _, (size, k, s, p) in axes for why in size_candidates(size, k, s, p, pool)}
    consistent = [why for why in causes if all(
        size_candidates(size, k, s, p, pool).get(why, expected_shape[axis]) == got_shape[axis]
        for axis, (size, k, s, p) in axes)]
    for axis, (size, k, s, p), label in zip((-2, -1), dims, ("height", "width")):
        if got_shape[axis] == expected_shape[axis]:
            continue
        hits = sorted(why for why in consistent if size_candidates(size, k, s, p, pool).get(why) == got_shape[axis])
        if pool:
            rule, formula = "H' = 1 + (H - K) // stride", f"1 + ({size} - {k}) // {s} = {expected_shape[axis]}"
        else:
            rule = "H' = 1 + (H + 2*padding - HH) // stride"
            formula = f"1 + ({size} + 2*{p} - {k}) // {s} = {expected_shape[axis]}"
        notes.append(f"output {label} {got_shape[axis]} is wrong; {rule} gives {formula}"
                     + (f": it looks like {' or '.join(hits)}" if hits else ""))
    return notes


def conv_wrong_dx(x, W, dout, S, P, rule: str) -> np.ndarray:
    """conv dx under a wrong rule: overlapping windows "overwrite" each other (= instead of +=), the "stride"
    is ignored when placing the windows, the padding is cropped from the top-left "corner" only, or only the
    windows lying wholly "inside" the unpadded input get their share (the ones reaching into the padding are
    skipped, which leaves dx too small near the borders), or dx is returned "padded" (not cropped)."""
    N, C, H, Wd = x.shape
    F, _, HH, WW = W.shape
    step = 1 if rule == "stride" else S
    dxpad = np.zeros((N, C, H + 2 * P, Wd + 2 * P))
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = (slice(None), slice(None), slice(i * step, i * step + HH), slice(j * step, j * step + WW))
            if rule == "inside" and (min(i * step, j * step) < P or i * step + HH > H + P
                                     or j * step + WW > Wd + P):
                continue
            part = np.tensordot(dout[:, :, i, j], W, axes=([1], [0]))
            if rule == "overwrite":
                dxpad[win] = part
            else:
                dxpad[win] += part
    if rule == "padded":
        return dxpad
    return dxpad[:, :, :H, :Wd] if rule == "corner" else dxpad[:, :, P:P + H, P:P + Wd]


def maxpool_wrong_grad(x, dout, K, S, rule: str) -> np.ndarray:
    """Max-pool dx under a wrong rule: "all" maxima get dout, maxima "share" it, the "last" maximum gets it, the
    first maximum in "column"-major order gets it, or
    the first maximum gets it but overlapping windows overwrite ("overwrite": the winner's entry, "window": the
    whole window) instead of adding up."""
    N, C = x.shape[:2]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = (slice(None), slice(None), slice(i * S, i * S + K), slice(j * S, j * S + K))
            flat = x[win].reshape(N, C, K * K)
            if rule in ("all", "share"):
                mask = flat == flat.max(axis=2, keepdims=True)
            else:
                pick = K * K - 1 - np.argmax(flat[:, :, ::-1], axis=2) if rule == "last" else np.argmax(flat, axis=2)
                if rule == "column":   # the first maximum of the transposed window, as a row-major index
                    col = np.argmax(x[win].transpose(0, 1, 3, 2).reshape(N, C, K * K), axis=2)
                    pick = (col % K) * K + col // K
                mask = np.arange(K * K) == pick[..., None]
            weight = mask / mask.sum(axis=2, keepdims=True) if rule == "share" else mask
            grad = (weight * dout[:, :, i, j, None]).reshape(N, C, K, K)
            if rule == "overwrite":
                dx[win] = np.where(mask.reshape(N, C, K, K), grad, dx[win])
            elif rule == "window":
                dx[win] = grad
            else:
                dx[win] += grad
    return dx
