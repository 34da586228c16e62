"""Grading one submission: an explicit list of steps.

1. ``read``      read the submitted notebook (clear errors for broken files)
2. ``trusted``   find the trusted notebook in the source directory and read it
3. ``verify``    check that the submission is that assignment
4. ``cells``     build the cells the worker runs (test cells dropped, locked cells trusted)
5. ``policy``    what the unit provides (the worker's nnkit view) and what each item forbids
6. ``scan``      statically look for imports of what the unit does not provide, or of the grader
7. ``run``       start the sandbox (isolated as ``limits.isolation`` says) and run the cells
8. ``items``     run every test cell's item through a ``RemoteHandle`` (visible + hidden)
9. ``flags``     zero the items a static or run-time violation affects
10. ``manual``   list the written answers with their points, for a person to grade

A failing step produces a result with ``error`` set instead of raising; one crashing item never takes the
others down (the sandbox gives every item its own restarts and CPU budget).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from autograder import isolation, notebook, policy
from autograder.handle import RemoteHandle, WorkerFailure
from autograder.items import Registry, default_registry
from autograder.results import ItemResult, SubCheck, SubmissionResult
from autograder.runner import item_result, run_hidden, run_visible
from autograder.sandbox import Limits, Policy, Sandbox, resolve_isolation

NOT_ISOLATED = "grading was not isolated (--isolation process): the submission ran as the grader's user"


def default_source() -> Path:
    """The kit's trusted notebooks: ``autograder/solutions``, which is package data in the wheel and, in a clone,
    a symlink to the repository's ``solutions/`` (used directly where the symlink is not one, as on Windows)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "solutions", here.parent / "solutions"):
        if candidate.is_dir():
            return candidate.resolve()
    return here / "solutions"


def find_trusted(submission: Path, source: Path, submitted_nb=None) -> Path:
    """The trusted notebook for ``submission``.

    ``source`` is a notebook, or an nbgrader source directory
    ``<source>/<assignment>/<notebook>.ipynb``. The submission's
    ``<assignment>/<notebook>.ipynb`` names it; failing that, the trusted notebook
    sharing the most nbgrader grade ids with the submission is taken, from
    ``<source>/<assignment>/`` alone when the submission's folder names one there
    (another unit's notebook handed in for this one is then not this assignment).
    """
    source = Path(source)
    if source.is_file():
        return source
    if not source.is_dir():
        raise notebook.SubmissionError(f"the source {source} does not exist (pass --source DIR)")
    folder = Path(os.path.abspath(submission)).parent.name   # `nnkit check unit1.ipynb`: the cwd's name, not ""
    by_name = source / folder / submission.name
    if by_name.is_file():
        return by_name
    candidates, assignment = trusted_candidates(submission, source)
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
    if best is None and assignment is not None:
        raise notebook.SubmissionError(f"this notebook is not the assignment {assignment}: it shares no "
                                       f"nbgrader cells with {', '.join(p.name for p in candidates)} (is it the "
                                       "right file?)")
    if best is None:
        raise notebook.SubmissionError(f"{submission.name} matches no assignment under {source}: it shares no "
                                       "nbgrader cells with any of them (is it the right file?)")
    return best


def trusted_candidates(submission: Path, source: Path) -> tuple[list[Path], str | None]:
    """The notebooks of the source directory ``source`` that ``submission`` may be graded against, and the
    assignment its folder names: that folder's notebooks alone (so that unit 1 handed in for unit 2 fails), or
    when its folder names none (None), every notebook of ``source``. A relative path's folder is the cwd."""
    folder = Path(os.path.abspath(submission)).parent.name
    if folder and (source / folder).is_dir():
        return sorted((source / folder).glob("*.ipynb")), folder
    return sorted(source.glob("*/*.ipynb")) + sorted(source.glob("*.ipynb")), None


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
    if path.is_symlink():   # the grader would read whatever it points to: the trusted notebook, say
        raise notebook.SubmissionError(f"{path.name} is a symbolic link, not a notebook: submit the file itself")
    raw = notebook.read_bytes(path)                                             # 1. read
    result.sha256 = hashlib.sha256(raw).hexdigest()   # of the bytes graded: a rerun regrades a file changed since
    submitted = notebook.parse_notebook(raw, path)
    trusted_path = find_trusted(path, source, submitted)                        # 2. trusted
    try:
        trusted = notebook.read_notebook(trusted_path)
    except notebook.SubmissionError as exc:   # the instructor's file: say so, or the row blames the student
        raise notebook.SubmissionError(f"the trusted notebook {trusted_path} cannot be read, so nothing can be "
                                       f"graded against it (fix --source): {exc}") from None
    result.assignment = trusted_path.parent.name
    notebook.verify_assignment(trusted, submitted, f"{trusted_path.parent.name}/{trusted_path.name}")  # 3.
    cells = notebook.build_cells(trusted, submitted)                            # 4. cells
    graded, manual = notebook.test_cells(trusted), notebook.manual_cells(trusted)
    items = [registry.get(gid) if gid in registry else None for gid in graded]
    known = [i for i in items if i is not None]
    provided = registry.provides_for(list(graded))                              # 5. policy
    static_hits = notebook.static_scan(cells, ["nnkit", *policy.ALWAYS_FORBIDDEN])  # 6. scan
    result.max_score = float(sum(i.points for i in known) + sum(p or 0 for gid, p in graded.items()
                                                                 if gid not in registry)
                             + sum(p or 0 for p in manual.values()))
    mode = resolve_isolation(limits.isolation, run_as=limits.run_as, allow_process=limits.isolation == "process")
    result.isolation = mode
    if mode == "process":
        result.notes.append(NOT_ISOLATED)
    # the hook's deny-list, for modes where the host's files exist for the worker (a walk of the whole
    # class per submission); in namespace mode no other notebook is in the worker's view at all
    others = other_notebooks(path) if mode != "namespace" else ()
    if mode == "user":   # the worker runs as another user: what it must not read must be private to us
        trusted_files = [str(p) for p in Path(source).rglob("*.ipynb")] if Path(source).is_dir() else []
        isolation.check_private([str(source), *trusted_files, *denied, *others], limits.run_as)
    sandbox = Sandbox(cells, limits, Policy(provided, denied_paths=(str(source),) + others,
                                            denied_trees=denied), mode=mode)
    try:
        try:
            runs = sandbox.boot()                                               # 7. run
            result.cells = [{"name": r.name, "status": r.status, "message": r.message} for r in runs]
        except WorkerFailure as exc:
            result.flags.append(f"your notebook could not be run: {exc}")
        clean = _run_items(result, sandbox, graded, items, secret)              # 8. items
    finally:
        sandbox.close()
    _apply_flags(result, known, static_hits, sandbox.reports, provided, clean)  # 9. flags
    for gid, points in manual.items():                                          # 10. manual
        result.items.append(ItemResult(gid, "written answer (graded by hand)", float(points or 0), 0.0,
                                       manual=True))
    result.score = float(round(sum(i.score for i in result.items if not i.manual), 6))


def _run_items(result, sandbox, graded, items, secret) -> int:
    """Every item's visible checks, then every item's hidden checks; returns how many of the worker's audit
    reports came before the first hidden input reached it.

    The worker keeps its state from item to item, so once a hidden input has reached it, anything it says may
    encode that input: an exception's message, a path it asks to open, a value a later visible check gets.
    Running all visible checks first keeps everything that is shown in full from before that moment; what
    comes after belongs to hidden checks, whose details are not shown (``results``) and whose audit reports
    are shown only by kind (``_apply_flags``). Each item keeps one CPU budget and one restart allowance over
    its two phases.
    """
    handle = RemoteHandle(sandbox)
    started = []
    for gid, item in zip(graded, items):
        if item is None:
            result.items.append(ItemResult(gid, "(no checks registered)", float(graded[gid] or 0), 0.0,
                                           [SubCheck("grader configuration", 0.0, False,
                                                     [f"no checks are registered for grade id {gid!r}"])]))
            continue
        sandbox.begin_item(item.timeout)
        visible, ran = run_visible(item, handle, secret=secret)
        started.append((len(result.items), item, visible, ran, sandbox.item_state()))
        result.items.append(item_result(item, visible, True))
    clean = sandbox.reports_so_far()
    for index, item, visible, ran, state in started:
        if ran:
            sandbox.resume_item(state)
            result.items[index] = item_result(item, visible + run_hidden(item, handle, visible, secret=secret),
                                              True)
    return clean


def _module_for_path(path: str) -> str | None:
    """The grader or nnkit module whose source (or bytecode) ``path`` is, if any: a read the audit hook
    refused in user or process isolation, where the host's files exist for the worker."""
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError):
        return None
    if resolved.is_relative_to(Path(__file__).resolve().parent):
        return "autograder"
    root = policy.nnkit_root().resolve()
    if not resolved.is_relative_to(root):
        return None
    parts = resolved.relative_to(root).parts
    if parts and parts[-1].endswith((".py", ".pyc")):
        if len(parts) > 1 and parts[-2] == "__pycache__":
            parts = parts[:-2] + (parts[-1].split(".")[0],)
        parts = parts[:-1] + (parts[-1].split(".")[0],)
        if parts[-1] == "__init__":
            parts = parts[:-1]
    return ".".join(("nnkit",) + parts)


# What a report written while hidden checks ran says: its kind only, in the grader's words. Its text (a path,
# a module name, an event) came from the worker after a hidden input reached it, so it may encode that input.
HIDDEN_IMPORT = "your code imported a module it may not use while the hidden checks ran (not named here)"
HIDDEN_REFUSALS = {
    "open": ("flags", "your code tried to read a file outside its folder while the hidden checks ran (refused; "
                      "the path is not shown for hidden checks)"),
    "write": ("notes", "your code tried to write outside its folder while the hidden checks ran (refused; the "
                       "path is not shown for hidden checks)"),
    "blocked": ("notes", "your code tried an operation graded code may not use while the hidden checks ran "
                         "(refused; not named for hidden checks)"),
}
HIDDEN_OTHER = ("notes", "the worker reported something the grader does not know while the hidden checks ran "
                         "(not shown for hidden checks)")


def _apply_flags(result, items, static_hits, reports, provided=(), clean=None) -> None:
    """Zero the items a forbidden import (static or at run time) affects; note what was blocked.

    ``reports[:clean]`` were read before any hidden input reached the worker and are shown as they are; the
    rest are shown only by kind (``HIDDEN_REFUSALS``), though they cost the items they affect just the same.
    """
    clean = len(reports) if clean is None else clean
    by_id = {i.grade_id: i for i in items}
    events = [(module, f"{cell} imports {module}") for module, cell in static_hits]
    for n, (kind, detail) in enumerate(reports):
        module = _module_for_path(detail) if kind == "open" else None
        if n >= clean:
            if kind == "import" or module is not None:
                events.append((module or detail, HIDDEN_IMPORT))
            else:
                where, text = HIDDEN_REFUSALS.get(kind, HIDDEN_OTHER)
                if text not in getattr(result, where):
                    getattr(result, where).append(text)
        elif kind == "import":
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
        reasons = sorted({why for module, why in events if policy.forbidden(item, module, provided)})
        if reasons:
            item_result.flag = "no credit: " + "; ".join(reasons) + " (graded code must be your own)"
            item_result.score = 0.0
    result.flags.extend(sorted({why for module, why in events
                                if any(policy.forbidden(i, module, provided) for i in items)}))
