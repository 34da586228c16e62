"""Regenerate the student notebooks in ``exercises/`` from the instructor notebooks in ``solutions/``.

Usage (from anywhere)::

    python scripts/release.py               # every unit found in solutions/
    python scripts/release.py unit1 unit2   # only these
    python scripts/release.py --check       # compare with a fresh release; exit 1 and print a diff if stale
                                            # (files git ignores, such as .ipynb_checkpoints/, do not count)
    python scripts/release.py --strip       # first clear outputs and execution counts in solutions/

The work is done by ``nbgrader generate_assignment`` with the repository's ``nbgrader_config.py``: solution
regions become stubs, hidden tests are removed, and checksums are recorded. Committed notebooks must carry no
outputs; run with ``--strip`` after executing a notebook in Jupyter.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbtools  # noqa: E402


def git_ignored(root: Path) -> set[Path]:
    """The files under ``root`` that git ignores (``.ipynb_checkpoints/``, ...); none outside a git work tree."""
    try:
        proc = subprocess.run(["git", "-C", str(root), "ls-files", "--others", "--ignored", "--exclude-standard",
                               "-z", "--", "."], capture_output=True)
    except OSError:                     # no git: nothing is known to be ignored
        return set()
    if proc.returncode != 0:
        return set()
    return {root / name for name in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if name}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("units", nargs="*", help="units to release (default: all in solutions/)")
    parser.add_argument("--check", action="store_true", help="only compare exercises/ with a fresh release")
    parser.add_argument("--strip", action="store_true", help="clear outputs in solutions/ before releasing")
    args = parser.parse_args(argv)

    known = nbtools.discover_units()
    units = args.units or known
    unknown = sorted(set(units) - set(known))
    if unknown:
        parser.error(f"unknown unit(s) {unknown}; solutions/ has {known}")

    dirty = []
    for unit in units:
        for path in sorted((nbtools.REPO / "solutions" / unit).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            if args.strip and nbtools.strip_outputs(nb):
                nbformat.write(nb, path)
                print(f"stripped outputs: {path.relative_to(nbtools.REPO)}")
            elif nbtools.cells_with_outputs(nb):
                dirty.append(f"{path.relative_to(nbtools.REPO)} (cells {nbtools.cells_with_outputs(nb)})")
    if dirty:
        print("these notebooks carry outputs; rerun with --strip:\n  " + "\n  ".join(dirty), file=sys.stderr)
        return 2

    if args.check:
        with tempfile.TemporaryDirectory(prefix="nnkit-check-") as tmp:
            fresh = nbtools.generate_release(units, Path(tmp))
            exercises = nbtools.REPO / "exercises"
            ignored = git_ignored(exercises)
            report = "\n".join(
                d for d in (nbtools.diff_trees(fresh / u, exercises / u, ignore=ignored) for u in units) if d)
        if report:
            print("exercises/ is stale; run `python scripts/release.py`:\n" + report, file=sys.stderr)
            return 1
        print(f"exercises/ is up to date for {', '.join(units)}")
        return 0

    nbtools.generate_release(units, nbtools.REPO / "exercises")
    for unit in units:
        print(f"released exercises/{unit}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
