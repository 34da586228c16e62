"""The worker: runs a submission's cells and serves handle operations, inside the sandbox.

Started by ``autograder.sandbox`` as ``python -I -S -B -c <boot>`` with a cleared environment (no secret;
``PYTHONHASHSEED=0`` so that runs are deterministic). In namespace mode it runs under bubblewrap and sees
only its view (``autograder.isolation``). It talks to the grader only over three inherited pipes (requests
in, responses out, audit reports out), never over stdout. Start-up, in order:

1. read the ``WorkerConfig`` (``autograder.protocol``);
2. put the nnkit view and the allowed packages on ``sys.path``; import numpy; neuter
   ``_posixsubprocess.fork_exec``, which starts processes without any audit event;
3. set resource limits on itself: address space, file size, processes, lifetime CPU, no core files;
4. create an empty ``__main__`` for the student, forget the grader's own modules and take its folder off
   ``sys.path``;
5. install the audit hook and report ready.

The audit hook is the second layer, never the boundary: the namespaces are. It is a table of small
handlers (``HANDLERS``), one per audit event, built by ``make_hook`` and testable without a worker. It
refuses and reports imports of the grader and of raw-memory modules, records every nnkit import (the
grader decides which cost credit), refuses process creation, sockets, ctypes, rlimit changes and ways to
reach the hook, reads of denied files and of other processes' ``/proc`` entries, and writes outside the
working folder.
"""

import os
import sys
import time

NEVER = frozenset({
    "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
    "pty.spawn", "os.startfile", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.call_function",
    "socket.__new__", "socket.bind", "socket.connect", "socket.getaddrinfo", "socket.sendto",
    "resource.setrlimit", "resource.prlimit", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "os.chdir", "os.chroot", "os.symlink", "os.link", "os.setuid", "os.setgid", "sys.setprofile",
    "sys.settrace", "os.setsid", "os.setpgid", "cpython._PySys_ClearAuditHooks",
    "sqlite3.connect", "sqlite3.enable_load_extension",
})
PROGRESS_EVERY = 0.01   # CPU seconds: operations of a call_many quicker than this share a progress frame
_process_time = time.process_time   # bound before student code runs, which may rebind time.process_time
PATH_EVENTS = frozenset({"os.remove", "os.rmdir", "os.rename", "os.truncate", "os.chmod", "os.chown",
                         "os.utime", "os.mkdir", "shutil.rmtree", "shutil.move"})


def make_hook(config, report):
    """The audit hook for ``config`` (a ``WorkerConfig``); ``report(kind, detail)`` tells the grader.

    Everything the hook uses is bound here, in closure cells, so later monkeypatching of modules or builtins
    cannot reach it.
    """
    import pathlib

    blocked = tuple(config.blocked_modules)
    recorded = tuple(config.recorded_modules)
    denied = frozenset((int(d), int(i)) for d, i in config.denied_inodes)
    trees = frozenset((int(d), int(i)) for d, i in config.denied_trees)
    workdir = str(config.workdir).rstrip("/")
    own_proc = "/proc/" + str(os.getpid())
    _stat, _fspath, _getcwd = os.stat, os.fspath, os.getcwd
    _type, _str, _bytes, _int, _len = type, str, bytes, int, len
    _PermissionError, _ImportError, _OSError, _ValueError = PermissionError, ImportError, OSError, ValueError
    path_types = (pathlib.PosixPath, pathlib.PurePosixPath)
    write_bits = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    own_pid = os.getpid()

    def matches(name, prefixes):
        for p in prefixes:
            if name == p or name.startswith(p + "."):
                return True
        return False

    def as_text(path):
        kind = _type(path)
        if kind in path_types:
            path = _fspath(path)
            kind = _type(path)
        if kind is _bytes:
            return path.decode("utf-8", "surrogateescape")
        if kind is _str:
            return path
        raise _PermissionError("the grader only opens files named by str, bytes or pathlib paths")

    def absolute(path):
        if not path.startswith("/"):
            path = _getcwd() + "/" + path
        parts = []
        for part in path.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part and part != ".":
                parts.append(part)
        return "/" + "/".join(parts)

    def refuse(kind, detail, message):
        report(kind, detail)
        raise _PermissionError(message)

    def in_denied_tree(full):
        prefix = ""
        for part in full.split("/")[1:]:
            prefix = prefix + "/" + part
            try:
                st = _stat(prefix)
            except (_OSError, _ValueError):
                return False
            if (st.st_dev, st.st_ino) in trees:
                return True
        return False

    def check_read(path, event):
        full = absolute(path)
        if full.startswith("/proc/") and full.split("/")[2].isdigit() and not (
                full == own_proc or full.startswith(own_proc + "/")):
            refuse("open", full, f"{event}: access to {path!r} is not allowed while grading")
        if trees and in_denied_tree(full):
            refuse("open", path, f"{event}: access to {path!r} is not allowed while grading")
        if denied:
            try:
                st = _stat(path)
            except (_OSError, _ValueError):
                return
            if (st.st_dev, st.st_ino) in denied:
                refuse("open", path, f"{event}: access to {path!r} is not allowed while grading")

    def check_write(path, event):
        full = absolute(path)
        if not full.startswith(workdir + "/"):
            refuse("write", path, f"{event}: writing outside the working folder is not allowed ({path!r})")

    def on_import(event, args):
        name = args[0]
        if _type(name) is _str:
            if matches(name, recorded):
                report("import", name)
            # an extension module's init function is named after the last part of the name it is loaded
            # under, so "x._posixsubprocess" loads _posixsubprocess: match that part too
            if matches(name, blocked) or matches(name.rpartition(".")[2], blocked):
                raise _ImportError(f"importing {name} is not allowed in graded code")

    def on_open(event, args):
        path, mode, flags = args
        if _type(path) is _int:
            return
        path = as_text(path)
        check_read(path, event)
        if (_type(mode) is _str and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)) or \
                (mode is None and _type(flags) is _int and flags & write_bits):
            check_write(path, event)

    def on_never(event, args):
        refuse("blocked", event, f"{event} is not allowed in graded code")

    def on_copy(event, args):   # (src, dst): read the one, write the other
        if args[0] is not None and _type(args[0]) is not _int:
            check_read(as_text(args[0]), event)
        if args[1] is not None and _type(args[1]) is not _int:
            check_write(as_text(args[1]), event)

    def on_path(event, args):
        for path in args[:2]:
            if path is not None and _type(path) is not _int:
                text = as_text(path)
                check_read(text, event)
                check_write(text, event)

    def on_listing(event, args):
        path = args[0] if args else "."
        if path is not None and _type(path) is not _int:
            check_read(as_text(path), event)

    def on_signal(event, args):   # only signals to itself
        if not (event == "os.kill" and args[0] == own_pid):
            refuse("blocked", event, f"{event} is not allowed in graded code")

    def on_setattr(event, args):
        if _len(args) > 1 and args[1] in ("__code__", "__closure__"):
            raise _PermissionError("replacing a function's code is not allowed in graded code")

    handlers = {"import": on_import, "open": on_open, "shutil.copyfile": on_copy, "shutil.copytree": on_copy,
                "os.listdir": on_listing, "os.scandir": on_listing, "glob.glob": on_listing,
                "os.kill": on_signal, "os.killpg": on_signal, "signal.pthread_kill": on_signal,
                "object.__setattr__": on_setattr}
    handlers.update({event: on_path for event in PATH_EVENTS})
    handlers.update({event: on_never for event in NEVER})
    _get = handlers.get

    def hook(event, args):
        handler = _get(event)
        if handler is not None:
            handler(event, args)
        elif event.startswith("ctypes."):
            on_never(event, args)

    return hook


def _install_audit_hook(config, report_fd: int) -> None:
    """Install the hook (it cannot be removed from Python code) and a first-place import finder."""
    report_ino = os.fstat(report_fd).st_ino
    _fstat, _write, _OSError = os.fstat, os.write, OSError

    def report(kind, detail):
        try:
            if _fstat(report_fd).st_ino == report_ino:
                _write(report_fd, (kind + "\t" + detail.replace("\n", " ")[:300] + "\n").encode("utf-8"))
        except _OSError:
            pass

    hook = make_hook(config, report)

    class RefuseForbidden:
        """First on sys.meta_path: importlib.import_module() skips the audit event, not the finders."""

        @staticmethod
        def find_spec(name, path=None, target=None):
            hook("import", (name,))

    sys.meta_path.insert(0, RefuseForbidden())
    sys.addaudithook(hook)


def _set_limits(config) -> None:
    import resource
    import signal

    def lower(res, value):
        soft, hard = resource.getrlimit(res)
        value = int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(res, (value, value))

    lower(resource.RLIMIT_AS, config.memory_bytes)
    lower(resource.RLIMIT_FSIZE, config.file_bytes)
    lower(resource.RLIMIT_CORE, 0)
    if config.nproc:
        lower(resource.RLIMIT_NPROC, config.nproc)
    lower(resource.RLIMIT_CPU, config.cpu_total_seconds)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # an oversized write raises OSError instead of killing


class _CappedText:
    """A write-only text stream that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int):
        self.limit, self.parts, self.size, self.dropped = limit, [], 0, 0

    def write(self, text) -> int:
        text = str(text)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def value(self) -> str:
        out = "".join(self.parts)
        return out + (f"\n[... {self.dropped} more characters of output truncated]" if self.dropped else "")


def _progress(wfd: int, seq: int, protocol):
    """``call_many``'s ``progress(k)``: a progress frame, so that the grader gives the next operation its own
    call budget (``autograder.budget``). Operations that end within ``PROGRESS_EVERY`` CPU seconds of the
    last frame send none: they share its budget, which they cannot use up, and a batch of quick calls
    costs no frames at all."""
    clock = _process_time
    last = [clock()]

    def ended(count: int) -> None:
        now = clock()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            protocol.send(wfd, protocol.Progress(seq, count).to_wire())
    return ended


def _serve(rfd: int, wfd: int, server, protocol, namespace, output_chars: int) -> None:
    student_error = namespace.StudentCodeError
    namespace_error = namespace.NamespaceError
    while True:
        request = protocol.receive(rfd)
        op, args, seq = request.get("op"), request.get("args", []), request.get("seq")
        out = _CappedText(output_chars)
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = out
        try:
            if op == "exec":
                response = {"ok": True, "error": None}
                try:
                    exec(compile(args[0], args[1], "exec"), server.namespace)
                except BaseException as exc:  # noqa: BLE001 - SystemExit too: a cell's error is reported
                    response["error"] = {"exc_type": type(exc).__name__, "message": namespace._safe_str(exc)}
            elif op == "call_many":
                response = {"ok": True, "value": server.call_many(*args, progress=_progress(wfd, seq, protocol))}
            elif op in ("has", "call", "new", "method", "get", "set", "setitem"):
                response = {"ok": True, "value": getattr(server, op)(*args)}
            else:
                response = {"ok": False, "error": {"kind": "protocol", "message": f"unknown op {op!r}"}}
        except student_error as exc:
            response = {"ok": False, "error": {"kind": "student", "where": exc.where, "exc_type": exc.exc_type,
                                               "message": exc.message, "bases": exc.bases}}
        except namespace_error as exc:
            response = {"ok": False, "error": {"kind": "namespace", "message": str(exc)}}
        except Exception as exc:  # noqa: BLE001 - e.g. a student thread mutating a result while it is copied
            response = {"ok": False, "error": {"kind": "protocol", "message": f"{type(exc).__name__}: {exc}"}}
        finally:
            sys.stdout, sys.stderr = saved
        response["stdout"] = out.value()
        response["seq"] = seq
        try:
            protocol.send(wfd, response)
        except protocol.ProtocolError as exc:
            protocol.send(wfd, {"ok": False, "seq": seq, "error": {"kind": "protocol", "message": str(exc)}})


def _copy_font_cache(cache: str) -> None:
    """Seed matplotlib's private config folder with the grader's prebuilt font cache (skips a font scan)."""
    home = os.environ.get("MPLCONFIGDIR")
    if not home:
        return
    os.makedirs(home, exist_ok=True)
    try:
        for name in os.listdir(cache) if cache else ():
            with open(os.path.join(cache, name), "rb") as src, open(os.path.join(home, name), "wb") as dst:
                dst.write(src.read())
    except OSError:
        pass   # no usable cache: matplotlib builds its own, slower but the same


def main() -> None:
    rfd, wfd, report_fd = (int(a) for a in sys.argv[1:4])
    from autograder import namespace, protocol

    config = protocol.WorkerConfig.from_wire(protocol.receive(rfd))
    sys.path[:0] = [p for p in config.sys_path if p not in sys.path]
    import types

    import numpy  # noqa: F401 - loaded before the limits and the hook, for every cell to use
    import subprocess  # noqa: F401 - cached, so that libraries importing it still load
    import _posixsubprocess
    del _posixsubprocess.fork_exec   # it starts processes without any audit event

    _copy_font_cache(config.mpl_cache)
    _set_limits(config)
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = module
    server = namespace.NamespaceServer(module.__dict__)
    blocked = tuple(config.blocked_modules)
    # numpy loads ctypes; forget it (and the grader's own modules) so that importing them fires the hook
    for name in [m for m in sys.modules if m.split(".")[0] in ("autograder", "ctypes", "_ctypes")
                 or any(m == b or m.startswith(b + ".") for b in blocked)]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if p not in config.drop_paths]
    _install_audit_hook(config, report_fd)
    protocol.send(wfd, {"ready": True, "pid": os.getpid()})
    try:
        _serve(rfd, wfd, server, protocol, namespace, config.output_chars)
    except protocol.ProtocolError:
        os._exit(0)   # the grader closed the channel


if __name__ == "__main__":
    main()
