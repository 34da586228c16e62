"""Reading trusted and submitted notebooks: cell matching and the static integrity scan.

The trusted notebook (from ``solutions/``) decides what a cell is, by nbgrader
``grade_id``: test cells are never run, locked cells run the trusted source
(even if the student edited or deleted them), solution cells and cells the
student added run as submitted. Markdown is ignored.
"""

from __future__ import annotations

import ast
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from types import SimpleNamespace

from autograder.items import module_matches


class SubmissionError(Exception):
    """A submission that cannot be graded (unreadable, empty, foreign); the message says why."""


def read_notebook(path) -> SimpleNamespace:
    """Read ``path`` as an nbformat-4 notebook (``.cells``: list of cell dicts, ``.metadata``).

    Every way a file can be broken gets a clear ``SubmissionError``. (nbformat itself
    is not used: importing it costs seconds per grading process.)
    """
    return parse_notebook(read_bytes(path), Path(path))


def read_bytes(path) -> bytes:
    """The bytes of the notebook file ``path`` (``read_regular_file``), or ``SubmissionError`` saying why not."""
    try:
        return read_regular_file(Path(path))
    except OSError as exc:
        raise SubmissionError(f"cannot read {path}: {exc.strerror}") from None


def parse_notebook(raw: bytes, path: Path) -> SimpleNamespace:
    """``raw``, the bytes of the file ``path``, as ``read_notebook`` reads them."""
    if not raw.strip():
        raise SubmissionError(f"{path.name} is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SubmissionError(f"{path.name} is not UTF-8 text: a notebook is UTF-8 JSON, and byte {exc.start} "
                              f"(line {line}) is 0x{raw[exc.start]:02x}; is it really a notebook?") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:   # RecursionError: JSON nested thousands deep
        raise SubmissionError(f"{path.name} is not valid notebook JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SubmissionError(f"{path.name} is not a Jupyter notebook: expected a JSON object with a list of "
                              f"cells, found {_json_kind(data)}")
    # the format first: format 3 keeps its cells in "worksheets", and it is a notebook, only an old one
    if data.get("nbformat") != 4 and ("nbformat" in data or isinstance(data.get("cells"), list)):
        version = data.get("nbformat")
        fix = "open it in Jupyter and save it again (File > Save Notebook)" if isinstance(version, int) and \
            version < 4 else "save it from a Jupyter that writes format 4"
        raise SubmissionError(f"{path.name} is in notebook format {version!r}, the grader reads format 4; {fix}")
    if not isinstance(data.get("cells"), list):
        raise SubmissionError(f"{path.name} is not a Jupyter notebook: expected a list of cells, found "
                              + (_json_kind(data["cells"]) if "cells" in data else "no cells"))
    for n, cell in enumerate(data["cells"], start=1):
        source = cell.get("source") if isinstance(cell, dict) else None
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str) or not (
                isinstance(source, str) or (isinstance(source, list) and all(isinstance(x, str) for x in source))):
            raise SubmissionError(f"{path.name}: cell {n} is malformed (not a notebook cell): expected an object "
                                  f"with a cell_type and a source text, found {_json_kind(cell)}"
                                  + (f" with cell_type {cell.get('cell_type')!r} and a source that is "
                                     f"{_json_kind(source)}" if isinstance(cell, dict) else ""))
        if not isinstance(cell.get("metadata", {}), dict):
            raise SubmissionError(f"{path.name}: cell {n} has malformed metadata: expected an object, found "
                                  f"{_json_kind(cell['metadata'])}")
        if cell["cell_type"] == "code":
            _check_unicode(path, n, source_of(cell))
    return SimpleNamespace(cells=data["cells"], metadata=data.get("metadata", {}))


MAX_NOTEBOOK_BYTES = 256 * 1024 ** 2   # a notebook with many plots is tens of MB; parsed JSON takes ~10x its size


def read_regular_file(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``MAX_NOTEBOOK_BYTES``, else ``SubmissionError``.

    Opened without blocking and checked before reading: a named pipe called ``x.ipynb`` would hang the grader
    for ever, and a file of many GB would fill its memory.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError(f"{path.name} is not a regular file (it is a {_file_kind(info.st_mode)}); "
                                  "submit the notebook file itself")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            raise SubmissionError(f"{path.name} is {info.st_size / 1024 ** 2:.0f} MB, and the grader reads notebooks "
                                  f"of at most {MAX_NOTEBOOK_BYTES // 1024 ** 2} MB; clear the outputs "
                                  "(Edit > Clear Outputs of All Cells) and save it again")
        chunks, size = [], 0
        while size <= MAX_NOTEBOOK_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "named pipe"), (stat.S_ISCHR, "character device"),
             (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")]
    return next((name for test, name in kinds if test(mode)), "special file")


def _check_unicode(path: Path, n: int, source: str) -> None:
    """JSON can spell a lone surrogate (``"\\ud800"``), which no UTF-8 text holds: Jupyter cannot run such a cell,
    and the grader could not send it to the worker nor print it."""
    try:
        source.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = source.count("\n", 0, exc.start) + 1
        raise SubmissionError(f"{path.name}: cell {n} is not valid Unicode text: expected UTF-8 characters, found a "
                              f"lone surrogate U+{ord(source[exc.start]):04X} at line {line} (Jupyter cannot run it "
                              "either); delete that character and save again") from None


def _json_kind(value) -> str:
    """What a parsed JSON value is, in JSON's words: ``an array``, ``a string``, ``null``."""
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def source_of(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


@dataclass
class TrustedCell:
    grade_id: str
    kind: str          # "test", "solution", "locked", "other"
    cell_type: str
    source: str
    points: float | None


def classify(cell) -> TrustedCell | None:
    meta = nbgrader_meta(cell)
    grade_id = meta.get("grade_id")
    if not isinstance(grade_id, str):
        return None
    if meta.get("grade") and not meta.get("solution") and cell.get("cell_type") == "code":
        kind = "test"
    elif meta.get("solution"):
        kind = "solution"
    elif meta.get("locked") or meta.get("grade"):
        kind = "locked"
    else:
        kind = "other"
    points = meta.get("points")
    return TrustedCell(grade_id, kind, cell.get("cell_type", ""), source_of(cell),
                       float(points) if isinstance(points, (int, float)) else None)


def trusted_cells(nb) -> list[TrustedCell]:
    return [c for c in (classify(cell) for cell in nb.cells) if c is not None]


def test_cells(nb) -> dict[str, float | None]:
    """Grade id -> points of every autograded test cell, in notebook order."""
    return {c.grade_id: c.points for c in trusted_cells(nb) if c.kind == "test"}


def manual_cells(nb) -> dict[str, float | None]:
    """Grade id -> points of every manually graded cell (a written answer), in notebook order.

    nbgrader marks these ``grade: true`` and ``solution: true``: a person scores them in formgrader; the
    autograder only reports their maximum points.
    """
    found = {}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade") and meta.get("solution") and isinstance(meta.get("grade_id"), str):
            points = meta.get("points")
            found[meta["grade_id"]] = float(points) if isinstance(points, (int, float)) else None
    return found


def verify_assignment(trusted, submitted, trusted_name: str) -> None:
    """Raise ``SubmissionError`` unless ``submitted`` is a copy of the trusted assignment."""
    ours = {c.grade_id for c in trusted_cells(trusted)}
    theirs = {c.grade_id for c in trusted_cells(submitted)}
    shared = ours & theirs
    if not shared or len(theirs - ours) > len(shared):
        raise SubmissionError(f"this notebook is not the assignment {trusted_name}: it shares {len(shared)} of "
                              f"{len(ours)} nbgrader cells with it (is it the right file?)")


def strip_magics(source: str) -> str:
    """IPython-only lines (``%magic``, ``!shell``, ``?help``) become ``pass`` so the cell is plain Python."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")) or (stripped.endswith("?") and not stripped.startswith("#")
                                                and stripped[:-1].strip().isidentifier()):
            lines.append(line[: len(line) - len(stripped)] + "pass  # IPython-only line removed by the grader")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def is_check_copy(source: str) -> bool:
    """A cell that only imports ``check`` and calls it (a copied test cell): skipped, not flagged."""
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return False
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "autograder" and \
                [a.name for a in node.names] == ["check"] and all(a.asname is None for a in node.names):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and \
                isinstance(node.value.func, ast.Name) and node.value.func.id == "check":
            continue
        return False
    return bool(tree.body)


def build_cells(trusted, submitted) -> list[tuple[str, str]]:
    """The code cells the worker runs, as ``[(name, source)]`` in submission order.

    Test cells are dropped; locked cells take the trusted source, and locked code
    cells missing from the submission are put back at their place; solution cells
    (copies too, as in Jupyter) and student-added cells run as submitted (copied
    test cells are dropped).
    """
    order = [c for c in trusted_cells(trusted)]
    index = {c.grade_id: i for i, c in enumerate(order)}
    # only code cells count as present: a locked code cell turned into markdown does not run, so it is put back
    present = {c.grade_id for c in trusted_cells(submitted) if c.grade_id in index and c.cell_type == "code"}
    cells, emitted, position = [], set(), 0

    def restore_missing(upto: int):
        for c in order[:upto]:
            if c.kind == "locked" and c.cell_type == "code" and c.grade_id not in present \
                    and c.grade_id not in emitted:
                emitted.add(c.grade_id)
                cells.append((f"locked cell {c.grade_id} (restored)", strip_magics(c.source)))

    for n, cell in enumerate(submitted.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        info = classify(cell)
        trusted_cell = order[index[info.grade_id]] if info is not None and info.grade_id in index else None
        if trusted_cell is not None:
            position = max(position, index[trusted_cell.grade_id])
            restore_missing(position)
            if trusted_cell.kind == "test" or (trusted_cell.kind == "locked" and trusted_cell.grade_id in emitted):
                continue   # a copied solution cell runs, as in Jupyter and in nbgrader (whose DeduplicateIds keeps it)
            emitted.add(trusted_cell.grade_id)
            if trusted_cell.kind == "locked":
                if trusted_cell.cell_type == "code":
                    cells.append((f"cell {n} ({trusted_cell.grade_id}, locked)", strip_magics(trusted_cell.source)))
                continue
            cells.append((f"cell {n} ({trusted_cell.grade_id})", strip_magics(source_of(cell))))
        elif not is_check_copy(source_of(cell)):
            cells.append((f"cell {n}", strip_magics(source_of(cell))))
    restore_missing(len(order))
    return cells


# -- static scan -------------------------------------------------------------------------------
_LOADERS = {"__import__", "import_module", "find_spec", "spec_from_file_location", "run_module", "run_path",
            "SourceFileLoader", "load_module", "find_module", "reload"}
_EXECS = {"exec", "eval", "compile"}


def _strings(node) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _name_of(func) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def scan_source(source: str, prefixes, depth: int = 0) -> set[str]:
    """Forbidden modules that ``source`` imports or loads by a literal name (also inside exec'd strings)."""
    try:
        tree = ast.parse(strip_magics(source))
    except SyntaxError:
        return set()
    found: set[str] = set()

    def consider(name: str):
        for p in prefixes:
            if module_matches(name, p):
                found.add(name)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                consider(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            consider(node.module)
            for alias in node.names:
                consider(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Call):
            name = _name_of(node.func)
            if name in _LOADERS:
                for text in _strings(node):
                    consider(text.strip())
                    for p in prefixes:
                        if p in text.replace("/", ".").replace("\\", "."):
                            found.add(p)
            elif name in _EXECS and depth < 5:
                for text in _strings(node):
                    found |= scan_source(text, prefixes, depth + 1)
                    found |= {p for p in prefixes if p in text and "import" in text}
    return found


def static_scan(cells: list[tuple[str, str]], prefixes) -> list[tuple[str, str]]:
    """``[(module, cell name)]`` for every forbidden module a cell names statically."""
    hits = []
    for name, source in cells:
        for module in sorted(scan_source(source, prefixes)):
            hits.append((module, name))
    return hits
