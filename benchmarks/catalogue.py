"""The mistake catalogue's rates per unit: caught (lost points), named (the hint matches), variants at full marks.

Run: ``.venv/bin/python benchmarks/catalogue.py`` (``-v`` lists every entry that is
not caught, not named, or a variant that lost points, with its feedback).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.autograder import catalogue, catalogue_data, catalogue_more  # noqa: E402


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    start = time.process_time()
    rows = defaultdict(lambda: [0, 0, 0, 0, 0])   # mistakes, caught, named, variants, variants full
    for entry in catalogue_data.MISTAKES + catalogue_more.MISTAKES:
        try:
            result = catalogue.grade(entry)
        except ValueError as exc:     # an edit that no longer applies to the solution notebook
            print(f"--- EDIT ERROR: {entry.grade_id}: {exc}")
            continue
        caught, named = result.score < result.points, catalogue.named(entry, result)
        row = rows[entry.unit]
        row[0] += 1
        row[1] += caught
        row[2] += named
        if verbose and not (caught and named):
            print(f"--- {'NOT CAUGHT' if not caught else 'unnamed'}: {entry.grade_id} {entry.edit!r:.150} "
                  f"hint {entry.hint!r}\n{catalogue.student_feedback(result)}\n")
    for entry in catalogue_data.VARIANTS + catalogue_more.VARIANTS:
        try:
            result = catalogue.grade(entry)
        except ValueError as exc:
            print(f"--- EDIT ERROR: {entry.grade_id}: {exc}")
            continue
        full = result.score == result.points
        rows[entry.unit][3] += 1
        rows[entry.unit][4] += full
        if verbose and not full:
            print(f"--- VARIANT LOST POINTS: {entry.grade_id} {entry.edit!r:.150}\n"
                  f"{result.render(show_hidden_details=True)}\n")
    total = [sum(r[k] for r in rows.values()) for k in range(5)]
    print(f"{'unit':8s} {'mistakes':>8s} {'caught':>8s} {'named':>8s} {'variants':>9s} {'full':>8s}")
    for unit in sorted(rows) + ["all"]:
        m, c, n, v, f = total if unit == "all" else rows[unit]
        print(f"{unit:8s} {m:8d} {c / max(m, 1):8.0%} {n / max(m, 1):8.0%} {v:9d} {f / max(v, 1):8.0%}")
    print(f"({time.process_time() - start:.1f} s CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
