"""``nbgrader autograde`` through the trusted grader: the step that replaces nbgrader's ``Execute``.

nbgrader's own autograde runs the submission in a Jupyter kernel, test cells included. That kernel holds
whatever the grading process holds (``NNKIT_GRADER_SECRET``, the hidden checks), and student code can print it,
import the reference, or patch numpy before the test cells run. The kit's ``nbgrader_config.py`` therefore puts
``GradeInSandbox`` where ``Execute`` was in ``c.Autograde.autograde_preprocessors``:

1. ``write``     the sanitized submission (nbgrader has cleared its outputs and restored the locked cells) goes
                 to a private temporary folder as ``<assignment>/<notebook>.ipynb``
2. ``grade``     ``grade_submission`` runs it in the sandbox against the course's trusted notebook in
                 ``source/<assignment>/``; the sandboxed worker gets a cleared environment, never the secret
3. ``outputs``   each autograded test cell gets the item's report as rich output (text/plain: the text report;
                 text/html: the table of ``autograder.feedback_html``, which ``generate_feedback`` shows) and
                 the item's points as its value; nbgrader's ``SaveAutoGrades`` reads that value as partial credit

Before that, ``TrustSourceCells`` runs first among nbgrader's sanitizing steps
(``c.Autograde.sanitize_preprocessors``): the submission's nbgrader metadata is never trusted. Each cell's is
replaced by the trusted notebook's for the same grade id, a grade id the trusted notebook does not hold (or
holds already, higher up) makes an ordinary student cell, and a test or locked cell the submission lost is put
back. Without it, nbgrader's own steps stopped on a renamed, repeated or invented grade id, or a solution cell
marked as a test, and the student got no autograde at all where ``nnkit grade`` gave the honest score.

Manually graded cells, and every other cell, pass through untouched (with no outputs: student code never runs
in nbgrader's process). The report is the whole item, visible and hidden checks together, with the hidden
checks' inputs left out, so the feedback shows one score per item: the score in the gradebook.
"""

from __future__ import annotations

import copy
import hashlib
import tempfile
from dataclasses import replace
from pathlib import Path

import nbformat
from nbformat.v4 import new_output
from traitlets import Enum, Float

from nbgrader.preprocessors import NbGraderPreprocessor


def _trusted_path(config, info: dict) -> Path:
    """``source/<assignment>/<notebook>.ipynb`` of the course nbgrader runs in: the instructor's notebook."""
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    folder = Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"]))
    return folder / f"{info['notebook']}.ipynb"


def _grade_id(cell) -> str | None:
    """The cell's nbgrader grade id, or None (a submission's metadata can be any JSON: a list, a number)."""
    meta = cell.get("metadata", {}).get("nbgrader")
    grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
    return grade_id if isinstance(grade_id, str) else None


class TrustSourceCells(NbGraderPreprocessor):
    """The first sanitizing step: the submission's nbgrader metadata replaced by the trusted notebook's."""

    def preprocess(self, nb, resources):
        trusted = nbformat.read(str(_trusted_path(self.config, resources["nbgrader"])), as_version=4)
        restore_trusted_cells(nb, trusted, self.log)
        return nb, resources


def restore_trusted_cells(nb, trusted, log=None) -> None:
    """Give ``nb``'s cells the nbgrader metadata of ``trusted``'s cells with the same grade id, in place.

    The first cell holding a grade id the trusted notebook has gets that cell's metadata (points, grade,
    solution, locked), whatever the submission says. A cell whose grade id the trusted notebook lacks, or that
    repeats one seen above it, loses its nbgrader metadata and is an ordinary student cell. A test or locked
    cell of the trusted notebook that no cell holds any more is put back after the cell that precedes it there.
    nbgrader's ``OverwriteCells`` then restores the locked sources and cell types, as it does for any notebook.
    """
    by_id = {_grade_id(cell): cell for cell in trusted.cells if _grade_id(cell) is not None}
    placed: dict[str, object] = {}
    for cell in nb.cells:
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        grade_id = _grade_id(cell)
        if grade_id in by_id and grade_id not in placed:
            cell.metadata["nbgrader"] = copy.deepcopy(by_id[grade_id].metadata["nbgrader"])
            placed[grade_id] = cell
            continue
        if log is not None:
            log.warning("cell %r: grade id %r is %s; it is graded as an ordinary cell", cell.get("id"), grade_id,
                        "repeated" if grade_id in placed else "not in the trusted notebook")
        del cell.metadata["nbgrader"]
    _put_back_lost_cells(nb, trusted, placed, log)


def _put_back_lost_cells(nb, trusted, placed: dict, log=None) -> None:
    """The trusted notebook's test and locked cells that ``nb`` lost, each after its predecessor's place."""
    after = None                       # the cell of ``nb`` that the next lost cell goes after (None: the top)
    for cell in trusted.cells:
        grade_id = _grade_id(cell)
        if grade_id is None:
            continue
        meta = cell.metadata["nbgrader"]
        if grade_id in placed:
            after = placed[grade_id]
            continue
        if meta.get("solution") or not (meta.get("grade") or meta.get("locked")):
            continue                   # a lost answer stays lost: it was the student's to write
        lost = copy.deepcopy(cell)
        if lost.cell_type == "code":
            lost.outputs, lost.execution_count = [], None
        if "id" in lost or any("id" in c for c in nb.cells):
            lost["id"] = "nnkit-restored-" + hashlib.sha256(grade_id.encode()).hexdigest()[:16]
        index = 0 if after is None else next(i for i, c in enumerate(nb.cells) if c is after) + 1
        nb.cells.insert(index, lost)
        placed[grade_id] = after = lost
        if log is not None:
            log.warning("cell %r of the trusted notebook was missing from the submission; it is put back", grade_id)


class GradeInSandbox(NbGraderPreprocessor):
    """Grade the notebook with ``autograder.grader.grade_submission`` and write the test cells' outputs."""

    cell_timeout = Float(None, allow_none=True,
                         help="Seconds per notebook cell in the sandbox (default: the grader's).").tag(config=True)
    call_timeout = Float(None, allow_none=True,
                         help="Seconds per call into student code (default: the grader's).").tag(config=True)
    isolation = Enum(("auto", "namespace", "user", "process"), "auto",
                     help="How the worker is isolated (see autograder.isolation); 'process' is no isolation, and "
                          "every test cell then says so.").tag(config=True)

    def preprocess(self, nb, resources):
        from nbgrader.coursedir import CourseDirectory

        info = resources["nbgrader"]
        trusted = _trusted_path(self.config, info)
        result = self._grade(nb, trusted, info, denied=(CourseDirectory(config=self.config).root,))
        write_outputs(nb, result, self.log)
        return nb, resources

    def _grade(self, nb, trusted: Path, info: dict, denied):
        from autograder.grader import grade_submission
        from autograder.isolation import IsolationUnavailable
        from autograder.sandbox import Limits

        limits = Limits(isolation=self.isolation)
        for name in ("cell_timeout", "call_timeout"):
            if getattr(self, name) is not None:
                setattr(limits, name, getattr(self, name))
        with tempfile.TemporaryDirectory(prefix="nnkit-autograde-") as tmp:
            path = Path(tmp) / info["assignment"] / f"{info['notebook']}.ipynb"   # 1. write
            path.parent.mkdir()
            nbformat.write(nb, str(path))
            self.log.info("Grading %s/%s/%s in the nnkit sandbox against %s", info["student"],
                          info["assignment"], info["notebook"], trusted)
            try:
                return grade_submission(path, source=trusted, limits=limits, student=info["student"],  # 2. grade
                                        denied=denied)
            except IsolationUnavailable as exc:
                raise IsolationUnavailable(f"{exc} (in nbgrader, set c.GradeInSandbox.isolation in the course's "
                                           "nbgrader_config.py)") from exc


def autograded_test_cells(nb) -> list:
    """The cells nbgrader scores from their outputs: code cells marked ``grade`` and not ``solution``."""
    return [cell for cell in nb.cells if cell.cell_type == "code"
            and cell.metadata.get("nbgrader", {}).get("grade")
            and not cell.metadata.get("nbgrader", {}).get("solution")]


def _without_hidden_maps(item):
    """``item`` with its hidden sub-checks' ``detail`` cut to the shape, as ``SubCheck.to_dict`` writes it: the
    student's code chooses where a hidden check differs, so that map could carry a hidden input out."""
    subs = [replace(s, detail={"shape": s.detail.get("shape")}) if s.hidden and isinstance(s.detail, dict) else s
            for s in item.subchecks]
    return replace(item, subchecks=subs)


def notebook_lines(result) -> list[str]:
    """What concerns the whole notebook (flags, refusals, cells that failed), as report lines."""
    lines = [f"FLAG: {flag}" for flag in result.flags] + [f"note: {note}" for note in result.notes]
    lines += [f"{cell['name']}: {cell['status']}: {cell['message']}" for cell in result.cells
              if cell["status"] != "ok"]
    return lines


def write_outputs(nb, result, log=None) -> None:
    """3. outputs: each autograded test cell's report (text and HTML) and points (its value), from ``result``.

    The notebook-wide lines go to the first test cell, once. A grading error (a notebook that is not this
    assignment, ...) gives every test cell the error and 0 points. Hidden checks show no inputs or values.
    """
    from html import escape

    from autograder.feedback_html import safe_item_html

    result = result.displayable()   # student text as one inert line: no ANSI moves or forged lines in the outputs
    by_id = {item.grade_id: item for item in result.items}
    preamble = notebook_lines(result)
    if preamble:
        preamble = ["nnkit grader, this notebook:"] + [f"   {line}" for line in preamble] + [""]
    for count, cell in enumerate(autograded_test_cells(nb), start=1):
        meta = cell.metadata["nbgrader"]
        grade_id, points = meta.get("grade_id", ""), float(meta.get("points", 0))
        item = by_id.get(grade_id)
        top = preamble if count == 1 else []
        if result.error:
            text, score = f"{grade_id}: 0 / {points:g} points: nnkit could not grade this notebook: {result.error}", 0.0
        elif item is None:
            text, score = f"{grade_id}: 0 / {points:g} points: the grader has no result for this cell", 0.0
        else:
            text, score = item.render(show_hidden_details=False), float(item.score)
            if abs(item.points - points) > 1e-9 and log is not None:
                log.warning("%s: the grader's item is worth %g points, the notebook's cell %g", grade_id,
                            item.points, points)
            score = min(score, points)   # nbgrader refuses a value above the cell's points
        whole = "\n".join(top + [text])
        page = (safe_item_html(_without_hidden_maps(item), whole, False, top)
                if item is not None and not result.error else f"<pre>{escape(whole)}</pre>")
        cell.outputs = [new_output("display_data", {"text/plain": whole, "text/html": page}),
                        new_output("execute_result", {"text/plain": repr(score)}, execution_count=count)]
        cell.execution_count = count
