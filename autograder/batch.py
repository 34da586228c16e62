"""Grading many submissions: discovery, parallel workers, a progress bar, resumable results, a clean stop.

Each submission's result is written atomically to ``<out>/results/<key>.json`` as
soon as it is graded (by the process that graded it), so an interrupted run
resumes where it stopped; a result whose notebook changed since (its SHA-256 differs),
or that another kit version wrote, is graded again, and ``force=True`` regrades everything. A submission whose
grading fails unexpectedly gets an error row and is not written, so a rerun
retries it. After the run: ``<out>/grades.csv`` (rows in result-key order) and Gradescope
``<out>/gradescope/<key>/results.json`` (plus ``<out>/results.json`` when there is
exactly one submission, the Gradescope autograder's layout), and ``<out>/batch.json``
(see ``autograder.shards``). ``--out`` is checked and locked first (``autograder.outdir``).

SIGINT and SIGTERM stop a batch cleanly and SIGKILL leaves nothing running: see
``autograder.pool``. The results that finished are kept, and ``grades.csv`` lists them.
"""

from __future__ import annotations

import hashlib
import os
import re
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from autograder import notebook, outdir, pool, report, sandbox, shards
from autograder.grader import default_source, find_trusted, grade_submission, trusted_candidates
from autograder.results import SubmissionResult
from autograder.pool import Interrupted  # noqa: F401 - raised by run_batch, part of this module's interface


@dataclass(frozen=True)
class Submission:
    """A notebook to grade; ``student`` and ``assignment`` come from the nbgrader layout when present."""

    path: Path
    student: str = ""
    assignment: str = ""

    @property
    def key(self) -> str:
        """Where this submission's results go: unique per submission and stable across runs.

        nbgrader layout: ``<student>/<assignment>/<notebook stem>``. Flat: ``<folder>/<stem>-<hash>``,
        the hash being of the notebook's absolute path, so two ``unit1.ipynb`` in different
        folders never share a result file, and a rerun finds the same key.
        """
        if self.student:
            parts = [self.student, self.assignment, self.path.stem]
        else:
            where = str(_located(self.path)).encode("utf-8", "surrogateescape")
            digest = hashlib.sha256(where).hexdigest()[:10]
            parts = [p for p in (_located(self.path).parent.name, f"{self.path.stem}-{digest}") if p]
        return "/".join(_key_part(p) for p in parts)


def _key_part(name: str) -> str:
    """``name`` as one part of a result key: itself when it is plain (letters, digits, ``._-``, not ``.`` or
    ``..``), else its plain form plus ``~`` and a hash of it, so that two names never share a key ("x y" and
    "x_y" were both "x_y", and a student's two notebooks stopped the batch) and no part is ``..``."""
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    if plain == name and name not in (".", ".."):
        return name
    return f"{plain}~{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"


def _located(path: Path) -> Path:
    """Where ``path`` is: its folder resolved, its own name kept. A notebook that is a symbolic link stays the
    submission of the folder it is in (``grade_submission`` refuses it), never of the file it points to: a
    link in aaron's folder to zed's notebook made one row named zed and dropped zed's own as a duplicate."""
    return Path(os.path.realpath(path.parent)) / path.name


def discover(paths) -> list[Submission]:
    """Notebooks named directly, or found under folders (``submitted/<student>/<assignment>/`` or flat)."""
    found: list[Submission] = []
    for raw in paths:
        root = Path(raw)
        if root.is_file():
            candidates = [root]
        elif root.is_dir():
            candidates = sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            raise FileNotFoundError(f"nnkit grade: {raw} does not exist")
        for path in candidates:
            parts = _located(path).parts
            if "submitted" in parts and len(parts) - parts.index("submitted") == 4:
                i = parts.index("submitted")
                found.append(Submission(path, parts[i + 1], parts[i + 2]))
            else:
                found.append(Submission(path))
    unique, seen = [], set()
    for sub in found:
        where = _located(sub.path)
        if where not in seen:
            seen.add(where)
            unique.append(sub)
    return unique


def check_unique_keys(submissions: list[Submission]) -> None:
    """Raise ValueError when two submissions would write the same result file."""
    keys: dict[str, Submission] = {}
    for sub in submissions:
        if sub.key in keys:
            raise ValueError(f"grade_batch: {keys[sub.key].path} and {sub.path} would share the result key "
                             f"{sub.key!r} (the same student, assignment and notebook under two submitted/ "
                             "folders); grade them into different --out folders")
        keys[sub.key] = sub


@dataclass
class BatchOutcome:
    """``results`` in submission order; ``graded`` now, ``skipped`` because an earlier run had graded them."""

    results: list[SubmissionResult]
    graded: int
    skipped: int


def grade_batch(submissions: list[Submission], **kwargs) -> list[SubmissionResult]:
    """Grade ``submissions``; the results in their order (see ``run_batch`` for the arguments)."""
    return run_batch(submissions, **kwargs).results


def run_batch(submissions: list[Submission], *, out: Path | None = None, jobs: int | None = None,
              force: bool = False, progress: bool = True, shard: tuple[int, int] | None = None,
              **options) -> BatchOutcome:
    """Grade ``submissions`` (only shard ``(k, n)`` of them, if given) with ``jobs`` processes.

    ``options`` go to ``grade_submission``. Raises ``outdir.OutputUnusable`` before grading
    anything when ``out`` cannot be written or is in use, ``outdir.OutputError`` when writing a
    result fails, and ``Interrupted`` on SIGINT/SIGTERM (finished results are kept in both cases).
    """
    check_unique_keys(submissions)
    if shard is not None:
        submissions = shards.select(submissions, shard)
    jobs = max(1, jobs or os.cpu_count() or 1)
    out = Path(out) if out is not None else None
    with outdir.claim(out) if out is not None else nullcontext():
        sandbox.sweep_stale_tempdirs()
        if out is not None:
            outdir.sweep_partial_writes(out)
            # it exists before any worker starts: workers are denied it
            options = {**options, "denied": tuple(options.get("denied", ())) + (str(out.resolve()),)}
        return _run(submissions, out, jobs, force, progress, shard, options)


def _run(submissions, out, jobs, force, progress, shard, options) -> BatchOutcome:
    results, todo = _resume(submissions, out, force)
    skipped = len(results)
    keys = [sub.key for sub in submissions]
    if out is not None:
        shards.write_manifest(out, keys, shard, finished=False)
    bar = _progress(len(submissions), len(results), progress)

    def finished(n: int, result: SubmissionResult) -> None:
        results[n] = result
        bar.update(1)

    try:
        with pool.signals_raise_interrupted():
            if jobs == 1 or len(todo) <= 1:
                for n in todo:
                    finished(n, _safe(lambda: _grade_one(submissions[n], out, options), submissions[n], options))
            else:
                tasks = {n: (submissions[n], out, options) for n in todo}
                pool.run(_grade_one, tasks, min(jobs, len(todo)),
                         lambda n, outcome: finished(n, _safe(outcome, submissions[n], options)))
    except (Interrupted, outdir.OutputError):
        bar.close()
        if out is not None:
            _keep_what_finished(submissions, results, out)
        raise
    bar.close()
    ordered = [results[n] for n in range(len(submissions))]
    if out is not None:
        report.write_batch(out, dict(zip(keys, ordered)))
        unsaved = {sub.key: r.to_dict() for sub, r in zip(submissions, ordered) if _unsaved(r)}
        shards.write_manifest(out, keys, shard, finished=True, unsaved=unsaved)
    return BatchOutcome(ordered, len(todo), skipped)


def _resume(submissions, out, force) -> tuple[dict[int, SubmissionResult], list[int]]:
    results: dict[int, SubmissionResult] = {}
    todo = []
    for n, sub in enumerate(submissions):
        kept = _kept_result(sub, out) if out is not None and not force else None
        if kept is not None:
            results[n] = kept
        else:
            todo.append(n)
    return results, todo


def _kept_result(sub: Submission, out: Path) -> SubmissionResult | None:
    """``sub``'s result in ``out`` if it is whole, this kit's, and about the notebook now in place, else None
    (a damaged file, an upgrade, or a late submission collected again over a graded one: grade it again)."""
    path = out / "results" / f"{sub.key}.json"
    if not path.is_file():
        return None
    try:
        kept = report.read_json(path)
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return None   # truncated, edited by hand, not UTF-8
    if kept.kit != shards.kit_version() or not kept.sha256 or kept.sha256 != file_digest(sub.path):
        return None
    return kept


def _unsaved(result: SubmissionResult) -> bool:
    """An internal error row: not written to ``results/`` (a rerun retries it), but kept in ``batch.json``."""
    return bool(result.error) and result.error.startswith("internal grader error")


def _keep_what_finished(submissions, results, out) -> None:
    """After a stop: ``grades.csv`` and Gradescope files of every result on disk (a pool process may have
    written one the main process had not received yet). On a full disk this can fail too; the error
    that stopped the batch is the one reported."""
    finished = {}
    for n, sub in enumerate(submissions):
        kept = results[n] if n in results and not _unsaved(results[n]) else _kept_result(sub, out)
        if kept is not None:
            finished[sub.key] = kept
    try:
        report.write_batch(out, finished)
    except outdir.OutputError:
        pass


# -- grading one submission ----------------------------------------------------------------------
def file_digest(path: Path) -> str:
    """SHA-256 of the submitted file's bytes, or "" when it cannot be read (then a rerun grades it again)."""
    try:
        return hashlib.sha256(notebook.read_regular_file(Path(path))).hexdigest()
    except (OSError, notebook.SubmissionError):
        return ""


def _grade_one(sub: Submission, out: Path | None, options: dict) -> dict:
    result = grade_submission(sub.path, student=sub.student, **options)   # sets sha256: of the bytes it graded
    result.kit = shards.kit_version()
    if not result.assignment:
        result.assignment = sub.assignment
    if result.error:
        _with_assignment_max(result, sub, options)
    if out is not None:
        report.write_json(out / "results" / f"{sub.key}.json", result)
    return result.to_dict()


def _safe(run, sub: Submission, options: dict) -> SubmissionResult:
    try:
        value = run()
        return SubmissionResult.from_dict(value)
    except outdir.OutputError:
        raise          # the output folder failed, not this submission: stop the batch
    except Exception as exc:  # noqa: BLE001 - one broken submission never stops the batch
        result = SubmissionResult(str(sub.path), sub.assignment, sub.path.name, sub.student,
                                  error=f"internal grader error: {type(exc).__name__}: {exc}")
        return _with_assignment_max(result, sub, options)


def _with_assignment_max(result: SubmissionResult, sub: Submission, options: dict) -> SubmissionResult:
    """An error row gets the assignment's max score (and name), read from the trusted notebook.

    The trusted notebook is the one named like the submission (``<source>/<assignment>/<name>``),
    or the only one of its assignment's folder, or the only one in the source. Unknown: the row keeps 0.
    """
    if result.max_score:
        return result
    source = Path(options.get("source") or default_source())
    try:
        trusted_path = find_trusted(sub.path, source)
    except notebook.SubmissionError:
        candidates = trusted_candidates(sub.path, source)[0] if source.is_dir() else []
        if len(candidates) != 1:
            return result
        trusted_path = candidates[0]
    try:
        trusted = notebook.read_notebook(trusted_path)
    except notebook.SubmissionError:
        return result
    registry = options.get("registry")
    if registry is None:
        from autograder.items import default_registry
        registry = default_registry()
    autograded = sum(registry.get(gid).points if gid in registry else (points or 0)
                     for gid, points in notebook.test_cells(trusted).items())
    result.max_score = float(autograded + sum(p or 0 for p in notebook.manual_cells(trusted).values()))
    if not result.assignment and source.is_dir():
        result.assignment = trusted_path.parent.name
    return result


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total: int, done: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm
    return tqdm(total=total, initial=done, unit="nb", desc="grading", dynamic_ncols=True)
