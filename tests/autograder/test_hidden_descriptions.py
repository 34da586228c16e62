"""A hidden sub-check's description never depends on the secret: it names the case, never its inputs.

Every output (JSON, CSV, Gradescope, terminal, the nbgrader cells) shows a hidden sub-check's description
(``SubCheck.what``) and credit, while its details are withheld. A description built from a hidden input
(``f"mse value on ({n}, 3) arrays"`` with ``n`` drawn from the secret-seeded ``t.rng``), a hyperparameter drawn
the same way, or a number measured on the student's output for those inputs would tell the student part of the
hidden case, and a student could tailor their code to it.

Each item with hidden checks is graded under several secrets, and its hidden descriptions must be the same text.
The students are one mistake and one correct variant of every catalogue item (``catalogue_data.py`` and
``catalogue_more.py``), so both a failing and a passing path are seen; an item the catalogue does not cover is
graded with the instructor's own solution cells, or for the three digits classifiers (whose training takes ~20 s)
with a nearest-class-mean classifier. A choice between two hyperparameters agrees between two secrets half of the
time, so six secrets are used (they all agree one time in 32). Each student's namespace is built and its visible
checks run once (they do not read the secret), then its hidden checks run under each secret (~4 s of CPU per
secret).
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
import warnings

import numpy as np
import pytest

from autograder.handle import LocalHandle
from autograder.items import UNITS
from autograder.runner import item_result, run_hidden, run_visible
from tests.autograder.catalogue import namespace, registry
from tests.autograder import catalogue_data, catalogue_more
from tests.notebooks import _kit

SECRETS = tuple(f"term {k}'s secret" for k in range(1, 7))

# Items with hidden checks that the catalogue does not cover yet, graded with the solution notebook's cells.
REFERENCE = ("u3_more_activations", "u3_small_nets", "u4_symmetry", "u4_search")
# The digits classifiers' items: their solution cells train for seconds; a nearest-class-mean classifier stands in.
DIGITS = ("u3_digits", "u4_search_digits", "u5_cnn_digits")
# Solution cells left out of the reference namespaces: the digits training and the search (together ~40 s).
SLOW_CELLS = ("u3_digits_impl", "u4_search_run", "u4_search_predict", "u5_cnn_impl")


def _one_per_item(entries):
    seen: dict = {}
    for entry in entries:
        seen.setdefault(entry.grade_id, entry)
    return list(seen.values())


CASES = (_one_per_item(catalogue_data.MISTAKES + catalogue_more.MISTAKES)
         + _one_per_item(catalogue_data.VARIANTS + catalogue_more.VARIANTS))


def _quietly(build):
    """``build()`` with warnings ignored and the cells' prints swallowed, as a notebook run shows but ignores."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return build()


@functools.lru_cache(maxsize=None)
def _solution_cells(unit: str) -> tuple:
    """The sources of the unit's nbgrader code cells but the test cells and ``SLOW_CELLS``, solved, in order."""
    nb = _kit.read_notebook(_kit.solution_notebook_path(unit))
    sources = []
    for cell in nb.cells:
        meta = _kit.nbgrader_meta(cell)
        gid = meta.get("grade_id") if meta else None
        if cell.cell_type != "code" or not meta or (meta.get("grade") and not meta.get("solution")):
            continue
        if gid in SLOW_CELLS:
            continue
        sources.append((gid, _kit.apply_edit(cell.source, _kit.SOLVED, gid) if meta.get("solution") else cell.source))
    return tuple(sources)


def _reference_namespace(unit: str) -> dict:
    ns: dict = {"__name__": "__main__"}
    for gid, source in _solution_cells(unit):
        exec(compile(source, f"<{unit}:{gid}>", "exec"), ns)   # the instructor's cells must run cleanly
    return ns


def _nearest_class_mean() -> dict:
    """A namespace whose ``predict_digits`` labels an image by the nearest mean training image of a class."""
    from nnkit import data

    splits = data.digits_splits()
    means = np.stack([splits["X_train"][splits["y_train"] == c].mean(axis=0) for c in range(10)])

    def predict_digits(X):
        return np.argmin(((X[:, None, :] - means) ** 2).sum(axis=-1), axis=1)

    return {"__name__": "__main__", "predict_digits": predict_digits}


def _graded(grade_id: str, ns: dict) -> tuple[list, list[list]]:
    """The item's visible sub-checks, and its hidden sub-checks under each of ``SECRETS``. The recursion limit
    (which a correct variant raises) is restored."""
    item = registry("unit" + grade_id[1]).get(grade_id)
    handle = LocalHandle(ns)
    limit = sys.getrecursionlimit()
    try:
        visible, ran = _quietly(lambda: run_visible(item, handle))
        assert ran, f"{grade_id}: the visible checks did not run: {[s.what for s in visible]}"
        return visible, [_quietly(lambda: run_hidden(item, handle, visible, secret=s)) for s in SECRETS]
    finally:
        sys.setrecursionlimit(limit)


def _described(hidden: list) -> list[str]:
    # The watch over the calls (an input changed in place, a warning raised) adds its sub-check only when that
    # happened, which may differ between inputs: one bit of the student's behaviour, not an input, so it is left out.
    return [s.what for s in hidden if not s.what.startswith("your function")]


def _assert_same_descriptions(grade_id: str, per_secret: list[list]) -> None:
    first = _described(per_secret[0])
    assert first, f"{grade_id}: no hidden sub-check was recorded, so nothing was compared"
    for hidden in per_secret[1:]:
        other = _described(hidden)
        assert first == other, [(a, b) for a, b in zip(first, other) if a != b] or (first, other)


@pytest.mark.parametrize("entry", CASES, ids=[f"{e.grade_id}-{i}" for i, e in enumerate(CASES)])
def test_hidden_descriptions_do_not_depend_on_the_secret(entry):
    _, per_secret = _graded(entry.grade_id, _quietly(lambda: namespace(entry)))
    _assert_same_descriptions(entry.grade_id, per_secret)


@pytest.mark.parametrize("grade_id", REFERENCE)
def test_hidden_descriptions_of_the_instructor_solution_do_not_depend_on_the_secret(grade_id):
    visible, per_secret = _graded(grade_id, _quietly(lambda: _reference_namespace("unit" + grade_id[1])))
    result = item_result(registry("unit" + grade_id[1]).get(grade_id), visible + per_secret[0], True)
    assert result.score == result.points, result.render(show_hidden_details=True)   # the namespace is whole
    _assert_same_descriptions(grade_id, per_secret)


@pytest.mark.parametrize("grade_id", DIGITS)
def test_hidden_descriptions_of_a_digits_classifier_do_not_depend_on_the_secret(grade_id):
    _, per_secret = _graded(grade_id, _nearest_class_mean())
    _assert_same_descriptions(grade_id, per_secret)


def test_the_cases_cover_every_item_with_hidden_checks():
    """A new item with hidden checks needs a catalogue entry (or a place in ``REFERENCE``) to be compared here."""
    covered = {e.grade_id for e in CASES} | set(REFERENCE) | set(DIGITS)
    with_hidden = {item.grade_id for unit in UNITS for item in registry(unit) if item.hidden_checks}
    assert with_hidden - covered == set(), sorted(with_hidden - covered)
    assert covered - with_hidden == set(), f"listed here but without hidden checks: {sorted(covered - with_hidden)}"
