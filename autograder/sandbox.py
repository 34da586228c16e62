"""The grader's side of the sandbox: start, drive, time out, kill and restart workers.

``Worker`` is one worker process (see ``autograder.worker``); ``Sandbox`` runs a
submission's cells in a worker and serves handle requests, restarting the worker
(and re-running the cells, minus any that crashed it) after a crash or timeout.
``Sandbox`` is the transport behind ``RemoteHandle``.

Limits (``Limits``): wall clock per cell and per call, enforced here by killing the
worker's process group with SIGKILL; CPU time per cell and per call, enforced by
lowering the worker's RLIMIT_CPU soft limit with ``prlimit`` before every request;
address space, file size, process count and a lifetime CPU cap, set by the worker
on itself before any student code runs; and captured output (truncated).
"""

from __future__ import annotations

import fcntl
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder import protocol
from autograder.handle import NamespaceError, StudentCodeError, WorkerFailure


@dataclass
class Limits:
    """Resource limits for one worker (seconds, bytes, characters)."""

    cell_timeout: float = 60.0
    call_timeout: float = 20.0
    item_timeout: float = 300.0        # wall clock for all the calls of one item
    cell_cpu: float | None = None      # CPU seconds per cell / per call (None: same as the wall clock)
    call_cpu: float | None = None
    startup_timeout: float = 60.0
    memory_bytes: int = 2 * 1024 ** 3
    file_bytes: int = 64 * 1024 ** 2
    nproc: int = 0                 # extra processes allowed (RLIMIT_NPROC; not enforced for root)
    cpu_total_seconds: int = 1800
    output_chars: int = 20_000
    max_message_bytes: int = 512 * 1024 ** 2
    max_restarts: int = 8
    run_as: str | None = None      # user name for the worker (the grader must be root); None: the grader's user


@dataclass
class Policy:
    """What the worker's audit hook blocks, records and hides."""

    blocked_modules: tuple = ()
    recorded_modules: tuple = ()
    denied_paths: tuple = ()
    preload: tuple = ()            # modules imported before the hook (the assignment provides them)
    denied_trees: tuple = ()       # folders denied with everything ever created under them (the --out folder)


ALWAYS_BLOCKED = ("autograder", "ctypes", "_ctypes", "_posixsubprocess", "cffi", "_testcapi",
                  "_xxsubinterpreters", "_testinternalcapi")


def _user_process_count(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def _inodes(paths) -> list[list[int]]:
    seen = []
    for root in paths:
        root = Path(root)
        if not root.exists():
            continue
        if root.is_file():
            st = root.stat()
            seen.append([st.st_dev, st.st_ino])
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [""] + filenames:
                try:
                    st = os.stat(os.path.join(dirpath, name) if name else dirpath)
                except OSError:
                    continue
                seen.append([st.st_dev, st.st_ino])
    return seen


def _tree_inodes(roots, workdir) -> list[list[int]]:
    """(device, inode) of each folder in ``roots`` denied to the worker with its whole subtree.

    The worker refuses any path with such a folder among its ancestors, so files created
    there after the worker started (other students' results) are covered too. Skipped: a
    folder that does not exist, and one holding the worker's temp dir or the Python
    installation, which the worker needs.
    """
    needed = [os.path.realpath(p) for p in (workdir, sys.prefix, sys.base_prefix, Path(__file__).parent)]
    seen = []
    for root in roots:
        real = os.path.realpath(root)
        if not os.path.isdir(real) or any(n == real or n.startswith(real.rstrip("/") + "/") for n in needed):
            continue
        st = os.stat(real)
        seen.append([st.st_dev, st.st_ino])
    return seen


def describe_exit(returncode: int | None) -> str:
    """How a worker ended, in words ("was killed by a segmentation fault (SIGSEGV)")."""
    if returncode is None:
        return "did not exit"
    if returncode < 0:
        sig = -returncode
        names = {signal.SIGSEGV: "a segmentation fault (SIGSEGV)", signal.SIGKILL: "SIGKILL",
                 signal.SIGXCPU: "the CPU time limit (SIGXCPU)", signal.SIGABRT: "an abort (SIGABRT)",
                 signal.SIGBUS: "a bus error (SIGBUS)", signal.SIGFPE: "SIGFPE"}
        try:
            fallback = signal.Signals(sig).name
        except ValueError:
            fallback = f"signal {sig}"
        return f"was killed by {names.get(sig, fallback)}"
    return f"exited with code {returncode} (sys.exit/os._exit in your code?)"


class Worker:
    """One sandboxed worker process."""

    def __init__(self, limits: Limits, policy: Policy):
        self.limits, self.policy = limits, policy
        self.proc: subprocess.Popen | None = None
        self.reports: list[tuple[str, str]] = []
        self._report_buffer = b""

    def start(self) -> None:
        self._private = tempfile.mkdtemp(prefix="nnkit-grader-")
        self.workdir = tempfile.mkdtemp(prefix="nnkit-worker-")
        os.makedirs(os.path.join(self.workdir, ".mpl"), exist_ok=True)
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        self._rep_r, rep_w = os.pipe()
        fcntl.fcntl(self._rep_r, fcntl.F_SETFL, fcntl.fcntl(self._rep_r, fcntl.F_GETFL) | os.O_NONBLOCK)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": self.workdir, "TMPDIR": self.workdir,
               "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "MPLBACKEND": "Agg",
               "MPLCONFIGDIR": os.path.join(self.workdir, ".mpl"), "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1",
               "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8",
               "PYTHONNOUSERSITE": "1"}
        package_parent = str(Path(__file__).resolve().parent.parent)
        boot = (f"import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
                f"sys.path.append({package_parent!r}); from autograder.worker import main; main()")
        self._log = open(os.path.join(self._private, "worker.log"), "wb")
        user = {}
        if self.limits.run_as is not None:
            import pwd
            entry = pwd.getpwnam(self.limits.run_as)
            for d in (self.workdir, os.path.join(self.workdir, ".mpl")):
                os.chown(d, entry.pw_uid, entry.pw_gid)
            user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-s", "-B", "-c", boot, str(req_r), str(resp_w), str(rep_w)],
                cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                pass_fds=(req_r, resp_w, rep_w), start_new_session=True, close_fds=True, **user)
        except OSError as exc:
            raise WorkerFailure(f"could not start the worker{' as ' + self.limits.run_as if user else ''}: "
                                f"{exc}") from None
        finally:
            for fd in (req_r, resp_w, rep_w):
                os.close(fd)
        limits = asdict(self.limits)
        if self.limits.run_as is not None or os.getuid() != 0:
            limits["nproc"] = self._worker_process_count() + self.limits.nproc
        else:
            limits["nproc"] = 0   # root ignores RLIMIT_NPROC anyway; the audit hook stops forks
        policy = {"blocked_modules": list(self.policy.blocked_modules),
                  "recorded_modules": list(self.policy.recorded_modules),
                  "denied_inodes": _inodes(list(self.policy.denied_paths) + [Path(__file__).resolve().parent]),
                  "denied_trees": _tree_inodes(self.policy.denied_trees, self.workdir),
                  "workdir": os.path.realpath(self.workdir)}
        self._send({"limits": limits, "policy": policy, "drop_paths": [package_parent],
                    "preload": list(self.policy.preload)})
        ready = self._receive(self.limits.startup_timeout)
        if not (isinstance(ready, dict) and ready.get("ready") is True):
            self.kill()
            raise WorkerFailure("the worker did not start")

    def _worker_process_count(self) -> int:
        return _user_process_count(os.stat(f"/proc/{self.proc.pid}").st_uid)

    # -- low level -------------------------------------------------------------------------------
    def _send(self, message) -> None:
        try:
            protocol.send(self._req_w, message)
        except OSError as exc:
            self._fail(f"could not send to the worker ({exc.strerror})")

    def _receive(self, timeout: float):
        try:
            return protocol.receive(self._resp_r, max_bytes=self.limits.max_message_bytes, timeout=timeout)
        except protocol.Timeout:
            self._fail(f"the time limit of {timeout:g} s was exceeded (an infinite loop?)")
        except protocol.ProtocolError as exc:
            try:
                self.proc.wait(timeout=2)   # usually the worker just died: say how
            except subprocess.TimeoutExpired:
                self._fail(f"the worker broke the protocol ({exc})")
            self._fail(f"the worker {describe_exit(self.proc.returncode)}")
        finally:
            self._drain_reports()

    def _fail(self, message: str):
        self.kill()
        raise WorkerFailure(message)

    def _cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _set_cpu_budget(self, seconds: float) -> None:
        try:
            soft = math.ceil(self._cpu_seconds() + seconds)
            hard = resource.prlimit(self.proc.pid, resource.RLIMIT_CPU)[1]
            resource.prlimit(self.proc.pid, resource.RLIMIT_CPU, (min(soft, hard), hard))
        except (OSError, ValueError):
            pass  # the worker is gone; the request will report it

    def _drain_reports(self) -> None:
        while True:
            try:
                chunk = os.read(self._rep_r, 65536)
            except BlockingIOError:
                break
            except OSError:
                break
            if not chunk:
                break
            self._report_buffer += chunk
            if len(self._report_buffer) > 1 << 20:
                self._report_buffer = self._report_buffer[-(1 << 20):]
        *lines, self._report_buffer = self._report_buffer.split(b"\n")
        for line in lines:
            kind, _, detail = line.decode("utf-8", "replace").partition("\t")
            if (kind, detail) not in self.reports and len(self.reports) < 1000:
                self.reports.append((kind, detail))

    # -- requests --------------------------------------------------------------------------------
    def request(self, op: str, args: list, timeout: float, cpu: float | None = None) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            raise WorkerFailure("the worker is not running")
        self._set_cpu_budget(timeout if cpu is None else cpu)
        self._send({"op": op, "args": args})
        response = self._receive(timeout)
        if not isinstance(response, dict) or not isinstance(response.get("ok"), bool):
            self._fail("the worker sent a malformed response")
        return response

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def close(self) -> None:
        self.kill()
        for fd in ("_req_w", "_resp_r", "_rep_r"):
            if hasattr(self, fd):
                try:
                    os.close(getattr(self, fd))
                except OSError:
                    pass
                delattr(self, fd)
        if hasattr(self, "_log"):
            self._log.close()
        for d in ("workdir", "_private"):
            if hasattr(self, d):
                shutil.rmtree(getattr(self, d), ignore_errors=True)


@dataclass
class CellRun:
    """How one cell ran: ``status`` is "ok", "error" (it raised) or "crashed" (worker died/timed out)."""

    name: str
    status: str
    message: str = ""
    stdout: str = ""


@dataclass
class Sandbox:
    """Runs ``cells`` (``[(name, source)]``) in a worker and serves handle requests (a transport)."""

    cells: list
    limits: Limits = field(default_factory=Limits)
    policy: Policy = field(default_factory=Policy)

    def __post_init__(self):
        self.worker: Worker | None = None
        self.crashed_cells: set[str] = set()
        self.cell_runs: list[CellRun] = []
        self.restarts = 0
        self._crash_notes: dict[str, CellRun] = {}
        self.reports: list[tuple[str, str]] = []
        self.call_timeout = self.limits.call_timeout
        self.deadline: float | None = None   # set per item by the grader (Limits.item_timeout)

    def boot(self) -> list[CellRun]:
        """Start a worker and run every cell except those that crashed a worker before."""
        while True:
            self._new_worker()
            runs, crashed = [], False
            for name, source in self.cells:
                if name in self.crashed_cells:
                    runs.append(self._crash_notes[name])
                    continue
                try:
                    response = self.worker.request("exec", [source, name], self.limits.cell_timeout,
                                                   self.limits.cell_cpu)
                except WorkerFailure as exc:
                    self.crashed_cells.add(name)
                    self._crash_notes[name] = CellRun(name, "crashed", str(exc))
                    crashed = True
                    break
                error = response.get("error")
                runs.append(CellRun(name, "error" if error else "ok",
                                    f"{error['exc_type']}: {error['message']}" if error else "",
                                    str(response.get("stdout", ""))))
            if not crashed:
                if not self.cell_runs:
                    self.cell_runs = runs
                return self.cell_runs

    def _new_worker(self) -> None:
        if self.worker is not None:
            self._collect()
            self.worker.close()
            self.restarts += 1
            if self.restarts > self.limits.max_restarts:
                self.worker = None
                raise WorkerFailure(f"gave up after {self.limits.max_restarts} worker restarts")
        self.worker = Worker(self.limits, self.policy)
        self.worker.start()

    def _collect(self) -> None:
        if self.worker is not None:
            self.worker._drain_reports()
            for r in self.worker.reports:
                if r not in self.reports:
                    self.reports.append(r)

    def request(self, op: str, args: list):
        """Serve one handle operation, restarting the worker first if the last one died."""
        timeout = self.call_timeout
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise WorkerFailure(f"this item's time budget of {self.limits.item_timeout:g} s is used up")
            timeout = min(timeout, left)
        if self.worker is None or self.worker.proc is None or self.worker.proc.poll() is not None:
            self.boot()
        try:
            response = self.worker.request(op, list(args), timeout, self.limits.call_cpu)
        except WorkerFailure as exc:
            if timeout < self.call_timeout and "time limit" in str(exc):
                raise WorkerFailure(f"this item's time budget of {self.limits.item_timeout:g} s is used up") \
                    from None
            raise
        finally:
            self._collect()
        if response["ok"]:
            return response.get("value")
        error = response.get("error") or {}
        kind = error.get("kind")
        if kind == "student":
            raise StudentCodeError(str(error.get("where")), str(error.get("exc_type")), str(error.get("message")))
        if kind == "namespace":
            raise NamespaceError(str(error.get("message")))
        raise WorkerFailure(f"the worker could not serve {op}: {error.get('message')}")

    def close(self) -> None:
        self._collect()
        if self.worker is not None:
            self.worker.close()
            self.worker = None
