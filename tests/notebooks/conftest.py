"""Notebook tests report how long each solution notebook took to execute (measured, never asserted)."""

import pytest


def pytest_terminal_summary(terminalreporter):
    rows = []
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for key, value in getattr(report, "user_properties", []):
            if key in ("notebook_seconds", "nbgrader_seconds", "nnkit_grade_seconds"):
                rows.append(f"{key:>20s} {value[1]:7.1f} s  {value[0]}")
    if rows:
        terminalreporter.section("course notebook timings")
        for row in sorted(set(rows)):
            terminalreporter.write_line(row)


@pytest.fixture(scope="session")
def notebooks_root(tmp_path_factory):
    from tests.notebooks import _kit

    return _kit.session_root(tmp_path_factory)
