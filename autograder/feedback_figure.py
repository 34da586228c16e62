"""A small picture of where an array differs: the heat map in the HTML feedback.

``mismatch_png(mismatch)`` turns the boolean map of a failed array comparison (``SubCheck.detail["mismatch"]``)
into a PNG of a few kilobytes. It is drawn by matplotlib's Agg canvas in the trusted process that renders the
HTML (the grader, nbgrader, or the student's kernel), never in the sandboxed worker, and only when HTML is asked
for. The picture shows *where* entries differ, never a value, so it is the same for visible and hidden checks.

How an array becomes one image:

- ``(W,)`` is one row; ``(H, W)`` is itself;
- ``(..., H, W)`` (a batch of images, ``(N, C, H, W)``, or filters ``(F, C, HH, WW)``) shows, at each
  ``(row, column)``, the share of the leading ``N x C`` maps that differ there. A gradient wrong only at the
  borders of every image is a bright frame around a dark middle.

Nothing here may write to stderr or raise into a notebook cell (nbgrader zeroes a test cell that writes to
stderr or shows an error), so ``mismatch_png`` silences warnings and logging and returns None when it cannot draw.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

import numpy as np

MAX_PNG_BYTES = 30_000
MIN_ENTRIES = 2          # a single number differing needs no picture
MAX_SIDE = 64            # pixels per side of the map (larger maps are shrunk by blocks)


def mismatch_grid(mismatch, checked=None) -> tuple[np.ndarray, str] | None:
    """The 2-D image of ``mismatch`` (values in [0, 1], NaN for no entry) and a caption saying what a pixel
    is; None if the picture would say nothing: nothing differs, everything differs, or a single number.

    ``checked`` (same shape, optional) marks the entries that were compared at all, as in a numeric gradient
    check that samples coordinates: the others stay blank and the counts are of the entries checked.
    """
    mask = np.asarray(mismatch, dtype=bool)
    tried = np.ones(mask.shape, dtype=bool) if checked is None else np.asarray(checked, dtype=bool)
    if tried.shape != mask.shape:
        raise ValueError(f"mismatch_grid: checked has shape {tried.shape}, mismatch {mask.shape}")
    mask = mask & tried
    if mask.ndim == 0 or tried.sum() < MIN_ENTRIES or not mask.any() or mask.sum() == tried.sum():
        return None
    count = f"{int(mask.sum())} of {int(tried.sum())} entries {'checked ' if checked is not None else ''}differ"
    values = np.where(tried, mask.astype(np.float64), np.nan)
    if mask.ndim == 1 and mask.size <= MAX_SIDE:
        grid, caption = values[None, :], f"{count} (index left to right)"
    elif mask.ndim == 1:
        width = int(np.ceil(np.sqrt(mask.size)))
        grid = np.full(width * int(np.ceil(mask.size / width)), np.nan)
        grid[:mask.size] = values
        grid, caption = grid.reshape(-1, width), f"{count} (index = row * {width} + column)"
    elif mask.ndim == 2:
        grid, caption = values, f"{count} (row, column)"
    else:
        lead = mask.shape[:-2]
        maps = int(np.prod(lead))
        with np.errstate(invalid="ignore", divide="ignore"):   # no map checked at a position: NaN, blank
            grid = (mask.reshape(maps, *mask.shape[-2:]).sum(axis=0)
                    / tried.reshape(maps, *mask.shape[-2:]).sum(axis=0))
        caption = (f"{count}; each pixel: the share of the {' x '.join(str(n) for n in lead)} maps "
                   f"{'(of those checked) ' if checked is not None else ''}that differ at that (row, column)")
    return _shrink(grid, caption)


def _shrink(grid: np.ndarray, caption: str) -> tuple[np.ndarray, str]:
    """At most ``MAX_SIDE`` pixels a side: a pixel then shows the largest value of the block it covers, so a
    single differing entry never disappears."""
    step_r, step_c = (int(np.ceil(n / MAX_SIDE)) for n in grid.shape)
    if step_r == step_c == 1:
        return grid, caption
    rows, cols = -(-grid.shape[0] // step_r) * step_r, -(-grid.shape[1] // step_c) * step_c
    padded = np.full((rows, cols), np.nan)
    padded[:grid.shape[0], :grid.shape[1]] = grid
    blocks = padded.reshape(rows // step_r, step_r, cols // step_c, step_c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # an all-NaN block stays NaN (no entry there)
        return np.nanmax(blocks, axis=(1, 3)), f"{caption}; one pixel per block of {step_r} x {step_c} entries"


def _draw(grid: np.ndarray, dpi: int) -> bytes:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows, cols = grid.shape
    cell = min(0.28, 2.6 / max(rows, cols, 1))          # inches per entry: small maps stay readable
    width, height = max(1.6, cols * cell + 0.9), max(0.9, rows * cell + 0.6)
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.5 / width, 0.35 / height, (width - 0.9) / width, (height - 0.6) / height))
    cmap = matplotlib.colormaps["Reds"].with_extremes(bad="#d9d9d9")   # grey: no entry, or not checked
    ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest",
              aspect="equal")
    ax.set_xticks(range(0, cols, max(1, cols // 6)))
    ax.set_yticks(range(0, rows, max(1, rows // 6)) if rows > 1 else [])
    ax.tick_params(labelsize=7, length=2, pad=1)
    if max(rows, cols) <= 24:          # cell borders help to count on a small map
        ax.set_xticks(np.arange(-0.5, cols, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, rows, 1), minor=True)
        ax.grid(which="minor", color="#dddddd", linewidth=0.5)
        ax.tick_params(which="minor", length=0)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.04, metadata={"Software": None})
    return buffer.getvalue()


def mismatch_png(mismatch, checked=None) -> tuple[bytes, str] | None:
    """``(png bytes, caption)`` for the heat map of ``mismatch`` (see ``mismatch_grid``), or None (nothing to
    show, or it could not be drawn: matplotlib missing, a malformed map). Never writes to stderr, never raises."""
    try:
        picked = mismatch_grid(mismatch, checked)
    except (TypeError, ValueError):
        return None
    if picked is None:
        return None
    grid, caption = picked
    quiet = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(quiet), _logging_off():
            warnings.simplefilter("ignore")
            for dpi in (80, 60, 40):
                png = _draw(grid, dpi)
                if len(png) <= MAX_PNG_BYTES:
                    return png, caption
    except Exception:  # noqa: BLE001 - a picture is a bonus; the table is the feedback
        return None
    return None


@contextlib.contextmanager
def _logging_off():
    """matplotlib logs to stderr the first time it builds its font cache; a notebook cell must not show that."""
    logger = logging.getLogger("matplotlib")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)
