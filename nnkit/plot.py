"""Figures for the course: decision boundaries, training curves, conv filters, gradient checks.

This is the only nnkit module that imports matplotlib. It imports no other nnkit
module, so a notebook may use it while the autograder refuses the graded
reference modules: every function here takes plain arrays, mappings or callables.

Functions that draw one panel take ``ax=None`` (a new figure is made when it is
None) and return the ``Axes``; functions that draw a grid of panels return the
``Figure``. Nothing calls ``plt.show()``; notebooks display the figure at the end
of the cell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from nnkit import _validate as check

# Light colours fill the decision regions, the dark ones mark the data points.
REGION_COLORS = ("#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
                 "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5")
POINT_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    return ax


def _grid(n: int, ncols: int | None, scale: float = 1.3) -> tuple[Figure, np.ndarray]:
    ncols = min(n, ncols or int(np.ceil(np.sqrt(n))))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols + 0.4, scale * nrows + 0.4), squeeze=False)
    for a in axes.ravel():
        a.set_axis_off()
    return fig, axes.ravel()


# --- decision boundaries ------------------------------------------------------------------------

def _predicted_classes(fn: str, raw, m: int, threshold: float) -> tuple[np.ndarray, bool]:
    """Turn predict_fn's output on m grid points into labels; True if it was a score."""
    out = np.asarray(raw, dtype=np.float64)
    if out.shape == (m, 1):
        out = out[:, 0]
    if out.ndim == 2 and out.shape[0] == m and out.shape[1] > 1:
        return np.argmax(out, axis=1).astype(np.float64), False
    if out.shape != (m,):
        raise ValueError(f"{fn}: predict_fn must return shape (M,), (M, 1) or (M, K) with M = {m}, got {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{fn}: predict_fn returned NaN or infinity")
    if np.all(out == np.round(out)):
        return out, False
    return (out > threshold).astype(np.float64), True


def decision_boundary(predict_fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray,
                      ax: Axes | None = None, *, resolution: int = 200, margin: float = 0.5,
                      threshold: float = 0.5, title: str | None = None) -> Axes:
    """Colour the plane by a 2-D classifier's prediction and draw the data on top.

    Parameters
    ----------
    predict_fn : callable
        ``predict_fn(P)`` for grid points ``P (M, 2)`` returns class labels
        ``(M,)`` (integer-valued), scores ``(M,)`` or ``(M, 1)`` (non-integer
        values are thresholded: class 1 where ``score > threshold``, and the
        ``threshold`` level curve is drawn), or one column per class ``(M, K)``
        (argmax).
    X : np.ndarray, shape (N, 2)
    y : np.ndarray, shape (N,)
        Integer class labels, at most 10 classes.
    ax : matplotlib Axes, optional
    resolution : int
        Grid points per axis.
    margin : float
        How far the grid extends beyond the data on every side.
    threshold : float
        Decision level for scores, e.g. 0.5 for a sigmoid output, 0 for a raw logit.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    fn = "decision_boundary"
    check.function(predict_fn, fn, "predict_fn")
    X, y = check.arrays(fn, X=(X, "(N, 2)"), y=(y, "(N,)"), empty=False)
    if not np.all(y == np.round(y)):
        raise ValueError(f"{fn}: y must hold integer class labels, got values such as {y[y != np.round(y)][0]}")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([g0.ravel(), g1.ravel()])  # (M, 2), M = resolution**2
    raw = predict_fn(grid)
    labels, is_score = _predicted_classes(fn, raw, len(grid), threshold)
    classes = np.union1d(np.unique(y), np.unique(labels))
    if len(classes) > len(REGION_COLORS):
        raise ValueError(f"{fn}: at most {len(REGION_COLORS)} classes can be coloured, got {len(classes)}")
    index = np.searchsorted(classes, labels).reshape(g0.shape)
    k = len(classes)
    cmap = ListedColormap(REGION_COLORS[:k])
    norm = BoundaryNorm(np.arange(k + 1) - 0.5, k)
    ax = _axes(ax)
    ax.imshow(index, origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]), cmap=cmap, norm=norm,
              interpolation="nearest", aspect="auto")
    if is_score:
        scores = np.asarray(raw, dtype=np.float64).reshape(g0.shape)
        if scores.min() < threshold < scores.max():
            ax.contour(g0, g1, scores, levels=[threshold], colors="k", linewidths=1.0)
    for i, c in enumerate(classes):
        mask = y == c
        if mask.any():
            ax.scatter(X[mask, 0], X[mask, 1], s=40, color=POINT_COLORS[i], edgecolors="k", linewidths=0.6,
                       label=f"class {c:g}", zorder=3)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    if title:
        ax.set_title(title)
    return ax


# --- training curves ----------------------------------------------------------------------------

def history_curves(history, *, keys: Sequence[str] | None = None, title: str | None = None) -> Figure:
    """Loss curves (left) and accuracy/metric curves (right) from a training history.

    Parameters
    ----------
    history : mapping of str to sequence of float, or an object with ``as_dict()``
        One value per epoch, e.g. ``{"train_loss": [...], "val_loss": [...],
        "train_accuracy": [...], "val_accuracy": [...]}`` (``nnkit.train.History``
        works as is). Empty sequences are skipped.
    keys : sequence of str, optional
        Which entries to draw. Default: every non-empty entry whose name contains
        "loss" or "acc". Names containing "loss" go to the left panel, the rest to
        the right.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One panel, or two when there are metric curves. Epochs are numbered from 1.
    """
    fn = "history_curves"
    if not isinstance(history, Mapping) and callable(getattr(history, "as_dict", None)):
        history = history.as_dict()
    if not isinstance(history, Mapping):
        raise TypeError(f"{fn}: history must be a mapping of name -> per-epoch values, got {type(history).__name__}")
    if keys is None:
        keys = [k for k, v in history.items() if ("loss" in k or "acc" in k) and len(v) > 0]
    missing = [k for k in keys if k not in history]
    if missing or not keys:
        raise ValueError(f"{fn}: nothing to plot for keys {keys or []} (missing {missing}); "
                         f"history has {sorted(history)}")
    losses = [k for k in keys if "loss" in k]
    metrics = [k for k in keys if "loss" not in k]
    panels = [(p, label) for p, label in ((losses, "loss"), (metrics, "metric")) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (names, label) in zip(axes[0], panels):
        for name in names:
            values = check.real_array(history[name], fn, f"curve {name!r}", ndim=1, finite=False)
            ax.plot(np.arange(1, len(values) + 1), values, marker="o" if len(values) <= 30 else None,
                    markersize=3, linestyle="--" if name.startswith("val") else "-", label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if label == "metric" and all("acc" in n for n in names) else label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def compare_curves(curves: Mapping[str, Sequence[float]], ax: Axes | None = None, *, xlabel: str = "epoch",
                   ylabel: str = "loss", title: str | None = None, log_y: bool = False) -> Axes:
    """One curve per setting, e.g. learning rates or optimizers, on shared axes.

    Parameters
    ----------
    curves : mapping of str to sequence of float
        Label (e.g. ``"lr=0.1"``, ``"Adam"``) to one value per step or epoch.
        A run that diverged (its values reach inf or NaN) is drawn up to its last
        finite value, marked with an x and labelled "(diverged)".
    ax : matplotlib Axes, optional
    xlabel, ylabel, title : str
    log_y : bool
        Logarithmic y axis (losses spanning several decades).

    Returns
    -------
    matplotlib.axes.Axes
    """
    fn = "compare_curves"
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"{fn}: curves must be a non-empty mapping of label -> values, got {curves!r:.60}")
    ax = _axes(ax)
    for label, values in curves.items():
        arr = check.real_array(values, fn, f"curve {label!r}", ndim=1, finite=False)
        finite = np.isfinite(arr)
        diverged = not finite.all()
        stop = int(np.argmin(finite)) if diverged else len(arr)
        steps = np.arange(1, stop + 1)
        (line,) = ax.plot(steps, arr[:stop], label=f"{label} (diverged)" if diverged else str(label))
        if diverged and stop > 0:
            ax.plot(steps[-1], arr[stop - 1], marker="x", markersize=9, color=line.get_color())
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


# --- convolutional networks ---------------------------------------------------------------------

def filter_grid(W: np.ndarray, *, ncols: int | None = None, title: str | None = None) -> Figure:
    """Show conv filters ``W (F, C, HH, WW)`` as small images.

    With C = 3 each filter is one RGB tile, min-max scaled on its own. Otherwise
    each (filter, channel) pair is a tile, one row per filter when C > 1, drawn
    with a diverging colour map centred on 0 (red positive, blue negative) and
    scaled per filter so that tiles of one filter compare.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fn = "filter_grid"
    W = check.real_array(W, fn, "W", "(F, C, HH, WW)", empty=False)
    f, c = W.shape[:2]
    if c == 3:
        fig, axes = _grid(f, ncols)
        for i in range(f):
            tile = W[i].transpose(1, 2, 0)  # (HH, WW, 3)
            span = np.ptp(tile)
            axes[i].imshow((tile - tile.min()) / span if span > 0 else np.full_like(tile, 0.5),
                           interpolation="nearest")
            axes[i].set_title(f"filter {i}", fontsize=7)
    else:
        if c == 1:
            fig, axes = _grid(f, ncols)
        else:
            fig, axes2d = plt.subplots(f, c, figsize=(1.3 * c + 0.4, 1.3 * f + 0.4), squeeze=False)
            for a in axes2d.ravel():
                a.set_axis_off()
            axes = axes2d.ravel()
        for i in range(f):
            vmax = float(np.max(np.abs(W[i]))) or 1.0
            for ch in range(c):
                a = axes[i * c + ch]
                a.imshow(W[i, ch], cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
                a.set_title(f"f{i}" if c == 1 else f"f{i} c{ch}", fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def feature_maps(maps: np.ndarray, *, ncols: int = 8, cmap: str = "viridis", title: str | None = None) -> Figure:
    """Show the C feature maps ``(C, H, W)`` of one image, one tile per channel.

    Pass one image: for a batch ``out (N, C, H, W)`` use ``feature_maps(out[i])``.
    Each tile has its own colour scale.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fn = "feature_maps"
    if np.ndim(maps) == 4:
        raise ValueError(f"{fn}: maps must be (C, H, W) for one image, got a batch of shape {np.shape(maps)}; "
                         "pass maps[i]")
    maps = check.real_array(maps, fn, "maps", "(C, H, W)", empty=False)
    fig, axes = _grid(maps.shape[0], ncols)
    for ch, a in enumerate(axes[:maps.shape[0]]):
        a.imshow(maps[ch], cmap=cmap, interpolation="nearest")
        a.set_title(f"channel {ch}", fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


# --- gradient checks ----------------------------------------------------------------------------

def gradcheck_error_map(analytic, numeric=None, ax: Axes | None = None, *, tol: float = 1e-6,
                        title: str | None = None) -> Axes:
    """Map the elementwise relative error between an analytic and a numeric gradient.

    Parameters
    ----------
    analytic : np.ndarray, any shape, or an object with ``.analytic`` and ``.numeric``
        (such as ``nnkit.gradcheck.GradcheckResult``; then leave ``numeric`` out).
    numeric : np.ndarray, same shape
        NaN marks coordinates that were not checked; they stay blank.
    ax : matplotlib Axes, optional
    tol : float
        Entries with a larger error are circled in red.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The error is ``|a - n| / max(1e-8, |a| + |n|)`` per entry, shown as log10 on
    a scale from 1e-16 to 1. Arrays are shown as ``(shape[0], rest)``: a 1-D
    gradient as one row, an ``(F, C, HH, WW)`` one as F rows.
    """
    fn = "gradcheck_error_map"
    if numeric is None and hasattr(analytic, "analytic") and hasattr(analytic, "numeric"):
        analytic, numeric = analytic.analytic, analytic.numeric
    if numeric is None:
        raise TypeError(f"{fn}: pass analytic and numeric arrays, or one result with .analytic and .numeric")
    a, n = check.arrays(fn, analytic=(analytic, "(...)"), numeric=(numeric, "(...)"), finite=False, empty=False)
    err = np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n))  # NaN where numeric is NaN
    shown = err.reshape(1, -1) if err.ndim <= 1 else err.reshape(err.shape[0], -1)
    ax = _axes(ax)
    image = ax.imshow(np.log10(np.clip(shown, 1e-16, None)), cmap="magma", vmin=-16, vmax=0,
                      interpolation="nearest", aspect="auto")
    ax.figure.colorbar(image, ax=ax, label="log10 relative error")
    rows, cols = np.nonzero(np.nan_to_num(shown, nan=0.0) > tol)
    if len(rows):
        ax.scatter(cols, rows, s=60, facecolors="none", edgecolors="red", linewidths=1.2,
                   label=f"{len(rows)} above {tol:g}")
        ax.legend(fontsize="small", loc="upper right")
    worst = np.nanmax(err) if np.any(np.isfinite(err)) else float("nan")
    ax.set_title(title or f"relative error, max {worst:.2e} (shape {a.shape})")
    ax.set_xlabel("flattened index" if err.ndim > 2 else "column")
    ax.set_ylabel("row")
    return ax
