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
"""

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "nnkit"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# What a student sees in place of a ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region. The docstring of
# each graded function sits above the region, so the stub keeps the shapes, the formula and the hint.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograding executes each submission top to bottom. The slowest cell (a short training run) takes a few
# seconds; the limit only stops runaway submissions.
c.Execute.timeout = 120
