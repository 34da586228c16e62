"""The Tester: what a check uses to compare, record and explain.

One ``Tester`` serves one phase (visible or hidden) of one item. Each comparison
records a ``SubCheck``; an item scores ``points * credit / total`` over its
sub-checks (or all-or-nothing). The comparisons never trust the student's objects:
everything they receive has crossed a handle as plain data.

``t.rng`` is re-seeded before each check function from the grade id, the phase,
the check's name and -- for hidden checks only -- the instructor's secret
(environment variable ``NNKIT_GRADER_SECRET``). Visible inputs are therefore the
same for a student in the notebook and for the trusted grader, while hidden
inputs cannot be reproduced without the secret.
"""

from __future__ import annotations

import functools
import hashlib
import os

import numpy as np

from autograder import numeric, tolerance
from autograder.diagnose import diagnose
from autograder.handle import StudentCodeError, evaluate_many
from autograder.namespace import CALL_REPORT, Ref
from autograder.results import SubCheck, array_detail

DEFAULT_SECRET = "nnkit-public-default-secret"
SECRET_ENV = "NNKIT_GRADER_SECRET"


def grader_secret() -> str:
    """The instructor's secret from ``NNKIT_GRADER_SECRET`` (a public default when unset)."""
    return os.environ.get(SECRET_ENV) or DEFAULT_SECRET


def seed_for(grade_id: str, phase: str, check_name: str, secret: str) -> int:
    """A 128-bit seed; the secret enters only for the hidden phase."""
    material = "\0".join([grade_id, phase, check_name, secret if phase == "hidden" else ""])
    return int.from_bytes(hashlib.sha256(material.encode("utf-8")).digest()[:16], "big")


def _fmt(value) -> str:
    arr = np.asarray(value)
    if arr.size <= 12:
        return np.array2string(arr, precision=8, separator=", ") if arr.ndim else f"{arr.item()!r}"
    return f"array of shape {arr.shape}"


def _describe_returned(got) -> str:
    if got is None:
        return "None (did you forget `return`?)"
    if type(got) is Ref:
        if got.type_name.startswith("ndarray["):
            return f"an array of dtype {got.type_name[8:-1]} (only numeric dtypes are accepted)"
        return f"a {got.type_name} object"
    return f"a {type(got).__name__}"


class Tester:
    """Records sub-checks for one phase of one item; see the module docstring."""

    __test__ = False  # not a pytest test class

    def __init__(self, grade_id: str, *, hidden: bool = False, secret: str | None = None):
        self.grade_id = grade_id
        self.hidden = hidden
        self._secret = grader_secret() if secret is None else secret
        self.results: list[SubCheck] = []
        self.start("")

    def start(self, check_name: str) -> None:
        """Re-seed ``rng`` for the check function ``check_name``."""
        phase = "hidden" if self.hidden else "visible"
        self.rng = np.random.default_rng(seed_for(self.grade_id, phase, check_name, self._secret))

    # -- recording -------------------------------------------------------------------------------
    def record(self, what: str, credit: float, details=(), diagnosis=(), detail: dict | None = None) -> bool:
        credit = float(min(1.0, max(0.0, credit)))
        self.results.append(SubCheck(what, credit, self.hidden, list(details), list(diagnosis), detail=detail))
        return credit >= 1.0

    def fail(self, what: str, message: str, diagnosis=()) -> bool:
        return self.record(what, 0.0, [message], diagnosis)

    def unpack(self, what: str, result, n: int) -> tuple | None:
        """``result`` as an n-tuple; otherwise record a failed sub-check saying what arrived, and return None."""
        if isinstance(result, (tuple, list)) and len(result) == n:
            return tuple(result)
        got = f"a {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        self.fail(what, f"expected a tuple of {n} values, got {got}")
        return None

    def raises_value_error(self, what: str, run, *args, hint: str | None = None, **kwargs) -> bool:
        """Record whether ``run(*args, **kwargs)`` (a call into student code: ``ns.call``, ``ns.method``) refuses
        bad input with a ValueError, or anything ``except ValueError`` catches, and never gives a silent result
        (NumPy would broadcast). ``hint`` goes with a result returned instead."""
        try:
            got = run(*args, **kwargs)
        except StudentCodeError as exc:
            if exc.not_implemented:
                raise
            return self.true(what, exc.is_a("ValueError"), f"raised {exc.exc_type} ({exc.message}), expected "
                                                           "ValueError")
        return self.fail(what, f"returned a result instead of raising ValueError: {got!r:.60}",
                         [hint] if hint else [])

    def note_hidden_case(self, since: int, case: str) -> None:
        """Name the hidden case in the details of the hidden sub-checks recorded since ``since`` that failed.

        A hidden sub-check's description is shown to the student, so it must not vary with the secret (a shape
        or a hyperparameter drawn from ``rng``): the case goes into its details, which only the instructor sees
        (and which only a failure has)."""
        if self.hidden:
            for sub in self.results[since:]:
                if not sub.passed:
                    sub.details.append(f"the hidden case: {case}")

    def true(self, what: str, cond, detail: str = "") -> bool:
        """A property check: passes when ``cond`` is exactly True (or a numpy True)."""
        ok = cond is True or (isinstance(cond, np.bool_) and bool(cond))
        return self.record(what, 1.0 if ok else 0.0, [] if ok or not detail else [detail])

    def score_fraction(self, what: str, fraction: float, detail: str = "") -> bool:
        """Partial credit on a scale, e.g. accuracy on a hidden split mapped to [0, 1]."""
        fraction = float(fraction)
        if not np.isfinite(fraction):
            fraction = 0.0
        return self.record(what, fraction, [detail] if detail else [])

    def equal(self, what: str, got, expected) -> bool:
        """Exact equality of plain data (ints, strings, bools, shapes, integer arrays)."""
        if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
            ok = (type(got) is np.ndarray and got.shape == np.shape(expected)
                  and got.dtype.kind == np.asarray(expected).dtype.kind and bool(np.array_equal(got, expected)))
        else:
            ok = _plain_kind(got) == _plain_kind(expected) and bool(got == expected)
        if ok:
            return self.record(what, 1.0)
        wanted = _fmt(expected) if isinstance(expected, np.ndarray) else repr(expected)
        shown = _fmt(got) if type(got) is np.ndarray else _describe_returned_value(got)
        detail = None
        if type(got) is np.ndarray and got.shape == np.shape(expected):
            detail = array_detail(got, np.asarray(expected), got != expected, hidden=self.hidden)
        return self.record(what, 0.0, [f"expected {wanted}, got {shown}"], detail=detail)

    def away_from_kinks(self, shape, *, kinks=(0.0,), scale: float = 1.0) -> np.ndarray:
        """Random inputs from ``self.rng`` at least ``tolerance.KINK_MARGIN`` from every kink."""
        return tolerance.away_from_kinks(self.rng, shape, kinks=kinks, scale=scale)

    # -- array comparison ------------------------------------------------------------------------
    def _as_array(self, what: str, got, expected: np.ndarray):
        """``got`` as an ndarray if it is an acceptable result, else record a failure and return None."""
        if expected.ndim == 0 and (type(got) in (int, float, bool) or isinstance(got, np.generic)):
            got = np.asarray(got)
        if type(got) is not np.ndarray:
            self.fail(what, f"expected an ndarray of shape {expected.shape} and dtype {expected.dtype}, "
                            f"got {_describe_returned(got)}")
            return None
        if got.dtype.kind not in "biufc":
            self.fail(what, f"expected a numeric array, got dtype {got.dtype}")
            return None
        return got

    def close(self, what: str, got, expected, rtol: float | None = None, atol: float | None = None, *,
              kind: str = "forward", known_wrong: dict | None = None, batch_size: int | None = None,
              factors: dict | None = None) -> bool:
        """``got`` matches ``expected`` under the tolerance policy (see ``autograder.tolerance``).

        Shapes must match exactly (no broadcasting) and float results must be
        float64. On failure the feedback shows shapes, dtypes, the max absolute and
        relative error and the first mismatching index, plus any diagnosis
        (``known_wrong``, ``batch_size`` and ``factors`` go to ``autograder.diagnose``).
        """
        expected = np.asarray(expected)
        got = self._as_array(what, got, expected)
        if got is None:
            return False
        tol = tolerance.tolerance_for(kind, rtol, atol)
        if got.shape != expected.shape:
            return self.fail(what, f"expected shape {expected.shape}, got shape {got.shape}",
                             diagnose(got, expected, known_wrong, batch_size, factors))
        if expected.dtype.kind in "fc" and (got.dtype.kind not in "fc" or got.dtype.itemsize < 8):
            hint = ("float32 loses precision: compute in float64" if got.dtype.kind == "f"
                    else "return floats (e.g. `.astype(np.float64)`)")
            return self.fail(what, f"expected dtype {expected.dtype}, got {got.dtype}: {hint}")
        if expected.dtype.kind in "biu" and got.dtype.kind != expected.dtype.kind:
            return self.fail(what, f"expected an array of dtype {expected.dtype}, got {got.dtype}")
        ok = np.isclose(got, expected, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
        if np.all(ok):
            return self.record(what, 1.0)
        return self.record(what, 0.0, self._mismatch_details(got, expected, ok, tol),
                           diagnose(got, expected, known_wrong, batch_size, factors),
                           array_detail(got, expected, ~ok, hidden=self.hidden))

    @staticmethod
    def _mismatch_details(got, expected, ok, tol) -> list[str]:
        first = tuple(int(i) for i in np.argwhere(~ok)[0])
        with np.errstate(all="ignore"):
            err = np.abs(got.astype(np.complex128 if got.dtype.kind == "c" else np.float64) - expected)
        finite = np.isfinite(err)
        max_abs = float(np.max(err[finite])) if np.any(finite) else float("nan")
        max_rel = tolerance.report_rel_error(got[~ok], expected[~ok])   # over the mismatches
        lines = [f"{int(np.sum(~ok))} of {ok.size} values differ (rtol={tol.rtol:g}, atol={tol.atol:g}); "
                 f"max abs error {max_abs:.3g}, max rel error {max_rel:.3g}"]
        index = first if expected.ndim else ()
        lines.append(f"first mismatch at index {index}: expected {expected[index].item()!r}, "
                     f"got {got[index].item()!r}")   # .item(): 0.5, not np.float64(0.5)
        if expected.size <= 12:
            lines.append(f"expected {_fmt(expected)}")
            lines.append(f"got      {_fmt(got)}")
        return lines

    # -- gradients -------------------------------------------------------------------------------
    def grad_matches_numeric(self, what: str, forward, x, dout, analytic, *, eps: float | None = None,
                             max_rel_error: float | None = None, reference=None, batch_size: int | None = None,
                             factors: dict | None = None) -> bool:
        """``analytic`` matches central differences of ``L(x) = sum(forward(x) * dout)``.

        ``forward`` is called by the grader (it usually wraps ``ns.call`` or
        ``ns.method``), so the student's own forward is differentiated. See
        ``autograder.tolerance`` for the error measure and the sampling of large x.
        With ``reference`` (the correct gradient), a gradient that matches it while
        disagreeing with the student's forward blames the forward, not the gradient.
        """
        eps = tolerance.NUMERIC_EPS if eps is None else float(eps)
        limit = tolerance.NUMERIC_MAX_REL_ERROR if max_rel_error is None else float(max_rel_error)
        x = np.array(x, dtype=np.float64)
        dout = np.asarray(dout, dtype=np.float64)
        analytic = self._as_array(what, analytic, x)
        if analytic is None:
            return False
        if analytic.shape != x.shape:
            return self.fail(what, f"the gradient has shape {analytic.shape}, its input has shape {x.shape}")
        coords = numeric.sample_coords(x.size, self.rng)
        numeric_grad = self._numeric_gradient(what, forward, x, dout, coords, eps)
        if numeric_grad is None:
            return False
        picked = analytic.reshape(-1)[coords].astype(np.float64)
        if not np.all(np.isfinite(picked)):
            return self.fail(what, "the gradient contains NaN or inf")
        err = tolerance.normwise_rel_error(picked, numeric_grad)
        if err <= limit:
            return self.record(what, 1.0)
        worst = int(np.argmax(np.abs(picked - numeric_grad)))
        index = tuple(int(i) for i in np.unravel_index(int(coords[worst]), x.shape))
        ref_picked = None if reference is None else np.asarray(reference, dtype=np.float64).reshape(-1)[coords]
        if ref_picked is not None and tolerance.normwise_rel_error(picked, ref_picked) <= limit:
            notes = ["your gradient is the correct one, but it is not the gradient of your own forward "
                     "(value): the forward is what is wrong (see its check)"]
        else:
            notes = diagnose(picked, numeric_grad, batch_size=batch_size, factors=factors)
        return self.record(what, 0.0, [
            f"relative error {err:.3g} against numeric differentiation of your forward (limit {limit:g}, "
            f"{coords.size} coordinates)",
            f"worst at index {index}: your gradient {analytic[index].item()!r}, numeric {numeric_grad[worst].item()!r}",
        ], notes, self._gradient_detail(analytic, picked, numeric_grad, coords, limit))

    def _numeric_gradient(self, what, forward, x, dout, coords, eps) -> np.ndarray | None:
        """Central differences of ``sum(forward(.) * dout)`` at ``coords`` of ``x``; the perturbed inputs go to
        the student's side together (``evaluate_many``). None, with a failure recorded, for a bad output."""
        values = []
        for out in evaluate_many(forward, numeric.perturbed_inputs(x, coords, eps)):
            out_arr = self._as_array(what + " (forward output)", out, dout)
            if out_arr is None:
                return None
            if out_arr.shape != dout.shape:
                self.fail(what, f"forward returned shape {out_arr.shape}, expected {dout.shape}")
                return None
            values.append(float(np.sum(out_arr * dout)))
        return numeric.central_differences(values, eps)

    def _gradient_detail(self, analytic, picked, numeric_grad, coords, limit) -> dict:
        """``SubCheck.detail`` of a failed gradient check: where (of the coordinates tried) it differs."""
        scale = max(float(np.max(np.abs(picked))), float(np.max(np.abs(numeric_grad))), tolerance.NUMERIC_FLOOR)
        mismatch = np.zeros(analytic.size, dtype=bool)
        mismatch[coords] = np.abs(picked - numeric_grad) > limit * scale
        expected = np.zeros(analytic.size)
        expected[coords] = numeric_grad
        sampled = coords.size < analytic.size   # then the numeric gradient has holes: show the map, not values
        detail = array_detail(analytic, expected.reshape(analytic.shape), mismatch.reshape(analytic.shape),
                              hidden=self.hidden or sampled)
        if sampled and "mismatch" in detail:
            checked = np.zeros(analytic.size, dtype=bool)
            checked[coords] = True
            detail["checked"] = checked.reshape(analytic.shape).tolist()
        return detail

    # -- what the calls did besides returning (see ``watch_calls``) ------------------------------------
    def calls_were_clean(self, ns, *, inputs: bool = True, warnings: bool = False) -> bool:
        """Fail a sub-check if a call since the last report changed an argument in place (``inputs``) or
        raised a floating-point warning (``warnings``). Nothing is recorded when the calls were clean."""
        report = ns.get(CALL_REPORT)
        if not isinstance(report, dict):
            return True
        ok = True
        for entry in (report.get("mutated") or [])[:1] if inputs else []:
            names = ", ".join(f"`{a}`" for a in entry["arguments"])
            ok = self.fail(f"{self._named(entry['where'])} leaves its inputs unchanged",
                           f"`{entry['where']}` changed its argument {names} in place",
                           [MUTATED_INPUT_HINT]) and ok
        for entry in (report.get("warnings") or [])[:1] if warnings else []:
            ok = self.fail(f"{self._named(entry['where'])} raises no floating-point warnings",
                           f"`{entry['where']}` made NumPy warn: {entry['message']}",
                           [_warning_hint(entry["message"])]) and ok
        return ok

    def _named(self, where) -> str:
        """A function the worker's report names, for a sub-check's description: a hidden check's is shown, and
        the report is the worker's word, written after the hidden inputs reached it, so it is not quoted."""
        return "your function" if self.hidden else f"`{where}`"

    # -- totals ----------------------------------------------------------------------------------
    @property
    def credit(self) -> float:
        return float(sum(r.credit for r in self.results))

    @property
    def total(self) -> int:
        return len(self.results)


MUTATED_INPUT_HINT = ("your function modified an input array in place (for example `w -= lr * g` or "
                      "`theta += ...`), which changes the caller's array too; the task says inputs must not "
                      "change: compute a new array (`w = w - lr * g`) or work on a copy (`w = w.copy()`)")


def _warning_hint(message: str) -> str:
    if "overflow" in message:
        return ("an overflow: exp of a large positive number is inf; the task says it must not overflow or "
                "warn: only ever exponentiate non-positive numbers, e.g. e = np.exp(-np.abs(z)), and pick "
                "1 / (1 + e) or e / (1 + e) by the sign of z (np.where evaluates both branches, so compute "
                "e first)")
    if "divide by zero" in message:
        return "a division by zero or a log of 0: the task's inputs must not produce inf; rewrite it stably"
    return "an invalid operation (inf - inf, 0 / 0 or inf / inf gives NaN): rewrite the computation stably"


def watch_calls(*, inputs: bool = True, warnings: bool = False):
    """Decorate a check: after it runs, its calls must not have changed their array arguments in place
    (``inputs``) and must not have raised floating-point warnings (``warnings``); see ``calls_were_clean``.
    The check keeps its name (and so its seed)."""
    def decorate(check):
        @functools.wraps(check)
        def watched(ns, t):
            ns.get(CALL_REPORT)   # forget calls made before this check (by other checks)
            check(ns, t)
            t.calls_were_clean(ns, inputs=inputs, warnings=warnings)
        return watched
    return decorate


def _plain_kind(value):
    """bool, int (Python or numpy integers) or the exact type: np.int64(3) equals 3, True does not."""
    if type(value) is bool or type(value) is np.bool_:
        return "bool"
    if type(value) is int or isinstance(value, np.integer):
        return "int"
    return type(value)


def _describe_returned_value(got) -> str:
    if type(got) in (int, float, bool, str, complex) or got is None or isinstance(got, np.generic):
        return repr(got)
    if type(got) in (list, tuple) and len(got) <= 30 and all(
            v is None or type(v) in (int, float, bool) or isinstance(v, np.generic) for v in got):
        text = repr(type(got)(v.item() if isinstance(v, np.generic) else v for v in got))
        return f"{text} ({'a list' if type(got) is list else 'a tuple'} of {len(got)})"
    return _describe_returned(got)
