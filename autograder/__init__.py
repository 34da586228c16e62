"""nnkit's autograder: checks written once against a handle, run in the kernel or sandboxed.

In a notebook test cell::

    from autograder import check
    check("u1_heaviside", globals())               # visible checks
    check("u1_heaviside", globals(), hidden=True)  # visible + hidden checks

``check`` shows feedback and returns the points earned as a plain float (the
cell's value, which nbgrader reads as partial credit). In a Jupyter kernel the
feedback is rich output: text/plain is the text report, text/html a coloured
table with expected and got side by side and a heat map of where an array
differs (``autograder.feedback_html``). Anywhere else (a terminal, plain
``python``, a terminal IPython) it is the text report, printed to stdout. Trusted grading
(``nnkit grade``) never runs test cells; it runs the same checks against the
submission in a sandboxed worker.

This module stays light: heavy parts load on first use.
"""

from __future__ import annotations

__all__ = ["check"]


def check(grade_id: str, ns, hidden: bool = False, *, registry=None, secret: str | None = None) -> float:
    """Run the checks of item ``grade_id`` against the namespace ``ns`` and show feedback (see above).

    Parameters
    ----------
    grade_id : str
        The nbgrader grade id of the test cell, e.g. ``"u1_heaviside"``.
    ns : dict or Handle
        The notebook's ``globals()`` (wrapped in a ``LocalHandle``) or any handle.
    hidden : bool
        Also run the item's hidden checks (visible + hidden = the item's whole score).
    registry : Registry, optional
        Where to look ``grade_id`` up (default: the kit's suites; only the suite of the grade id's
        unit is imported, so a broken suite of another unit does not matter).
    secret : str, optional
        Seed secret for hidden inputs (default: ``NNKIT_GRADER_SECRET`` or the public default).

    Returns
    -------
    float
        Points earned, between 0.0 and the item's points.
    """
    import sys

    from autograder.handle import Handle, LocalHandle
    from autograder.items import default_registry
    from autograder.runner import run_item

    if not isinstance(grade_id, str):
        raise TypeError(f"check: grade_id must be a str, got {type(grade_id).__name__}")
    item = (registry if registry is not None else default_registry()).get(grade_id)
    handle = ns if isinstance(ns, Handle) else LocalHandle(ns)
    result = run_item(item, handle, include_hidden=bool(hidden), secret=secret)
    if _in_kernel():
        from IPython.display import display

        from autograder.feedback_html import Feedback
        display(Feedback(result))
    else:
        print(result.render(), file=sys.__stdout__ if sys.stdout is None else sys.stdout, flush=True)
    return float(result.score)


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a kernel), where rich output reaches a front end."""
    import sys

    ipython = sys.modules.get("IPython")   # never imported here: a kernel has always imported it
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and getattr(shell, "kernel", None) is not None
