"""Graded items and the registry of all units.

An ``Item`` is one nbgrader grade cell: its ``grade_id`` and ``points`` are the
cell's, and its checks are functions ``check(ns, t)`` taking a ``Handle`` and a
``Tester``. Unit suites live in ``autograder/suites/unitN.py``, each defining a
list ``ITEMS``; ``UNITS`` is discovered from the ``unitN.py`` files there, and
``load_registry()`` imports exactly those modules.

``default_registry()`` loads lazily, one unit at a time: a grade id ``uN_...``
imports only ``autograder.suites.unitN`` (which imports its own helper modules),
so a broken suite of one unit cannot break ``check()`` in another unit's notebook
or the grading of another assignment. Iterating it loads every unit.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from autograder.policy import ALWAYS_FORBIDDEN, BASE_PROVIDED, module_matches

_SUITES = Path(__file__).resolve().parent / "suites"


def discover_units(folder: Path = _SUITES) -> tuple[str, ...]:
    """The unit suites in ``folder``: every ``unitN.py`` (N = 1, 2, ...), in the order of N.

    Helper modules such as ``unit3_nets.py`` are not units. Adding a unit is adding ``suites/unitN.py``.
    """
    names = [p.stem for p in folder.glob("unit*.py") if re.fullmatch(r"unit[1-9][0-9]*", p.stem)]
    return tuple(sorted(names, key=lambda name: int(name[4:])))


UNITS = discover_units()


@dataclass(frozen=True)
class Item:
    """One graded cell.

    Parameters
    ----------
    grade_id, points, title
        The nbgrader grade id and points of the test cell, and a short title.
    names
        Top-level names the item needs (functions, classes); a missing one fails the
        item with "`name` is not defined".
    checks, hidden_checks
        Functions ``check(ns, t)``; hidden checks run only in trusted grading and in
        ``check(..., hidden=True)``.
    forbid
        Module prefixes a submission must not import for this item (default: all of
        ``nnkit`` except ``ALWAYS_ALLOWED``). ``autograder`` is always forbidden.
    all_or_nothing
        Full points only when every sub-check passes.
    timeout
        Wall-clock seconds allowed per call into the student's code (None: the default).
    """

    grade_id: str
    points: float
    title: str
    names: tuple[str, ...] = ()
    checks: tuple[Callable, ...] = ()
    hidden_checks: tuple[Callable, ...] = ()
    forbid: tuple[str, ...] = ("nnkit",)
    all_or_nothing: bool = False
    timeout: float | None = None

    def __post_init__(self):
        if not isinstance(self.grade_id, str) or not self.grade_id:
            raise ValueError(f"Item: grade_id must be a non-empty str, got {self.grade_id!r}")
        if isinstance(self.points, bool) or not isinstance(self.points, (int, float)) or not self.points > 0:
            raise ValueError(f"Item {self.grade_id}: points must be a positive number, got {self.points!r}")
        for label in ("names", "checks", "hidden_checks", "forbid"):
            if not isinstance(getattr(self, label), tuple):
                raise TypeError(f"Item {self.grade_id}: {label} must be a tuple, "
                                f"got {type(getattr(self, label)).__name__}")
        if not self.checks and not self.hidden_checks:
            raise ValueError(f"Item {self.grade_id}: needs at least one check or hidden check")
        for fn in self.checks + self.hidden_checks:
            if not callable(fn):
                raise TypeError(f"Item {self.grade_id}: checks must be callables, got {fn!r}")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"Item {self.grade_id}: timeout must be positive seconds, got {self.timeout!r}")

    def forbids(self, module: str, provided: tuple[str, ...] = BASE_PROVIDED) -> bool:
        """Whether importing ``module`` costs this item its credit in a unit providing ``provided``."""
        from autograder.policy import forbidden
        return forbidden(self, module, provided)


class Registry:
    """Items by grade id, in definition order; ``provides`` is the nnkit modules the assignment's notebook
    may import (see ``autograder.policy``)."""

    def __init__(self, items: Iterable[Item] = (), provides: tuple[str, ...] = BASE_PROVIDED):
        self.provides = tuple(provides)
        self._items: dict[str, Item] = {}
        for item in items:
            if not isinstance(item, Item):
                raise TypeError(f"Registry: expected Item objects, got {type(item).__name__}")
            if item.grade_id in self._items:
                raise ValueError(f"Registry: duplicate grade_id {item.grade_id!r}")
            self._items[item.grade_id] = item

    def __contains__(self, grade_id) -> bool:
        return grade_id in self._items

    def __iter__(self):
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def provides_for(self, grade_ids) -> tuple[str, ...]:
        """The nnkit modules a notebook with these grade ids may import."""
        return self.provides

    def get(self, grade_id: str) -> Item:
        if grade_id not in self._items:
            known = ", ".join(sorted(self._items)) or "none"
            raise ValueError(f"autograder: unknown grade_id {grade_id!r}; known grade ids: {known}")
        return self._items[grade_id]


def load_registry(units: Iterable[str] = UNITS, package: str = "autograder.suites") -> Registry:
    """Import ``<package>.<unit>`` for each unit; a suite that does not exist yet is skipped."""
    items: list[Item] = []
    for unit in units:
        name = f"{package}.{unit}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        items.extend(module.ITEMS)
    return Registry(items)


def unit_of(grade_id: str) -> str | None:
    """The suite module of a kit grade id: ``"u3_dense"`` -> ``"unit3"``; None for any other id."""
    match = re.match(r"u([1-9][0-9]*)_", grade_id) if isinstance(grade_id, str) else None
    return f"unit{match.group(1)}" if match else None


class UnitRegistry:
    """The kit's items, importing a unit's suite only when one of its grade ids is asked for.

    Same interface as ``Registry``. ``get``/``in`` import only the suite of the grade
    id's unit (``u2_...`` -> ``autograder.suites.unit2``); iterating or ``len`` loads
    every unit in ``units``. Each unit is loaded once; a unit whose import fails is not
    cached, so the error is raised again on the next use rather than hidden.
    """

    def __init__(self, units: Iterable[str] = UNITS, package: str = "autograder.suites"):
        self._units = tuple(units)
        self._package = package
        self._loaded: dict[str, Registry] = {}

    def _unit(self, unit: str) -> Registry:
        if unit not in self._loaded:
            registry = load_registry([unit], package=self._package)
            strays = [i.grade_id for i in registry if unit_of(i.grade_id) != unit]
            if strays:
                raise ValueError(f"UnitRegistry: suite {self._package}.{unit} defines grade ids of another unit "
                                 f"(expected the prefix u{unit[4:]}_): {', '.join(strays)}")
            self._loaded[unit] = registry
        return self._loaded[unit]

    def __contains__(self, grade_id) -> bool:
        unit = unit_of(grade_id)
        return unit in self._units and grade_id in self._unit(unit)

    def __iter__(self):
        for unit in self._units:
            yield from self._unit(unit)

    def __len__(self) -> int:
        return sum(len(self._unit(unit)) for unit in self._units)

    def provides_for(self, grade_ids) -> tuple[str, ...]:
        """The nnkit modules a notebook with these grade ids may import: the union of the ``PROVIDES`` its
        units' suites declare (``autograder.policy.BASE_PROVIDED`` where a suite declares none)."""
        provided = set(BASE_PROVIDED)
        for unit in sorted({unit_of(g) for g in grade_ids} & set(self._units)):
            self._unit(unit)
            module = importlib.import_module(f"{self._package}.{unit}")
            provided.update(getattr(module, "PROVIDES", BASE_PROVIDED))
        return tuple(sorted(provided))

    def get(self, grade_id: str) -> Item:
        unit = unit_of(grade_id)
        if unit not in self._units:
            prefixes = ", ".join(f"u{u[4:]}_" for u in self._units)
            raise ValueError(f"autograder: unknown grade_id {grade_id!r}; the kit's grade ids start with "
                             f"one of {prefixes}")
        return self._unit(unit).get(grade_id)


_DEFAULT: UnitRegistry | None = None


def default_registry() -> UnitRegistry:
    """The registry of the kit's unit suites, each loaded on first use (once per process)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = UnitRegistry()
    return _DEFAULT
