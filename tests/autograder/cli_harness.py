"""``nnkit grade`` on the fixture course as a real process: the command line, its environment, its CSV rows and
its output files, shared by the red-team, lifecycle and shard tests."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

from autograder.outdir import LOCK_NAME

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


def output_files(out: Path) -> dict[str, str]:
    """Every file of the output folder ``out`` but its lock, by relative path; JSON without its timing fields
    (``seconds``, ``execution_time``), which differ between any two runs."""
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.name != LOCK_NAME:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".json":
                doc = json.loads(text)
                for field in ("seconds", "execution_time"):
                    doc.pop(field, None)
                text = json.dumps(doc, sort_keys=True)
            files[str(path.relative_to(out))] = text
    return files
