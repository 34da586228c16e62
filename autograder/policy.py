"""What a submission may import, see and touch: the grading policy, in one place.

Three decisions live here and nowhere else:

1. **What a unit provides.** Each unit's suite declares ``PROVIDES``, the nnkit modules its notebook may
   import (``nnkit.data`` and ``nnkit.plot`` everywhere; unit 5 adds the material of units 3-4). It is an
   allow-list: the worker's view of ``nnkit`` is a staged copy holding exactly those modules (plus the private
   helpers they import), so a graded module is not merely refused, it is not there.
2. **What an item forbids.** An import of a module the unit does not provide costs the items whose ``forbid``
   list covers it (by default every item), with a flag that says why. ``autograder`` is always forbidden.
3. **What is hidden.** The labels of the digits' held-out test split, which hidden checks score against, are
   replaced by -1 in the worker's copy of the data (:func:`stage_datasets`). Test cells, hidden checks, the
   secret and the trusted notebooks never enter the worker at all: they are simply not in its view.

``stage_view`` builds the read-only folder the worker imports from; ``autograder.sandbox`` mounts it.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np

# Modules every unit provides. ``nnkit`` itself is the package's ``__init__`` (it imports nothing eagerly).
BASE_PROVIDED = ("nnkit.data", "nnkit.plot")
# Modules a submission may never import, whatever the unit.
ALWAYS_FORBIDDEN = ("autograder",)
# Modules the worker refuses outright (the second layer, behind the staged view): ways to reach the
# grader, raw memory or new processes without an audit event.
ALWAYS_BLOCKED = ("autograder", "ctypes", "_ctypes", "_posixsubprocess", "cffi", "_testcapi",
                  "_xxsubinterpreters", "_testinternalcapi")
# The worker half of the grader: no checks, no secret, no reference code.
WORKER_MODULES = ("worker.py", "namespace.py", "protocol.py")


def module_matches(module: str, prefix: str) -> bool:
    """``module`` is ``prefix`` or one of its submodules."""
    return module == prefix or module.startswith(prefix + ".")


def is_private(module: str) -> bool:
    """A private helper module (``nnkit._validate``, ``nnkit.layers._chunks``): no maths of its own."""
    return any(part.startswith("_") for part in module.split(".")[1:])


def is_provided(module: str, provided) -> bool:
    """Whether importing ``module`` is allowed for a unit with ``provided`` modules: the package itself, the
    provided modules, the data files, and private helpers (staged when a provided module needs them)."""
    return module == "nnkit" or any(module_matches(module, p) for p in provided) or \
        module_matches(module, "nnkit.datasets") or is_private(module)


def forbidden(item, module: str, provided) -> bool:
    """Importing ``module`` costs ``item`` its credit: always for the grader, else when the unit does not
    provide it and the item's ``forbid`` list covers it."""
    if any(module_matches(module, p) for p in ALWAYS_FORBIDDEN):
        return True
    if not module_matches(module, "nnkit") or is_provided(module, provided):
        return False
    return any(module_matches(module, p) for p in item.forbid)


# -- the staged view ------------------------------------------------------------------------------
def nnkit_root() -> Path:
    spec = importlib.util.find_spec("nnkit")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("autograder: the nnkit package cannot be found")
    return Path(list(spec.submodule_search_locations)[0])


def _module_file(root: Path, module: str) -> Path | None:
    rel = module.split(".")[1:]
    if not rel:
        return root / "__init__.py"
    for candidate in (root.joinpath(*rel).with_suffix(".py"), root.joinpath(*rel, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _imports_of(path: Path, module: str) -> set[str]:
    """nnkit modules ``path`` imports, anywhere in its body (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if module_matches(m, "nnkit")}


def view_modules(provided, root: Path | None = None) -> dict[str, Path]:
    """The module files of the worker's nnkit view: ``nnkit``, the provided modules (whole packages
    included) and the private helpers they import, transitively.

    Raises ``ValueError`` when a provided module imports a graded module the unit does not provide: the
    allow-list must be explicit.
    """
    root = root or nnkit_root()
    wanted: dict[str, Path] = {}
    todo = ["nnkit"]
    for name in provided:
        path = _module_file(root, name)
        if path is None:
            raise ValueError(f"policy: the unit provides {name}, which does not exist in {root}")
        if path.name == "__init__.py":   # a package: all of its modules
            for sub in sorted(path.parent.rglob("*.py")):
                parts = sub.relative_to(root).with_suffix("").parts
                todo.append(".".join(("nnkit",) + (parts[:-1] if parts[-1] == "__init__" else parts)))
        todo.append(name)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        path = _module_file(root, name)
        if path is None:
            continue   # an imported name, not a module
        wanted[name] = path
        for dep in _imports_of(path, name):
            if is_provided(dep, provided) or is_private(dep):
                todo.append(dep)
            elif _module_file(root, dep) is not None:
                raise ValueError(f"policy: {name} is provided but imports {dep}, which is not; "
                                 f"add {dep} to the unit's PROVIDES or stop providing {name}")
    for name in list(wanted):   # every package on the way needs its __init__
        parts = name.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent not in wanted:
                wanted[parent] = _module_file(root, parent)
    return wanted


def stage_datasets(source: Path, dest: Path) -> None:
    """Copy ``nnkit/datasets`` with the held-out digits labels replaced by -1.

    The copy also records the kit's fixed split (seed 0) as index arrays, so that ``digits_splits()`` in the
    worker gives exactly the images it gives everywhere else, although it can no longer stratify on the
    hidden labels.
    """
    from nnkit import data

    dest.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and path.name != "digits.npz":
            shutil.copy2(path, dest / path.name)
    X, y = data.load_digits()
    split = data.train_val_test_split(np.arange(len(y)), y, val_size=0.2, test_size=0.2, seed=0, stratify=True)
    labels = y.copy()
    labels[split["X_test"]] = -1
    with np.load(source / "digits.npz", allow_pickle=False) as archive:
        images = archive["images"]
    np.savez_compressed(dest / "digits.npz", images=images, labels=labels.astype(np.int64),
                        split0_train=split["X_train"], split0_val=split["X_val"], split0_test=split["X_test"])


_STAGED: dict[tuple, Path] = {}


def stage_view(provided, root: Path) -> Path:
    """Build (once) and return a folder ``<root>/view-<hash>`` holding ``lib/nnkit`` (the unit's view) and
    ``grader/autograder`` (the worker half). Everything in it is world-readable and nothing is writable."""
    provided = tuple(sorted(set(provided)))
    known = _STAGED.get((provided, root))
    if known is not None and known.is_dir():
        return known      # once per grading process: not re-parsed for every submission
    modules = view_modules(provided)
    package = nnkit_root()
    digest = hashlib.sha256(repr((provided, sorted(str(p) for p in modules.values()),
                                  [p.stat().st_mtime_ns for p in modules.values()])).encode()).hexdigest()[:16]
    view = root / f"view-{digest}"
    if view.is_dir():
        _STAGED[(provided, root)] = view
        return view
    partial = root / f".partial-{digest}-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    for path in modules.values():
        target = partial / "lib" / "nnkit" / path.relative_to(package)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    stage_datasets(package / "datasets", partial / "lib" / "nnkit" / "datasets")
    grader = partial / "grader" / "autograder"
    grader.mkdir(parents=True)
    (grader / "__init__.py").write_text('"""The worker half of the nnkit grader (no checks, no secret)."""\n')
    here = Path(__file__).resolve().parent
    for name in WORKER_MODULES:
        shutil.copyfile(here / name, grader / name)
    precompile(partial)
    for dirpath, dirnames, filenames in os.walk(partial):
        os.chmod(dirpath, 0o555)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
    try:
        os.rename(partial, view)
    except OSError:   # another process of this grader staged it first
        _remove_tree(partial)
    _STAGED[(provided, root)] = view
    return view


def precompile(folder: Path) -> None:
    """Write the bytecode of every module under ``folder`` beside it (``__pycache__``), as the worker's
    Python reads it.

    The worker's view is read-only and the worker runs with ``-B``, so without this every worker compiled
    the staged nnkit modules and its own half of the grader again: about 0.1 CPU-s per worker start. This is
    the grader compiling its own trusted copies, once per grading process, before the view is made
    read-only; the worker's interpreter is this one (``isolation.interpreter``), so it accepts the files.
    Timestamp-checked whatever ``SOURCE_DATE_EPOCH`` says, so a changed source is never run stale.
    """
    import compileall
    import py_compile

    if not compileall.compile_dir(str(folder), quiet=1, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP):
        raise RuntimeError(f"policy: could not compile the staged view {folder}")


def _remove_tree(path: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        os.chmod(dirpath, 0o755)
    shutil.rmtree(path, ignore_errors=True)


def remove_view(path: Path) -> None:
    """Delete a staged view (its folders are read-only)."""
    _remove_tree(path)
