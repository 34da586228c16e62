"""How much of nnkit's code is input validation: an AST count, per module and in total.

Usage::

    .venv/bin/python scripts/validation_share.py                      # every module under nnkit/
    .venv/bin/python scripts/validation_share.py --exclude nnkit/layers/conv.py nnkit/layers/pool.py
    .venv/bin/python scripts/validation_share.py --show nnkit/losses.py  # print the lines counted as checks

What counts as a **code line**: a line that holds at least one Python token other than a comment, where the
line is not part of a docstring (the string that opens a module, class or function). Blank lines, comment
lines and docstrings are not code lines; everything else is, imports and decorators included.

What counts as a **validation line** (a code line, counted once even if several rules cover it):

1. Every code line of ``nnkit/_validate.py``: that module holds only checks.
2. A *guard statement*, all of its lines:
   - ``raise ...`` (but not ``raise NotImplementedError`` in an abstract method) and ``assert ...``;
   - an ``if`` whose body is only guard statements (``if x.ndim != 2: raise ValueError(...)``): its test and
     body; an ``elif``/``else`` counts only if it is guard-only too;
   - a ``for``/``while`` loop whose body is only guard statements;
   - the ``except`` handlers of a ``try`` whose handler body is only guard statements (the ``try`` body is
     judged statement by statement);
   - an assignment, expression statement or ``return`` whose value is a *check call*, a tuple of check
     calls and plain names (``x = real_array(x, "f")``, ``lr, mu = check_lr(...), number(...)``), or a
     comprehension whose item is a check call (``{k: real_array(v, "f", k) for k, v in state.items()}``).
3. A *check call* is a call to a function imported from ``nnkit._validate`` (by name, or as an attribute of
   the imported module), or to a *guard-only helper* (defined in the same module, or imported by name from
   another nnkit module).
4. A *guard-only helper* is a function or method in nnkit whose body, its docstring aside, is only guard
   statements, ``pass``, and a final ``return`` of plain names or attributes (``def _check_dout(...): ...;
   return dout``). Its ``def`` line and decorators count too. Found to a fixed point, so a helper that only
   calls guard-only helpers is one as well. A method's calls are recognised through ``self.<name>``.

A check nested inside a maths expression (``return np.tanh(_as_real(z, "tanh"))``) does not make the line a
validation line: the line is the maths. Those lines are reported in a separate column (*mixed*), so hiding
checks inside expressions shows up.

The share is validation lines / code lines. Standard library only; the count is deterministic.
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VALIDATE = "nnkit/_validate.py"
_NON_CODE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
             tokenize.ENCODING, tokenize.ENDMARKER}


def lines_of(node: ast.AST) -> set[int]:
    return set(range(node.lineno, node.end_lineno + 1))


def code_lines(source: str, tree: ast.Module) -> set[int]:
    """Lines with a non-comment token, minus docstrings."""
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in _NON_CODE:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines -= lines_of(first)
    return lines


def body_without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


class Checks:
    """The names that are check calls: what each module imports from _validate, and the guard-only helpers."""

    def __init__(self, trees: dict[str, ast.Module]):
        self.names: dict[str, set[str]] = {path: set() for path in trees}     # bare names, per module
        self.modules: dict[str, set[str]] = {path: set() for path in trees}   # aliases of _validate itself
        self.imported: dict[str, dict[str, str]] = {path: {} for path in trees}  # local name -> name, from nnkit
        self.helpers: set[str] = set()    # guard-only helpers: "path:name", methods "path:Class.name"
        for path, tree in trees.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("nnkit")):
                    if (node.module or "").endswith("_validate"):
                        self.names[path].update(a.asname or a.name for a in node.names)
                    else:
                        self.modules[path].update(a.asname or a.name for a in node.names if a.name == "_validate")
                        self.imported[path].update({a.asname or a.name: a.name for a in node.names})
                elif isinstance(node, ast.Import):
                    self.modules[path].update(a.asname or a.name for a in node.names
                                              if a.name.endswith("._validate"))
        changed = True
        while changed:   # a helper that only calls guard-only helpers is one too
            changed = False
            for path, tree in trees.items():
                for key, node in functions(path, tree):
                    if key not in self.helpers and self.guard_only(path, node):
                        self.helpers.add(key)
                        changed = True

    def is_check_call(self, path: str, node: ast.AST) -> bool:
        if not isinstance(node, ast.Call):
            return False
        f = node.func
        if isinstance(f, ast.Name):
            # a guard-only helper imported from another nnkit module counts too (matched by its name)
            other = self.imported[path].get(f.id)
            return f.id in self.names[path] or f"{path}:{f.id}" in self.helpers or \
                (other is not None and any(h.endswith(f":{other}") for h in self.helpers))
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            return f.value.id in self.modules[path] or (f.value.id in ("self", "cls") and
                                                        any(h.startswith(f"{path}:") and h.endswith(f".{f.attr}")
                                                            for h in self.helpers))
        return False

    def is_check_value(self, path: str, value: ast.AST | None) -> bool:
        if value is None:
            return False
        if isinstance(value, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):   # one check per item
            return self.is_check_call(path, value.value if isinstance(value, ast.DictComp) else value.elt)
        if isinstance(value, ast.Tuple):
            return any(self.is_check_call(path, v) for v in value.elts) and \
                all(self.is_check_call(path, v) or isinstance(v, (ast.Name, ast.Attribute)) for v in value.elts)
        return self.is_check_call(path, value)

    def is_guard(self, path: str, stmt: ast.stmt) -> bool:
        """A statement that only checks (rule 2)."""
        if isinstance(stmt, ast.Raise):   # an abstract method's NotImplementedError is not a check
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            return not (isinstance(exc, ast.Name) and exc.id == "NotImplementedError")
        if isinstance(stmt, ast.Assert):
            return True
        if isinstance(stmt, ast.If):
            return self.all_guards(path, stmt.body) and (not stmt.orelse or self.all_guards(path, stmt.orelse))
        if isinstance(stmt, (ast.For, ast.While)):
            return self.all_guards(path, stmt.body) and not stmt.orelse
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Return)):
            return self.is_check_value(path, stmt.value)
        return False

    def all_guards(self, path: str, body: list[ast.stmt]) -> bool:
        return bool(body) and all(self.is_guard(path, s) for s in body)

    def guard_only(self, path: str, fn: ast.FunctionDef) -> bool:
        """Rule 4: only guards, ``pass`` and a final return of plain names."""
        body = body_without_docstring(fn.body)
        if not body:
            return False
        *head, last = body
        plain = (ast.Name, ast.Attribute)
        returns_plain = isinstance(last, ast.Return) and (
            isinstance(last.value, plain) or
            (isinstance(last.value, ast.Tuple) and all(isinstance(v, plain) for v in last.value.elts)))
        rest = head if returns_plain else body
        has_guard = any(self.is_guard(path, s) for s in rest)
        return has_guard and all(self.is_guard(path, s) or isinstance(s, ast.Pass) for s in rest)


def functions(path: str, tree: ast.Module):
    """("path:name" or "path:Class.name", node) for the module's functions and methods (nested ones by name)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            yield from ((f"{path}:{node.name}.{m.name}", m) for m in node.body
                        if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{path}:{node.name}", node


def validation_lines(path: str, tree: ast.Module, checks: Checks) -> tuple[set[int], set[int]]:
    """(lines of guard statements and guard-only helpers, lines where a check call sits inside other code)."""
    lines: set[int] = set()
    mixed: set[int] = set()

    def visit(body: list[ast.stmt], cls: str = "") -> None:
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                visit(stmt.body, f"{stmt.name}.")
                continue
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and f"{path}:{cls}{stmt.name}" in checks.helpers:
                lines.update(lines_of(stmt))
                lines.update(ln for d in stmt.decorator_list for ln in lines_of(d))
                continue
            if checks.is_guard(path, stmt):
                lines.update(lines_of(stmt))
                continue
            if isinstance(stmt, ast.If) and checks.all_guards(path, stmt.body):
                lines.update(lines_of(stmt.test) | {stmt.lineno})
                lines.update(ln for s in stmt.body for ln in lines_of(s))
                visit(stmt.orelse)
                continue
            if isinstance(stmt, ast.Try):
                for handler in stmt.handlers:
                    if checks.all_guards(path, handler.body):
                        lines.update(lines_of(handler))
                    else:
                        visit(handler.body)
                visit(stmt.body)
                visit(stmt.orelse)
                visit(stmt.finalbody)
                continue
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    visit(inner)
            if isinstance(stmt, (ast.With, ast.For, ast.While, ast.If, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef, ast.Match)):
                heads = [stmt.test] if isinstance(stmt, (ast.If, ast.While)) else \
                    [stmt.iter] if isinstance(stmt, ast.For) else \
                    [i.context_expr for i in stmt.items] if isinstance(stmt, ast.With) else []
            else:
                heads = [stmt]
            for head in heads:
                for node in ast.walk(head):
                    if checks.is_check_call(path, node):
                        mixed.update(lines_of(node))

    visit(tree.body)
    return lines, mixed - lines


def measure(paths: list[Path]) -> list[dict]:
    rel = {p: p.resolve().relative_to(ROOT).as_posix() for p in paths}
    sources = {rel[p]: p.read_text() for p in paths}
    trees = {name: ast.parse(src) for name, src in sources.items()}
    checks = Checks(trees)
    rows = []
    for name in sorted(trees):
        code = code_lines(sources[name], trees[name])
        if name == VALIDATE:
            valid, mixed = set(code), set()
        else:
            valid, mixed = validation_lines(name, trees[name], checks)
        rows.append(dict(module=name, code=len(code), validation=len(valid & code), mixed=len(mixed & code),
                         lines=sorted(valid & code)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "nnkit"],
                        help="files or folders (default: nnkit/)")
    parser.add_argument("--exclude", nargs="*", default=[], help="files to leave out of the count")
    parser.add_argument("--show", nargs="*", default=[], help="print the validation lines of these files")
    args = parser.parse_args(argv)
    files = sorted({f for p in args.paths for f in ([p] if p.is_file() else p.rglob("*.py"))})
    excluded = {(ROOT / e).resolve() for e in args.exclude}
    files = [f for f in files if f.resolve() not in excluded]
    # the guard-only helpers are found over every module, so a helper counts the same with --exclude
    rows = [r for r in measure(files + [f for f in (ROOT / "nnkit").rglob("*.py") if f.resolve() in excluded])
            if (ROOT / r["module"]).resolve() not in excluded]
    print(f"{'module':34s} {'code':>5s} {'checks':>6s} {'share':>6s} {'mixed':>5s}")
    for r in rows:
        share = r["validation"] / r["code"] if r["code"] else 0.0
        print(f"{r['module']:34s} {r['code']:5d} {r['validation']:6d} {share:6.1%} {r['mixed']:5d}")
    code = sum(r["code"] for r in rows)
    valid = sum(r["validation"] for r in rows)
    print(f"{'total':34s} {code:5d} {valid:6d} {valid / code:6.1%} {sum(r['mixed'] for r in rows):5d}")
    for r in rows:
        if any((ROOT / s).resolve() == (ROOT / r["module"]).resolve() for s in args.show):
            text = (ROOT / r["module"]).read_text().splitlines()
            print(f"\n{r['module']}:")
            for ln in r["lines"]:
                print(f"{ln:5d}  {text[ln - 1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
