"""nbgrader configuration for the nnkit course notebooks.

In this repository the instructor notebooks live in ``solutions/<unit>/<unit>.ipynb`` and the student versions
are generated into ``exercises/<unit>/<unit>.ipynb``. Regenerate them with ``python scripts/release.py``, which
runs ``nbgrader generate_assignment`` with this file in a temporary course directory (so no ``gradebook.db``
ever lands in the repository). ``python scripts/release.py --check`` only compares: it exits 1 with a diff when
``exercises/`` is stale (the tests run the same comparison). Use the virtual environment's interpreter
(``.venv/bin/python``), which has nbgrader.

An instructor's own course directory uses nbgrader's usual ``source/``, ``release/``, ``submitted/`` layout and
loads this file for everything else::

    # <course>/nbgrader_config.py
    c = get_config()
    load_subconfig("/path/to/nnkit/nbgrader_config.py")
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = "release"

``nbgrader autograde`` then grades through the kit's sandbox (below): nothing else is needed in the course's file.
"""

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "nnkit"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# What a student sees in place of a ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region. The docstring of
# each graded function sits above the region, so the stub keeps the shapes, the formula and the hint.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograding: nbgrader's own step runs the submission in a kernel beside the test cells, the hidden checks and
# the grading environment (NNKIT_GRADER_SECRET). The kit replaces that one step with the trusted grader, which
# runs the submission in its sandbox and writes each test cell's report and points for nbgrader's
# SaveAutoGrades (see autograder/nbgrader_bridge.py). Every other step is nbgrader's, in nbgrader's order.
from nbgrader.converters import Autograde  # noqa: E402
from nbgrader.preprocessors import Execute  # noqa: E402

from autograder.nbgrader_bridge import GradeInSandbox, TrustSourceCells  # noqa: E402

# In nbgrader 0.9: Execute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
# AssignLatePenalties, CheckCellMetadata.
_steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
if Execute not in _steps:
    raise RuntimeError(f"nnkit's nbgrader_config.py: nbgrader's autograde steps have no Execute to replace: {_steps}")
c.Autograde.autograde_preprocessors = [GradeInSandbox if step is Execute else step for step in _steps]

# Before nbgrader's own sanitizing steps, every cell's nbgrader metadata is taken from the trusted source notebook
# (a test cell a submission renamed, duplicated, deleted or invented breaks nbgrader's OverwriteCells, or stops
# the whole class's run); see TrustSourceCells in autograder/nbgrader_bridge.py.
_sanitize = list(Autograde.class_traits()["sanitize_preprocessors"].default())
c.Autograde.sanitize_preprocessors = [TrustSourceCells, *(s for s in _sanitize if s is not TrustSourceCells)]

# `nbgrader validate` still executes a notebook in a kernel (students use `nnkit check` instead). The slowest cell
# (a short training run) takes a few seconds; the limit only stops runaway notebooks.
c.Execute.timeout = 120
