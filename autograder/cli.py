"""The ``nnkit`` command: ``grade``, ``check``, ``merge``, ``demo`` and ``gradescope``.

Exit codes
    0    everything asked for was graded (whatever the scores)
    1    at least one submission could not be graded (unreadable, foreign, ...; see its error row; not
         for ``--shard``, whose exit code says only whether the shard finished), an
         output could not be written (full disk, read-only folder; what was written is kept), or
         ``merge`` found a shard missing or unfinished
    2    usage error: bad arguments, nothing to grade, no trusted source, an ``--out`` folder that cannot
         be written or is in use by another grader, isolation that this machine cannot give
    3    internal error in the grader (please report it)
    130  stopped by SIGINT (Ctrl-C), 143 stopped by SIGTERM: finished results are kept; rerun to resume
    141  the output pipe was closed early (``nnkit check nb.ipynb | head``)
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from pathlib import Path

from autograder.outdir import OutputUnusable

EXIT_OK, EXIT_SUBMISSION_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
ISOLATION_MODES = ("auto", "namespace", "user", "process")


class UsageError(Exception):
    """A one-line usage error (exit 2); the message starts with the command's name."""


def _registry(spec: str | None):
    """``module:attribute`` naming a Registry (for fixture assignments); None for the kit's suites."""
    if spec is None:
        return None
    module, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())   # a fixture registry in the current project
    return getattr(importlib.import_module(module), attr or "REGISTRY")


def _version() -> str:
    """The installed distribution's version (a clone run without installing says so)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nnkit")
    except PackageNotFoundError:
        return "(not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnkit", description="nnkit course kit: grading and demos.")
    parser.add_argument("--version", action="version", version=f"nnkit {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    grade = sub.add_parser("grade", help="grade notebooks in a sandbox (trusted grading)")
    grade.add_argument("paths", nargs="+", help="notebooks, or folders (nbgrader submitted/<student>/<assignment>/ "
                                                "layout or flat)")
    grade.add_argument("--source", help="trusted notebooks: <source>/<assignment>/<notebook>.ipynb "
                                        "(default: the kit's solutions/)")
    grade.add_argument("--jobs", type=int, default=None, help="parallel workers (default: number of cores)")
    grade.add_argument("--force", action="store_true", help="regrade submissions that already have a result "
                                                            "(a notebook that changed is regraded anyway)")
    grade.add_argument("--out", default="nnkit-grades", help="output folder (default: nnkit-grades); one grader "
                                                             "at a time")
    grade.add_argument("--shard", metavar="K/N", help="grade only shard K of N (K = 0..N-1, by result key); "
                                                      "combine the shards' --out folders with nnkit merge")
    grade.add_argument("--registry", help=argparse.SUPPRESS)
    grade.add_argument("--quiet", action="store_true", help="no per-submission report, no progress bar")
    grade.add_argument("--show-hidden", action="store_true", help="show hidden checks' inputs and values")
    _add_isolation(grade, "auto: namespaces where they work, else the user mode for a root grader; process (no "
                          "isolation) only when asked for")
    grade.add_argument("--worker-user", help="run student code as this (unprivileged) user; needs a root grader")
    grade.add_argument("--cell-timeout", type=float, default=None, help="seconds per notebook cell (default 60)")
    grade.add_argument("--call-timeout", type=float, default=None, help="seconds per call into student code "
                                                                        "(default 20; items may set their own)")
    grade.add_argument("--notebook-timeout", type=float, default=None,
                       help="seconds for all of a notebook's cells together (default 600)")
    grade.add_argument("--submission-timeout", type=float, default=None,
                       help="seconds for everything one submission runs: cells, re-runs, calls (default 3600)")

    check = sub.add_parser("check", help="self-study: grade one notebook now, hidden checks included")
    check.add_argument("notebook")
    check.add_argument("--source", help="trusted notebooks (default: the kit's solutions/)")
    check.add_argument("--registry", help=argparse.SUPPRESS)
    _add_isolation(check, "auto falls back to process (no isolation) with a notice where namespaces are missing")

    merge = sub.add_parser("merge", help="combine the --out folders of nnkit grade --shard K/N runs")
    merge.add_argument("inputs", nargs="+", metavar="OUT", help="the --out folder of every shard")
    merge.add_argument("--out", required=True, help="the merged folder: grades.csv, results/, gradescope/")

    sub.add_parser("demo", help="train the kit's digits MLP and print its test accuracy")
    from autograder import gradescope
    gradescope.add_parser(sub)
    return parser


def _add_isolation(command: argparse.ArgumentParser, auto: str) -> None:
    command.add_argument("--isolation", choices=ISOLATION_MODES, default="auto",
                         help=f"how student code is kept from the grader (default auto; {auto})")


def _resolve_isolation(command: str, requested: str, run_as: str | None, allow_process: bool) -> str:
    from autograder import sandbox

    try:
        return sandbox.resolve_isolation(requested, run_as=run_as, allow_process=allow_process)
    except sandbox.IsolationUnavailable as exc:
        raise UsageError(f"{command}: {exc}") from None


def _limits(args):
    from autograder.sandbox import Limits

    limits = Limits()
    for name, value in (("run_as", args.worker_user), ("cell_timeout", args.cell_timeout),
                        ("call_timeout", args.call_timeout), ("notebook_timeout", args.notebook_timeout),
                        ("submission_timeout", args.submission_timeout)):
        if value is not None:
            if isinstance(value, float) and not value > 0:
                raise UsageError(f"nnkit grade: --{name.replace('_', '-')} must be positive, got {value}")
            setattr(limits, name, value)
    return limits


def _submissions(args) -> list:
    from autograder import batch

    try:
        subs = batch.discover(args.paths)
        batch.check_unique_keys(subs)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(f"nnkit grade: {exc}") from None
    if not subs:
        raise UsageError(f"nnkit grade: no notebooks found in {' '.join(args.paths)}")
    return subs


def _grade(args) -> int:
    from autograder import batch, outdir, report, shards
    from autograder.tester import SECRET_ENV

    subs = _submissions(args)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"nnkit grade: --jobs must be at least 1, got {args.jobs}")
    try:
        shard = shards.parse(args.shard) if args.shard is not None else None
    except ValueError as exc:
        raise UsageError(f"nnkit grade: {exc}") from None
    if args.source is not None and not Path(args.source).exists():
        raise UsageError(f"nnkit grade: --source {args.source} does not exist")
    limits = _limits(args)
    limits.isolation = _resolve_isolation("nnkit grade", args.isolation, limits.run_as,
                                          allow_process=args.isolation == "process")
    if limits.isolation == "user":   # what the worker's user must not read has to be private to us first
        from autograder import grader, isolation
        try:
            isolation.check_private([args.source or str(grader.default_source()), args.out, *args.paths],
                                    limits.run_as)
        except isolation.IsolationUnavailable as exc:
            raise UsageError(f"nnkit grade: {exc}") from None
    if limits.isolation == "process":
        print(f"nnkit grade: WARNING: {report.NOT_ISOLATED}; every output says so", file=sys.stderr)
    if not os.environ.get(SECRET_ENV):
        print(f"nnkit grade: warning: {SECRET_ENV} is not set, so the inputs of hidden checks are predictable; "
              "set it to a long random string that students never see", file=sys.stderr)
    out = Path(args.out)
    try:
        outcome = batch.run_batch(subs, out=out, jobs=args.jobs, force=args.force, shard=shard,
                                  progress=not args.quiet and sys.stderr.isatty(), source=args.source,
                                  registry=_registry(args.registry), limits=limits)
    except batch.Interrupted as stop:
        print(f"nnkit grade: stopped by {signal.Signals(stop.signum).name}; the finished results are kept in "
              f"{outdir.show(out)}/ (grades.csv lists them); rerun the same command to resume", file=sys.stderr)
        return 128 + stop.signum
    except outdir.OutputError as exc:
        print(f"nnkit grade: {exc}; the results already written are kept in {outdir.show(out / 'results')}/",
              file=sys.stderr)
        return EXIT_SUBMISSION_ERRORS
    results = outcome.results
    if not args.quiet:
        for result in results:
            print(report.render_text(result.displayable(), show_hidden_details=args.show_hidden))
            print()
    print(_summary(outcome, shard, out))
    if any(r.error and r.error.startswith("internal grader error") for r in results):
        return EXIT_INTERNAL
    if shard is not None:
        return EXIT_OK   # a shard's task did its job; broken files are error rows, reported by nnkit merge
    return EXIT_SUBMISSION_ERRORS if any(r.error for r in results) else EXIT_OK


def _summary(outcome, shard, out: Path) -> str:
    """One line: how many there were, how many were graded now and how many an earlier run had graded."""
    from autograder.outdir import show

    total = len(outcome.results)
    which = f" in shard {shard[0]}/{shard[1]}" if shard else ""
    line = f"{total} submission{'s' if total != 1 else ''}{which}: {outcome.graded} graded now"
    if outcome.skipped:
        line += f", {outcome.skipped} skipped (graded by an earlier run; --force regrades them)"
    errors = sum(1 for r in outcome.results if r.error)
    if errors:
        line += f"; {errors} could not be graded (see their error rows)"
    return line + f". Results in {show(out)}/: grades.csv, results/, gradescope/"


def _check(args) -> int:
    from autograder import report
    from autograder.grader import grade_submission
    from autograder.sandbox import Limits

    path = Path(args.notebook)
    if not path.is_file():
        raise UsageError(f"nnkit check: {path} is not a file")
    mode = _resolve_isolation("nnkit check", args.isolation, None, allow_process=True)
    if mode == "process" and args.isolation != "process":
        print("nnkit check: notice: this machine cannot isolate the notebook's code (no user namespaces); "
              "checking it without isolation, which is fine for your own code", file=sys.stderr)
    result = grade_submission(path, source=args.source, registry=_registry(args.registry),
                              limits=Limits(isolation=mode))
    print(report.render_text(result.displayable()))
    return EXIT_SUBMISSION_ERRORS if result.error else EXIT_OK


def _merge(args) -> int:
    from autograder import outdir, shards

    try:
        results = shards.merge(args.inputs, Path(args.out))
    except shards.MergeUnusable as exc:
        raise UsageError(str(exc)) from None
    except shards.ShardIncomplete as exc:
        print(exc, file=sys.stderr)
        return EXIT_SUBMISSION_ERRORS
    except outdir.OutputError as exc:
        print(f"nnkit merge: {exc}", file=sys.stderr)
        return EXIT_SUBMISSION_ERRORS
    errors = sum(1 for r in results.values() if r.error)
    print(f"merged {len(args.inputs)} folder{'s' if len(args.inputs) != 1 else ''}: {len(results)} submissions"
          + (f", {errors} could not be graded" if errors else "")
          + f". Results in {outdir.show(args.out)}/: grades.csv, results/, gradescope/")
    return EXIT_SUBMISSION_ERRORS if errors else EXIT_OK


def _demo(args) -> int:
    from nnkit.examples.mlp import train_digits_mlp

    print("Training nnkit's digits MLP (pure NumPy) on the fixed digits split ...", flush=True)
    _, history, accuracy = train_digits_mlp(seed=0)
    print(f"test accuracy: {accuracy:.4f}")
    return EXIT_OK


def _gradescope(args) -> int:
    from autograder import gradescope
    return gradescope.command(args)


def _printable_output() -> None:
    """Text from student code (an exception message, printed output) may hold lone surrogates, ``chr(0xD800)``,
    which UTF-8 cannot encode: print them as ``\\ud800`` rather than stop the report with a grader error."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _printable_output()
    try:
        return {"grade": _grade, "check": _check, "merge": _merge, "demo": _demo,
                "gradescope": _gradescope}[args.command](args)
    except (UsageError, OutputUnusable) as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; rerun to resume (finished submissions are kept)", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`nnkit check nb.ipynb | head`): not a grader error. Results already written stay.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141   # 128 + SIGPIPE, what a shell reports for a pipeline cut short
    except Exception:  # noqa: BLE001 - a grader bug: say so, with the traceback, and exit 3
        import traceback
        traceback.print_exc()
        print("nnkit: internal error in the grader (exit code 3); please report it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
