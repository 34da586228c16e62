"""The mistake catalogue graded: every mistake loses points, most are named, every correct variant gets full marks.

The entries live in ``catalogue_data.py`` and ``catalogue_more.py``; ``benchmarks/catalogue.py`` prints the same
rates per unit.
"""

from __future__ import annotations

import functools

import pytest

from tests.autograder import catalogue, catalogue_data, catalogue_more

MISTAKES = catalogue_data.MISTAKES + catalogue_more.MISTAKES
VARIANTS = catalogue_data.VARIANTS + catalogue_more.VARIANTS
NAMED_GOAL = 0.80


def _id(entry, i):
    return f"{entry.grade_id}-{i}"


@functools.lru_cache(maxsize=None)
def _graded(kind: str, i: int):
    entry = (MISTAKES if kind == "mistake" else VARIANTS)[i]
    return catalogue.grade(entry)


@pytest.mark.parametrize("i", range(len(MISTAKES)), ids=[_id(e, i) for i, e in enumerate(MISTAKES)])
def test_every_mistake_loses_points(i):
    result = _graded("mistake", i)
    assert result.score < result.points, catalogue.student_feedback(result)


@pytest.mark.parametrize("i", range(len(VARIANTS)), ids=[_id(e, i) for i, e in enumerate(VARIANTS)])
def test_every_correct_variant_gets_full_marks(i):
    result = _graded("variant", i)
    assert result.score == result.points, result.render(show_hidden_details=True)


def test_most_mistakes_are_named_in_the_feedback_the_student_sees():
    named = [catalogue.named(e, _graded("mistake", i)) for i, e in enumerate(MISTAKES)]
    unnamed = [f"{e.grade_id}: {e.hint!r}" for e, ok in zip(MISTAKES, named) if not ok]
    assert sum(named) / len(MISTAKES) >= NAMED_GOAL, "\n".join(unnamed)


def test_an_entry_with_a_hint_is_named_by_it():
    """A hint that is written down is a promise: the feedback must match it (None marks a known gap)."""
    broken = [f"{e.grade_id} #{i}: {e.hint!r}\n{catalogue.student_feedback(_graded('mistake', i))}"
              for i, e in enumerate(MISTAKES) if e.hint is not None and not catalogue.named(e, _graded("mistake", i))]
    assert not broken, "\n\n".join(broken)


def test_the_catalogue_is_large_enough_and_covers_every_unit():
    units = {e.unit for e in MISTAKES}
    assert units == {"unit1", "unit2", "unit3", "unit4", "unit5"}
    assert len(MISTAKES) >= 120 and len(VARIANTS) >= 40
