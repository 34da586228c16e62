"""Reports: terminal text, JSON per submission, a batch CSV, and Gradescope ``results.json``.

Gradescope format (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
one ``results.json`` per submission with ``score``, ``output`` and ``tests``;
each test has ``score``, ``max_score``, ``status`` ("passed"/"failed"), ``name``,
``output`` and ``visibility``. An item's visible checks become one test shown
at once (``"visible"``) and its hidden checks a second test shown only when the
instructor publishes grades (``"after_published"``); the two scores add up to
the item's score. All-or-nothing items cannot be split and are one
``"after_published"`` test.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

from autograder.grader import SubmissionResult
from autograder.runner import ItemResult


def _num(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.2f}"


def render_text(result: SubmissionResult, show_hidden_details: bool = False) -> str:
    """The readable report for one submission."""
    who = f"{result.student}/{result.assignment}/{result.notebook}" if result.student else result.path
    lines = [f"== {who}: {_num(result.score)} / {_num(result.max_score)} points"]
    if result.error:
        lines.append(f"   ERROR: {result.error}")
        return "\n".join(lines)
    for flag in result.flags:
        lines.append(f"   FLAG: {flag}")
    for note in result.notes:
        lines.append(f"   note: {note}")
    for cell in result.cells:
        if cell["status"] != "ok":
            lines.append(f"   {cell['name']}: {cell['status']}: {cell['message']}")
    for item in result.items:
        lines.append(item.render(show_hidden_details))
    return "\n".join(lines)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, result: SubmissionResult) -> None:
    atomic_write_text(path, json.dumps(result.to_dict(), indent=1, allow_nan=False))


def read_json(path: Path) -> SubmissionResult:
    return SubmissionResult.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def write_csv(path: Path, results: list[SubmissionResult]) -> None:
    """One row per submission: who, what, total, per-item scores, error and flags."""
    grade_ids: list[str] = []
    for r in results:
        for item in r.items:
            if item.grade_id not in grade_ids:
                grade_ids.append(item.grade_id)
    rows = []
    for r in results:
        scores = {i.grade_id: i.score for i in r.items}
        rows.append([r.student, r.assignment, r.notebook, r.path, r.score, r.max_score]
                    + [scores.get(g, "") for g in grade_ids] + [r.error or "", " | ".join(r.flags)])
    header = ["student", "assignment", "notebook", "path", "score", "max_score"] + grade_ids + ["error", "flags"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)


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
    """The Gradescope ``results.json`` document for one submission."""
    tests = []
    for item in result.items:
        for suffix, subs, max_score, score, visibility in _split(item):
            sub_item = ItemResult(item.grade_id, item.title, max_score, score, subs, item.hidden_included, item.flag)
            tests.append({"name": f"{item.grade_id}: {item.title}{suffix}", "score": round(score, 6),
                          "max_score": round(max_score, 6),
                          "status": "passed" if score >= max_score - 1e-9 else "failed",
                          "output": sub_item.render(), "visibility": visibility})
    output = result.error or "\n".join(result.flags) or "Graded by nnkit's sandboxed autograder."
    return {"score": round(result.score, 6), "output": output, "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def write_gradescope(path: Path, result: SubmissionResult) -> None:
    atomic_write_text(path, json.dumps(gradescope(result), indent=1, allow_nan=False))
