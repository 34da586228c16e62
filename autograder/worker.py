"""The sandboxed worker: runs a submission's cells and serves handle operations.

Started by ``autograder.sandbox`` as ``python -s -B -c <boot>`` in a fresh temporary
directory with a stripped environment (no PYTHONPATH, no HOME secrets, no
NNKIT_GRADER_SECRET; PYTHONHASHSEED=0 so that runs are deterministic). It talks to the grader only over three
inherited pipes (requests in, responses out, audit reports out), never over
stdout. Start-up, in order:

1. read the configuration message (limits, module policy, denied files);
2. import numpy and neuter ``_posixsubprocess.fork_exec`` (see below);
3. set resource limits: address space, file size, process count, CPU (the grader
   lowers the CPU soft limit before every request with ``prlimit``), no core files;
4. preload the nnkit modules the trusted notebook imports (they may import graded
   modules themselves), and create an empty ``__main__`` module for the student;
5. drop every ``autograder``, ``ctypes`` and blocked module from ``sys.modules`` --
   otherwise a later import would be a cache hit that fires no audit event;
6. install the audit hook (it cannot be removed from Python code) and report ready.

The hook blocks, and reports over the audit pipe: imports of forbidden modules
(``autograder``, ``ctypes``, a fresh ``_posixsubprocess``, and graded ``nnkit``
modules the assignment forbids); every way to start a process (``os.fork``,
``os.system``, ``os.exec*``, ``os.posix_spawn``, ``subprocess.Popen``, ...);
``ctypes``; sockets; ``resource.setrlimit``/``prlimit``; ``gc.get_objects`` and
friends and ``__code__`` replacement (ways to reach and patch the hook); signals to other processes; opening, listing or linking
the denied files (trusted notebooks, the autograder and graded nnkit sources,
other submissions), matched by device and inode so symlinks and ``..`` do not
help; and writes, renames and deletions outside the working directory.
RLIMIT_NPROC is not enforced for root: when the grader runs as root, the hook is
what stops fork bombs.
"""

import os
import sys


def _install_audit_hook(policy: dict, report_fd: int) -> None:
    """Install the hook; everything it uses is bound here, so later monkeypatching cannot reach it."""
    import pathlib

    blocked = tuple(policy["blocked_modules"])
    recorded = tuple(policy["recorded_modules"])
    denied = frozenset((int(d), int(i)) for d, i in policy["denied_inodes"])
    trees = frozenset((int(d), int(i)) for d, i in policy.get("denied_trees", ()))
    workdir = str(policy["workdir"]).rstrip("/")
    own_pid = os.getpid()
    report_ino = os.fstat(report_fd).st_ino
    _stat, _fstat, _fspath, _write, _getcwd = os.stat, os.fstat, os.fspath, os.write, os.getcwd
    # builtins too: a student can rebind builtins.any or builtins.len, but not these closure cells
    _type, _str, _bytes, _int, _len = type, str, bytes, int, len
    _PermissionError, _ImportError, _OSError, _ValueError = PermissionError, ImportError, OSError, ValueError
    path_types = (pathlib.PosixPath, pathlib.PurePosixPath)
    write_bits = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    never = frozenset({
        "os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
        "pty.spawn", "os.startfile", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.call_function",
        "socket.__new__", "socket.bind", "socket.connect", "socket.getaddrinfo", "socket.sendto",
        "resource.setrlimit", "resource.prlimit", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "os.chdir", "os.chroot", "os.symlink", "os.link", "os.setuid", "os.setgid", "sys.setprofile",
        "sys.settrace", "os.setsid", "os.setpgid", "cpython._PySys_ClearAuditHooks",
        "sqlite3.connect", "sqlite3.enable_load_extension",
    })
    path_events = frozenset({"os.remove", "os.rmdir", "os.rename", "os.truncate", "os.chmod", "os.chown",
                             "os.utime", "os.mkdir", "shutil.rmtree", "shutil.move"})
    copy_events = frozenset({"shutil.copyfile", "shutil.copytree"})

    def report(kind, detail):
        try:
            if _fstat(report_fd).st_ino == report_ino:
                _write(report_fd, (kind + "\t" + detail.replace("\n", " ")[:300] + "\n").encode("utf-8"))
        except _OSError:
            pass

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

    own_proc = "/proc/" + _str(own_pid)

    def in_denied_tree(full):
        """Whether a folder on the way to ``full`` is a denied tree (covers files created later)."""
        if not trees:
            return False
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
            report("open", full)   # another process's environ, memory or fds (e.g. the grader's)
            raise _PermissionError(f"{event}: access to {path!r} is not allowed while grading")
        if in_denied_tree(full):
            report("open", path)
            raise _PermissionError(f"{event}: access to {path!r} is not allowed while grading")
        try:
            st = _stat(path)
        except (_OSError, _ValueError):
            return
        if (st.st_dev, st.st_ino) in denied:
            report("open", path)
            raise _PermissionError(f"{event}: access to {path!r} is not allowed while grading")

    def check_write(path, event):
        if not absolute(path).startswith(workdir + "/"):
            report("write", path)
            raise _PermissionError(f"{event}: writing outside the working directory is not allowed ({path!r})")

    def hook(event, args):
        if event == "import":
            name = args[0]
            if _type(name) is _str:
                if matches(name, recorded):
                    report("import", name)
                if matches(name, blocked):
                    raise _ImportError(f"importing {name} is not allowed in graded code")
        elif event == "open":
            path, mode, flags = args
            if _type(path) is _int:
                return
            path = as_text(path)
            check_read(path, event)
            writing = (_type(mode) is _str and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)) or \
                (mode is None and _type(flags) is _int and flags & write_bits)
            if writing:
                check_write(path, event)
        elif event in never or event.startswith("ctypes."):
            report("blocked", event)
            raise _PermissionError(f"{event} is not allowed in graded code")
        elif event in copy_events:      # (src, dst): read the one, write the other
            if args[0] is not None and _type(args[0]) is not _int:
                check_read(as_text(args[0]), event)
            if args[1] is not None and _type(args[1]) is not _int:
                check_write(as_text(args[1]), event)
        elif event in path_events:
            for path in args[:2]:
                if path is not None and _type(path) is not _int:
                    text = as_text(path)
                    check_read(text, event)
                    check_write(text, event)
        elif event in ("os.listdir", "os.scandir", "glob.glob"):
            path = args[0] if args else "."
            if path is not None and _type(path) is not _int:
                check_read(as_text(path), event)
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            if event != "os.kill" or args[0] != own_pid:
                report("blocked", event)
                raise _PermissionError(f"{event} is not allowed in graded code")
        elif event == "object.__setattr__" and _len(args) > 1 and args[1] in ("__code__", "__closure__"):
            raise _PermissionError("replacing a function's code is not allowed in graded code")

    class RefuseForbidden:
        """First on sys.meta_path: importlib.import_module() skips the audit event, not the finders."""

        @staticmethod
        def find_spec(name, path=None, target=None):
            hook("import", (name,))

    sys.meta_path.insert(0, RefuseForbidden())
    sys.addaudithook(hook)


def _set_limits(limits: dict) -> None:
    import resource
    import signal

    def lower(res, value):
        soft, hard = resource.getrlimit(res)
        value = int(value)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(res, (value, value))

    lower(resource.RLIMIT_AS, limits["memory_bytes"])
    lower(resource.RLIMIT_FSIZE, limits["file_bytes"])
    lower(resource.RLIMIT_CORE, 0)
    lower(resource.RLIMIT_NPROC, limits["nproc"])
    cpu_total = int(limits["cpu_total_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_total, cpu_total + 1))
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


def _serve(rfd: int, wfd: int, server, protocol, namespace, limits: dict) -> None:
    student_error = namespace.StudentCodeError
    namespace_error = namespace.NamespaceError
    while True:
        request = protocol.receive(rfd)
        op, args = request.get("op"), request.get("args", [])
        out = _CappedText(int(limits["output_chars"]))
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = out
        try:
            if op == "exec":
                response = {"ok": True, "error": None}
                try:
                    exec(compile(args[0], args[1], "exec"), server.namespace)
                except BaseException as exc:  # noqa: BLE001 - SystemExit too: a cell's error is reported
                    response["error"] = {"exc_type": type(exc).__name__, "message": namespace._safe_str(exc)}
            elif op in ("has", "call", "new", "method", "get", "set", "setitem"):
                response = {"ok": True, "value": getattr(server, op)(*args)}
            else:
                response = {"ok": False, "error": {"kind": "protocol", "message": f"unknown op {op!r}"}}
        except student_error as exc:
            response = {"ok": False, "error": {"kind": "student", "where": exc.where, "exc_type": exc.exc_type,
                                               "message": exc.message}}
        except namespace_error as exc:
            response = {"ok": False, "error": {"kind": "namespace", "message": str(exc)}}
        except Exception as exc:  # noqa: BLE001 - e.g. a student thread mutating a result while it is copied
            response = {"ok": False, "error": {"kind": "protocol", "message": f"{type(exc).__name__}: {exc}"}}
        finally:
            sys.stdout, sys.stderr = saved
        response["stdout"] = out.value()
        try:
            protocol.send(wfd, response)
        except protocol.ProtocolError as exc:
            protocol.send(wfd, {"ok": False, "error": {"kind": "protocol", "message": str(exc)}})


def main() -> None:
    rfd, wfd, report_fd = (int(a) for a in sys.argv[1:4])
    from autograder import namespace, protocol

    config = protocol.receive(rfd)
    import types

    import numpy  # noqa: F401 - loaded before the limits and the hook, for every cell to use
    import subprocess  # noqa: F401 - cached, so that libraries importing it still load
    import _posixsubprocess
    del _posixsubprocess.fork_exec   # it starts processes without any audit event

    _set_limits(config["limits"])
    import importlib
    for name in config["preload"]:     # modules the assignment provides (and what they import)
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - not a module (an imported name), or broken: the cell will say
            pass
    blocked = tuple(config["policy"]["blocked_modules"])
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = module
    server = namespace.NamespaceServer(module.__dict__)
    # numpy loads ctypes; forget it (and the grader's own modules) so that importing them fires the hook
    for name in [m for m in sys.modules if m.split(".")[0] in ("autograder", "ctypes", "_ctypes")
                 or any(m == b or m.startswith(b + ".") for b in blocked)]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if p not in config["drop_paths"]]
    _install_audit_hook(config["policy"], report_fd)
    protocol.send(wfd, {"ready": True, "pid": os.getpid()})
    try:
        _serve(rfd, wfd, server, protocol, namespace, config["limits"])
    except protocol.ProtocolError:
        os._exit(0)   # the grader closed the channel


if __name__ == "__main__":
    main()
