"""Harness for the mistake catalogue (``catalogue_data.py``): grade one edited solution notebook in-process.

A catalogue entry is one plausible student: the unit's instructor notebook with one solution cell edited
(``tests/notebooks/_kit.py``'s edit format: ``[(old, new), ...]`` replacements or a whole new source). It is
graded like ``autograder.check`` does in a kernel -- ``run_item`` through a ``LocalHandle`` on the namespace,
visible and hidden checks -- because isolation does not matter here and the sandbox would cost seconds per
entry. The namespace is built from the nbgrader code cells that are neither test cells nor solution cells (setup,
locked helpers such as unit 3's ``Layer`` and ``probe``) and from the solution cells that some catalogue entry of
the unit edits; the others (training the digits nets, hyperparameter searches) are skipped: they take seconds
and their items grade training outcomes, not code.

``named`` asks whether the feedback a student sees (hidden checks' details withheld) matches the entry's
regular expression.
"""

from __future__ import annotations

import functools
import re
import sys
import warnings
from dataclasses import dataclass

from autograder.handle import LocalHandle
from autograder.items import load_registry
from autograder.runner import run_item
from autograder.tester import DEFAULT_SECRET
from tests.notebooks import _kit



@dataclass(frozen=True)
class Entry:
    """One plausible student: ``grade_id``'s item, solution cell ``cell`` after ``edit``.

    ``hint`` is the regular expression the feedback must match (None: the mistake is caught but not named
    yet); for a correct variant it is unused.
    """

    grade_id: str
    cell: str
    edit: object
    hint: str | None = None
    label: str = ""

    @property
    def unit(self) -> str:
        return "unit" + self.grade_id[1]


@functools.lru_cache(maxsize=None)
def registry(unit: str):
    return load_registry([unit])


@functools.lru_cache(maxsize=None)
def _cells(unit: str) -> tuple:
    """(grade_id, source, is_solution) of the nbgrader code cells the catalogue needs (see above), in order."""
    from tests.autograder.catalogue_data import MISTAKES, VARIANTS

    wanted = {e.cell for e in MISTAKES + VARIANTS if e.unit == unit}
    nb = _kit.read_notebook(_kit.solution_notebook_path(unit))
    out = []
    for cell in nb.cells:
        meta = _kit.nbgrader_meta(cell)
        if cell.cell_type != "code" or not meta or (meta.get("grade") and not meta.get("solution")):
            continue
        if meta.get("solution") and meta.get("grade_id") not in wanted:
            continue
        out.append((meta.get("grade_id"), cell.source, bool(meta.get("solution"))))
    return tuple(out)


def namespace(entry: Entry) -> dict:
    cells = _cells(entry.unit)
    if entry.cell not in {gid for gid, _, sol in cells if sol}:
        raise ValueError(f"catalogue: {entry.cell!r} is not a solution cell of {entry.unit}")
    ns: dict = {"__name__": "__main__"}
    for gid, source, solution in cells:
        if solution:
            source = _kit.apply_edit(source, entry.edit if gid == entry.cell else _kit.SOLVED, gid)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(source, f"<{entry.unit}:{gid}>", "exec"), ns)
        except Exception:  # noqa: BLE001 - a cell that raises is skipped, as in a notebook run with errors
            pass
    return ns


def grade(entry: Entry):
    """The ItemResult of ``entry``'s item, visible and hidden checks, with the public default secret.

    Process-wide state a student may change (the recursion limit: a correct variant raises it) is restored.
    """
    item = registry(entry.unit).get(entry.grade_id)
    limit = sys.getrecursionlimit()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return run_item(item, LocalHandle(namespace(entry)), include_hidden=True, secret=DEFAULT_SECRET)
    finally:
        sys.setrecursionlimit(limit)


def student_feedback(result) -> str:
    return result.render(show_hidden_details=False)


def named(entry: Entry, result) -> bool:
    return entry.hint is not None and re.search(entry.hint, student_feedback(result)) is not None
