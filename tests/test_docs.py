"""docs/architecture.md matches the code: every listed name imports, every listed path exists."""

import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGE = (REPO / "docs" / "architecture.md").read_text()


def listed_names() -> list[tuple[str, str]]:
    """(module, name) for every name after a **Names** marker; the module is the section's or the marker's."""
    pairs, module = [], None
    for block in re.split(r"\n(?=### |\*\*Names)", PAGE):
        heading = re.match(r"### (nnkit[\w.]*)", block)
        if heading:
            module = heading.group(1)
            continue
        marker = re.match(r"\*\*Names(?: \((nnkit[\w.]*)\))?:\*\*(.*?)(?:\n\n|$)", block, re.S)
        if marker:
            pairs += [(marker.group(1) or module, name) for name in re.findall(r"`(\w+)`", marker.group(2))]
    return pairs


def listed_paths() -> list[str]:
    """The first word of every line of the layout blocks that starts with nnkit/ or autograder/."""
    paths = []
    for block in re.findall(r"```\n(.*?)```", PAGE, re.S):
        paths += re.findall(r"^((?:nnkit|autograder)/[\w/.]*)", block, re.M)
    return paths


def test_the_page_lists_names_and_paths():
    assert len(listed_names()) > 150      # every section was found
    assert len(listed_paths()) > 30


@pytest.mark.parametrize(("module", "name"), listed_names(), ids=[f"{m}.{n}" for m, n in listed_names()])
def test_every_listed_name_imports(module, name):
    assert hasattr(importlib.import_module(module), name), f"docs/architecture.md lists {module}.{name}"


@pytest.mark.parametrize("path", listed_paths())
def test_every_listed_path_exists(path):
    assert (REPO / path.replace("unitN.py", "unit1.py")).exists(), f"docs/architecture.md lists {path}"


def test_every_public_layer_and_optimizer_is_listed():
    """The other direction for the two packages whose __all__ is the API: nothing public is left off the page."""
    for module in ("nnkit.layers", "nnkit.optim"):
        listed = {name for m, name in listed_names() if m == module}
        public = set(importlib.import_module(module).__all__)
        assert public <= listed, f"{module}: not on the page: {sorted(public - listed)}"
