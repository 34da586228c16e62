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
from autograder.items import ALWAYS_FORBIDDEN, Registry, default_registry, is_allowed_module
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
    cells: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self, show_hidden_details: bool = False) -> dict:
        return {"path": self.path, "assignment": self.assignment, "notebook": self.notebook,
                "student": self.student, "score": self.score, "max_score": self.max_score, "error": self.error,
                "flags": self.flags, "cells": self.cells, "seconds": round(self.seconds, 3),
                "items": [i.to_dict(show_hidden_details) for i in self.items]}

    @classmethod
    def from_dict(cls, d: dict) -> "SubmissionResult":
        items = [ItemResult(i["grade_id"], i["title"], i["points"], i["score"],
                            [SubCheck(s["what"], s["credit"], s["hidden"], s["details"], s["diagnosis"])
                             for s in i["subchecks"]], i["hidden_included"], i["flag"]) for i in d["items"]]
        return cls(d["path"], d["assignment"], d["notebook"], d["student"], d["score"], d["max_score"], items,
                   d["error"], d["flags"], d["cells"], d["seconds"])


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


def module_policy(items: list, source: Path) -> Policy:
    """Block modules every item forbids (and the grader), record those any item forbids, hide sources."""
    graded = _nnkit_modules()
    blocked = [m for m in graded if items and all(item.forbids(m) for item in items)]
    recorded = sorted({m for m in graded if any(item.forbids(m) for item in items)} | set(ALWAYS_FORBIDDEN))
    denied = [source] + [path for module, path in graded.items() if module in blocked]
    return Policy(tuple(ALWAYS_BLOCKED) + tuple(blocked), tuple(recorded), tuple(str(p) for p in denied))


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


def grade_submission(path, *, source=None, registry: Registry | None = None, limits: Limits | None = None,
                     secret: str | None = None, student: str = "") -> SubmissionResult:
    """Grade the notebook at ``path`` (see the module docstring for the steps)."""
    started = time.monotonic()
    path = Path(path)
    result = SubmissionResult(str(path), notebook=path.name, student=student)
    try:
        _grade(result, path, Path(source) if source is not None else default_source(),
               registry if registry is not None else default_registry(), limits or Limits(), secret)
    except notebook.SubmissionError as exc:
        result.error = str(exc)
    result.seconds = time.monotonic() - started
    return result


def _grade(result, path, source, registry, limits, secret) -> None:
    submitted = notebook.read_notebook(path)                                    # 1. read
    trusted_path = find_trusted(path, source, submitted)                        # 2. trusted
    trusted = notebook.read_notebook(trusted_path)
    result.assignment = trusted_path.parent.name
    notebook.verify_assignment(trusted, submitted, f"{trusted_path.parent.name}/{trusted_path.name}")  # 3.
    cells = notebook.build_cells(trusted, submitted)                            # 4. cells
    graded = notebook.test_cells(trusted)
    items = [registry.get(gid) if gid in registry else None for gid in graded]
    known = [i for i in items if i is not None]
    policy = module_policy(known, source)
    prefixes = sorted(set(policy.recorded_modules) | {"nnkit"})
    static_hits = notebook.static_scan(cells, prefixes)                         # 5. scan
    result.max_score = float(sum(i.points for i in known) +
                             sum(p or 0 for gid, p in graded.items() if gid not in registry))
    sandbox = Sandbox(cells, limits, Policy(policy.blocked_modules, policy.recorded_modules,
                                            policy.denied_paths + (str(path.resolve().parent),)))
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
            result.items.append(run_item(item, handle, include_hidden=True, secret=secret))
    finally:
        sandbox.close()
    _apply_flags(result, known, static_hits, sandbox.reports)                   # 8. flags
    result.score = float(round(sum(i.score for i in result.items), 6))


def _apply_flags(result, items, static_hits, reports) -> None:
    by_id = {i.grade_id: i for i in items}
    events = [(module, f"{cell} imports {module}") for module, cell in static_hits]
    events += [(detail, f"your code tried to import {detail} while running") for kind, detail in reports
               if kind == "import"]
    for kind, detail in reports:
        if kind in ("open", "write", "blocked"):
            result.flags.append(f"blocked while running your code: {kind} {detail}")
    for item_result in result.items:
        item = by_id.get(item_result.grade_id)
        if item is None:
            continue
        reasons = sorted({why for module, why in events if item.forbids(module)})
        if reasons:
            item_result.flag = "no credit: " + "; ".join(reasons) + " (graded code must be your own)"
            item_result.score = 0.0
    result.flags.extend(sorted({why for module, why in events
                                if any(i.forbids(module) for i in items)}))
