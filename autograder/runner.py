"""Running one item's checks against a handle, and the result of doing so.

``run_item`` is the single place where check functions are called: in the kernel
(``autograder.check``) and in trusted grading (``autograder.grader``). A check that
raises fails one sub-check with a one-line message and the item goes on with its
next check; a stub raising ``NotImplementedError`` reads "implement `name` first".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from autograder.handle import NamespaceError, StudentCodeError, WorkerFailure
from autograder.items import Item
from autograder.tester import SubCheck, Tester


@dataclass
class ItemResult:
    """The outcome of one item: score out of points, and every sub-check."""

    grade_id: str
    title: str
    points: float
    score: float
    subchecks: list[SubCheck] = field(default_factory=list)
    hidden_included: bool = False
    flag: str | None = None  # why the item was zeroed outright (forbidden import, ...)
    manual: bool = False     # a written answer: graded by a person (formgrader), never by the autograder

    def to_dict(self, show_hidden_details: bool = False) -> dict:
        subs = []
        for sub in self.subchecks:
            d = sub.to_dict()
            if sub.hidden and not show_hidden_details:
                d["details"] = []
            subs.append(d)
        return {"grade_id": self.grade_id, "title": self.title, "points": self.points, "score": self.score,
                "hidden_included": self.hidden_included, "flag": self.flag, "manual": self.manual,
                "subchecks": subs}

    def untouched_stub(self) -> str | None:
        """The name to implement when every sub-check failed with its ``NotImplementedError``, else None."""
        names = {s.not_implemented for s in self.subchecks}
        if self.flag or not self.subchecks or len(names) != 1 or None in names:
            return None
        return names.pop()

    def _repr_html_(self) -> str:
        """The report as an HTML table in Jupyter (``autograder.feedback_html``); text stays ``render()``."""
        from autograder.feedback_html import item_html
        return item_html(self)

    def render(self, show_hidden_details: bool = False) -> str:
        """Readable feedback: a headline, then one line per sub-check with its details and hints.

        An untouched stub (every sub-check raised ``NotImplementedError`` in the same
        function) gets one line: the headline and "implement `name` first".
        """
        headline = f"{self.grade_id} -- {self.title}: {_num(self.score)} / {_num(self.points)} points"
        stub = self.untouched_stub()
        if stub is not None:
            return f"{headline}: implement `{stub}` first"
        lines = [headline]
        if self.flag:
            lines.append(f"  [FLAG] {self.flag}")
        for sub in self.subchecks:
            tag = "ok  " if sub.passed else ("part" if sub.credit > 0 else "FAIL")
            label = f"(hidden) {sub.what}" if sub.hidden else sub.what
            credit = f" ({sub.credit:.0%})" if 0 < sub.credit < 1 else ""
            lines.append(f"  [{tag}] {label}{credit}")
            if sub.details and (show_hidden_details or not sub.hidden):
                lines.extend(f"         {d}" for d in sub.details)
            elif sub.details and not sub.passed:
                lines.append("         (details of hidden checks are not shown)")
            lines.extend(f"         hint: {d}" for d in sub.diagnosis)
        return "\n".join(lines)


def _num(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.2f}"


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
            t.fail(what, f"your code raised {exc.exc_type} in `{exc.where}`: {exc.message}")
    except NamespaceError as exc:
        t.fail(what, str(exc))
    except WorkerFailure as exc:
        t.fail(what, f"your code crashed or ran too long: {exc}")
    except Exception as exc:  # noqa: BLE001 - a check must never take the item (or the grader) down
        t.fail(what, f"the check could not run on your result ({type(exc).__name__}: {exc})")


def run_item(item: Item, handle, *, include_hidden: bool, secret: str | None = None) -> ItemResult:
    """Run ``item``'s visible checks (and hidden ones when ``include_hidden``) through ``handle``."""
    phases = [(False, item.checks)] + ([(True, item.hidden_checks)] if include_hidden else [])
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
    if not subchecks:
        # Warnings from the student's code (overflow in exp, ...) must not reach stderr: nbgrader
        # zeroes a test cell that writes to stderr. Their effect (NaN, inf) is what gets graded.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for hidden, checks in phases:
                t = Tester(item.grade_id, hidden=hidden, secret=secret)
                for check in checks:
                    _run_check(check, handle, t)
                subchecks += t.results
    return ItemResult(item.grade_id, item.title, float(item.points), score_of(item, subchecks), subchecks,
                      include_hidden)
