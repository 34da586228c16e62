"""The Slurm and Kubernetes examples of docs/grader.md, run as written (as far as one machine allows).

The Slurm script runs under bash once per array index with ``SLURM_ARRAY_TASK_ID`` set; the
Indexed Job's command runs once per completion index with ``$(SHARD)`` expanded as Kubernetes
does. Only the course folder is moved into a temporary one, and the fixture assignment's
registry is added (the kit's own suites do not know the fixture's grade ids). Then each
example's merge command runs, and the merged grades are checked.
"""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.autograder import fixture_assignment as fx

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "grader.md").read_text()
REGISTRY_SPEC = "tests.autograder.fixture_assignment:REGISTRY"
EXPECTED = {"alice": ("10.0", "10.0", ""), "bob": ("7.0", "10.0", ""), "carol": ("0.0", "10.0", "not UTF-8")}


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.S)


def _env() -> dict:
    bin_dir = str(Path(sys.executable).parent)            # where the venv's `nnkit` console script lives
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}


@pytest.fixture()
def course(tmp_path):
    fx.write(fx.notebook(), tmp_path / "source" / fx.ASSIGNMENT / "fixture.ipynb")
    fx.write(fx.notebook(), tmp_path / "submitted" / "alice" / fx.ASSIGNMENT / "fixture.ipynb")
    fx.write(fx.notebook({"relu": "def relu(z):\n    return z\n"}),
             tmp_path / "submitted" / "bob" / fx.ASSIGNMENT / "fixture.ipynb")
    carol = tmp_path / "submitted" / "carol" / fx.ASSIGNMENT / "fixture.ipynb"
    carol.parent.mkdir(parents=True)
    carol.write_bytes(b"\x89PNG not a notebook")
    (tmp_path / ".grader-secret").write_text("cluster-secret\n")
    return tmp_path


def _run_all(commands: list[dict]) -> None:
    """Start every shard at once (separate processes, as on a cluster), then wait for all of them."""
    procs = [subprocess.Popen(cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **c)
             for c in commands]
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stdout + stderr
        assert "Traceback" not in stderr


def _merged(out: Path) -> dict:
    with open(out / "grades.csv", newline="") as f:
        rows = {r["student"]: (r["score"], r["max_score"], r["error"]) for r in csv.DictReader(f)}
    return {who: (score, top, "not UTF-8" if "not UTF-8" in error else error)
            for who, (score, top, error) in rows.items()}


def test_the_slurm_array_script_and_its_merge(course):
    [script] = [b for b in _blocks("bash") if b.startswith("#!/bin/bash\n#SBATCH")]
    first, last = map(int, re.search(r"#SBATCH --array=(\d+)-(\d+)", script).groups())
    shards = int(re.search(r"^SHARDS=(\d+)", script, flags=re.M).group(1))
    assert (first, last + 1) == (0, shards)                 # the array covers exactly shards 0..N-1
    script = script.replace("COURSE=/shared/course", f"COURSE={course}")
    script = script.replace("nnkit grade ", f"nnkit grade --registry {REGISTRY_SPEC} ")
    env = {**_env(), "SLURM_CPUS_PER_TASK": "1"}
    _run_all([{"args": ["bash", "-c", script], "env": {**env, "SLURM_ARRAY_TASK_ID": str(k)}}
              for k in range(shards)])
    assert sorted(p.name for p in (course / "grades").iterdir()) == [f"shard-{k}" for k in range(shards)]

    [merge] = re.findall(r"--wrap '([^']*)'", DOC)
    done = subprocess.run(["sh", "-c", merge.replace("/shared/course", str(course))], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr                 # carol's error row: merged, and reported
    assert done.stdout.startswith(f"merged {shards} folders: 3 submissions, 1 could not be graded.")
    assert _merged(course / "grades" / "all") == EXPECTED
    manifest = json.loads((course / "grades" / "all" / "batch.json").read_text())
    assert manifest["shard"] is None and manifest["finished"] is True and len(manifest["keys"]) == 3


def test_the_kubernetes_indexed_job_and_its_merge(course):
    [job] = [yaml.safe_load(b) for b in _blocks("yaml") if "completionMode: Indexed" in b]
    assert job["kind"] == "Job" and job["spec"]["completionMode"] == "Indexed"
    completions = job["spec"]["completions"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert command[command.index("--shard") + 1] == f"$(SHARD)/{completions}"
    [shard_env] = [e for e in container["env"] if e["name"] == "SHARD"]
    assert shard_env["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert [e["valueFrom"]["secretKeyRef"] for e in container["env"] if e["name"] == "NNKIT_GRADER_SECRET"]

    def pod(index: int) -> list[str]:
        argv = [re.sub(r"^/course\b", str(course), a).replace("$(SHARD)", str(index)) for a in command]
        return argv[:2] + ["--registry", REGISTRY_SPEC] + argv[2:]

    env = {**_env(), "NNKIT_GRADER_SECRET": "cluster-secret"}
    _run_all([{"args": pod(index), "env": {**env, "JOB_COMPLETION_INDEX": str(index)}}
              for index in range(completions)])
    [merge] = re.findall(r"`(nnkit merge /course/grades/shard-\* --out /course/grades/all)`", DOC)
    done = subprocess.run(["sh", "-c", merge.replace("/course", str(course))], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert _merged(course / "grades" / "all") == EXPECTED
