"""Check suites, one module per unit (``unit1`` ... ``unit5``), each defining ``ITEMS``.

See ``autograder.items`` for the ``Item`` fields and ``docs/architecture.md`` for
how a check is written against a handle.
"""
