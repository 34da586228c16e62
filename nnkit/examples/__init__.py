"""Worked examples that train small networks end to end with nnkit.

They print nothing unless asked, so tests, benchmarks and ``nnkit demo`` can
call them directly.
"""
