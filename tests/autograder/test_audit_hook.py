"""The worker's audit hook (the second layer), driven event by event without a worker.

``make_hook`` builds the hook from a ``WorkerConfig`` and a ``report`` callback; here the callback collects
the reports and each test feeds audit events straight in, as CPython would.
"""

import os

import pytest

from autograder.protocol import WorkerConfig
from autograder.worker import NEVER, PATH_EVENTS, make_hook


@pytest.fixture()
def hook(tmp_path):
    denied = tmp_path / "trusted.ipynb"
    denied.write_text("{}")
    tree = tmp_path / "grades"
    (tree / "results").mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    st, tst = os.stat(denied), os.stat(tree)
    config = WorkerConfig(blocked_modules=["autograder", "ctypes"], recorded_modules=["autograder", "nnkit"],
                          denied_inodes=[[st.st_dev, st.st_ino]], denied_trees=[[tst.st_dev, tst.st_ino]],
                          workdir=str(work))
    reports = []
    return make_hook(config, lambda kind, detail: reports.append((kind, detail))), reports, tmp_path


def test_imports_of_the_grader_are_refused_and_nnkit_imports_recorded(hook):
    run, reports, _ = hook
    with pytest.raises(ImportError, match="importing autograder.suites is not allowed"):
        run("import", ("autograder.suites",))
    run("import", ("nnkit.data",))
    run("import", ("numpy",))
    run("import", ("autograderx",))          # a prefix match needs the dot
    assert reports == [("import", "autograder.suites"), ("import", "nnkit.data")]


@pytest.mark.parametrize("event", sorted(NEVER) + ["ctypes.anything_new"])
def test_every_never_event_is_refused_and_reported(hook, event):
    run, reports, _ = hook
    with pytest.raises(PermissionError, match="not allowed in graded code"):
        run(event, ())
    assert reports == [("blocked", event)]


def test_reads_of_denied_files_are_refused_by_inode_whatever_the_path(hook):
    run, reports, tmp = hook
    with pytest.raises(PermissionError):
        run("open", (str(tmp / "trusted.ipynb"), "r", 0))
    with pytest.raises(PermissionError):
        run("open", (f"{tmp}/work/../trusted.ipynb", "r", 0))
    os.symlink(tmp / "trusted.ipynb", tmp / "work" / "link")
    with pytest.raises(PermissionError):
        run("open", (str(tmp / "work" / "link"), "r", 0))
    run("open", (str(tmp / "work" / "mine.txt"), "r", 0))   # anything else is fine
    assert [k for k, _ in reports] == ["open"] * 3


def test_denied_trees_cover_what_is_created_in_them_later(hook):
    run, reports, tmp = hook
    later = tmp / "grades" / "results" / "bob.json"
    later.write_text("{}")
    with pytest.raises(PermissionError):
        run("open", (str(later), "r", 0))
    with pytest.raises(PermissionError):
        run("os.listdir", (str(tmp / "grades"),))


def test_writes_only_inside_the_working_folder(hook):
    run, reports, tmp = hook
    run("open", (str(tmp / "work" / "out.txt"), "w", 0))
    run("open", (str(tmp / "work" / "out.txt"), None, os.O_RDONLY))
    for mode, flags in (("w", 0), ("a", 0), ("r+", 0), (None, os.O_WRONLY), (None, os.O_CREAT)):
        with pytest.raises(PermissionError, match="outside the working folder"):
            run("open", (str(tmp / "elsewhere.txt"), mode, flags))
    with pytest.raises(PermissionError):
        run("open", ("/tmp/anything", "w", 0))
    for event in sorted(PATH_EVENTS):
        with pytest.raises(PermissionError):
            run(event, (str(tmp / "elsewhere.txt"), None))
    run("os.remove", (str(tmp / "work" / "out.txt"),))


def test_other_processes_in_proc_are_refused(hook):
    run, reports, _ = hook
    with pytest.raises(PermissionError):
        run("open", (f"/proc/{os.getppid()}/environ", "rb", 0))
    run("open", (f"/proc/{os.getpid()}/status", "r", 0))        # its own entry is fine
    run("open", ("/proc/self/status", "r", 0))


def test_signals_only_to_itself(hook):
    run, reports, _ = hook
    run("os.kill", (os.getpid(), 0))
    for event, args in (("os.kill", (os.getppid(), 9)), ("os.kill", (0, 9)), ("os.killpg", (os.getpgid(0), 9)),
                        ("signal.pthread_kill", (1, 9))):
        with pytest.raises(PermissionError):
            run(event, args)


def test_replacing_code_objects_is_refused(hook):
    run, _, _ = hook
    with pytest.raises(PermissionError, match="replacing a function's code"):
        run("object.__setattr__", (lambda: 0, "__code__", None))
    run("object.__setattr__", (object(), "value", 1))


def test_paths_of_other_types_are_refused(hook):
    run, _, _ = hook
    with pytest.raises(PermissionError, match="only opens files named by"):
        run("open", (object(), "r", 0))
    run("open", (3, "r", 0))    # an already open fd: its opening was checked
