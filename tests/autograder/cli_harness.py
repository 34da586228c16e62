"""``nnkit grade`` on the fixture course as a real process: the command line, its environment and its CSV rows,
shared by the red-team tests of the grader's inputs and of its lifecycle."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

REGISTRY_SPEC = "tests.autograder.fixture_assignment:REGISTRY"
WRONG_RELU = {"relu": "def relu(z):\n    return z * 1.0\n"}


def grade_argv(paths, source: Path, out: Path, *extra: str) -> list[str]:
    """``nnkit grade PATHS --source SOURCE --out OUT`` with the fixture registry, in namespace isolation."""
    return [sys.executable, "-m", "autograder.cli", "grade", *map(str, paths), "--source", str(source), "--out",
            str(out), "--registry", REGISTRY_SPEC, "--isolation", "namespace", *extra]


def grade_env(secret: str, tmp: Path | None = None) -> dict:
    """This process's environment with the grader's ``secret`` (and ``TMPDIR``, when given)."""
    env = {**os.environ, "NNKIT_GRADER_SECRET": secret}
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    return env


def csv_rows(out: Path) -> dict[str, dict]:
    """``OUT/grades.csv`` by student."""
    with open(out / "grades.csv", newline="", encoding="utf-8") as f:
        return {row["student"]: row for row in csv.DictReader(f)}
