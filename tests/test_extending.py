"""docs/extending.md, followed to the letter in a temporary copy of the repository.

Each recipe (a ``## `` section) is applied on its own fresh copy: a code block titled with a path is written to
that file, one titled ``append to <path>`` is appended to it, one titled ``make the notebook`` or ``check it`` is
run there with the copy first on ``sys.path``. A recipe whose code no longer fits the kit fails here.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGE = (REPO / "docs" / "extending.md").read_text()
COPIED = ["nnkit", "autograder", "scripts", "solutions", "docs", "pyproject.toml", "tests/__init__.py",
          "tests/conftest.py", "tests/nnkit/__init__.py", "tests/nnkit/layers/__init__.py"]


def recipes() -> dict[str, list[tuple[str, str]]]:
    """Recipe title -> its (block title, code) pairs, in page order."""
    sections = re.split(r"\n## ", PAGE)[1:]
    return {section.splitlines()[0]: re.findall(r'```python title="([^"]+)"\n(.*?)```', section, re.S)
            for section in sections}


def make_copy(root: Path) -> Path:
    for name in COPIED:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    return root


def run_in(copy: Path, code: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    guard = f"import autograder, nnkit\nassert autograder.__file__.startswith({str(copy)!r}), autograder.__file__\n"
    result = subprocess.run([sys.executable, "-c", guard + code], cwd=copy, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"{code}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"


def follow(recipe: str, copy: Path) -> None:
    for title, code in recipes()[recipe]:
        if title in ("check it", "make the notebook"):
            run_in(copy, code)
        elif title.startswith("append to "):
            with open(copy / title.removeprefix("append to "), "a") as f:
                f.write(code)
        else:
            path = copy / title
            assert not path.exists(), f"the recipe creates {title}, which already exists"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code)


def test_the_page_has_three_recipes_each_ending_in_a_check():
    found = recipes()
    assert [title.split(".")[0] for title in found] == ["1", "2", "3"]
    assert all(blocks and blocks[-1][0] == "check it" for blocks in found.values())


@pytest.mark.parametrize("recipe", list(recipes()), ids=["graded-item", "unit", "layer"])
def test_recipe_works_in_a_copy_of_the_repository(recipe, tmp_path):
    follow(recipe, make_copy(tmp_path))


def test_a_broken_recipe_fails(tmp_path):
    """The harness itself: a recipe whose item expects the wrong formula must fail its check."""
    copy = make_copy(tmp_path)
    blocks = recipes()[list(recipes())[0]]
    suite = copy / "autograder" / "suites" / "unit1.py"
    suite.write_text(suite.read_text() + blocks[0][1].replace("1.0 + np.abs(z)", "2.0 + np.abs(z)") + blocks[1][1])
    with pytest.raises(AssertionError, match="right == 1.0"):
        run_in(copy, blocks[-1][1])
