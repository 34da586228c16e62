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

Manually graded cells, and every other cell, pass through untouched (with no outputs: student code never runs
in nbgrader's process). The report is the whole item, visible and hidden checks together, with the hidden
checks' inputs left out, so the feedback shows one score per item: the score in the gradebook.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import nbformat
from nbformat.v4 import new_output
from traitlets import Enum, Float

from nbgrader.preprocessors import NbGraderPreprocessor


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
        coursedir = CourseDirectory(config=self.config)
        trusted = Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"])) \
            / f"{info['notebook']}.ipynb"
        result = self._grade(nb, trusted, info, denied=(coursedir.root,))
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


def _encodable(text: str) -> str:
    """``text`` with any lone surrogate (student code can raise ``ValueError(chr(0xD800))``) spelled ``\\ud800``:
    nbformat writes UTF-8, and one such character in a report failed the whole notebook's autograde."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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
        whole, page = _encodable(whole), _encodable(page)
        cell.outputs = [new_output("display_data", {"text/plain": whole, "text/html": page}),
                        new_output("execute_result", {"text/plain": repr(score)}, execution_count=count)]
        cell.execution_count = count
