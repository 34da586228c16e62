"""Mutation testing of nnkit's core modules with mutmut 3.8, one module at a time against its own tests.

Not part of CI: a module takes minutes. Install the tool into the venv first::

    .venv/bin/pip install mutmut==3.8
    .venv/bin/python scripts/mutation.py                  # every module below
    .venv/bin/python scripts/mutation.py losses autodiff  # some of them
    .venv/bin/python scripts/mutation.py --list           # the modules and their tests

Each module is mutated in a fresh copy of the working tree (mutmut writes a ``mutants/`` folder next to the
configuration; the copy keeps that out of the repository), with the ``[tool.mutmut]`` table of ``pyproject.toml``
narrowed to the module and its test files. The script then prints, per module: the mutants, how many the tests
killed, the survivors that only change the wording of a message (a string literal inside a ``raise``; they do not
count), and the kill rate ``killed / (mutants - message-only - skipped)``. Survivors are listed with ``mutmut
show`` names, so ``cd <copy> && mutmut show <name>`` prints the diff.

Options: ``--jobs N`` (mutmut's ``--max-children``, default 1: the machine is shared), ``--timeout S`` per module
(default 900 s; a module cut short is reported as such), ``--keep`` (leave the copies for inspection),
``--rescore DIR`` (score a kept copy again without running), ``--sample N`` (test N mutants drawn uniformly at
random, ``--seed``-ed, instead of all of them: an unbiased estimate when a full run does not fit the time; the
table then says how many ran of how many).

A run cut short by ``--timeout`` has tested the mutants in file order, so its score covers only the top of the
file; ``--sample`` spreads the same budget over the whole file.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import signal
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module name -> (file to mutate, its tests)
MODULES: dict[str, tuple[str, list[str]]] = {
    "losses": ("nnkit/losses.py", ["tests/nnkit/test_losses.py"]),
    "activations": ("nnkit/activations.py", ["tests/nnkit/test_activations.py"]),
    "autodiff": ("nnkit/autodiff.py", ["tests/nnkit/test_autodiff.py"]),
    "adam": ("nnkit/optim/adam.py", ["tests/nnkit/optim/test_adam.py"]),
    "sgd": ("nnkit/optim/sgd.py", ["tests/nnkit/optim/test_sgd.py"]),
    "conv": ("nnkit/layers/conv.py", ["tests/nnkit/layers/test_conv.py"]),
    "pool": ("nnkit/layers/pool.py", ["tests/nnkit/layers/test_pool.py"]),
}
DEFAULT = ["losses", "activations", "autodiff", "adam", "sgd"]
KILLED = {1, 3, 36, 24, -24, 152, 255, -11, -9, 37}   # mutmut's exit codes for killed, timeout, crash
SURVIVED, NO_TESTS, SKIPPED = 0, {5, 33}, 34


def copy_tree(dest: Path) -> None:
    """What the tests of nnkit need, as it is in the working tree (uncommitted edits included)."""
    for name in ("nnkit", "tests/nnkit"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "tests/__init__.py", "tests/conftest.py"):
        shutil.copy2(ROOT / name, dest / name)


def configure(dest: Path, target: str, tests: list[str]) -> None:
    """Replace the copy's [tool.mutmut] table by one limited to ``target`` and ``tests``."""
    text = (dest / "pyproject.toml").read_text()
    text = re.sub(r"\n\[tool\.mutmut\]\n(?:(?!\n\[).)*", "\n", text, flags=re.S)
    quoted = ", ".join(json.dumps(t) for t in tests)
    text += ("\n[tool.mutmut]\n"
             'source_paths = ["nnkit"]\n'
             f"only_mutate = [{json.dumps(target)}]\n"
             f"pytest_add_cli_args_test_selection = [{quoted}]\n"
             'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]\n')
    (dest / "pyproject.toml").write_text(text)
    # mutmut 3.8 reads item._nodeid, which pytest 9 no longer has.
    with open(dest / "tests" / "conftest.py", "a") as conftest:
        conftest.write("\n\ndef pytest_collection_modifyitems(items):\n"
                       "    for item in items:\n"
                       "        if not hasattr(item, '_nodeid'):\n"
                       "            item._nodeid = item.nodeid\n")


def only_strings_differ(before: str, after: str) -> bool:
    """True if two source lines differ only inside string literals."""
    def skeleton(line: str) -> list[str] | None:
        out: list[str] = []
        try:
            for t in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline):
                # None stands for a string too: mutmut replaces a message argument by None
                out.append("STR" if t.type == tokenize.STRING or "FSTRING" in tokenize.tok_name.get(t.type, "")
                           or t.string == "None" else t.string)
        except tokenize.TokenError:   # a continuation line (an unclosed bracket): compare what was read
            return out or None
        except (IndentationError, SyntaxError):
            return None
        return out
    a, b = skeleton(before), skeleton(after)
    return a is not None and a == b


# Calls whose string arguments only name things in error messages.
_MESSAGE_CALLS = ("raise ", "check.", "real_array(", "number(", "choice(", "_pair(", "_as_real(", "_as_param(",
                  "_as_logits(", "_scores(", "_target_rows(", "_in_unit_interval(", "_check_", "_number(", "_wrap(",
                  "_exp(", "_log(", "_pow(")


def is_message_only(copy: Path, name: str) -> bool:
    """A surviving mutant that only rewords a string that ends up in an error message.

    That is: the diff changes nothing but string literals, on a line that raises or that calls an input check
    (whose string arguments are the function's and the argument's names in the message). Tests do not pin
    every message's wording, and the issue does not count these.
    """
    diff = subprocess.run([str(Path(sys.executable).parent / "mutmut"), "show", name], cwd=copy,
                          capture_output=True, text=True).stdout
    minus = [l[1:] for l in diff.splitlines() if l.startswith("-") and not l.startswith("---")]
    plus = [l[1:] for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
    if not minus or len(minus) != len(plus):
        return False
    in_message = any(call in line for line in minus for call in _MESSAGE_CALLS) or \
        all(line.strip().startswith(("f\"", "\"", "f'", "'")) for line in minus)
    return in_message and all(only_strings_differ(a, b) for a, b in zip(minus, plus))


def mutant_names(copy: Path, target: str, mutmut: str) -> list[str]:
    """Every mutant's name: start ``mutmut run``, stop it once the mutants are written, read their names."""
    meta = copy / "mutants" / (target + ".meta")
    proc = subprocess.Popen(["nice", "-n", "10", mutmut, "run", "--max-children", "1"], cwd=copy,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not meta.exists() and proc.poll() is None:
            time.sleep(1)
        time.sleep(1)   # let the writer finish the file
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
    return sorted(json.loads(meta.read_text())["exit_code_by_key"])


def run_module(key: str, jobs: int, timeout: float, keep: bool, rescore: Path | None = None,
               sample: int | None = None, seed: int = 0) -> dict:
    target, tests = MODULES[key]
    start = time.monotonic()
    if rescore is not None:    # score a kept copy again (say, after a change to is_message_only)
        copy, finished = rescore, True
    else:
        copy = Path(tempfile.mkdtemp(prefix=f"nnkit-mutation-{key}-"))
        copy_tree(copy)
        configure(copy, target, tests)
        mutmut = str(Path(sys.executable).parent / "mutmut")
        names: list[str] = []
        if sample is not None:
            every = mutant_names(copy, target, mutmut)
            names = sorted(random.Random(seed).sample(every, min(sample, len(every))))
        proc = subprocess.Popen(["nice", "-n", "10", mutmut, "run", "--max-children", str(jobs), *names], cwd=copy,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
            finished = True
        except subprocess.TimeoutExpired:   # stop mutmut and its fork server, keep what was tested
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            finished = False
    meta = copy / "mutants" / (target + ".meta")
    codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
    survivors = sorted(k for k, v in codes.items() if v == SURVIVED)
    message_only = [k for k in survivors if is_message_only(copy, k)]
    real = [k for k in survivors if k not in message_only]
    killed = sum(v in KILLED for v in codes.values())
    skipped = sum(v == SKIPPED for v in codes.values())
    no_tests = sorted(k for k, v in codes.items() if v in NO_TESTS)
    unchecked = sum(v is None for v in codes.values())
    counted = len(codes) - len(message_only) - skipped - unchecked
    result = dict(module=key, mutants=len(codes), killed=killed, message_only=len(message_only),
                  survived=real, no_tests=no_tests, unchecked=unchecked, finished=finished,
                  score=killed / counted if counted else float("nan"), seconds=time.monotonic() - start,
                  copy=str(copy))
    if not keep and rescore is None:
        shutil.rmtree(copy, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=DEFAULT, help=f"any of {', '.join(MODULES)}")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--rescore", type=Path, help="score the copy a --keep run left, without running again")
    parser.add_argument("--sample", type=int, help="test this many mutants per module, drawn at random")
    parser.add_argument("--seed", type=int, default=0, help="the seed of --sample's draw")
    args = parser.parse_args(argv)
    if args.list:
        for key, (target, tests) in MODULES.items():
            print(f"{key:12s} {target:28s} {' '.join(tests)}")
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown modules {unknown}; known: {', '.join(MODULES)}")
    if shutil.which("mutmut", path=str(Path(sys.executable).parent)) is None:
        parser.error("mutmut is not installed in this environment: pip install mutmut==3.8")
    results = []
    print(f"{'module':12s} {'mutants':>7s} {'killed':>7s} {'message':>7s} {'survived':>8s} {'score':>7s}  time")
    for key in args.modules:
        r = run_module(key, args.jobs, args.timeout, args.keep, args.rescore, args.sample, args.seed)
        results.append(r)
        note = "" if r["finished"] else f"  (stopped after {args.timeout:.0f} s)"
        if r["unchecked"]:
            note += f"  ({r['mutants'] - r['unchecked']} of {r['mutants']} mutants tested)"
        print(f"{key:12s} {r['mutants']:7d} {r['killed']:7d} {r['message_only']:7d} {len(r['survived']):8d} "
              f"{r['score']:7.1%}  {r['seconds']:.0f} s{note}", flush=True)
        for name in r["survived"] + r["no_tests"]:
            print(f"    survived: {name}" if name in r["survived"] else f"    no tests: {name}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
