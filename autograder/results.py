"""What grading produces: ``SubCheck`` inside ``ItemResult`` inside ``SubmissionResult``.

Each type has ``to_dict(show_hidden_details=...)`` and ``from_dict``, and a result survives
``from_dict(json.loads(json.dumps(r.to_dict(True))))`` unchanged. The one rule about hidden checks
lives in ``SubCheck.to_dict``: unless ``show_hidden_details`` is true, a hidden sub-check keeps its
description, credit and diagnosis (which never reveal inputs) but loses its ``details`` lines and the
``expected``/``got`` arrays of its ``detail``. This is what a student (and the JSON on disk) sees.

``SubCheck.detail`` is structured data for pictures and HTML (``autograder.feedback_html``), filled by
the tester when an array comparison fails (``array_detail``)::

    {"shape": [2, 3],
     "mismatch": [[false, true, false], ...],   # |got - expected| beyond the tolerance; size <= 4096 only
     "checked": [[true, false, true], ...],     # a sampled gradient check only: the coordinates it tried
     "expected": [[...]], "got": [[...]]}       # visible checks of size <= 400 only

Numbers in ``expected``/``got`` are JSON numbers, except NaN and infinities, which are the strings
``"nan"``, ``"inf"`` and ``"-inf"`` (strict JSON has no such numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

MAX_MISMATCH_SIZE = 4096   # larger arrays get no mismatch map (only their shape)
MAX_VALUES_SIZE = 400      # larger arrays, and every hidden check, get no expected/got values

# What a terminal or a notebook acts on instead of showing: C0 and C1 controls (ANSI cursor moves, \r, \n) and
# the bidirectional overrides that reorder text on screen. Student code writes exception messages, printed text
# and file names; shown raw, one could erase the lines above it and print "fx_relu -- relu(z): 2 / 2 points".
_NOT_SHOWN = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c != 0x09}
_NOT_SHOWN |= {0x0A: "\\n", 0x0D: "\\r"}
_NOT_SHOWN |= {c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
# ... and lone surrogates (``ValueError(chr(0xD800))``), which no UTF-8 file, terminal or notebook can hold
_NOT_SHOWN |= {c: f"\\u{c:04x}" for c in range(0xD800, 0xE000)}


def shown(text: str) -> str:
    """``text`` as one line that can only be read, never acted on: controls, newlines, bidi overrides and lone
    surrogates escaped."""
    return text.translate(_NOT_SHOWN)


# -- SubCheck --------------------------------------------------------------------------------------
@dataclass
class SubCheck:
    """One recorded comparison. ``details`` may reveal inputs; ``diagnosis`` never does."""

    what: str
    credit: float
    hidden: bool = False
    details: list[str] = field(default_factory=list)
    diagnosis: list[str] = field(default_factory=list)
    not_implemented: str | None = None   # the stub that raised NotImplementedError, if that is why it failed
    detail: dict | None = None           # structured data for figures (see the module docstring)

    @property
    def passed(self) -> bool:
        return self.credit >= 1.0

    def to_dict(self, show_hidden_details: bool = False) -> dict:
        """Plain JSON data; a hidden sub-check's details and values are left out unless asked for."""
        reveal = show_hidden_details or not self.hidden
        detail = None
        if self.detail is not None:       # a hidden check keeps only its shape: which entries differ is the
            detail = {k: v for k, v in self.detail.items() if reveal or k == "shape"}   # student's to choose
        return {"what": self.what, "passed": self.passed, "credit": self.credit, "hidden": self.hidden,
                "details": list(self.details) if reveal else [], "diagnosis": list(self.diagnosis),
                "not_implemented": self.not_implemented, "detail": detail}

    @classmethod
    def from_dict(cls, d: dict) -> "SubCheck":
        """The sub-check written by ``to_dict`` (``passed`` is derived from ``credit``)."""
        return cls(d["what"], d["credit"], d["hidden"], list(d["details"]), list(d["diagnosis"]),
                   d.get("not_implemented"), d.get("detail"))


def _plain(value):
    """A Python scalar for JSON: NaN and infinities become "nan", "inf", "-inf"."""
    if isinstance(value, float) and not np.isfinite(value):
        return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _nested(arr: np.ndarray):
    """``arr.tolist()`` with non-finite floats made JSON-safe."""
    listed = arr.tolist()
    if arr.dtype.kind != "f":
        return listed

    def walk(v):
        return [walk(x) for x in v] if isinstance(v, list) else _plain(v)
    return walk(listed)


def array_detail(got: np.ndarray, expected: np.ndarray, mismatch: np.ndarray, *, hidden: bool) -> dict:
    """``SubCheck.detail`` for a failed comparison of two real arrays of one shape.

    ``mismatch`` is the boolean map of the entries beyond the tolerance. The values themselves are
    kept only for visible checks of at most ``MAX_VALUES_SIZE`` entries, so that neither a hidden
    input nor a hidden output can be read off it.
    """
    expected = np.asarray(expected)
    detail: dict = {"shape": list(expected.shape)}
    if expected.size <= MAX_MISMATCH_SIZE:
        detail["mismatch"] = np.asarray(mismatch, dtype=bool).tolist()
    real = expected.dtype.kind in "biuf" and np.asarray(got).dtype.kind in "biuf"
    if not hidden and real and expected.size <= MAX_VALUES_SIZE:
        detail["expected"] = _nested(expected)
        detail["got"] = _nested(np.asarray(got))
    return detail


# -- ItemResult ------------------------------------------------------------------------------------
@dataclass
class ItemResult:
    """The outcome of one item: score out of points, and every sub-check."""

    grade_id: str
    title: str
    points: float
    score: float
    subchecks: list[SubCheck] = field(default_factory=list)
    hidden_included: bool = False
    flag: str | None = None  # why the item was zeroed outright (forbidden import, ...)
    manual: bool = False     # a written answer: graded by a person (formgrader), never by the autograder

    def to_dict(self, show_hidden_details: bool = False) -> dict:
        return {"grade_id": self.grade_id, "title": self.title, "points": self.points, "score": self.score,
                "hidden_included": self.hidden_included, "flag": self.flag, "manual": self.manual,
                "subchecks": [s.to_dict(show_hidden_details) for s in self.subchecks]}

    @classmethod
    def from_dict(cls, d: dict) -> "ItemResult":
        return cls(d["grade_id"], d["title"], d["points"], d["score"],
                   [SubCheck.from_dict(s) for s in d["subchecks"]], d["hidden_included"], d["flag"],
                   d.get("manual", False))

    def untouched_stub(self) -> str | None:
        """The name to implement when every sub-check failed with its ``NotImplementedError``, else None."""
        names = {s.not_implemented for s in self.subchecks}
        if self.flag or not self.subchecks or len(names) != 1 or None in names:
            return None
        return names.pop()

    def _repr_html_(self) -> str:
        """The report as an HTML table in Jupyter (``autograder.feedback_html``); text stays ``render()``."""
        from autograder.feedback_html import item_html
        return item_html(self)

    def render(self, show_hidden_details: bool = False) -> str:
        """Readable feedback: a headline, then one line per sub-check with its details and hints.

        An untouched stub (every sub-check raised ``NotImplementedError`` in the same
        function) gets one line: the headline and "implement `name` first".
        """
        headline = f"{self.grade_id} -- {self.title}: {_num(self.score)} / {_num(self.points)} points"
        stub = self.untouched_stub()
        if stub is not None:
            return f"{headline}: implement `{stub}` first"
        lines = [headline]
        if self.flag:
            lines.append(f"  [FLAG] {self.flag}")
        for sub in self.subchecks:
            tag = "ok  " if sub.passed else ("part" if sub.credit > 0 else "FAIL")
            label = f"(hidden) {sub.what}" if sub.hidden else sub.what
            credit = f" ({sub.credit:.0%})" if 0 < sub.credit < 1 else ""
            lines.append(f"  [{tag}] {label}{credit}")
            if sub.details and (show_hidden_details or not sub.hidden):
                lines.extend(f"         {d}" for d in sub.details)
            elif sub.details and not sub.passed:
                lines.append("         (details of hidden checks are not shown)")
            lines.extend(f"         hint: {d}" for d in sub.diagnosis)
        return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.2f}"


def _check_fields(kind: str, d, numbers=(), lists=()) -> None:
    if not isinstance(d, dict):
        raise ValueError(f"{kind}.from_dict: expected an object, got {type(d).__name__}")
    for name in numbers:
        if isinstance(d.get(name), bool) or not isinstance(d.get(name), (int, float)) or not math.isfinite(d[name]):
            raise ValueError(f"{kind}.from_dict: {name} must be a finite number, got {d.get(name)!r}")
    for name in lists:
        if not isinstance(d.get(name), list):
            raise ValueError(f"{kind}.from_dict: {name} must be a list, got {type(d.get(name)).__name__}")


# -- SubmissionResult ------------------------------------------------------------------------------
@dataclass
class SubmissionResult:
    """Everything known about one graded submission; ``to_dict``/``from_dict`` round-trip through JSON."""

    path: str
    assignment: str = ""
    notebook: str = ""
    student: str = ""
    score: float = 0.0
    max_score: float = 0.0
    items: list[ItemResult] = field(default_factory=list)
    error: str | None = None
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cells: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    isolation: str = ""
    sha256: str = ""           # of the submitted file's bytes when it was graded: a rerun regrades a changed file
    kit: str = ""              # the nnkit version that graded it: a rerun with another version regrades it

    def to_dict(self, show_hidden_details: bool = False) -> dict:
        return {"path": self.path, "assignment": self.assignment, "notebook": self.notebook,
                "student": self.student, "score": self.score, "max_score": self.max_score, "error": self.error,
                "flags": self.flags, "notes": self.notes, "cells": self.cells, "seconds": round(self.seconds, 3),
                "isolation": self.isolation, "sha256": self.sha256, "kit": self.kit,
                "items": [i.to_dict(show_hidden_details) for i in self.items]}

    def displayable(self) -> "SubmissionResult":
        """A copy in which every text that student code or file names can reach is ``shown`` as one line: for
        the terminal report and the notebook outputs nbgrader writes (the JSON keeps the text as it was)."""
        items = [replace(item, title=shown(item.title), flag=item.flag and shown(item.flag),
                         subchecks=[replace(sub, what=shown(sub.what), details=[shown(d) for d in sub.details],
                                            diagnosis=[shown(d) for d in sub.diagnosis]) for sub in item.subchecks])
                 for item in self.items]
        return replace(self, path=shown(self.path), notebook=shown(self.notebook), student=shown(self.student),
                       assignment=shown(self.assignment), error=self.error and shown(self.error),
                       flags=[shown(f) for f in self.flags], notes=[shown(n) for n in self.notes],
                       cells=[{**cell, "name": shown(cell["name"]), "message": shown(cell["message"])}
                              for cell in self.cells], items=items)

    @classmethod
    def from_dict(cls, d: dict) -> "SubmissionResult":
        """The result written by ``to_dict``; ``ValueError`` when a field that decides a grade has the wrong type
        (a damaged or hand-edited file must be graded again, never shown as a result)."""
        _check_fields("SubmissionResult", d, numbers=("score", "max_score"), lists=("items", "cells"))
        if not all(isinstance(c, dict) and all(isinstance(c.get(k), str) for k in ("name", "status", "message"))
                   for c in d["cells"]):
            raise ValueError("SubmissionResult.from_dict: every cell must have a name, a status and a message")
        for item in d["items"]:
            _check_fields("ItemResult", item, numbers=("points", "score"), lists=("subchecks",))
        return cls(d["path"], d["assignment"], d["notebook"], d["student"], d["score"], d["max_score"],
                   [ItemResult.from_dict(i) for i in d["items"]], d["error"], d["flags"], d.get("notes", []),
                   d["cells"], d["seconds"], d.get("isolation", ""), d.get("sha256", ""),
                   d.get("kit", ""))
