"""The grader's side of the sandbox: start, drive, time, kill and restart workers.

``Worker`` is one worker process (see ``autograder.worker``), isolated as ``autograder.isolation`` says.
``Sandbox`` runs a submission's cells in a worker and serves handle requests; after a crash or a timeout it
starts a new worker and re-runs the cells, minus any that crashed one. ``Sandbox`` is the transport behind
``RemoteHandle``.

Time is measured in the worker's own CPU seconds, which load on the machine does not change: a budget per
cell, per call and per item (``Limits``), with wall-clock guards for code that does not compute at all. The
budgets, and how a ``call_many`` gets one call budget per operation, are in ``autograder.budget``. Every
timeout is an ``OutOfTime``.

Memory, file size, processes and a lifetime CPU cap are set by the worker on itself before any student
code runs; captured output is truncated.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder import isolation, policy, protocol
from autograder.budget import POLL, Allowance, Backstops, Budget, Meter, next_poll
from autograder.handle import NamespaceError, OutOfTime, StudentCodeError, WorkerFailure
from autograder.isolation import IsolationUnavailable, resolve_isolation  # noqa: F401 - re-exported

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Limits:
    """Resource limits for one submission's workers. Times are CPU seconds of the worker unless named wall."""

    cell_timeout: float = 60.0          # CPU seconds per notebook cell
    notebook_timeout: float = 600.0     # CPU seconds for all the cells of one run of the notebook
    submission_timeout: float = 3600.0  # CPU seconds for everything one submission runs: its cells (again after
                                        # a worker died), every call of every item
    call_timeout: float = 20.0          # CPU seconds per call into student code (items may set their own)
    item_timeout: float = 300.0         # CPU seconds for all the calls of one item
    startup_timeout: float = 30.0       # CPU seconds for a worker to start
    idle_seconds: float = 30.0          # wall seconds without any CPU use: asleep or blocked
    wall_factor: float = 10.0           # wall-clock backstop: factor x the CPU budget, plus wall_slack
    wall_slack: float = 30.0
    memory_bytes: int = 2 * 1024 ** 3
    file_bytes: int = 64 * 1024 ** 2
    home_bytes: int = 256 * 1024 ** 2   # the worker's private tmpfs (namespace mode)
    nproc: int = 0                      # extra processes allowed (RLIMIT_NPROC; user and process modes)
    cpu_total_seconds: int = 1800
    output_chars: int = 20_000
    max_message_bytes: int = 512 * 1024 ** 2
    max_restarts: int = 3               # new workers per item (and per notebook run)
    isolation: str = "auto"             # auto, namespace, user or process (see autograder.isolation)
    run_as: str | None = None           # the worker's user in user mode (default nobody)


@dataclass
class Policy:
    """What the worker can import and what its audit hook (the second layer) refuses or reports."""

    provided: tuple = policy.BASE_PROVIDED
    blocked_modules: tuple = policy.ALWAYS_BLOCKED
    recorded_modules: tuple = ("autograder", "nnkit")
    denied_paths: tuple = ()            # user/process modes: files the hook refuses
    denied_trees: tuple = ()            # user/process modes: folders refused with all they will contain


# -- the grader's private temp root ---------------------------------------------------------------
_ROOT: Path | None = None
_TEMP_PREFIX = "nnkit-grader-"


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def temp_root() -> Path:
    """This process's temp folder (staged views, user/process workdirs), removed at exit and swept by the
    next run if the process was killed. Named after the pid and its start time, so a reused pid is no owner."""
    global _ROOT
    if _ROOT is None or not _ROOT.is_dir():
        sweep_stale_tempdirs()
        pid = os.getpid()
        _ROOT = Path(tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}{pid}-{_start_time(pid)}-"))
        os.chmod(_ROOT, 0o711)   # a user-mode worker may reach its own folder and the view, list nothing
        atexit.register(policy.remove_view, _ROOT)
    return _ROOT


def sweep_stale_tempdirs() -> int:
    """Remove temp folders whose grading process is gone (killed with SIGKILL, say); returns how many."""
    removed = 0
    for path in Path(tempfile.gettempdir()).glob(f"{_TEMP_PREFIX}*"):
        parts = path.name[len(_TEMP_PREFIX):].split("-")
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        if _start_time(int(parts[0])) == parts[1]:
            continue   # still running
        policy.remove_view(path)
        removed += not path.exists()
    return removed


def describe_exit(returncode: int | None) -> str:
    """How a worker ended, in words ("was killed by a segmentation fault (SIGSEGV)")."""
    if returncode is None:
        return "did not exit"
    if returncode < 0 or returncode > 128:
        sig = -returncode if returncode < 0 else returncode - 128
        names = {signal.SIGSEGV: "a segmentation fault (SIGSEGV)", signal.SIGKILL: "SIGKILL",
                 signal.SIGXCPU: "the CPU time limit (SIGXCPU)", signal.SIGABRT: "an abort (SIGABRT)",
                 signal.SIGBUS: "a bus error (SIGBUS)", signal.SIGFPE: "SIGFPE"}
        try:
            fallback = signal.Signals(sig).name
        except ValueError:
            fallback = f"signal {sig}"
        return f"was killed by {names.get(sig, fallback)}"
    return f"exited with code {returncode} (sys.exit/os._exit in your code?)"


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


def _tree_inodes(roots, needed) -> list[list[int]]:
    """(device, inode) of each folder in ``roots`` the hook denies with its whole subtree. A folder holding
    something the worker needs (its working folder, the view, the Python installation and its packages) is
    skipped: denying it would break the worker's own imports (``--out .`` beside a ``.venv``)."""
    needed = [os.path.realpath(p) for p in needed]
    seen = []
    for root in roots:
        real = os.path.realpath(root)
        if not os.path.isdir(real) or any(n == real or n.startswith(real.rstrip("/") + "/") for n in needed):
            continue
        st = os.stat(real)
        seen.append([st.st_dev, st.st_ino])
    return seen


def _die_with_parent() -> None:
    """In a worker started without bubblewrap: SIGKILL when the grading process dies (Linux only)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG


class Worker:
    """One worker process, isolated by ``mode``; ``request`` sends an operation and waits within a budget."""

    def __init__(self, limits: Limits, policy_: Policy, mode: str, view: Path):
        self.limits, self.policy, self.mode, self.view = limits, policy_, mode, view
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None          # the worker's host pid (bubblewrap's child in namespace mode)
        self.reports: list[tuple[str, str]] = []
        self._report_buffer = b""
        self._seq = 0
        self.workdir: str | None = None
        self.font_cache: Path | None = None
        self.meter: Meter | None = None      # the clock of the last request (see last_cost)
        self._stat_fd: int | None = None     # /proc/<pid>/stat, opened once (see cpu_seconds)

    # -- start ------------------------------------------------------------------------------------
    def start(self) -> None:
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        self._rep_r, rep_w = os.pipe()
        fcntl.fcntl(self._rep_r, fcntl.F_SETFL, fcntl.fcntl(self._rep_r, fcntl.F_GETFL) | os.O_NONBLOCK)
        fds = [req_r, resp_w, rep_w]
        info_r = None
        try:
            if self.mode == "namespace":
                info_r, info_w = os.pipe()
                fds.append(info_w)
                prefix = isolation.bwrap_argv(self.view, info_fd=info_w, home_bytes=self.limits.home_bytes,
                                              mpl_cache=str(self.font_cache) if self.font_cache else None)
                grader_dir, home, config = isolation.GRADER, isolation.HOME, self._config_namespace()
            else:
                prefix = []
                self.workdir = tempfile.mkdtemp(prefix="worker-", dir=temp_root())
                grader_dir, home, config = str(self.view / "grader"), self.workdir, self._config_host()
            boot = (f"import sys; sys.path[:0] = {[grader_dir] + config.sys_path!r}; "
                    "from autograder.worker import main; main()")
            argv = prefix + [isolation.interpreter(), "-I", "-S", "-B", "-c", boot,
                             str(req_r), str(resp_w), str(rep_w)]
            self._log = tempfile.TemporaryFile(dir=temp_root())
            self.proc = subprocess.Popen(argv, cwd=home if self.mode != "namespace" else "/",
                                         env=_worker_env(home), stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=self._log,
                                         pass_fds=tuple(fds), start_new_session=True, close_fds=True,
                                         **self._user_options())
        except OSError as exc:
            raise WorkerFailure(f"could not start the worker ({exc})") from None
        finally:
            for fd in fds:
                os.close(fd)
        self.pid = self.proc.pid if info_r is None else self._worker_pid(self._child_pid(info_r))
        self._send(config.to_wire())
        try:
            ready = self._await(Allowance(Budget("start-up", self.limits.startup_timeout)), expect_seq=None)
        except WorkerFailure as exc:
            raise WorkerFailure(f"the worker did not start: {exc}{self._log_tail()}") from None
        if not (isinstance(ready, dict) and ready.get("ready") is True):
            self._fail("the worker did not start")


    def _log_tail(self) -> str:
        """The last line the worker wrote to stderr before it was ready (why it could not start)."""
        try:
            self._log.seek(0)
            lines = self._log.read()[-4000:].decode("utf-8", "replace").strip().splitlines()
        except (OSError, AttributeError):
            return ""
        return f" ({lines[-1]})" if lines else ""

    def _child_pid(self, info_r: int) -> int | None:
        """The sandboxed process's host pid, from bubblewrap's ``--info-fd`` JSON."""
        data = b""
        try:
            while select.select([info_r], [], [], 30)[0]:
                chunk = os.read(info_r, 4096)
                if not chunk:
                    break
                data += chunk
                try:
                    return int(json.loads(data)["child-pid"])
                except (ValueError, KeyError, TypeError):
                    continue
        finally:
            os.close(info_r)
        self._fail(f"bubblewrap did not start the worker ({describe_exit(self.proc.poll())})")

    def _worker_pid(self, init_pid: int) -> int:
        """The worker's host pid: the one child of bubblewrap's pid-1 reaper (``init_pid``)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            child = _child_of(init_pid)
            if child is not None:
                return child
            time.sleep(0.005)
        return init_pid

    def _user_options(self) -> dict:
        if self.mode == "namespace":
            return {}   # bubblewrap sets PR_SET_PDEATHSIG itself (--die-with-parent)
        options = {"preexec_fn": _die_with_parent}
        if self.mode == "user":
            uid, gid = isolation.resolve_user(self.limits.run_as or "nobody")
            os.chown(self.workdir, uid, gid)
            os.chmod(self.workdir, 0o700)
            options.update(user=uid, group=gid, extra_groups=[])
        return options

    def _limits_fields(self) -> dict:
        nproc = 0
        if self.mode != "namespace" and (self.mode == "user" or os.getuid() != 0):
            nproc = self.limits.nproc + 1 + _user_process_count(
                isolation.resolve_user(self.limits.run_as or "nobody")[0] if self.mode == "user" else os.getuid())
        return {"memory_bytes": self.limits.memory_bytes, "file_bytes": self.limits.file_bytes,
                "nproc": nproc, "cpu_total_seconds": self.limits.cpu_total_seconds,
                "output_chars": self.limits.output_chars}

    def _config_namespace(self) -> protocol.WorkerConfig:
        return protocol.WorkerConfig(
            sys_path=[isolation.LIB, isolation.SITE], drop_paths=[isolation.GRADER],
            blocked_modules=list(self.policy.blocked_modules), recorded_modules=list(self.policy.recorded_modules),
            workdir=isolation.HOME, mpl_cache=isolation.MPL_CACHE if self.font_cache else "",
            **self._limits_fields())

    def _config_host(self) -> protocol.WorkerConfig:
        here = Path(__file__).resolve().parent
        denied = list(self.policy.denied_paths) + [str(here), str(policy.nnkit_root())]
        return protocol.WorkerConfig(
            sys_path=isolation.host_sys_path(self.view), drop_paths=[str(self.view / "grader")],
            blocked_modules=list(self.policy.blocked_modules), recorded_modules=list(self.policy.recorded_modules),
            denied_inodes=_inodes(denied), denied_trees=_tree_inodes(self.policy.denied_trees, [
                self.workdir, str(self.view), sys.prefix, sys.base_prefix, *isolation.allowed_package_paths()]),
            workdir=os.path.realpath(self.workdir), mpl_cache=str(self.font_cache or ""),
            **self._limits_fields())

    # -- talking ----------------------------------------------------------------------------------
    def _send(self, message) -> None:
        try:
            protocol.send(self._req_w, message)
        except OSError as exc:
            self._fail(f"could not send to the worker ({exc.strerror})")

    def cpu_seconds(self) -> float:
        """CPU time of the worker process (and its reaped children); 0.0 once it is gone or closed.

        ``/proc/<pid>/stat`` is opened once and re-read with ``pread``: a few microseconds, where opening it
        for every look cost more than the rest of a small request. The descriptor belongs to that process, so
        a pid reused after the worker died reads as gone, never as another process.
        """
        if self._stat_fd is None:
            if self.pid is None:
                return 0.0
            try:
                self._stat_fd = os.open(f"/proc/{self.pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return 0.0
        try:
            fields = os.pread(self._stat_fd, 4096, 0).rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / CLOCK_TICKS

    def _await(self, allowance: Allowance, expect_seq: int | None, start_cpu: float | None = None):
        """The reply to request ``expect_seq`` (None: the next message), within ``allowance``.

        ``start_cpu`` is the worker's CPU time when the request was sent. The request's ``Meter`` (kept in
        ``meter``) enforces the CPU, idle and wall limits and takes the progress frames of a ``call_many``.
        A reply that comes quickly costs one ``select``; a long request is looked at every ``POLL`` seconds
        at first, then less often (``budget.next_poll``). The limits are checked after every frame too, so
        a worker that floods frames cannot keep them from being looked at.
        """
        meter = self.meter = Meter(allowance, Backstops(self.limits.idle_seconds, self.limits.wall_factor,
                                                        self.limits.wall_slack),
                                   self.cpu_seconds() if start_cpu is None else start_cpu, time.monotonic())
        interval = POLL
        while True:
            if select.select([self._resp_r], [], [], interval)[0]:
                ended = meter.ended
                message = self._read_message()
                stopped = meter.overrun(self.cpu_seconds(), time.monotonic())
                if stopped is not None:   # it ran on while the grader waited for the rest of a message
                    self._fail(stopped)
                if expect_seq is None or self._is_reply(message, expect_seq, meter):
                    meter.finish(self.cpu_seconds())
                    return message
                if meter.ended != ended:
                    interval = POLL   # the next operation has begun
            now, cpu = time.monotonic(), self.cpu_seconds()
            stopped = meter.overrun(cpu, now)
            if stopped is not None:
                if stopped.kind == "idle" and self.proc.poll() is not None:
                    self._fail(f"the worker {describe_exit(self.proc.returncode)}")
                self._fail(stopped)
            if self.proc.poll() is not None and not select.select([self._resp_r], [], [], 0)[0]:
                self._fail(f"the worker {describe_exit(self.proc.returncode)}")
            interval = next_poll(interval, meter.cpu_left(cpu), self.limits.idle_seconds)

    def _is_reply(self, message, expect_seq: int, meter: Meter) -> bool:
        """Whether ``message`` is the reply to request ``expect_seq``. A stale reply or frame (one a cell forged
        before the real one came) is skipped, a progress frame goes to ``meter``; anything else is forged."""
        seq = message.get("seq") if type(message) is dict else None
        if type(seq) is not int or seq > expect_seq:
            self._fail("the worker sent a reply to a request that was never made (forged output?)")
        if seq < expect_seq:
            return False
        try:
            progress = protocol.Progress.from_wire(message)
            if progress is not None:
                meter.progress(progress.ended, self.cpu_seconds(), time.monotonic())
        except protocol.ProtocolError as exc:
            self._fail(f"the worker broke the protocol ({exc})")
        return progress is None

    def _read_message(self):
        try:
            return protocol.receive(self._resp_r, max_bytes=self.limits.max_message_bytes, timeout=60)
        except protocol.Timeout:
            self._fail("the worker stopped in the middle of a reply")
        except protocol.ProtocolError as exc:
            try:
                self.proc.wait(timeout=2)   # usually the worker just died: say how
            except subprocess.TimeoutExpired:
                self._fail(f"the worker broke the protocol ({exc})")
            self._fail(f"the worker {describe_exit(self.proc.returncode)}")
        finally:
            self._drain_reports()

    def _fail(self, problem):
        self.kill()
        raise problem if isinstance(problem, WorkerFailure) else WorkerFailure(problem)

    def _drain_reports(self) -> None:
        while True:
            try:
                chunk = os.read(self._rep_r, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            self._report_buffer = (self._report_buffer + chunk)[-(1 << 20):]
        *lines, self._report_buffer = self._report_buffer.split(b"\n")
        for line in lines:
            kind, _, detail = line.decode("utf-8", "replace").partition("\t")
            if (kind, detail) not in self.reports and len(self.reports) < 1000:
                self.reports.append((kind, detail))

    def request(self, op: str, args: list, allowance: Allowance) -> dict:
        """Send one request and return its reply, within ``allowance``; then, whether it replied or failed,
        ``last_cost`` is what it costs the item."""
        self.meter = None
        if self.proc is None or self.proc.poll() is not None:
            raise WorkerFailure("the worker is not running")
        self._seq += 1
        start_cpu = self.cpu_seconds()
        self._send({"op": op, "args": args, "seq": self._seq})
        response = self._await(allowance, self._seq, start_cpu)
        error = response.get("error") if isinstance(response, dict) else None
        if not isinstance(response, dict) or not isinstance(response.get("ok"), bool) or not (error is None or (
                type(error) is dict and all(type(v) is str for v in error.values()))):
            self._fail("the worker sent a malformed response")   # a reply a cell forged, say
        ran = protocol.BatchReply.ended_before_last(response.get("value")) if op == "call_many" else None
        if response["ok"] and ran is not None and self.meter.ended > ran:
            self._fail(f"the worker broke the protocol (call_many: a progress frame said {self.meter.ended} "
                       f"operations had ended, the reply says {ran})")
        return response

    @property
    def last_cost(self) -> float:
        """CPU seconds the last request costs its item (``budget.Meter.cost``)."""
        return 0.0 if self.meter is None else self.meter.cost

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)   # bubblewrap's pid namespace dies with it
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.kill()
            except OSError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.mode == "user" and self.pid is not None:
            _kill_user_processes(isolation.resolve_user(self.limits.run_as or "nobody")[0], self.proc)

    def close(self) -> None:
        self.kill()
        if self._stat_fd is not None:
            os.close(self._stat_fd)
            self._stat_fd = None
        self.pid = None      # its pid may be reused by now: nothing of it is read again
        for fd in ("_req_w", "_resp_r", "_rep_r"):
            if hasattr(self, fd):
                try:
                    os.close(getattr(self, fd))
                except OSError:
                    pass
                delattr(self, fd)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if hasattr(self, "_log"):
            self._log.close()


def _worker_env(home: str) -> dict:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "MPLBACKEND": "Agg", "MPLCONFIGDIR": os.path.join(home, ".mpl"),
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8"}


def _child_of(pid: int) -> int | None:
    """A child process of ``pid`` (bubblewrap's init has exactly one: the worker)."""
    try:   # one small file where the kernel lists them (CONFIG_PROC_CHILDREN), else a scan of /proc
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
            children = f.read().split()
        return int(children[0]) if children else None
    except (OSError, ValueError):
        pass
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        return int(entry)
            except (OSError, ValueError, IndexError):
                pass
    return None


def _user_process_count(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                count += os.stat(f"/proc/{entry}").st_uid == uid
            except OSError:
                pass
    return count


def _kill_user_processes(uid: int, proc) -> None:
    """User mode: a worker's children may have left its session; kill what that uid still runs from it."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid and os.getsid(int(entry)) == proc.pid:
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


@dataclass
class CellRun:
    """How one cell ran: ``status`` is "ok", "error" (it raised) or "crashed" (worker died/timed out)."""

    name: str
    status: str
    message: str = ""
    stdout: str = ""


@dataclass
class Sandbox:
    """Runs ``cells`` (``[(name, source)]``) in a worker and serves handle requests (a transport).

    ``mode`` is a resolved isolation mode (``autograder.isolation.resolve_isolation``); by default it is
    resolved from ``limits.isolation``, falling back to process isolation (tests, self-study).
    """

    cells: list
    limits: Limits = field(default_factory=Limits)
    policy: Policy = field(default_factory=Policy)
    mode: str | None = None

    def __post_init__(self):
        if self.mode is None:
            self.mode = resolve_isolation(self.limits.isolation, run_as=self.limits.run_as, allow_process=True)
        self.view = policy.stage_view(self.policy.provided, temp_root())
        self.font_cache = isolation.build_font_cache(
            self.view, self.mode, isolation.font_cache_folder(self.mode, temp_root() / f"mpl-{self.mode}"))
        self.worker: Worker | None = None
        self.crashed_cells: set[str] = set()
        self.cell_runs: list[CellRun] = []
        self.restarts = 0                      # workers replaced during the current item (or the notebook run)
        self._crash_notes: dict[str, CellRun] = {}
        self.reports: list[tuple[str, str]] = []
        self.call_timeout = self.limits.call_timeout
        self._item_cpu: float | None = None    # CPU left for the current item
        self._spent = 0.0                      # CPU the submission's requests have used, in all workers
        self._cells_end: int | None = None     # cells from this index on are not run (the notebook's budget)
        self._started = False

    def boot(self) -> list[CellRun]:
        """Start a worker and run every cell except those that crashed a worker before.

        The cells of one run share ``notebook_timeout`` of CPU: the cell that uses it up is stopped, and it
        and every later cell stay unrun in this and every later run, so each worker holds the same
        namespace. All runs and calls share ``submission_timeout``: a worker that dies again and again
        cannot run the cells again for ever."""
        replacing = True
        while True:
            self._new_worker(counted=replacing)   # re-runs after a cell crashed are bounded by the cells
            replacing = False
            runs, crashed, left = [], False, self.limits.notebook_timeout
            for index, (name, source) in enumerate(self.cells):
                if name in self.crashed_cells:
                    runs.append(self._crash_notes[name])
                    continue
                if self._spent >= self.limits.submission_timeout:
                    runs.append(CellRun(name, "not run", f"the submission had used up its "
                                                         f"{self.limits.submission_timeout:g} s of CPU time"))
                    continue
                if self._cells_end is not None and index >= self._cells_end:
                    runs.append(CellRun(name, "not run", f"the notebook's cells had used up their "
                                                         f"{self.limits.notebook_timeout:g} s of CPU time"))
                    continue
                # a re-run after the notebook's budget cut the cells runs those that fitted in it before
                allowance = self._allowance(Budget("cell", self.limits.cell_timeout), 1,
                                            (left, "notebook") if self._cells_end is None else None)
                try:
                    response = self.worker.request("exec", [source, name], allowance)
                except WorkerFailure as exc:
                    if isinstance(exc, OutOfTime):
                        if exc.what == "notebook":
                            self._cells_end = index
                        exc = self._whole(exc)
                    self.crashed_cells.add(name)
                    self._crash_notes[name] = CellRun(name, "crashed", str(exc))
                    crashed = True
                    break
                finally:
                    self._spent += self.worker.last_cost
                left -= self.worker.last_cost
                error = response.get("error")
                runs.append(CellRun(name, "error" if error else "ok",
                                    f"{error.get('exc_type')}: {error.get('message')}" if error else "",
                                    str(response.get("stdout", ""))))
            if not crashed:
                if not self.cell_runs:
                    self.cell_runs = runs
                return self.cell_runs

    def _allowance(self, step: Budget, steps: int, nearer: tuple[float, str] | None) -> Allowance:
        """``step`` for each of ``steps`` operations, all within the nearer of ``nearer`` (seconds left of a
        budget, and its name) and what is left of the submission's budget."""
        total = (self.limits.submission_timeout - self._spent, "submission")
        return Allowance(step, steps, *(nearer if nearer is not None and nearer[0] <= total[0] else total))

    def _whole(self, exc: OutOfTime) -> OutOfTime:
        """``exc`` naming the whole budget that ran out (``Limits``), not what was left of it at the request."""
        limit = {"item": self.limits.item_timeout, "notebook": self.limits.notebook_timeout,
                 "submission": self.limits.submission_timeout}.get(exc.what)
        return exc if limit is None or exc.kind != "cpu" else OutOfTime(exc.what, "cpu", limit)

    def begin_item(self, call_timeout: float | None = None) -> None:
        """A new item: its own restart allowance and CPU budget."""
        self.restarts = 0
        self.call_timeout = call_timeout or self.limits.call_timeout
        self._item_cpu = self.limits.item_timeout

    def item_state(self) -> tuple:
        """Where the current item's allowances stand, for ``resume_item`` (an item graded in two phases)."""
        return self.restarts, self.call_timeout, self._item_cpu

    def resume_item(self, state: tuple) -> None:
        """Go on with an item from ``item_state()``: the restarts and CPU it has left, not new ones."""
        self.restarts, self.call_timeout, self._item_cpu = state

    def reports_so_far(self) -> int:
        """How many audit reports the grader has read: every later one was written after this call."""
        self._collect()
        return len(self.reports)

    def _new_worker(self, counted: bool = True) -> None:
        if self.worker is not None:
            self._collect()
            self.worker.close()
            self.worker = None
        if self._started and counted:
            if self.restarts >= self.limits.max_restarts:
                raise WorkerFailure(f"gave up after {self.limits.max_restarts} worker restarts")
            self.restarts += 1
        self._started = True
        self.worker = Worker(self.limits, self.policy, self.mode, self.view)
        self.worker.font_cache = self.font_cache
        try:
            self.worker.start()
        except WorkerFailure:
            self._collect()
            raise

    def _collect(self) -> None:
        if self.worker is not None:
            self.worker._drain_reports()
            for r in self.worker.reports:
                if r not in self.reports:
                    self.reports.append(r)

    def request(self, op: str, args: list):
        """Serve one handle operation, restarting the worker first if the last one died.

        Each operation, and each of the n operations of a ``call_many``, gets the call budget, and all
        share what is left of the item's (``autograder.budget``): a batch is timed as the same calls made
        one by one."""
        if self._item_cpu is not None and self._item_cpu <= 0:
            raise OutOfTime("item", "cpu", self.limits.item_timeout)
        if self._spent >= self.limits.submission_timeout:
            raise OutOfTime("submission", "cpu", self.limits.submission_timeout)
        if self.worker is None or self.worker.proc is None or self.worker.proc.poll() is not None:
            self.boot()
            if self._spent >= self.limits.submission_timeout:   # the cells ran again and used it up
                raise OutOfTime("submission", "cpu", self.limits.submission_timeout)
        steps = len(args[0]) if op == "call_many" and args and type(args[0]) is list else 1
        allowance = self._allowance(Budget("call", self.call_timeout), max(1, steps),
                                    None if self._item_cpu is None else (self._item_cpu, "item"))
        try:
            response = self.worker.request(op, list(args), allowance)
        except OutOfTime as exc:
            raise self._whole(exc) from None
        finally:
            if self._item_cpu is not None:
                self._item_cpu -= self.worker.last_cost
            self._spent += self.worker.last_cost
            self._collect()
        if response["ok"]:
            return response.get("value")
        error = response.get("error") or {}
        kind = error.get("kind")
        if kind == "student":
            raise StudentCodeError(str(error.get("where")), str(error.get("exc_type")), str(error.get("message")),
                                   str(error.get("bases", "")))
        if kind == "namespace":
            raise NamespaceError(str(error.get("message")))
        raise WorkerFailure(f"the worker could not serve {op}: {error.get('message')}")

    def close(self) -> None:
        self._collect()
        if self.worker is not None:
            self.worker.close()
            self.worker = None
