"""Grading one submission: an explicit list of steps.

1. ``read``      read the submitted notebook (clear errors for broken files)
2. ``trusted``   find the trusted notebook in the source directory and read it
3. ``verify``    check that the submission is that assignment
4. ``cells``     build the cells the worker runs (test cells dropped, locked cells trusted)
5. ``scan``      statically look for imports of the reference or the grader
6. ``run``       start the sandbox and run the cells
7. ``items``     run every test cell's item through a ``RemoteHandle`` (visible + hidden)
8. ``flags``     zero the items a static or run-time violation affects

A failing step produces a result with ``error`` set instead of raising; one
crashing item never takes the others down (the sandbox restarts the worker).
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder import notebook
from autograder.handle import RemoteHandle, WorkerFailure
from autograder.items import ALWAYS_FORBIDDEN, Registry, default_registry, is_allowed_module, module_matches
from autograder.runner import ItemResult, run_item
from autograder.sandbox import ALWAYS_BLOCKED, Limits, Policy, Sandbox
from autograder.tester import SubCheck


def default_source() -> Path:
    """The kit's ``solutions/`` directory next to the ``autograder`` package."""
    return Path(__file__).resolve().parent.parent / "solutions"


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

    def to_dict(self, show_hidden_details: bool = False) -> dict:
        return {"path": self.path, "assignment": self.assignment, "notebook": self.notebook,
                "student": self.student, "score": self.score, "max_score": self.max_score, "error": self.error,
                "flags": self.flags, "notes": self.notes, "cells": self.cells, "seconds": round(self.seconds, 3),
                "items": [i.to_dict(show_hidden_details) for i in self.items]}

    @classmethod
    def from_dict(cls, d: dict) -> "SubmissionResult":
        items = [ItemResult(i["grade_id"], i["title"], i["points"], i["score"],
                            [SubCheck(s["what"], s["credit"], s["hidden"], s["details"], s["diagnosis"],
                                      s.get("not_implemented"))
                             for s in i["subchecks"]], i["hidden_included"], i["flag"]) for i in d["items"]]
        return cls(d["path"], d["assignment"], d["notebook"], d["student"], d["score"], d["max_score"], items,
                   d["error"], d["flags"], d.get("notes", []), d["cells"], d["seconds"])


def find_trusted(submission: Path, source: Path, submitted_nb=None) -> Path:
    """The trusted notebook for ``submission``.

    ``source`` is a notebook, or an nbgrader source directory
    ``<source>/<assignment>/<notebook>.ipynb``. The submission's
    ``<assignment>/<notebook>.ipynb`` names it; failing that, the trusted notebook
    sharing the most nbgrader grade ids with the submission is taken.
    """
    source = Path(source)
    if source.is_file():
        return source
    if not source.is_dir():
        raise notebook.SubmissionError(f"the source {source} does not exist (pass --source DIR)")
    by_name = source / submission.parent.name / submission.name
    if by_name.is_file():
        return by_name
    candidates = sorted(source.glob("*/*.ipynb")) + sorted(source.glob("*.ipynb"))
    if not candidates:
        raise notebook.SubmissionError(f"no trusted notebooks under {source}")
    if submitted_nb is None:
        raise notebook.SubmissionError(f"no trusted notebook {by_name}")
    theirs = {c.grade_id for c in notebook.trusted_cells(submitted_nb)}
    best, best_shared = None, 0
    for path in candidates:
        try:
            ours = {c.grade_id for c in notebook.trusted_cells(notebook.read_notebook(path))}
        except notebook.SubmissionError:
            continue
        if len(ours & theirs) > best_shared:
            best, best_shared = path, len(ours & theirs)
    if best is None:
        raise notebook.SubmissionError(f"{submission.name} matches no assignment under {source}: it shares no "
                                       "nbgrader cells with any of them (is it the right file?)")
    return best


def provided_modules(trusted) -> tuple[str, ...]:
    """nnkit modules the trusted notebook itself imports: the assignment provides them to students."""
    cells = [(c.grade_id, c.source) for c in notebook.trusted_cells(trusted)
             if c.cell_type == "code" and c.kind != "test"]
    cells += [("", notebook.source_of(c)) for c in trusted.cells
              if c.get("cell_type") == "code" and notebook.classify(c) is None]
    return tuple(sorted({m for m, _ in notebook.static_scan(cells, ["nnkit"])}))


def forbidden(item, module: str, provided=()) -> bool:
    """``item`` forbids ``module``, unless the assignment's own notebook imports it."""
    if any(module_matches(module, p) for p in ALWAYS_FORBIDDEN):
        return True
    return item.forbids(module) and not any(module_matches(module, p) for p in provided)


def module_policy(items: list, source: Path, provided=()) -> Policy:
    """Block modules every item forbids (and the grader), record those any item forbids, hide sources.

    Modules the trusted notebook imports are preloaded in the worker before its audit
    hook is installed, so that their own imports of graded modules (``nnkit.layers``
    importing ``nnkit.init``) work; a student importing a graded module directly
    still fires the hook, because the worker drops blocked modules from ``sys.modules``.
    """
    graded = _nnkit_modules()
    blocked = [m for m in graded if items and all(forbidden(item, m, provided) for item in items)]
    recorded = sorted({m for m in graded if any(forbidden(item, m, provided) for item in items)}
                      | set(ALWAYS_FORBIDDEN))
    denied = [source]
    for module, path in graded.items():
        if module in blocked:   # the source and its compiled bytecode (marshal.loads would give the code)
            denied.append(path)
            denied.extend(path.parent.joinpath("__pycache__").glob(f"{path.stem}.*.pyc"))
    return Policy(tuple(ALWAYS_BLOCKED) + tuple(blocked), tuple(recorded), tuple(str(p) for p in denied),
                  tuple(provided))


def _nnkit_modules() -> dict[str, Path]:
    spec = importlib.util.find_spec("nnkit")
    if spec is None or not spec.submodule_search_locations:
        return {}
    root = Path(list(spec.submodule_search_locations)[0])
    modules = {}
    for path in root.rglob("*.py"):
        parts = ("nnkit",) + path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not is_allowed_module(name):
            modules[name] = path
    return modules


def other_notebooks(path: Path) -> tuple[str, ...]:
    """The notebooks a submission's code must not read: every notebook under ``submitted/`` in the
    nbgrader layout, or the notebooks beside a flat submission.

    Only notebooks are denied, never whole folders: a flat submission often sits next to the student's
    virtual environment or data files, and the worker must still import from and read those.
    """
    parts = path.resolve().parts
    if "submitted" in parts:
        return tuple(str(p) for p in Path(*parts[:parts.index("submitted") + 1]).rglob("*.ipynb"))
    return tuple(str(p) for p in path.resolve().parent.glob("*.ipynb"))


def grade_submission(path, *, source=None, registry: Registry | None = None, limits: Limits | None = None,
                     secret: str | None = None, student: str = "", denied=()) -> SubmissionResult:
    """Grade the notebook at ``path`` (see the module docstring for the steps).

    ``denied`` lists folders the student's code may not read or list, including files
    created in them while it runs (the batch's ``--out`` folder: other students' results).
    """
    started = time.monotonic()
    path = Path(path)
    result = SubmissionResult(str(path), notebook=path.name, student=student)
    try:
        _grade(result, path, Path(source) if source is not None else default_source(),
               registry if registry is not None else default_registry(), limits or Limits(), secret,
               tuple(str(d) for d in denied))
    except notebook.SubmissionError as exc:
        result.error = str(exc)
    result.seconds = time.monotonic() - started
    return result


def _grade(result, path, source, registry, limits, secret, denied=()) -> None:
    submitted = notebook.read_notebook(path)                                    # 1. read
    trusted_path = find_trusted(path, source, submitted)                        # 2. trusted
    trusted = notebook.read_notebook(trusted_path)
    result.assignment = trusted_path.parent.name
    notebook.verify_assignment(trusted, submitted, f"{trusted_path.parent.name}/{trusted_path.name}")  # 3.
    cells = notebook.build_cells(trusted, submitted)                            # 4. cells
    graded = notebook.test_cells(trusted)
    items = [registry.get(gid) if gid in registry else None for gid in graded]
    known = [i for i in items if i is not None]
    provided = provided_modules(trusted)
    policy = module_policy(known, source, provided)
    preload = _with_dependencies(provided)
    prefixes = sorted(set(policy.recorded_modules) | {"nnkit"})
    static_hits = notebook.static_scan(cells, prefixes)                         # 5. scan
    result.max_score = float(sum(i.points for i in known) +
                             sum(p or 0 for gid, p in graded.items() if gid not in registry))
    sandbox = Sandbox(cells, limits, Policy(policy.blocked_modules, policy.recorded_modules,
                                            policy.denied_paths + other_notebooks(path), preload,
                                            denied_trees=denied))
    try:
        try:
            runs = sandbox.boot()                                               # 6. run
            result.cells = [{"name": r.name, "status": r.status, "message": r.message} for r in runs]
        except WorkerFailure as exc:
            result.flags.append(f"your notebook could not be run: {exc}")
        handle = RemoteHandle(sandbox)
        for gid, item in zip(graded, items):                                    # 7. items
            if item is None:
                result.items.append(ItemResult(gid, "(no checks registered)", float(graded[gid] or 0), 0.0,
                                               [SubCheck("grader configuration", 0.0, False,
                                                         [f"no checks are registered for grade id {gid!r}"])]))
                continue
            sandbox.call_timeout = item.timeout or limits.call_timeout
            sandbox.deadline = time.monotonic() + limits.item_timeout
            result.items.append(run_item(item, handle, include_hidden=True, secret=secret))
    finally:
        sandbox.close()
    _apply_flags(result, known, static_hits, sandbox.reports, provided)         # 8. flags
    result.score = float(round(sum(i.score for i in result.items), 6))


def _with_dependencies(modules) -> tuple[str, ...]:
    """``modules`` plus every nnkit module their source imports (also inside functions), transitively."""
    sources = {name: path for name, path in _nnkit_modules().items()}
    todo, seen = list(modules), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = sources.get(name)
        if path is None:
            package = Path(importlib.util.find_spec("nnkit").origin).parent if name.startswith("nnkit") else None
            rel = name.split(".")[1:]
            candidates = [package.joinpath(*rel).with_suffix(".py"), package.joinpath(*rel, "__init__.py")] \
                if package is not None and rel else []
            path = next((c for c in candidates if c.is_file()), None)
        if path is not None:
            found = notebook.scan_source(path.read_text(encoding="utf-8"), ["nnkit"])
            todo.extend(m for m in found if m not in seen)
    return tuple(sorted(seen))


def _module_for_path(path: str) -> str | None:
    """The grader or graded-reference module whose source ``path`` is, if any."""
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError):
        return None
    if resolved.is_relative_to(Path(__file__).resolve().parent):
        return "autograder"
    for module, source in _nnkit_modules().items():
        source = source.resolve()
        if resolved == source or (resolved.parent == source.parent / "__pycache__"
                                  and resolved.name.startswith(source.stem + ".")):
            return module
    return None


def _apply_flags(result, items, static_hits, reports, provided=()) -> None:
    """Zero the items a forbidden import (static or at run time) affects; note what was blocked."""
    by_id = {i.grade_id: i for i in items}
    events = [(module, f"{cell} imports {module}") for module, cell in static_hits]
    for kind, detail in reports:
        module = _module_for_path(detail) if kind == "open" else None
        if kind == "import":
            events.append((detail, f"your code tried to import {detail} while running"))
        elif module is not None:
            events.append((module, f"your code tried to read the source of {module}"))
        elif kind == "open":
            result.flags.append(f"your code tried to read {detail} (refused)")
        else:
            result.notes.append(f"refused while running your code: {kind} {detail}")
    for item_result in result.items:
        item = by_id.get(item_result.grade_id)
        if item is None:
            continue
        reasons = sorted({why for module, why in events if forbidden(item, module, provided)})
        if reasons:
            item_result.flag = "no credit: " + "; ".join(reasons) + " (graded code must be your own)"
            item_result.score = 0.0
    result.flags.extend(sorted({why for module, why in events
                                if any(forbidden(i, module, provided) for i in items)}))
