"""The ``--out`` folder: checked before grading, locked while in use, and written with clear errors.

One grader (or merge) at a time owns a folder. ``claim(out)`` checks that the folder can
be written, then takes an exclusive ``flock`` on ``<out>/.lock`` and writes ``host:pid``
into it; a second grader on the same folder is refused (``OutputInUse``, exit 2) with a
line naming the holder. The kernel drops the lock when the holder exits, however it
exits (SIGKILL included), so a killed grader never leaves a stale lock behind. Splitting a
class between graders is what ``--shard`` and ``nnkit merge`` are for.

Every write of an output goes through ``write_text``: an ``OSError`` (a full disk, a
read-only or vanished folder, no permission) becomes ``OutputError`` with one line that
names the file, and the files already written stay.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".lock"


class OutputUnusable(Exception):
    """The output folder cannot be used at all (not writable, or in use); nothing was graded."""


class OutputError(Exception):
    """Writing an output failed (full disk, read-only, no permission); outputs already written are kept."""


def describe(exc: OSError) -> str:
    """``exc`` in words, without Python's ``[Errno 28]`` prefix."""
    return exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))


def show(path) -> str:
    """``path`` as printed: no doubled or trailing separators (``grades/``, never ``grades//``)."""
    return os.path.normpath(os.fspath(path))


def check_writable(out: Path, command: str) -> None:
    """Create ``out`` if needed and write a probe file there; raise ``OutputUnusable`` if either fails."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputUnusable(f"{command}: cannot write to the output folder {show(out)}: {describe(exc)}") \
            from None


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "a process that has not written its name yet"


@contextmanager
def claim(out: Path, command: str = "nnkit grade"):
    """Check ``out`` and hold its lock for the ``with`` block; raise ``OutputUnusable`` if either fails."""
    out = Path(out)
    check_writable(out, command)
    try:
        fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise OutputUnusable(f"{command}: cannot write to the output folder {show(out)}: {describe(exc)}") \
            from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputUnusable(f"{command}: the output folder {show(out)} is in use by {_holder(fd)}; wait "
                                 "for it to finish, or give another --out") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{socket.gethostname()}:{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            raise OutputUnusable(f"{command}: cannot write to the output folder {show(out)}: "
                                 f"{describe(exc)}") from None
        yield out
    finally:
        os.close(fd)   # releases the lock


def in_use_by(out: Path) -> str | None:
    """Who holds ``out``'s lock right now (``host:pid``), or None if nobody does."""
    try:
        fd = os.open(Path(out) / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(fd)
        return None
    finally:
        os.close(fd)


def sweep_partial_writes(out: Path) -> None:
    """Remove temporary files that an interrupted atomic write left behind (``.<name>.*.tmp``)."""
    for tmp in Path(out).rglob(".*.tmp"):
        try:
            tmp.unlink()
        except OSError:
            pass


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # a lone surrogate from student code (in a flag's text, say) is written as \ud800; it never stops a batch
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str) -> None:
    """Atomically write ``text`` to ``path``; any ``OSError`` becomes a one-line ``OutputError``."""
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise OutputError(f"could not write {show(path)}: {describe(exc)}") from None
