"""A Gradescope autograder built by the kit: ``nnkit gradescope unit3 --out autograder.zip``.

``build`` writes the zip Gradescope wants (https://gradescope-autograders.readthedocs.io/en/latest/specs/).
Gradescope unpacks it into ``/autograder/source``, runs ``setup.sh`` once as root when it builds the image, and
then ``/autograder/run_autograder`` for every submission, which must write ``/autograder/results/results.json``.
The zip holds:

- ``setup.sh``: finds (or installs from apt) a Python >= 3.10 with ``venv``, makes ``/autograder/nnkit-venv``,
  installs the wheel below with its ``grader`` extra, checks the installed version is the one that built the
  zip, and makes ``/autograder/source`` readable by root only (the trusted notebook and the secret);
- ``run_autograder``: ``python -m autograder.gradescope run``, i.e. ``run`` below;
- ``nnkit-<version>-py3-none-any.whl``: this kit, exactly the version that built the zip;
- ``trusted/<assignment>/<notebook>.ipynb``: the instructor's notebook (tests, hidden tests);
- ``grader_secret``: the builder's ``NNKIT_GRADER_SECRET`` (seeds the hidden checks' inputs);
- ``nnkit_gradescope.json``: the settings below (``GradescopeConfig``).

``run`` grades the notebook found in ``/autograder/submission/`` with the trusted grader (the student's code in
the sandbox: namespaces where the container allows them, else as an unprivileged user), and writes Gradescope's
``results.json``: one test per item's visible and hidden checks, one per written answer (graded by hand), and
``execution_time``. ``NNKIT_AUTOGRADER_ROOT`` replaces ``/autograder`` (the tests use a temp folder).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

ROOT_ENV = "NNKIT_AUTOGRADER_ROOT"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
ISOLATIONS = ("auto", "namespace", "user", "process")
CONFIG_NAME = "nnkit_gradescope.json"
SECRET_NAME = "grader_secret"
TRUSTED_DIR = "trusted"


class GradescopeError(Exception):
    """A Gradescope autograder cannot be built (bad arguments, no secret, no wheel)."""


@dataclass
class GradescopeConfig:
    """What ``run_autograder`` needs to know, written into the zip as ``nnkit_gradescope.json``."""

    assignment: str
    notebook: str                            # the trusted notebook's file name; submissions are matched to it
    version: str                             # the nnkit version that built the zip (and that setup.sh installs)
    visible: str = "visible"                 # Gradescope visibility of each item's visible checks
    hidden: str = "after_published"          # ... and of its hidden checks
    isolation: str = "auto"                  # autograder.sandbox isolation mode asked for
    worker_user: str = "nobody"              # the unprivileged user of "user" isolation
    allow_process: bool = False              # accept process-only isolation when nothing better works
    cell_timeout: float = 60.0
    call_timeout: float = 20.0
    public_secret: bool = False              # built without a secret: hidden inputs are predictable

    def __post_init__(self):
        for name in ("visible", "hidden"):
            if getattr(self, name) not in VISIBILITIES:
                raise GradescopeError(f"GradescopeConfig: {name} must be one of {', '.join(VISIBILITIES)}, "
                                      f"got {getattr(self, name)!r}")
        if self.isolation not in ISOLATIONS:
            raise GradescopeError(f"GradescopeConfig: isolation must be one of {', '.join(ISOLATIONS)}, "
                                  f"got {self.isolation!r}")
        for name in ("cell_timeout", "call_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise GradescopeError(f"GradescopeConfig: {name} must be a positive number of seconds, "
                                      f"got {value!r}")

    @classmethod
    def load(cls, path: Path) -> "GradescopeConfig":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# --------------------------------------------------------------------------------------------- building
def trusted_notebook(assignment: str, source: Path) -> Path:
    """The one notebook ``<source>/<assignment>/*.ipynb``."""
    folder = Path(source) / assignment
    found = sorted(p for p in folder.glob("*.ipynb")) if folder.is_dir() else []
    if len(found) != 1:
        what = "no notebook" if not found else f"{len(found)} notebooks ({', '.join(p.name for p in found)})"
        raise GradescopeError(f"nnkit gradescope: expected one trusted notebook in {folder}, found {what}")
    return found[0]


def project_root() -> Path | None:
    """The kit's source tree (with ``pyproject.toml``) when this kit runs from one, else None."""
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "nnkit"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def build_wheel(dist: Path) -> Path:
    """Build this kit's wheel into ``dist`` with ``pip wheel --no-deps`` from a clean copy of the source.

    The copy keeps the build's ``build/`` and ``*.egg-info`` out of the working tree, and leaves out
    ``solutions/``, the tests and the notebooks, which are not part of the package.
    """
    root = project_root()
    if root is None:
        raise GradescopeError("nnkit gradescope: this nnkit is not running from its source tree; pass --wheel "
                              "with the wheel of the installed version")
    with tempfile.TemporaryDirectory(prefix="nnkit-wheel-") as tmp:
        copy = Path(tmp) / "nnkit"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for name in ("nnkit", "autograder"):
            shutil.copytree(root / name, copy / name, ignore=ignore)
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (root / name).is_file():
                shutil.copy2(root / name, copy / name)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(dist), str(copy)]
        # This environment's setuptools first (offline, fast); if it is too old for pyproject.toml, pip's
        # isolated build fetches the one pyproject.toml asks for.
        done = subprocess.run(command + ["--no-build-isolation"], capture_output=True, text=True)
        if done.returncode != 0:
            done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise GradescopeError(f"nnkit gradescope: pip wheel failed:\n{done.stderr[-2000:]}")
    wheels = sorted(Path(dist).glob("nnkit-*.whl"))
    if len(wheels) != 1:
        raise GradescopeError(f"nnkit gradescope: pip wheel made {len(wheels)} nnkit wheels in {dist}")
    return wheels[0]


def wheel_version(wheel: Path) -> str:
    """``0.1.0`` from ``nnkit-0.1.0-py3-none-any.whl``."""
    parts = Path(wheel).name.split("-")
    if len(parts) < 5 or parts[0] != "nnkit" or not Path(wheel).name.endswith(".whl"):
        raise GradescopeError(f"nnkit gradescope: {wheel} is not an nnkit wheel (nnkit-<version>-...whl)")
    return parts[1]


def build(assignment: str, out, *, source=None, secret: str | None = None, allow_public_secret: bool = False,
          wheel=None, **settings) -> Path:
    """Write the Gradescope autograder zip for ``assignment`` to ``out``; ``settings`` go to the config.

    ``secret`` defaults to ``NNKIT_GRADER_SECRET``; without one the build is refused unless
    ``allow_public_secret`` (then hidden inputs follow the kit's public default and can be predicted).
    """
    from autograder.grader import default_source
    import nnkit

    notebook = trusted_notebook(assignment, Path(source) if source is not None else default_source())
    secret = secret if secret is not None else os.environ.get("NNKIT_GRADER_SECRET") or None
    if secret is None and not allow_public_secret:
        raise GradescopeError("nnkit gradescope: set NNKIT_GRADER_SECRET (the secret that seeds hidden checks) "
                              "or pass --allow-public-secret")
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="nnkit-gradescope-") as tmp:
        wheel = Path(wheel) if wheel is not None else build_wheel(Path(tmp))
        version = wheel_version(wheel)
        if version != nnkit.__version__:
            raise GradescopeError(f"nnkit gradescope: the wheel {wheel.name} is version {version}, this kit is "
                                  f"{nnkit.__version__}")
        config = GradescopeConfig(assignment, notebook.name, version, public_secret=secret is None, **settings)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
            _add(z, "setup.sh", setup_script(wheel.name, version), executable=True)
            _add(z, "run_autograder", RUN_AUTOGRADER, executable=True)
            _add(z, CONFIG_NAME, json.dumps(asdict(config), indent=1) + "\n")
            _add(z, f"{TRUSTED_DIR}/{assignment}/{notebook.name}", notebook.read_bytes())
            if secret is not None:
                _add(z, SECRET_NAME, secret)
            _add(z, wheel.name, wheel.read_bytes())
        os.replace(partial, out)
    return out


def _add(z: zipfile.ZipFile, name: str, data, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data)


def setup_script(wheel_name: str, version: str) -> str:
    return SETUP_SH.replace("@WHEEL@", wheel_name).replace("@VERSION@", version)


# Gradescope runs setup.sh as root, once, from /autograder/source. Tests and other hosts can set
# NNKIT_AUTOGRADER_ROOT (instead of /autograder), NNKIT_PYTHON (the interpreter to make the venv from),
# NNKIT_VENV_OPTIONS and NNKIT_PIP_OPTIONS.
SETUP_SH = r"""#!/usr/bin/env bash
# nnkit Gradescope autograder: install nnkit @VERSION@ (built by `nnkit gradescope`).
set -euo pipefail
ROOT="${NNKIT_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/nnkit-venv"

usable() {   # a Python >= 3.10 that can make a venv with pip (Debian/Ubuntu split venv off into python3-venv)
  "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1
}
find_python() {
  for candidate in ${NNKIT_PYTHON:-} python3 python3.13 python3.12 python3.11 python3.10; do
    if command -v "$candidate" >/dev/null 2>&1 && usable "$(command -v "$candidate")"; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

if ! PYTHON="$(find_python)"; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q python3 python3-venv   # Ubuntu 22.04: 3.10, 24.04: 3.12
  if ! PYTHON="$(find_python)"; then           # older images: Python 3.11 from the deadsnakes PPA
    apt-get install -y -q software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update -q
    apt-get install -y -q python3.11 python3.11-venv
    PYTHON="$(find_python)"
  fi
fi
echo "setup.sh: using $PYTHON ($("$PYTHON" --version))"

rm -rf "$VENV"
"$PYTHON" -m venv ${NNKIT_VENV_OPTIONS:-} "$VENV"
"$VENV/bin/python" -m pip install --quiet ${NNKIT_PIP_OPTIONS:-} "$SOURCE/@WHEEL@[grader]"
installed="$("$VENV/bin/python" -c 'import nnkit; print(nnkit.__version__)')"
if [ "$installed" != "@VERSION@" ]; then
  echo "setup.sh: installed nnkit $installed, but this autograder was built by nnkit @VERSION@" >&2
  exit 1
fi

# The trusted notebook and the secret: root only. The venv (the worker's Python) stays world-readable,
# so that a worker running as an unprivileged user can start.
chown -R 0:0 "$SOURCE"
chmod -R go-rwx "$SOURCE"
chmod go+x "$ROOT"
chmod -R go+rX "$VENV"
echo "setup.sh: nnkit @VERSION@ installed in $VENV"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# nnkit Gradescope autograder: grade /autograder/submission/*.ipynb, write /autograder/results/results.json.
ROOT="${NNKIT_AUTOGRADER_ROOT:-/autograder}"
cd "$ROOT" || exit 1
exec "$ROOT/nnkit-venv/bin/python" -s -m autograder.gradescope run --root "$ROOT"
"""


# --------------------------------------------------------------------------------------------- running
def find_submission(folder: Path, notebook: str) -> Path:
    """The notebook to grade: the one named like the trusted notebook, else the only ``.ipynb``."""
    from autograder.notebook import SubmissionError

    found = sorted(p for p in Path(folder).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
                   and not any(part.startswith("__MACOSX") for part in p.parts))
    named = [p for p in found if p.name == notebook]
    if len(named) == 1:
        return named[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise SubmissionError(f"no notebook (.ipynb) in your submission; please upload {notebook}")
    raise SubmissionError(f"your submission has {len(found)} notebooks ({', '.join(p.name for p in found)}); "
                          f"please upload only {notebook}")


def make_private(folder: Path) -> None:
    """``chmod -R go-rwx folder``: the grader (root) reads the submission; the worker only gets its cells."""
    for path in [folder, *folder.rglob("*")] if folder.is_dir() else []:
        if not path.is_symlink():
            os.chmod(path, path.stat().st_mode & 0o700)


def isolation_limits(config: GradescopeConfig):
    """``(Limits, mode)``: the sandbox isolation to grade with, chosen from what this container allows.

    ``NNKIT_ISOLATION`` overrides the configured mode (for the tests and for debugging an image). As root the
    worker user is ``config.worker_user``, so ``auto`` can fall back to user mode where namespaces are refused.
    """
    from autograder import sandbox

    limits = sandbox.Limits(cell_timeout=config.cell_timeout, call_timeout=config.call_timeout)
    requested = os.environ.get("NNKIT_ISOLATION", config.isolation)
    run_as = config.worker_user if os.geteuid() == 0 else None
    mode = sandbox.resolve_isolation(requested, run_as=run_as, allow_process=config.allow_process)
    limits.isolation, limits.run_as = mode, run_as
    return limits, mode


def results_document(result, config: GradescopeConfig, seconds: float, mode: str) -> dict:
    """Gradescope's ``results.json`` for one graded submission: ``report.gradescope`` (one test per item's
    visible and hidden checks, one per written answer) with the configured visibilities and ``execution_time``."""
    from autograder import report

    doc = report.gradescope(result)
    for test in doc["tests"]:
        if report.BY_HAND not in test.get("tags", ()):
            test["visibility"] = config.hidden if test["visibility"] == "after_published" else config.visible
    doc["execution_time"] = max(1, math.ceil(seconds))
    doc["extra_data"] = {"nnkit_version": config.version, "isolation": mode, "assignment": config.assignment,
                         "max_score": result.max_score}
    return doc


def run(root) -> dict:
    """Grade ``<root>/submission`` and write ``<root>/results/results.json``; returns the document.

    Whatever happens, a ``results.json`` is written: Gradescope shows "the autograder failed to execute
    correctly" when it is missing, which tells the student nothing.
    """
    started = time.monotonic()
    root = Path(root)
    out = root / "results" / "results.json"
    try:
        doc = _grade(root, started)
    except Exception as exc:  # noqa: BLE001 - report, never leave Gradescope without a results.json
        doc = {"score": 0.0, "output": f"The autograder could not grade this submission ({type(exc).__name__}: "
                                       f"{exc}). Please tell the course staff.",
               "execution_time": max(1, math.ceil(time.monotonic() - started)), "stdout_visibility": "hidden",
               "tests": []}
    from autograder.report import atomic_write_text

    atomic_write_text(out, json.dumps(doc, indent=1, allow_nan=False))
    return doc


def _grade(root: Path, started: float) -> dict:
    from autograder import notebook
    from autograder.grader import grade_submission
    from autograder.results import SubmissionResult

    source = root / "source"
    config = GradescopeConfig.load(source / CONFIG_NAME)
    trusted = source / TRUSTED_DIR
    secret_file = source / SECRET_NAME
    secret = secret_file.read_text(encoding="utf-8") if secret_file.is_file() else None
    limits, mode = isolation_limits(config)
    print(f"nnkit {config.version}: grading {config.assignment} with {mode} isolation", flush=True)
    make_private(root / "submission")   # user mode refuses a submission its worker user could read
    try:
        path = find_submission(root / "submission", config.notebook)
    except notebook.SubmissionError as exc:
        result = SubmissionResult(str(root / "submission"), config.assignment, error=str(exc))
    else:
        result = grade_submission(path, source=trusted / config.assignment / config.notebook, limits=limits,
                                  secret=secret)
    if result.error:   # the row still says what the assignment is worth
        trusted_nb = notebook.read_notebook(trusted / config.assignment / config.notebook)
        result.max_score = float(sum(p or 0 for p in notebook.test_cells(trusted_nb).values())
                                 + sum(p or 0 for p in notebook.manual_cells(trusted_nb).values()))
    print(f"score {result.score:g} / {result.max_score:g}{' (error: ' + result.error + ')' if result.error else ''}",
          flush=True)
    return results_document(result, config, time.monotonic() - started, mode)


# --------------------------------------------------------------------------------------------- command line
def add_parser(sub) -> None:
    """``nnkit gradescope ASSIGNMENT --out autograder.zip`` (registered by ``autograder.cli``)."""
    p = sub.add_parser("gradescope", help="build a Gradescope autograder zip for one assignment")
    p.add_argument("assignment", help="the assignment (a folder of --source), e.g. unit3")
    p.add_argument("--out", default=None, help="the zip to write (default: <assignment>-autograder.zip)")
    p.add_argument("--source", help="trusted notebooks: <source>/<assignment>/<notebook>.ipynb "
                                    "(default: the kit's solutions/)")
    p.add_argument("--visible", default="visible", choices=VISIBILITIES,
                   help="Gradescope visibility of visible checks (default: visible)")
    p.add_argument("--hidden", default="after_published", choices=VISIBILITIES,
                   help="Gradescope visibility of hidden checks (default: after_published)")
    p.add_argument("--isolation", default="auto", choices=ISOLATIONS,
                   help="sandbox isolation (default auto: namespaces, else the unprivileged --worker-user)")
    p.add_argument("--worker-user", default="nobody", help="unprivileged user for user isolation (default nobody)")
    p.add_argument("--allow-process-isolation", action="store_true",
                   help="grade even where neither namespaces nor a worker user are available (weaker)")
    p.add_argument("--cell-timeout", type=float, default=60.0, help="seconds per notebook cell (default 60)")
    p.add_argument("--call-timeout", type=float, default=20.0, help="seconds per call into student code "
                                                                    "(default 20)")
    p.add_argument("--wheel", help="the nnkit wheel to ship (default: built from this kit's source)")
    p.add_argument("--allow-public-secret", action="store_true",
                   help="build without NNKIT_GRADER_SECRET (hidden inputs become predictable)")


def command(args) -> int:
    """``nnkit gradescope``: 0 when the zip is written, 2 on a usage error."""
    out = Path(args.out or f"{args.assignment}-autograder.zip")
    if args.source is not None and not Path(args.source).is_dir():
        print(f"nnkit gradescope: --source {args.source} is not a folder", file=sys.stderr)
        return 2
    try:
        build(args.assignment, out, source=args.source, allow_public_secret=args.allow_public_secret,
              wheel=args.wheel, visible=args.visible, hidden=args.hidden, isolation=args.isolation,
              worker_user=args.worker_user, allow_process=args.allow_process_isolation,
              cell_timeout=args.cell_timeout, call_timeout=args.call_timeout)
    except GradescopeError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"wrote {out}: upload it as the autograder of a Gradescope programming assignment "
          "(settings: docs/grader.md, 'On Gradescope')")
    return 0


def main(argv=None) -> int:
    """``python -m autograder.gradescope run [--root DIR]``: what ``run_autograder`` calls."""
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope")
    parser.add_argument("action", choices=["run"])
    parser.add_argument("--root", default=os.environ.get(ROOT_ENV, "/autograder"))
    args = parser.parse_args(argv)
    doc = run(Path(args.root))
    return 0 if doc.get("tests") is not None else 1


if __name__ == "__main__":
    sys.exit(main())
