"""End to end: a real nbgrader course built from the kit, graded by ``nbgrader autograde`` and by ``nnkit grade``.

For each unit in ``solutions/``, a temporary course directory gets ``source/<unit>`` (the kit's solution
notebook), ``release/<unit>`` (``nbgrader generate_assignment``) and ``submitted/<student>/<unit>`` for

* ``solution``: the instructor notebook itself (plus one added cell that prints the kernel's thread settings),
  which must get full marks on every code item;
* ``untouched``: the released exercise, which must get zero on every code item;
* every partially correct submission scripted in ``tests/notebooks/submissions/<unit>.py`` (at least three per
  unit), which must land strictly between the two.

``nbgrader autograde`` grades through the kit's sandbox (``autograder/nbgrader_bridge.py``, tested on its own in
``test_nbgrader_bridge.py``), and ``nnkit grade`` must give every submission the same score on every code item.
nbgrader runs once per unit per session (shared by the pytest-xdist workers: a worker that finds a unit being
graded by the other one grades a unit nobody has started instead of waiting); its time is reported in the pytest
summary. Both run with one BLAS/OpenMP thread (``_kit.kernel_env()``).
"""

import time

import pytest

from tests.notebooks import _kit

UNITS = _kit.nbtools.discover_units()
# Interleaved by unit, so that pytest-xdist workers tend to start on different units (each unit's grading is
# shared, behind a lock, by every worker that needs it).
CASES = sorted(((u, s) for u in UNITS for s in ["solution", "untouched", *_kit.submission_specs(u)]),
               key=lambda case: (["solution", "untouched"].index(case[1]) if case[1] in ("solution", "untouched")
                                 else 2, case[1], case[0]))
PARTIAL = [(u, s) for u in UNITS for s in _kit.submission_specs(u)]


def _grade_unit(unit, root):
    course, students = _kit.shared_course(root, unit)
    cells = _kit.autograded_cells(_kit.read_notebook(_kit.solution_notebook_path(unit)))
    start = time.perf_counter()
    nbgrader = _kit.nbgrader_autograde_scores(unit, course, students)
    middle = time.perf_counter()
    nnkit = _kit.nnkit_grade_scores(course, list(cells))
    return {"points": cells, "nbgrader": {s: {g: nbgrader[s].get(g) for g in cells} for s in students},
            "nnkit": nnkit, "nbgrader_seconds": middle - start, "nnkit_seconds": time.perf_counter() - middle}


@pytest.fixture(scope="session")
def graded(notebooks_root):
    cache = {}
    jobs = [(f"graded-{u}", lambda u=u: _grade_unit(u, notebooks_root)) for u in UNITS]

    def get(unit):
        if unit not in cache:
            cache[unit] = _kit.shared_json(notebooks_root, f"graded-{unit}", lambda: _grade_unit(unit, notebooks_root),
                                           meanwhile=jobs)
        return cache[unit]
    return get


def _table(scores, points):
    return "\n".join(f"  {g:24s} {scores.get(g)!s:>8} / {p:g}" for g, p in points.items())


@pytest.mark.parametrize("unit", UNITS)
def test_nbgrader_gives_the_solution_full_marks_and_the_untouched_exercise_zero(unit, graded, record_property):
    result = graded(unit)
    record_property("nbgrader_seconds", (f"nbgrader autograde, {unit}", result["nbgrader_seconds"]))
    record_property("nnkit_grade_seconds", (f"nnkit grade, {unit}", result["nnkit_seconds"]))
    points = result["points"]
    assert result["nbgrader"]["solution"] == points, _table(result["nbgrader"]["solution"], points)
    assert result["nbgrader"]["untouched"] == {g: 0.0 for g in points}, _table(result["nbgrader"]["untouched"], points)


@pytest.mark.parametrize("unit, student", CASES)
def test_nnkit_grade_gives_the_same_score_as_nbgrader_on_every_item(unit, student, graded):
    result = graded(unit)
    ours, theirs = result["nnkit"].get(student), result["nbgrader"][student]
    assert ours is not None, f"nnkit grade has no row for {student}: {sorted(result['nnkit'])}"
    mismatched = {g: (theirs[g], ours[g]) for g in result["points"] if ours[g] != pytest.approx(theirs[g], abs=1e-6)}
    assert not mismatched, f"{unit}/{student}: item -> (nbgrader, nnkit grade): {mismatched}"


@pytest.mark.parametrize("unit, student", PARTIAL)
def test_partial_submission_scores_strictly_between_zero_and_full(unit, student, graded):
    result = graded(unit)
    scores, points = result["nbgrader"][student], result["points"]
    total = sum(scores.values())
    assert 0 < total < sum(points.values()), _table(scores, points)


@pytest.mark.parametrize("unit", UNITS)
def test_every_unit_has_at_least_three_scripted_partial_submissions(unit):
    specs = _kit.submission_specs(unit)
    assert len(specs) >= 3, (f"{unit}: add at least three partially correct submissions to "
                             f"tests/notebooks/submissions/{unit}.py (found {sorted(specs)})")
