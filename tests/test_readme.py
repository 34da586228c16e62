"""The README's quickstart is the contract with new users; CI must run what it says."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_test_command() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- test-command -->\s*```bash\n(.+?)\n```", text, re.S)
    if match is None:
        raise AssertionError("README.md has no bash block after the <!-- test-command --> marker")
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command_last():
    # Before it, .ci/run may only install system packages (Debian's chromium for the browser test).
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [ln.strip() for ln in ci_lines if ln.strip() and not ln.lstrip().startswith(("#", "set ", "cd ", "export "))]
    assert commands[-1] == readme_test_command() and ci_lines[-1].strip() == commands[-1]
    assert all(c.startswith("apt-get ") for c in commands[:-1]), commands[:-1]


def test_readme_has_exactly_two_quickstart_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert len(re.findall(r"```bash\n", quickstart)) == 2
