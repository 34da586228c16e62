"""Feedback as HTML, for a live Jupyter kernel and nbgrader's feedback pages.

``item_html(result)`` renders one ``ItemResult`` as a compact table: a headline with the score, then one row
per sub-check coloured by outcome (pass, partial, fail), its details in a monospace block (the expected and
got arrays of a small mismatch sit side by side) and its hints in bold. Details of hidden sub-checks are never
shown, exactly as in the plain-text report. Everything from the student's side is escaped; the HTML uses inline
styles only, so it renders the same in JupyterLab, classic Notebook and a static feedback file.
"""

from __future__ import annotations

import html

COLOURS = {"ok": ("#e6f4ea", "#1e7e34"), "part": ("#fff4e5", "#b35c00"), "fail": ("#fdecea", "#b00020")}


def _status(sub) -> str:
    return "ok" if sub.passed else ("part" if sub.credit > 0 else "fail")


def _details_html(details: list[str]) -> str:
    """Detail lines; an "expected ..." / "got ..." pair becomes two cells side by side."""
    lines = list(details)
    pair = ""
    exp = next((i for i, d in enumerate(lines) if d.startswith("expected [")), None)
    got = next((i for i, d in enumerate(lines) if d.startswith("got ")), None)
    if exp is not None and got is not None and got == exp + 1:
        left, right = lines[exp][len("expected "):].strip(), lines[got][len("got "):].strip()
        pair = ("<table style='border-collapse:collapse;margin-top:2px'><tr>"
                "<th style='text-align:left;padding:0 12px 0 0'>expected</th>"
                "<th style='text-align:left'>got</th></tr><tr>"
                f"<td style='padding:0 12px 0 0;vertical-align:top'><pre style='margin:0'>{html.escape(left)}</pre></td>"
                f"<td style='vertical-align:top'><pre style='margin:0'>{html.escape(right)}</pre></td></tr></table>")
        del lines[exp:got + 1]
    text = "".join(f"<div><code>{html.escape(d)}</code></div>" for d in lines)
    return text + pair


def item_html(result, show_hidden_details: bool = False) -> str:
    """One item's feedback as an HTML table (see the module docstring)."""
    score = f"{result.score:g} / {result.points:g} points"
    full = result.score >= result.points
    bg, fg = COLOURS["ok" if full else ("part" if result.score > 0 else "fail")]
    rows = [f"<tr><th colspan='2' style='text-align:left;background:{bg};color:{fg};padding:4px 8px'>"
            f"{html.escape(result.grade_id)} &mdash; {html.escape(result.title)}: {html.escape(score)}</th></tr>"]
    stub = result.untouched_stub()
    if stub is not None:
        rows.append(f"<tr><td colspan='2' style='padding:4px 8px'>implement <code>{html.escape(stub)}</code> "
                    "first</td></tr>")
        subs = []
    else:
        subs = result.subchecks
    if result.flag:
        rows.append(f"<tr><td colspan='2' style='padding:4px 8px;color:#b00020'><b>flag:</b> "
                    f"{html.escape(result.flag)}</td></tr>")
    for sub in subs:
        status = _status(sub)
        bg, fg = COLOURS[status]
        label = ("(hidden) " if sub.hidden else "") + sub.what
        body = ""
        if sub.details and (show_hidden_details or not sub.hidden):
            body += _details_html(sub.details)
        elif sub.details and not sub.passed:
            body += "<div><i>details of hidden checks are not shown</i></div>"
        body += "".join(f"<div><b>hint:</b> {html.escape(d)}</div>" for d in sub.diagnosis)
        credit = f" ({sub.credit:.0%})" if 0 < sub.credit < 1 else ""
        rows.append(f"<tr style='background:{bg}'><td style='color:{fg};font-weight:bold;padding:2px 8px;"
                    f"vertical-align:top;white-space:nowrap'>{status}</td><td style='padding:2px 8px'>"
                    f"{html.escape(label)}{credit}{body}</td></tr>")
    return ("<table style='border-collapse:collapse;border:1px solid #ccc;font-size:90%;margin:4px 0'>"
            + "".join(rows) + "</table>")
