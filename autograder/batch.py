"""Grading many submissions: discovery, parallel workers, a progress bar, resumable results.

Each submission's result is written atomically to ``<out>/results/<key>.json`` as
soon as it is graded (by the process that graded it), so an interrupted run
resumes where it stopped; ``force=True`` regrades everything. A submission whose
grading fails unexpectedly gets an error row and is not written, so a rerun
retries it. After the run: ``<out>/grades.csv`` and Gradescope
``<out>/gradescope/<key>/results.json`` (plus ``<out>/results.json`` when there is
exactly one submission, the Gradescope autograder's layout).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from autograder import report
from autograder.grader import SubmissionResult, grade_submission


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
            where = os.path.realpath(self.path).encode("utf-8", "surrogateescape")
            digest = hashlib.sha256(where).hexdigest()[:10]
            parts = [p for p in (self.path.resolve().parent.name, f"{self.path.stem}-{digest}") if p]
        return "/".join(re.sub(r"[^A-Za-z0-9._-]+", "_", p) for p in parts)


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
            parts = path.resolve().parts
            if "submitted" in parts and len(parts) - parts.index("submitted") == 4:
                i = parts.index("submitted")
                found.append(Submission(path, parts[i + 1], parts[i + 2]))
            else:
                found.append(Submission(path))
    unique, seen = [], set()
    for sub in found:
        if sub.path.resolve() not in seen:
            seen.add(sub.path.resolve())
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


def _grade_one(sub: Submission, out: Path | None, options: dict) -> dict:
    result = grade_submission(sub.path, student=sub.student, **options)
    if not result.assignment:
        result.assignment = sub.assignment
    if out is not None:
        report.write_json(out / "results" / f"{sub.key}.json", result)
    return result.to_dict()


def grade_batch(submissions: list[Submission], *, out: Path | None = None, jobs: int | None = None,
                force: bool = False, progress: bool = True, **options) -> list[SubmissionResult]:
    """Grade ``submissions`` with ``jobs`` parallel processes; ``options`` go to ``grade_submission``."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    out = Path(out) if out is not None else None
    check_unique_keys(submissions)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)   # it exists before any worker starts: workers are denied it
        options = {**options, "denied": tuple(options.get("denied", ())) + (str(out.resolve()),)}
    results: dict[int, SubmissionResult] = {}
    todo = []
    for n, sub in enumerate(submissions):
        done = out / "results" / f"{sub.key}.json" if out is not None else None
        if done is not None and done.is_file() and not force:
            try:
                results[n] = report.read_json(done)
                continue
            except (ValueError, KeyError, TypeError, OSError):
                pass  # a damaged result file: grade again
        todo.append(n)
    bar = _progress(len(submissions), len(results), progress)
    try:
        if jobs == 1 or len(todo) <= 1:
            for n in todo:
                results[n] = _safe(lambda: _grade_one(submissions[n], out, options), submissions[n])
                bar.update(1)
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
                futures = {pool.submit(_grade_one, submissions[n], out, options): n for n in todo}
                for future in as_completed(futures):
                    n = futures[future]
                    results[n] = _safe(future.result, submissions[n])
                    bar.update(1)
    finally:
        bar.close()
    ordered = [results[n] for n in range(len(submissions))]
    if out is not None:
        report.write_csv(out / "grades.csv", ordered)
        for sub, result in zip(submissions, ordered):
            report.write_gradescope(out / "gradescope" / sub.key / "results.json", result)
        if len(ordered) == 1:
            report.write_gradescope(out / "results.json", ordered[0])
    return ordered


def _safe(run, sub: Submission) -> SubmissionResult:
    try:
        value = run()
        return SubmissionResult.from_dict(value)
    except Exception as exc:  # noqa: BLE001 - one broken submission never stops the batch
        return SubmissionResult(str(sub.path), sub.assignment, sub.path.name, sub.student,
                                error=f"internal grader error: {type(exc).__name__}: {exc}")


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
