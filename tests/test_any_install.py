"""``nnkit check`` from any install: README's "Colab and other hosted Jupyter" commands, run as written.

The block after ``<!-- any-install -->`` builds the kit's wheel, installs it into a fresh virtual environment and
runs ``nnkit check`` on a student's notebook in a temporary folder, far from the clone. The test runs those lines
with three speed-ups, each of which must apply (so the README cannot drift from what is tested): the wheel is
built without build isolation, and installed with ``--no-deps --no-index`` into a venv that sees this
environment's packages through a ``.pth`` file (numpy, nbformat, ...), instead of downloading them.
"""

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def readme_block(marker: str) -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", text, re.S)
    if match is None:
        raise AssertionError(f"README.md has no bash block after the <!-- {marker} --> marker")
    return [line.split("  #", 1)[0].strip() for line in match.group(1).splitlines() if line.strip()]


def _pyproject_version() -> str:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Run README's block in a copy of the clone; returns (the venv, the block's output)."""
    tmp = tmp_path_factory.mktemp("any-install")
    env_dir, dist = tmp / "nnkit-env", tmp / "dist"
    purelib = Path(sysconfig.get_paths(vars={"base": str(env_dir), "platbase": str(env_dir)})["purelib"])
    # After the venv exists (its pip must be its own): this environment's packages, through a .pth file.
    deps = f"{sys._base_executable} -m venv {env_dir} && echo {sysconfig.get_paths()['purelib']} > {purelib}/deps.pth"
    fast = [("pip wheel ", "pip wheel --no-build-isolation "),
            ("bin/pip install ", "bin/pip install --no-deps --no-index "),
            ("python3 -m venv /tmp/nnkit-env", deps), (".venv/bin/pip", f"{sys.executable} -m pip"),
            ("/tmp/nnkit-env", str(env_dir)), ("dist", str(dist))]
    script = "\n".join(readme_block("any-install"))
    for old, new in fast:
        if old not in script:
            raise AssertionError(f"README's any-install block no longer contains {old!r}; update this test with it")
        script = script.replace(old, new)
    # A copy of the clone: building the wheel writes build/ into the tree it builds.
    clone = tmp / "clone"
    shutil.copytree(REPO, clone, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ipynb_checkpoints"))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=clone, capture_output=True, text=True)
    return env_dir, proc


def test_readme_commands_install_the_wheel_and_check_a_notebook_outside_the_clone(installed):
    env_dir, proc = installed
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert re.search(r"== \S*unit1\.ipynb: 0 / \d+ points", proc.stdout), proc.stdout
    assert "implement `heaviside` first" in proc.stdout and "ERROR" not in proc.stdout, proc.stdout
    found = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import autograder; print(autograder.__file__)"],
                           capture_output=True, text=True, check=True, cwd="/")
    assert Path(found.stdout.strip()).is_relative_to(env_dir), f"graded with the clone's code: {found.stdout}"


def test_the_wheel_ships_the_trusted_notebooks(installed):
    env_dir, _ = installed
    found = subprocess.run([str(env_dir / "bin" / "python"), "-c", "from autograder.grader import default_source; "
                            "print(default_source())"], capture_output=True, text=True, check=True, cwd="/")
    source = Path(found.stdout.strip())
    assert source.is_relative_to(env_dir), source
    assert sorted(p.relative_to(source).as_posix() for p in source.glob("*/*.ipynb")) == \
        sorted(p.relative_to(REPO / "solutions").as_posix() for p in (REPO / "solutions").glob("*/*.ipynb"))


def test_nnkit_version_is_the_installed_distributions(installed):
    env_dir, _ = installed
    proc = subprocess.run([str(env_dir / "bin" / "nnkit"), "--version"], capture_output=True, text=True, cwd="/")
    assert (proc.returncode, proc.stdout.strip()) == (0, f"nnkit {_pyproject_version()}")
