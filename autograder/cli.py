"""The ``nnkit`` command: ``grade``, ``check`` and ``demo``.

Exit codes
    0  everything asked for was graded (whatever the scores)
    1  at least one submission could not be graded (unreadable, foreign, ...); see its error row
    2  usage error: bad arguments, nothing to grade, no trusted source
    3  internal error in the grader (please report it)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_SUBMISSION_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _registry(spec: str | None):
    """``module:attribute`` naming a Registry (for fixture assignments); None for the kit's suites."""
    if spec is None:
        return None
    module, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())   # a fixture registry in the current project
    return getattr(importlib.import_module(module), attr or "REGISTRY")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnkit", description="nnkit course kit: grading and demos.")
    sub = parser.add_subparsers(dest="command", required=True)

    grade = sub.add_parser("grade", help="grade notebooks in a sandbox (trusted grading)")
    grade.add_argument("paths", nargs="+", help="notebooks, or folders (nbgrader submitted/<student>/<assignment>/ "
                                                "layout or flat)")
    grade.add_argument("--source", help="trusted notebooks: <source>/<assignment>/<notebook>.ipynb "
                                        "(default: the kit's solutions/)")
    grade.add_argument("--jobs", type=int, default=None, help="parallel workers (default: number of cores)")
    grade.add_argument("--force", action="store_true", help="regrade submissions that already have a result")
    grade.add_argument("--out", default="nnkit-grades", help="output folder (default: nnkit-grades)")
    grade.add_argument("--registry", help=argparse.SUPPRESS)
    grade.add_argument("--quiet", action="store_true", help="no per-submission report, no progress bar")
    grade.add_argument("--show-hidden", action="store_true", help="show hidden checks' inputs and values")
    grade.add_argument("--worker-user", help="run student code as this (unprivileged) user; needs a root grader")
    grade.add_argument("--cell-timeout", type=float, default=None, help="seconds per notebook cell (default 60)")
    grade.add_argument("--call-timeout", type=float, default=None, help="seconds per call into student code "
                                                                        "(default 20; items may set their own)")

    check = sub.add_parser("check", help="self-study: grade one notebook now, hidden checks included")
    check.add_argument("notebook")
    check.add_argument("--source", help="trusted notebooks (default: the kit's solutions/)")
    check.add_argument("--registry", help=argparse.SUPPRESS)

    sub.add_parser("demo", help="train the kit's digits MLP and print its test accuracy")
    from autograder import gradescope
    gradescope.add_parser(sub)
    return parser


def _grade(args) -> int:
    from autograder import batch, report

    try:
        subs = batch.discover(args.paths)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if not subs:
        print(f"nnkit grade: no notebooks found in {' '.join(args.paths)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        batch.check_unique_keys(subs)
    except ValueError as exc:
        print(f"nnkit grade: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.jobs is not None and args.jobs < 1:
        print(f"nnkit grade: --jobs must be at least 1, got {args.jobs}", file=sys.stderr)
        return EXIT_USAGE
    from autograder.sandbox import Limits

    limits = Limits()
    for name, value in (("run_as", args.worker_user), ("cell_timeout", args.cell_timeout),
                        ("call_timeout", args.call_timeout)):
        if value is not None:
            if isinstance(value, float) and not value > 0:
                print(f"nnkit grade: --{name.replace('_', '-')} must be positive, got {value}", file=sys.stderr)
                return EXIT_USAGE
            setattr(limits, name, value)
    options = {"source": args.source, "registry": _registry(args.registry), "limits": limits}
    if options["source"] is not None and not Path(options["source"]).exists():
        print(f"nnkit grade: --source {args.source} does not exist", file=sys.stderr)
        return EXIT_USAGE
    results = batch.grade_batch(subs, out=Path(args.out), jobs=args.jobs, force=args.force,
                                progress=not args.quiet and sys.stderr.isatty(), **options)
    if not args.quiet:
        for result in results:
            print(report.render_text(result, show_hidden_details=args.show_hidden))
            print()
    graded = [r for r in results if not r.error]
    print(f"graded {len(graded)} of {len(results)} submissions; results in {args.out}/ "
          f"(grades.csv, results/, gradescope/)")
    if any(r.error and r.error.startswith("internal grader error") for r in results):
        return EXIT_INTERNAL
    return EXIT_OK if len(graded) == len(results) else EXIT_SUBMISSION_ERRORS


def _check(args) -> int:
    from autograder import report
    from autograder.grader import grade_submission

    path = Path(args.notebook)
    if not path.is_file():
        print(f"nnkit check: {path} is not a file", file=sys.stderr)
        return EXIT_USAGE
    result = grade_submission(path, source=args.source, registry=_registry(args.registry))
    print(report.render_text(result))
    return EXIT_SUBMISSION_ERRORS if result.error else EXIT_OK


def _demo(args) -> int:
    from nnkit.examples.mlp import train_digits_mlp

    print("Training nnkit's digits MLP (pure NumPy) on the fixed digits split ...", flush=True)
    _, history, accuracy = train_digits_mlp(seed=0)
    print(f"test accuracy: {accuracy:.4f}")
    return EXIT_OK


def _gradescope(args) -> int:
    from autograder import gradescope
    return gradescope.command(args)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"grade": _grade, "check": _check, "demo": _demo, "gradescope": _gradescope}[args.command](args)
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
