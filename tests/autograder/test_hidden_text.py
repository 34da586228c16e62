"""Nothing the student's side says while (or after) hidden checks run reaches what the student sees.

Hidden inputs depend only on the grade id and the secret, so a submission that could read one back from its
report could hard-code the answers in the next. One submission tries every route at once. Each call of its
``relu`` encodes the first inputs it was given (the bits of three float64s, as hex) behind a tag per route:

- ``OPN``: the path of a refused file read (an audit report: a flag);
- ``IMP``: the name of a run-time import of an nnkit module the item forbids (an audit report: a flag, and the
  item's "no credit" line);
- ``EXC``: the message of the exception it raises on two shapes (a sub-check's details);
- ``PRT``: what it prints (captured output);
- ``WRN``: the text of a warning it raises (the call report of ``watch_calls``: details);
- ``WCH``: the function named by the call report (a forged "changed its input" entry: the sub-check's name);
- ``NIM``: ``softmax`` raises the worker's own ``StudentCodeError`` as a ``NotImplementedError`` "in"
  ``NIM<token>`` (the stub named by ``not_implemented`` and "implement ... first");
- ``RPL``: a hidden call stashes its token and inputs; later calls raise the token (``relu``) or return the
  inputs as their result (``mse``: the expected and got values of a visible check).

Every output the grader writes is searched: the JSON result, ``grades.csv``, Gradescope's ``results.json``, the
terminal report and the nbgrader cell outputs (text and HTML). Each route's visible token must be there (the
student still sees what went wrong on visible inputs, and the route is live), and its hidden token must not.
"""

import json
import struct

import numpy as np
import pytest

from autograder.items import Item, Registry
from autograder.tester import Tester, watch_calls
from tests.autograder import fixture_assignment as fx
from tests.autograder.test_redteam import SECRET, grade_fixture

ENCODE = ("import struct, sys, warnings\n"
          "STASH, STASHED_VALUES = [], []\n"
          "def token(z):\n"
          "    return '_'.join(format(struct.unpack('<Q', struct.pack('<d', float(v)))[0], '016x')\n"
          "                    for v in np.ravel(z)[:3])\n"
          "def server():\n"
          "    f = sys._getframe(1)\n"
          "    while f is not None and not hasattr(f.f_locals.get('self'), '_report'):\n"
          "        f = f.f_back\n"
          "    return f.f_locals['self']\n")
RELU = (ENCODE +
        "def relu(z):\n"
        "    if STASH:\n"
        "        raise ValueError('RPL' + STASH[0])\n"
        "    t = token(z)\n"
        "    print('PRT' + t)\n"
        "    warnings.warn('WRN' + t, RuntimeWarning)\n"
        "    server()._report['mutated'].append({'where': 'WCH' + t, 'arguments': ['z']})\n"
        "    try:\n"
        "        open('/proc/1/OPN' + t)\n"
        "    except OSError:\n"
        "        pass\n"
        "    try:\n"
        "        __import__('nnkit.IMP' + t)\n"
        "    except ImportError:\n"
        "        pass\n"
        "    if z.shape in ((3,), (2, 9)):   # relu_leaves_input_alone, relu_hidden_small\n"
        "        raise ValueError('EXC' + t)\n"
        "    if z.shape == (40, 7):   # relu_hidden_large\n"
        "        STASH.append(t)\n"
        "        STASHED_VALUES.extend(float(v) for v in z.ravel()[:6])\n"
        "    return np.where(z > 0, z, 0.0)\n")
SOFTMAX = ("def softmax(z):\n"
           "    raise type(server()).__init__.__globals__['StudentCodeError']('NIM' + token(z), "
           "'NotImplementedError', '')\n")
MSE = ("def mse(pred, target):\n"
       "    d = pred - target\n"
       "    g = 2 * d / d.size\n"
       "    if STASHED_VALUES:\n"
       "        g = g.copy()\n"
       "        g.ravel()[:len(STASHED_VALUES)] = STASHED_VALUES\n"
       "    return float(np.mean(d ** 2)), g\n")

ROUTES = ["OPN", "IMP", "EXC", "PRT", "WRN", "WCH", "NIM", "RPL"]
SHOWN_WHEN_VISIBLE = {"OPN", "IMP", "EXC", "WRN", "WCH", "NIM"}   # PRT: captured output is never shown


def token(z) -> str:
    return "_".join(format(struct.unpack("<Q", struct.pack("<d", float(v)))[0], "016x") for v in np.ravel(z)[:3])


def relu_hidden_small(ns, t):
    z = t.rng.normal(size=(2, 9))
    t.close("relu on a (2, 9) array", ns.call("relu", z), fx.ref_relu(z))


def inputs(grade_id, check, shape, scale=1.0, *, hidden):
    t = Tester(grade_id, hidden=hidden, secret=SECRET)
    t.start(check)
    z = t.rng.normal(size=shape) * scale
    if check == "relu_matches_reference":
        z[0, 0] = 0.0
    return z


VISIBLE_RELU = inputs("fx_relu", "relu_matches_reference", (5, 4), hidden=False)
VISIBLE_RELU_EXC = inputs("fx_relu", "relu_leaves_input_alone", (3,), hidden=False)
HIDDEN_RELU_EXC = inputs("fx_relu", "relu_hidden_small", (2, 9), hidden=True)
HIDDEN_RELU = inputs("fx_relu", "relu_hidden_large", (40, 7), 100, hidden=True)
VISIBLE_SOFTMAX = inputs("fx_softmax", "softmax_rows", (4, 5), hidden=False)
HIDDEN_SOFTMAX = inputs("fx_softmax", "softmax_large", (3, 5), 1000, hidden=True)


def registry() -> Registry:
    """The fixture's items, with ``fx_relu``'s checks watched (in-place changes and warnings) and forbidding
    every nnkit module, so that the call report and run-time imports reach the report."""
    watched = watch_calls(warnings=True)
    relu = Item("fx_relu", 2, "relu(z)", names=("relu",), forbid=("nnkit",),
                checks=(watched(fx.relu_matches_reference), fx.relu_leaves_input_alone),
                hidden_checks=(relu_hidden_small, watched(fx.relu_hidden_large)))
    return Registry([relu] + [i for i in fx.ITEMS if i.grade_id != "fx_relu"])


def everything_shown(result) -> dict:
    """Every output the grader writes for ``result``, as the student gets it, by format."""
    from autograder import nbgrader_bridge, report
    from autograder.feedback_html import item_html

    graded = [i for i in result.items if not i.manual]
    return {
        "json": json.dumps(result.to_dict()),
        "csv": report.csv_text([result]),
        "gradescope": json.dumps(report.gradescope(result)),
        "terminal": report.render_text(result),
        "nbgrader text": "\n".join(nbgrader_bridge.notebook_lines(result) + [i.render() for i in graded]),
        "nbgrader html": "\n".join(item_html(i, False, nbgrader_bridge.notebook_lines(result)) for i in graded),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from tests.conftest import require_namespaces

    require_namespaces()
    tmp = tmp_path_factory.mktemp("hidden-text")
    return grade_fixture(tmp, {"relu": RELU, "softmax": SOFTMAX, "mse": MSE}, registry=registry())


def where(text_by_format: dict, needle: str) -> list[str]:
    return [name for name, text in text_by_format.items() if needle in text]


@pytest.mark.parametrize("route", ROUTES)
def test_a_hidden_input_encoded_by_the_student_reaches_no_output(graded, route):
    shown = everything_shown(graded)
    hidden = token({"NIM": HIDDEN_SOFTMAX, "EXC": HIDDEN_RELU_EXC}.get(route, HIDDEN_RELU))
    assert where(shown, route + hidden) == []
    assert where(shown, hidden) == []   # nor under another route's name


@pytest.mark.parametrize("route", sorted(SHOWN_WHEN_VISIBLE))
def test_the_same_route_on_visible_inputs_is_still_shown(graded, route):
    # The control: each route is live, and an honest student still reads what went wrong on visible inputs.
    shown = everything_shown(graded)
    visible = route + token({"NIM": VISIBLE_SOFTMAX, "EXC": VISIBLE_RELU_EXC}.get(route, VISIBLE_RELU))
    everywhere = {"json", "gradescope", "terminal", "nbgrader text", "nbgrader html"}
    assert set(where(shown, visible)) == everywhere | ({"csv"} if route in ("OPN", "IMP") else set())


def test_hidden_values_stashed_for_a_later_visible_check_are_not_shown(graded):
    # Visible checks of every item run before any hidden input reaches the worker, so a visible check's
    # values (mse's expected and got) cannot carry one back.
    shown = "\n".join(everything_shown(graded).values())
    assert [repr(float(v)) for v in HIDDEN_RELU.ravel()[:6] if repr(float(v)) in shown] == []
    mse = next(i for i in graded.items if i.grade_id == "fx_mse")
    assert mse.subchecks and all(s.passed for s in mse.subchecks)   # no stash yet: it ran before them


def test_hidden_reports_are_shown_by_kind_and_still_cost_the_item(graded):
    from autograder.grader import HIDDEN_IMPORT, HIDDEN_REFUSALS

    relu = next(i for i in graded.items if i.grade_id == "fx_relu")
    assert relu.score == 0 and HIDDEN_IMPORT in relu.flag and "nnkit.IMP" + token(VISIBLE_RELU) in relu.flag
    assert HIDDEN_REFUSALS["open"][1] in graded.flags
    hidden = [s for s in relu.subchecks if s.hidden]
    assert hidden and {s.what for s in hidden} <= {
        "relu hidden small", "relu on large inputs", "your function leaves its inputs unchanged",
        "your function raises no floating-point warnings"}
    # the instructor's own view (--show-hidden) keeps the details of hidden checks
    from autograder import report
    assert "EXC" + token(HIDDEN_RELU_EXC) in report.render_text(graded, show_hidden_details=True)


def test_reports_read_after_the_hidden_checks_began_are_shown_by_kind_only():
    # The report pipe is the worker's to write, whatever it says: only when the grader read a line counts.
    from autograder.grader import HIDDEN_IMPORT, HIDDEN_OTHER, _apply_flags
    from autograder.results import SubmissionResult

    result = SubmissionResult("x")
    from autograder.items import Item
    from autograder.policy import nnkit_root
    from autograder.results import ItemResult

    source = str(nnkit_root() / "activations.py")   # a read refused in user or process isolation
    item = Item("x_relu", 1, "relu", names=("relu",), checks=(fx.relu_matches_reference,))
    result = SubmissionResult("x", items=[ItemResult("x_relu", "relu", 1.0, 1.0)])
    _apply_flags(result, [item], [], [("open", "/proc/1/early"), ("open", "/proc/1/late"), ("madeup", "late"),
                                      ("open", source)], (), clean=1)
    assert "your code tried to read /proc/1/early (refused)" in result.flags
    assert not [line for line in result.flags + result.notes if "late" in line or "activations" in line]
    assert HIDDEN_OTHER[1] in result.notes
    assert result.items[0].score == 0 and HIDDEN_IMPORT in result.items[0].flag   # still costs the item


def test_an_items_two_phases_share_one_cpu_budget(tmp_path, namespaces):
    # The hidden phase goes on with what the item's visible phase left (sandbox.resume_item), not with a new
    # budget nor with the last item's: relu spends 0.6 s of CPU per call, and the item has 1 s.
    from dataclasses import replace

    from autograder import grader
    from autograder.sandbox import Limits
    from tests.autograder.test_redteam import FAST

    source = fx.write(fx.notebook(), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    slow = ("import time\ndef relu(z):\n    start = time.process_time()\n"
            "    while time.process_time() - start < 0.6:\n        pass\n    return np.where(z > 0, z, 0.0)\n")
    path = fx.write(fx.notebook({"relu": slow}), tmp_path / "submitted" / "eve" / fx.ASSIGNMENT / "fixture.ipynb")
    result = grader.grade_submission(path, source=source.parent.parent, registry=fx.REGISTRY,
                                     limits=replace(Limits(**FAST), item_timeout=1.0), secret=SECRET, student="eve")
    relu = next(i for i in result.items if i.grade_id == "fx_relu")
    assert [s.passed for s in relu.subchecks] == [True, False, False], relu.render(True)
    (hidden,) = [s for s in relu.subchecks if s.hidden]
    assert hidden.details == ["your code crashed or ran too long: used more than 1 s of CPU time for this item "
                              "(an infinite loop?)"]
    assert all(s.passed for i in result.items if i.grade_id in ("fx_linear", "fx_mse") for s in i.subchecks)
