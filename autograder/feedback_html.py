"""Feedback as HTML, for a live Jupyter kernel and nbgrader's feedback pages.

``item_html(result)`` renders one ``ItemResult`` as a compact table:

- a headline coloured by the item's outcome, with the same words as the text report
  (``u5_conv_backward -- conv_backward(dout, cache): 2.67 / 4 points``);
- one row per sub-check, coloured by its outcome (ok, part, FAIL), with its hints first, in a
  highlighted box ("what it probably is"), then its detail lines;
- for a failed array comparison with values to show (visible checks, at most 400 entries, see
  ``autograder.results.array_detail``), expected and got side by side as small grids with the
  differing entries marked;
- for a failed array comparison with a mismatch map, a small heat map of *where* it differs
  (``autograder.feedback_figure``) where that adds something: hidden checks (no values shown), arrays
  of more than two axes (the grids show one map; the heat map shows them all), large arrays. It is
  drawn here and only here: when HTML is rendered, in the trusted process, never in the worker.

Hidden sub-checks show their description, credit and hints, and the heat map (positions only), never their
detail lines or values, exactly as the text report. Everything from the student's side is escaped; the HTML uses
inline styles only, so it renders the same in JupyterLab, classic Notebook and nbgrader's static feedback file.

``Feedback`` is what ``autograder.check`` displays in a kernel: text/plain is ``render()``, unchanged, and
text/html is ``item_html``.
"""

from __future__ import annotations

import base64
import html

import numpy as np

COLOURS = {"ok": ("#e6f4ea", "#1e7e34"), "part": ("#fff4e5", "#b35c00"), "fail": ("#fdecea", "#b00020")}
LABELS = {"ok": "ok", "part": "part", "fail": "FAIL"}
MARK = "#f5a3a3"         # a differing entry of got
HINT_STYLE = ("margin:3px 0;padding:3px 8px;background:#fff8c5;border-left:4px solid #d4a72c;"
              "color:#3b2e00;font-weight:600")
GRID_STYLE = "border-collapse:collapse;font-family:monospace;font-size:85%;margin:0"
CELL_STYLE = "border:1px solid #ddd;padding:0 4px;text-align:right"
# JupyterLab's stylesheet right-aligns and centres table cells; inline styles win over it
LEFT_TOP = "text-align:left;vertical-align:top"
TEXT_CELL = f"padding:2px 8px;{LEFT_TOP}"


def _status(sub) -> str:
    return "ok" if sub.passed else ("part" if sub.credit > 0 else "fail")


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


# -- values side by side ----------------------------------------------------------------------------------

def _as_floats(nested) -> np.ndarray:
    """``detail["expected"]``/``["got"]`` (nested lists; NaN and infinities as strings) as a float array."""
    return np.vectorize(float, otypes=[np.float64])(np.array(nested, dtype=object))


def _grid_html(values: np.ndarray, marked: np.ndarray | None) -> str:
    """A 0-, 1- or 2-D array as a table of numbers; ``marked`` entries get the failure colour."""
    grid = np.atleast_2d(values)
    marks = np.zeros(grid.shape, dtype=bool) if marked is None else np.atleast_2d(marked)
    rows = []
    for r in range(grid.shape[0]):
        cells = "".join(
            f"<td style='{CELL_STYLE};background:{MARK if marks[r, c] else '#fff'}'>"
            f"{_esc(f'{grid[r, c]:.4g}')}</td>" for c in range(grid.shape[1]))
        rows.append(f"<tr>{cells}</tr>")
    return f"<table style='{GRID_STYLE}'>{''.join(rows)}</table>"


def _first_differing_slice(shape: tuple, mismatch: np.ndarray | None) -> tuple:
    """The leading index of the first (H, W) map that has a differing entry (the first map if none is known)."""
    lead = shape[:-2]
    if mismatch is not None:
        for index in np.ndindex(*lead):
            if mismatch[index].any():
                return index
    return (0,) * len(lead)


def _values_html(detail: dict) -> str:
    """Expected and got as grids side by side, the differing entries of got marked; "" if not possible.

    An array of more than two axes shows one (H, W) map of each: the first that differs.
    """
    try:
        expected, got = _as_floats(detail["expected"]), _as_floats(detail["got"])
        mismatch = np.asarray(detail["mismatch"], dtype=bool) if "mismatch" in detail else None
    except (KeyError, TypeError, ValueError):
        return ""
    if expected.shape != got.shape or (mismatch is not None and mismatch.shape != got.shape):
        return ""
    which = ""
    if expected.ndim > 2:
        index = _first_differing_slice(expected.shape, mismatch)
        maps = int(np.prod(expected.shape[:-2]))
        which = (f" [{', '.join(str(i) for i in index)}, :, :], the first of the {maps} maps of shape "
                 f"{expected.shape} that differs")
        expected, got = expected[index], got[index]
        mismatch = None if mismatch is None else mismatch[index]
    head = "style='text-align:left;font-weight:normal;color:#555;padding:0 14px 0 0'"
    cell = "style='padding:0 14px 0 0;vertical-align:top;text-align:left'"
    caption = f"<div style='font-size:80%;color:#555'>{_esc(which.strip())}</div>" if which else ""
    return (f"<div>{caption}<table style='border-collapse:collapse;margin-top:3px'><tr><th {head}>expected</th>"
            f"<th {head}>got (differing entries marked)</th></tr>"
            f"<tr><td {cell}>{_grid_html(expected, None)}</td><td {cell}>{_grid_html(got, mismatch)}</td></tr>"
            "</table></div>")


def _text_pair_html(lines: list[str]) -> tuple[list[str], str]:
    """Detail lines; an "expected ..." / "got ..." pair of lines becomes two cells side by side."""
    exp = next((i for i, d in enumerate(lines) if d.startswith("expected [")), None)
    got = next((i for i, d in enumerate(lines) if d.startswith("got ")), None)
    if exp is None or got != exp + 1:
        return lines, ""
    left, right = lines[exp][len("expected "):].strip(), lines[got][len("got "):].strip()
    pair = ("<table style='border-collapse:collapse;margin-top:2px'><tr>"
            "<th style='text-align:left;padding:0 12px 0 0'>expected</th>"
            "<th style='text-align:left'>got</th></tr><tr>"
            f"<td style='padding:0 12px 0 0;{LEFT_TOP}'><pre style='margin:0'>{_esc(left)}</pre></td>"
            f"<td style='{LEFT_TOP}'><pre style='margin:0'>{_esc(right)}</pre></td></tr></table>")
    return lines[:exp] + lines[got + 1:], pair


# -- the picture ----------------------------------------------------------------------------------------

def figure_html(sub, values_shown: bool = False) -> str:
    """The heat map of where a failed array comparison differs, as an inline PNG; "" when there is none.

    Drawn from the mismatch map alone (positions, never values), so hidden checks get the same picture as
    visible ones. Only where it shows something the rest does not: never for a check that passed, never when
    every entry differs (the count says it all), and not when the marked grid of got (``values_shown``)
    already is the whole map (an array of at most two axes).
    """
    detail = getattr(sub, "detail", None)
    if sub.passed or not isinstance(detail, dict) or "mismatch" not in detail:
        return ""
    if values_shown and len(detail.get("shape", ())) <= 2:
        return ""
    from autograder.feedback_figure import mismatch_png

    drawn = mismatch_png(detail["mismatch"], detail.get("checked"))
    if drawn is None:
        return ""
    png, caption = drawn
    data = base64.b64encode(png).decode("ascii")
    return ("<figure style='display:inline-block;margin:4px 0 0 0'>"
            f"<img alt='where the result differs' src='data:image/png;base64,{data}' style='display:block'/>"
            f"<figcaption style='font-size:80%;color:#555;max-width:16em'>where it differs (red): "
            f"{_esc(caption)}</figcaption></figure>")


# -- one item -------------------------------------------------------------------------------------------

def _sub_html(sub, show_hidden_details: bool) -> str:
    status = _status(sub)
    bg, fg = COLOURS[status]
    label = ("(hidden) " if sub.hidden else "") + sub.what
    credit = f" ({sub.credit:.0%})" if 0 < sub.credit < 1 else ""
    body = "".join(f"<div style='{HINT_STYLE}'>hint: {_esc(d)}</div>" for d in sub.diagnosis)
    reveal = show_hidden_details or not sub.hidden
    detail = getattr(sub, "detail", None)
    values = _values_html(detail) if reveal and not sub.passed and isinstance(detail, dict) else ""
    if sub.details and reveal:
        lines = [d for d in sub.details if not (values and (d.startswith("expected [") or d.startswith("got ")))]
        lines, pair = _text_pair_html(lines)
        body += "".join(f"<div><code>{_esc(d)}</code></div>" for d in lines) + pair
    elif sub.details and not sub.passed:
        body += "<div><i>details of hidden checks are not shown</i></div>"
    extras = values + figure_html(sub, values_shown=bool(values))
    if extras:
        body += f"<div style='display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start'>{extras}</div>"
    return (f"<tr style='background:{bg}'><td style='color:{fg};font-weight:bold;padding:2px 8px;text-align:left;"
            f"vertical-align:top;white-space:nowrap'>{LABELS[status]}</td><td style='{TEXT_CELL}'>"
            f"{_esc(label)}{credit}{body}</td></tr>")


def item_html(result, show_hidden_details: bool = False, preamble=()) -> str:
    """One item's feedback as an HTML table (see the module docstring).

    ``preamble`` lines (what concerns the whole notebook: flags, cells that failed) go above the table.
    """
    score = f"{_num(result.score)} / {_num(result.points)} points"
    full = result.score >= result.points
    bg, fg = COLOURS["ok" if full else ("part" if result.score > 0 else "fail")]
    stub = result.untouched_stub()
    todo = "" if stub is None else f": implement `{stub}` first"     # one line, the same as the text report's
    rows = [f"<tr><th colspan='2' style='text-align:left;background:{bg};color:{fg};padding:4px 8px'>"
            f"{_esc(result.grade_id)} -- {_esc(result.title)}: {_esc(score)}{_esc(todo)}</th></tr>"]
    subs = [] if stub is not None else result.subchecks
    if result.flag:
        rows.append(f"<tr><td colspan='2' style='{TEXT_CELL};color:#b00020'><b>flag:</b> "
                    f"{_esc(result.flag)}</td></tr>")
    rows += [_sub_html(sub, show_hidden_details) for sub in subs]
    top = "".join(f"<div><code>{_esc(line)}</code></div>" for line in preamble)
    return (f"<div class='nnkit-feedback'>{top}"
            "<table style='border-collapse:collapse;border:1px solid #ccc;font-size:90%;margin:4px 0'>"
            + "".join(rows) + "</table></div>")


def safe_item_html(result, text: str, show_hidden_details: bool = False, preamble=()) -> str:
    """``item_html``, or the text report in a ``<pre>`` if rendering fails: a notebook cell must never show
    an error (nbgrader would read it as no credit)."""
    try:
        return item_html(result, show_hidden_details, preamble)
    except Exception:  # noqa: BLE001 - the text report says the same; it must reach the student
        return f"<pre>{_esc(text)}</pre>"


def _num(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.2f}"


class Feedback:
    """What ``check()`` displays in a Jupyter kernel: the text report as text/plain, the table as text/html.

    The HTML (and its figures) is made only when a front end asks for it.
    """

    def __init__(self, result, show_hidden_details: bool = False):
        self.result = result
        self.show_hidden_details = show_hidden_details
        self.text = result.render(show_hidden_details)

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.text)

    def _repr_html_(self) -> str:
        return safe_item_html(self.result, self.text, self.show_hidden_details)
