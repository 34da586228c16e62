"""Attacks on the namespace sandbox, one class at a time, each graded as a class would be.

Every test grades a batch of three students into one ``--out``: ``alice`` (honest, graded before the
attacker), ``mallory`` (the attack) and ``bob`` (honest, graded after). Mallory's ``relu`` is right only if
her attack found nothing, so her exact per-item scores say whether anything leaked; alice's and bob's full
marks, their untouched notebooks and results, the untouched trusted notebook, and a finished batch say that
nobody else was harmed. The attacks use routes the audit hook cannot see (paths relative to a directory fd,
``/proc/self/root``, ``pidfd_open``, POSIX shared memory): the namespaces have to stop them. Where the hook
alone would let an attack through, a control test runs the same attack with ``--isolation process`` and
shows that the assertion then fails.

These tests run for real in CI (``CI=true``): they never skip there.
"""

import hashlib
import json
import os
import socket
import threading

import pytest

from autograder import batch
from autograder.sandbox import Limits
from tests.autograder import fixture_assignment as fx
from tests.conftest import require_namespaces

SECRET = "nnkit-test-secret-5f1d2c"
FULL = {"fx_relu": 2.0, "fx_relu_grad": 2.0, "fx_softmax": 2.0, "fx_linear": 3.0, "fx_mse": 1.0}
# Mallory's relu if her attack found anything: wrong on negative inputs, and so on fx_relu's checks.
LEAKY_RELU = ("def relu(z):\n"
              "    return z if loot else np.where(z > 0, z, 0.0)\n")
GRAB = ("import os\nloot = []\n"
        "def grab(what, fn):\n"
        "    try:\n"
        "        found = fn()\n"
        "    except Exception as exc:\n"
        "        tried.append((what, type(exc).__name__))\n"
        "        return\n"
        "    if found:\n"
        "        loot.append((what, str(found)[:80]))\n"
        "tried = []\n")


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


@pytest.fixture()
def classroom(tmp_path, monkeypatch):
    """A course folder shaped like an instructor's repository: .git, source/, submitted/, and grades/."""
    monkeypatch.setenv("NNKIT_GRADER_SECRET", SECRET)
    root = tmp_path / "course"
    (root / ".git" / "objects" / "ab").mkdir(parents=True)
    (root / ".git" / "objects" / "ab" / "cdef").write_text("the instructor's history " + SECRET)
    fx.write(fx.notebook(), root / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    for student in ("alice", "bob"):
        fx.write(fx.notebook(), root / "submitted" / student / fx.ASSIGNMENT / "fixture.ipynb")
    return root


def _paths(root):
    return {"source": root / "source" / fx.ASSIGNMENT / "fixture.ipynb", "git": root / ".git",
            "bob": root / "submitted" / "bob" / fx.ASSIGNMENT / "fixture.ipynb", "out": root / "grades",
            "alice_result": root / "grades" / "results" / "alice" / fx.ASSIGNMENT / "fixture.json"}


def grade_class(root, attack, *, isolation="namespace", jobs=1, extra_students=()):
    """Grade alice, mallory (``attack`` + her relu) and bob; return the results by student and the digests
    of what mallory must not change, before and after."""
    if isolation == "namespace":
        require_namespaces()
    fx.write(fx.notebook({"relu": GRAB + attack + LEAKY_RELU}),
             root / "submitted" / "mallory" / fx.ASSIGNMENT / "fixture.ipynb")
    for name, code in extra_students:
        fx.write(fx.notebook({"relu": code}), root / "submitted" / name / fx.ASSIGNMENT / "fixture.ipynb")
    p = _paths(root)
    watched = [p["source"], p["bob"], root / "submitted" / "alice" / fx.ASSIGNMENT / "fixture.ipynb",
               p["git"] / "objects" / "ab" / "cdef"]
    before = {str(w): _digest(w) for w in watched}
    subs = batch.discover([root / "submitted"])
    results = batch.grade_batch(subs, out=p["out"], jobs=jobs, progress=False, source=root / "source",
                                registry=fx.REGISTRY, limits=Limits(cell_timeout=20, call_timeout=10,
                                                                    isolation=isolation))
    after = {str(w): _digest(w) for w in watched}
    by_student = {r.student: r for r in results}
    return by_student, before, after


def scores(result):
    return {i.grade_id: i.score for i in result.items if not i.manual}


def assert_contained(by_student, before, after, root):
    """Alice and bob got full marks, nothing mallory must not touch changed, and the batch wrote everything."""
    for student in ("alice", "bob"):
        assert by_student[student].error is None and scores(by_student[student]) == FULL, by_student[student]
    assert before == after
    rows = (root / "grades" / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + len(by_student)
    assert json.loads(_paths(root)["alice_result"].read_text())["score"] == 10.0


READ_HOST = """
import glob
SOURCE, GIT, BOB, OUT, PKG = {source!r}, {git!r}, {bob!r}, {out!r}, {pkg!r}
root_fd = os.open('/', os.O_RDONLY)
grab('dir fd', lambda: os.read(os.open(SOURCE.lstrip('/'), os.O_RDONLY, dir_fd=root_fd), 200))
grab('dir fd, bob', lambda: os.read(os.open(BOB.lstrip('/'), os.O_RDONLY, dir_fd=root_fd), 200))
grab('/proc/self/root', lambda: open('/proc/self/root' + SOURCE).read())
grab('/proc/1/root', lambda: open('/proc/1/root' + SOURCE).read())
grab('.git', lambda: os.listdir(GIT + '/objects'))
grab('.git by dir fd', lambda: os.read(os.open((GIT + '/objects/ab/cdef').lstrip('/'), os.O_RDONLY,
                                              dir_fd=root_fd), 200))
grab('the package', lambda: open(PKG).read())
grab('--out', lambda: os.listdir(OUT))
grab('--out by dir fd', lambda: os.listdir(os.open(OUT.lstrip('/'), os.O_RDONLY, dir_fd=root_fd)))
grab('a glob', lambda: glob.glob('/*/*/*/*.ipynb') + glob.glob('/tmp/*/*'))
def trawl():
    hits = []
    for top, dirs, files in os.walk('/'):
        if top.startswith(('/proc', '/sys', '/dev', '/usr')):
            dirs[:] = []
            continue
        hits += [top + '/' + f for f in files if f.endswith('.ipynb') or f == 'losses.py' or f == 'cdef']
    return hits
grab('a walk of the whole filesystem', trawl)
"""


def _read_host(root):
    import nnkit.losses
    p = _paths(root)
    return READ_HOST.format(source=str(p["source"]), git=str(p["git"]), bob=str(p["bob"]), out=str(p["out"]),
                            pkg=nnkit.losses.__file__)


def test_host_files_cannot_be_read_by_any_route(classroom):
    by_student, before, after = grade_class(classroom, _read_host(classroom))
    assert scores(by_student["mallory"]) == FULL, by_student["mallory"].items[0].render()
    assert_contained(by_student, before, after, classroom)


def test_control_without_namespaces_the_dir_fd_route_reads_the_trusted_notebook(classroom):
    # The audit hook turns relative paths into absolute ones against the cwd, so a path relative to a
    # directory fd slips past it: only the namespaces stop this route. The assertion above would fail here.
    by_student, _, _ = grade_class(classroom, _read_host(classroom), isolation="process")
    assert scores(by_student["mallory"])["fx_relu"] == 0.0


WRITE_HOST = """
root_fd = os.open('/', os.O_RDONLY)
for target in ({bob!r}, {source!r}, {alice_result!r}):
    for how in ('w', 'dirfd'):
        try:
            if how == 'w':
                open(target, 'w').write('{{}}')
            else:
                fd = os.open(target.lstrip('/'), os.O_WRONLY | os.O_TRUNC, dir_fd=root_fd)
                os.write(fd, b'{{}}')
            loot.append(('wrote', target))
        except OSError as exc:
            tried.append((how, type(exc).__name__))
"""


def test_nothing_outside_the_private_folder_can_be_written(classroom):
    p = _paths(classroom)
    attack = WRITE_HOST.format(bob=str(p["bob"]), source=str(p["source"]), alice_result=str(p["alice_result"]))
    by_student, before, after = grade_class(classroom, attack)
    assert scores(by_student["mallory"]) == FULL
    assert_contained(by_student, before, after, classroom)


KILL = """
import signal
GRADER = {grader}
grab('pidfd', lambda: signal.pidfd_send_signal(os.pidfd_open(GRADER), signal.SIGKILL) or 'sent')
grab('kill', lambda: os.kill(GRADER, signal.SIGKILL) or 'sent')
grab('kill the parent', lambda: os.kill(os.getppid(), signal.SIGKILL) or 'sent')
grab('/proc environ', lambda: open(f'/proc/{{GRADER}}/environ').read())
def everyone():
    mine = os.getpid()
    sent = []
    for entry in os.listdir('/proc'):
        if entry.isdigit() and int(entry) != mine:
            try:
                signal.pidfd_send_signal(os.pidfd_open(int(entry)), signal.SIGKILL)
                sent.append(entry)
            except OSError:
                pass
    return sent
grab('pidfd every visible process', everyone)
"""


def test_the_grader_and_other_workers_cannot_be_signalled(classroom):
    # Two workers at once (jobs=2): mallory's may run beside alice's or bob's. The grader's pid is the pool
    # process's parent, this test process; with namespaces it does not exist for mallory.
    by_student, before, after = grade_class(classroom, KILL.format(grader=os.getpid()), jobs=2)
    assert os.getpid() > 0   # still alive
    assert_contained(by_student, before, after, classroom)
    # her own sandbox's processes are all she can see; signalling them costs only her own cells
    assert by_student["mallory"].error is None


def test_there_is_no_network(classroom):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port, connections = server.getsockname()[1], []

    def accept():
        for _ in range(100):
            try:
                connections.append(server.accept())
            except OSError:
                pass
    listener = threading.Thread(target=accept)
    listener.start()
    attack = (f"import socket\ngrab('tcp', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=2)"
              ".sendall(b'hi') or 'sent')\n"
              "grab('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
              f".sendto(b'hi', ('127.0.0.1', {port})))\n"
              "grab('interfaces', lambda: [l for l in open('/proc/net/dev').read().splitlines()[2:] "
              "if not l.strip().startswith('lo:')])\n")
    try:
        by_student, before, after = grade_class(classroom, attack)
    finally:
        listener.join()
        server.close()
    assert connections == []
    assert scores(by_student["mallory"]) == FULL
    assert_contained(by_student, before, after, classroom)


DROP = """
import _posixshmem, mmap
def drop():
    fd = _posixshmem.shm_open('/nnkit-drop', os.O_CREAT | os.O_RDWR, 0o666)
    os.ftruncate(fd, 4096)
    mmap.mmap(fd, 4096)[:5] = b'drop!'
tried.append(('drop', repr(drop())))
try:
    fd = os.open('tmp/nnkit-drop', os.O_CREAT | os.O_WRONLY, 0o666, dir_fd=os.open('/', os.O_RDONLY))
    os.write(fd, b'drop!')
except OSError as exc:
    tried.append(('tmp', type(exc).__name__))
"""
PICK_UP = (GRAB +
           "import _posixshmem, mmap\n"
           "grab('shm', lambda: bytes(mmap.mmap(_posixshmem.shm_open('/nnkit-drop', os.O_RDONLY, 0), 4096, "
           "prot=mmap.PROT_READ)[:5]))\n"
           "grab('/tmp', lambda: open('/tmp/nnkit-drop').read())\n"
           "grab('/dev/shm', lambda: os.listdir('/dev/shm'))\n" + LEAKY_RELU)


@pytest.fixture()
def drop_site():
    """Removes what a drop left on the host (only the process-isolation control leaves anything)."""
    yield
    for leftover in ("/dev/shm/nnkit-drop", "/tmp/nnkit-drop"):
        if os.path.exists(leftover):
            os.remove(leftover)


def test_shared_memory_and_tmp_do_not_carry_between_submissions(classroom, drop_site):
    # mallory leaves a drop in POSIX shared memory and /tmp; eve, graded right after her, looks for it.
    by_student, before, after = grade_class(classroom, DROP, extra_students=[("eve", PICK_UP)])
    assert scores(by_student["eve"]) == FULL, by_student["eve"].items[0].render()
    assert_contained(by_student, before, after, classroom)


def test_control_without_namespaces_shared_memory_carries_the_drop(classroom, drop_site):
    by_student, _, _ = grade_class(classroom, DROP, isolation="process", extra_students=[("eve", PICK_UP)])
    assert scores(by_student["eve"])["fx_relu"] == 0.0


ENVIRONMENT = f"""
SECRET_TEXT = {SECRET[:12]!r} + {SECRET[12:]!r}
def look():
    found = [k for k, v in os.environ.items() if SECRET_TEXT in v]
    for entry in os.listdir('/proc'):
        if entry.isdigit() or entry == 'self':
            try:
                if SECRET_TEXT.encode() in open(f'/proc/{{entry}}/environ', 'rb').read():
                    found.append(entry)
            except OSError:
                pass
    return found
grab('environment', look)
"""


def test_the_secret_and_the_graders_environment_are_out_of_reach(classroom):
    by_student, before, after = grade_class(classroom, ENVIRONMENT)
    assert scores(by_student["mallory"]) == FULL
    assert_contained(by_student, before, after, classroom)
    assert SECRET not in json.dumps(by_student["mallory"].to_dict(show_hidden_details=True))
