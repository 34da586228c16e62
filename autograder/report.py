"""Reports: terminal text, JSON per submission, a batch CSV, and Gradescope ``results.json``.

Gradescope format (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
one ``results.json`` per submission with ``score``, ``output`` and ``tests``;
each test has ``score``, ``max_score``, ``status`` ("passed"/"failed"), ``name``,
``output`` and ``visibility``. An item's visible checks become one test shown
at once (``"visible"``) and its hidden checks a second test shown only when the
instructor publishes grades (``"after_published"``); the two scores add up to
the item's score. All-or-nothing items cannot be split and are one
``"after_published"`` test. A written answer (an nbgrader manually graded cell)
is a test with ``max_score`` and no ``score``.

Every writer goes through ``autograder.outdir.write_text``: an OS error becomes a
one-line ``OutputError``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from autograder.grader import NOT_ISOLATED
from autograder.outdir import atomic_write_text, write_text  # noqa: F401 - atomic_write_text: used by gradescope.py
from autograder.results import ItemResult, SubmissionResult


def _num(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.2f}"


BY_HAND = "graded by hand"


def _manual_points(result: SubmissionResult) -> float:
    return sum(item.points for item in result.items if item.manual)


def render_text(result: SubmissionResult, show_hidden_details: bool = False) -> str:
    """The readable report for one submission."""
    who = f"{result.student}/{result.assignment}/{result.notebook}" if result.student else result.path
    by_hand = _manual_points(result)
    tail = f" ({_num(by_hand)} of them for written answers, {BY_HAND})" if by_hand else ""
    lines = [f"== {who}: {_num(result.score)} / {_num(result.max_score)} points{tail}"]
    if getattr(result, "isolation", "") == "process":
        lines.append(f"   WARNING: {NOT_ISOLATED}")
    if result.error:
        lines.append(f"   ERROR: {result.error}")
        return "\n".join(lines)
    for flag in result.flags:
        lines.append(f"   FLAG: {flag}")
    for note in result.notes:
        if note != NOT_ISOLATED:   # said once, as the WARNING above
            lines.append(f"   note: {note}")
    for cell in result.cells:
        if cell["status"] != "ok":
            lines.append(f"   {cell['name']}: {cell['status']}: {cell['message']}")
    for item in result.items:
        if item.manual:
            lines.append(f"{item.grade_id} -- {item.title}: written answer, {_num(item.points)} points, {BY_HAND} "
                         "(not scored by the autograder)")
        else:
            lines.append(item.render(show_hidden_details))
    return "\n".join(lines)


def write_json(path: Path, result: SubmissionResult) -> None:
    write_text(path, json.dumps(result.to_dict(), indent=1, allow_nan=False))


def read_json(path: Path) -> SubmissionResult:
    return SubmissionResult.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def csv_text(results: list[SubmissionResult]) -> str:
    """One row per submission, in the order given: who, what, total, per-item scores, error, flags, isolation.

    A written answer's column reads ``graded by hand (max 2)``: it is listed with its points, but the
    autograder never scores it (``score`` leaves it out, ``max_score`` counts it, as nbgrader does).
    """
    grade_ids: list[str] = []
    for r in results:
        for item in r.items:
            if item.grade_id not in grade_ids:
                grade_ids.append(item.grade_id)
    rows = []
    for r in results:
        scores = {i.grade_id: f"{BY_HAND} (max {_num(i.points)})" if i.manual else i.score for i in r.items}
        isolation = getattr(r, "isolation", "") or ""
        rows.append([r.student, r.assignment, r.notebook, r.path, r.score, r.max_score]
                    + [scores.get(g, "") for g in grade_ids]
                    + [r.error or "", " | ".join(r.flags),
                       "process (NOT isolated)" if isolation == "process" else isolation])
    header = ["student", "assignment", "notebook", "path", "score", "max_score"] + grade_ids + \
        ["error", "flags", "isolation"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([[_inert(cell) for cell in row] for row in rows])
    return buffer.getvalue()


def _inert(cell):
    """A text cell that a spreadsheet would run as a formula (a notebook named ``=HYPERLINK(...).ipynb``, and the
    error row that starts with that name) gets a leading ``'``, which spreadsheets show as text."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(("=", "+", "-", "@", "\t", "\r")) else cell


def write_csv(path: Path, results: list[SubmissionResult]) -> None:
    write_text(path, csv_text(results))


def _split(item: ItemResult):
    """``[(name suffix, subchecks, max_score, score, visibility)]``: visible and hidden parts of an item."""
    visible = [s for s in item.subchecks if not s.hidden]
    hidden = [s for s in item.subchecks if s.hidden]
    total = len(item.subchecks)
    credit = sum(s.credit for s in item.subchecks)
    proportional = total > 0 and abs(item.score - item.points * credit / total) < 1e-5
    if not hidden or not visible or item.flag or not proportional:
        return [("", item.subchecks, item.points, item.score, "after_published" if hidden else "visible")]
    part = item.points / total
    return [(" (visible checks)", visible, part * len(visible), part * sum(s.credit for s in visible), "visible"),
            (" (hidden checks)", hidden, part * len(hidden), part * sum(s.credit for s in hidden),
             "after_published")]


def gradescope(result: SubmissionResult) -> dict:
    """The Gradescope ``results.json`` document for one submission.

    A written answer is a test with its ``max_score`` and no ``score`` (the specification makes a
    test's score optional when the top-level score is given): Gradescope shows it with its points,
    and the top-level score, the autograder's, leaves it out, so the hand-graded points can be
    added in Gradescope or taken from formgrader without counting anything twice. Student text (exception
    messages, printed output, file names) is ``shown`` as one inert line, as in the terminal report: Gradescope
    shows ``output`` as text, ANSI or markdown, where it could otherwise erase lines or forge a score line.
    """
    result = result.displayable()
    tests = []
    for item in result.items:
        if item.manual:
            tests.append({"name": f"{item.grade_id}: {item.title} (written answer)",
                          "max_score": round(item.points, 6), "tags": [BY_HAND],
                          "output": f"Written answer, {_num(item.points)} points: {BY_HAND}, not by the "
                                    "autograder. The score above does not include it.",
                          "visibility": "visible"})
            continue
        for suffix, subs, max_score, score, visibility in _split(item):
            sub_item = ItemResult(item.grade_id, item.title, max_score, score, subs, item.hidden_included, item.flag)
            tests.append({"name": f"{item.grade_id}: {item.title}{suffix}", "score": round(score, 6),
                          "max_score": round(max_score, 6),
                          "status": "passed" if score >= max_score - 1e-9 else "failed",
                          "output": sub_item.render(), "visibility": visibility})
    output = result.error or "\n".join(result.flags) or "Graded by nnkit's sandboxed autograder."
    if getattr(result, "isolation", "") == "process":
        output = f"WARNING: {NOT_ISOLATED}.\n{output}"
    return {"score": round(result.score, 6), "output": output, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def write_gradescope(path: Path, result: SubmissionResult) -> None:
    write_text(path, json.dumps(gradescope(result), indent=1, allow_nan=False))


def write_batch(out: Path, results: dict[str, SubmissionResult]) -> None:
    """A batch's shared outputs from ``{result key: result}``: ``grades.csv`` (rows in key order) and the
    Gradescope files, ``gradescope/<key>/results.json`` and, for exactly one submission, ``results.json``.

    ``nnkit grade`` and ``nnkit merge`` both write through here, so a merge of shards gives the same
    files as one run over everything.
    """
    keys = sorted(results)
    write_csv(Path(out) / "grades.csv", [results[k] for k in keys])
    for key in keys:
        write_gradescope(Path(out) / "gradescope" / key / "results.json", results[key])
    if len(keys) == 1:
        write_gradescope(Path(out) / "results.json", results[keys[0]])
