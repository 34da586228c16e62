"""Small helpers for authoring nbgrader notebooks from Python.

The committed ``solutions/<unit>/<unit>.ipynb`` is the source of truth, and instructors edit it in Jupyter.
These helpers only make the first draft of a notebook (or a new cell) with correct nbgrader metadata, so that
nobody has to type the metadata by hand::

    from nbbuild import Notebook
    nb = Notebook("u1")
    nb.markdown("# Unit 1")
    nb.setup("import numpy as np")
    nb.solution("heaviside", "def heaviside(z):\\n    ### BEGIN SOLUTION\\n    ...\\n    ### END SOLUTION")
    nb.test("heaviside", points=1)
    nb.written("xor_written", points=2, answer="Because ...")
    nb.write("solutions/unit1/unit1.ipynb")

Cell kinds and their nbgrader metadata (schema version 3):

========  =====================  =====  ========  ======  ======
helper    cell                   grade  solution  locked  points
========  =====================  =====  ========  ======  ======
setup     code, read-only        no     no        yes     --
solution  code with a stub       no     yes       no      --
test      code, autograded       yes    no        yes     yes
written   markdown, hand-graded  yes    yes       no      yes
========  =====================  =====  ========  ======  ======

Every nbgrader cell's ``grade_id`` is the unit prefix plus a name (``u1_heaviside``); a test cell's grade_id
is the key of its ``autograder.items.Item``. Cell ids are derived from the grade ids (or a counter), so that
rebuilding a notebook gives the same file.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _nbgrader(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def test_source(grade_id: str, *, hidden: bool = True) -> str:
    """The standard test cell: visible checks, then (hidden from students) visible + hidden checks."""
    lines = ["from autograder import check", "", f'check("{grade_id}", globals())']
    if hidden:
        lines += ["### BEGIN HIDDEN TESTS", f'check("{grade_id}", globals(), hidden=True)', "### END HIDDEN TESTS"]
    return "\n".join(lines)


class Notebook:
    """An nbgrader notebook under construction; ``prefix`` (e.g. ``"u1"``) starts every grade_id."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.cells: list = []
        self._grade_ids: set[str] = set()

    def _gid(self, name: str) -> str:
        gid = name if name.startswith(self.prefix + "_") else f"{self.prefix}_{name}"
        if gid in self._grade_ids:
            raise ValueError(f"Notebook: grade_id {gid!r} is used twice")
        self._grade_ids.add(gid)
        return gid

    def _add(self, cell, cell_id: str | None = None):
        cell.id = cell_id or f"{self.prefix}-cell-{len(self.cells):03d}"
        self.cells.append(cell)
        return cell

    def markdown(self, text: str):
        return self._add(new_markdown_cell(text.strip("\n")))

    def code(self, source: str):
        """An ordinary code cell (a demo or a figure); students may edit it, nothing is graded."""
        return self._add(new_code_cell(source.strip("\n")))

    def setup(self, source: str, name: str = "setup"):
        gid = self._gid(name)
        return self._add(new_code_cell(source.strip("\n"), metadata=_nbgrader(
            gid, grade=False, solution=False, locked=True)), gid.replace("_", "-"))

    def solution(self, name: str, source: str):
        gid = self._gid(name + "_impl" if not name.endswith("_impl") else name)
        return self._add(new_code_cell(source.strip("\n"), metadata=_nbgrader(
            gid, grade=False, solution=True, locked=False)), gid.replace("_", "-"))

    def test(self, name: str, points: float, source: str | None = None):
        gid = self._gid(name)
        return self._add(new_code_cell((source or test_source(gid)).strip("\n"), metadata=_nbgrader(
            gid, grade=True, solution=False, locked=True, points=points)), gid.replace("_", "-"))

    def written(self, name: str, points: float, answer: str):
        """A hand-graded markdown answer cell; ``answer`` is the model answer (students see "YOUR ANSWER HERE")."""
        gid = self._gid(name)
        text = "### BEGIN SOLUTION\n" + answer.strip("\n") + "\n### END SOLUTION"
        return self._add(new_markdown_cell(text, metadata=_nbgrader(
            gid, grade=True, solution=True, locked=False, points=points)), gid.replace("_", "-"))

    def write(self, path: str | Path) -> Path:
        nb = new_notebook(cells=self.cells, metadata={
            "kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
        nbformat.validate(nb)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        return path
