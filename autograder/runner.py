"""Running one item's checks against a handle (the result types are in ``autograder.results``).

``run_item`` is the single place where check functions are called: in the kernel
(``autograder.check``) and in trusted grading (``autograder.grader``). A check that
raises fails one sub-check with a one-line message and the item goes on with its
next check; a stub raising ``NotImplementedError`` reads "implement `name` first".

An item runs in two phases, ``run_visible`` and ``run_hidden``: the trusted grader runs every item's visible
phase before any hidden one (``autograder.grader``), so that nothing shown in full can carry a hidden input
back from the worker. ``run_item`` runs both for one item (the kernel, where nothing is hidden from anyone).
"""

from __future__ import annotations

import warnings

from autograder.handle import NamespaceError, StudentCodeError, WorkerFailure
from autograder.items import Item
from autograder.results import ItemResult, SubCheck
from autograder.tester import Tester


def score_of(item: Item, subchecks: list[SubCheck]) -> float:
    """``points * credit / total`` (or all-or-nothing), a plain float never above ``points``."""
    if not subchecks:
        return 0.0
    credit = sum(s.credit for s in subchecks)
    if item.all_or_nothing:
        return float(item.points) if all(s.passed for s in subchecks) else 0.0
    return float(min(item.points, round(item.points * credit / len(subchecks), 6)))


def _run_check(check, handle, t: Tester) -> None:
    name = getattr(check, "__name__", "check")
    t.start(name)
    what = name.replace("_", " ")
    try:
        check(handle, t)
    except StudentCodeError as exc:
        if exc.not_implemented:
            t.fail(what, f"implement `{exc.where}` first")
            t.results[-1].not_implemented = exc.where
        else:
            t.fail(what, exc.report)
    except NamespaceError as exc:
        t.fail(what, str(exc))
    except WorkerFailure as exc:
        t.fail(what, f"your code crashed or ran too long: {exc}")
    except Exception as exc:  # noqa: BLE001 - a check must never take the item (or the grader) down
        t.fail(what, f"the check could not run on your result ({type(exc).__name__}: {exc})")


def run_item(item: Item, handle, *, include_hidden: bool, secret: str | None = None) -> ItemResult:
    """Run ``item``'s visible checks (and hidden ones when ``include_hidden``) through ``handle``."""
    subchecks, ran = run_visible(item, handle, secret=secret)
    if include_hidden and ran:
        subchecks += run_hidden(item, handle, subchecks, secret=secret)
    return item_result(item, subchecks, include_hidden)


def item_result(item: Item, subchecks: list[SubCheck], include_hidden: bool) -> ItemResult:
    return ItemResult(item.grade_id, item.title, float(item.points), score_of(item, subchecks), subchecks,
                      include_hidden)


def run_visible(item: Item, handle, *, secret: str | None = None) -> tuple[list[SubCheck], bool]:
    """The item's definitions, then its visible checks: ``(sub-checks, whether its checks ran)``. When a name
    is missing (or the worker fails to say) the checks do not run, and neither do the hidden ones."""
    subchecks: list[SubCheck] = []
    missing = []
    try:
        missing = [name for name in item.names if not handle.has(name)]
    except WorkerFailure as exc:
        t = Tester(item.grade_id, secret=secret)
        t.fail("your notebook's code", f"the worker failed: {exc}")
        subchecks += t.results
    if missing:
        names = ", ".join(f"`{n}`" for n in missing)
        t = Tester(item.grade_id, secret=secret)
        t.fail("definitions", f"{names} {'is' if len(missing) == 1 else 'are'} not defined in your notebook "
                              "(run the cell that defines it)")
        subchecks += t.results
    if subchecks:
        return subchecks, False
    return _run_phase(item, handle, item.checks, hidden=False, secret=secret), True


def run_hidden(item: Item, handle, visible: list[SubCheck], *, secret: str | None = None) -> list[SubCheck]:
    """The item's hidden checks. What the student's side says while they run may encode their inputs, so a
    hidden sub-check names a stub only by a name the grader asked for or the visible checks already named."""
    known = set(item.names) | {s.not_implemented for s in visible if s.not_implemented}
    subchecks = _run_phase(item, handle, item.hidden_checks, hidden=True, secret=secret)
    for sub in subchecks:
        if sub.not_implemented not in known:
            sub.not_implemented = None
    return subchecks


def _run_phase(item: Item, handle, checks, *, hidden: bool, secret: str | None) -> list[SubCheck]:
    # Warnings from the student's code (overflow in exp, ...) must not reach stderr: nbgrader
    # zeroes a test cell that writes to stderr. Their effect (NaN, inf) is what gets graded.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = Tester(item.grade_id, hidden=hidden, secret=secret)
        for check in checks:
            _run_check(check, handle, t)
    return t.results
