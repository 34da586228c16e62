"""Sharded grading for cluster array jobs, and the merge of shard outputs.

``nnkit grade ... --shard K/N`` grades the submissions whose result key hashes to ``K``
modulo ``N`` (``K`` counts from 0, like ``SLURM_ARRAY_TASK_ID`` with ``--array=0-(N-1)`` and
Kubernetes' ``JOB_COMPLETION_INDEX``). The hash is of the key alone, so adding a student
moves nobody else to another shard, and every node computes the same partition.

Every ``--out`` folder gets ``batch.json``: the kit version, the shard, the keys it is
responsible for, whether the run finished, and the error rows that are deliberately not
written to ``results/`` (internal errors, retried by a rerun). ``nnkit merge OUT... --out
MERGED`` checks that the shards are all there, finished and of one kit version, then writes
the same ``results/``, ``grades.csv`` and Gradescope files that one run over everything gives.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from autograder import outdir, report
from autograder.results import SubmissionResult

MANIFEST = "batch.json"
_KEY = re.compile(r"(?!\.{1,2}(/|$))[A-Za-z0-9._-]+(/(?!\.{1,2}(/|$))[A-Za-z0-9._-]+)*")


class MergeUnusable(Exception):
    """The merge's inputs do not fit together (usage error, exit 2); nothing was written."""


class ShardIncomplete(Exception):
    """A shard is missing or did not finish (exit 1); nothing was written."""


def parse(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``0 <= K < N``; ValueError with a one-line message otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match:
        raise ValueError(f"--shard must be K/N (K from 0 to N-1, e.g. 0/4), got {text!r}")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1 or k >= n:
        raise ValueError(f"--shard K/N needs 0 <= K < N (shards count from 0), got {text!r}")
    return k, n


def shard_of(key: str, n: int) -> int:
    """The shard (0 to n-1) of result ``key``: a hash of the key alone, the same on every machine."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % n


def select(submissions: list, shard: tuple[int, int]) -> list:
    k, n = shard
    return [sub for sub in submissions if shard_of(sub.key, n) == k]


def kit_version() -> str:
    """The nnkit version that grades: every shard of a merge, and every result a rerun keeps, must have it."""
    from nnkit import __version__
    return __version__


def write_manifest(out: Path, keys, shard: tuple[int, int] | None, *, finished: bool,
                   unsaved: dict | None = None) -> None:
    doc = {"kit": kit_version(), "shard": f"{shard[0]}/{shard[1]}" if shard else None, "keys": sorted(keys),
           "finished": finished, "unsaved": dict(sorted((unsaved or {}).items()))}
    outdir.write_text(Path(out) / MANIFEST, json.dumps(doc, indent=1, allow_nan=False))


def read_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(doc.get("keys"), list) and all(isinstance(k, str) and _KEY.fullmatch(k)
                                                           for k in doc["keys"])):
            raise ValueError("bad keys")
        if doc.get("shard") is not None:
            parse(doc["shard"])
        return doc
    except FileNotFoundError:
        raise MergeUnusable(f"nnkit merge: {outdir.show(folder)} has no {MANIFEST}: it is not the --out folder "
                            "of an nnkit grade run") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MergeUnusable(f"nnkit merge: {outdir.show(path)} cannot be read ({exc})") from None


def _check_shards(inputs: list[Path], manifests: list[dict]) -> None:
    kits = sorted({m.get("kit") or "?" for m in manifests})
    if len(kits) > 1:
        raise MergeUnusable(f"nnkit merge: the inputs were graded by different kit versions ({', '.join(kits)}); "
                            "grade every shard with the same version")
    specs = [parse(m["shard"]) if m.get("shard") else None for m in manifests]
    if any(specs):
        counts = sorted({n for _, n in filter(None, specs)})
        if None in specs or len(counts) > 1:
            raise MergeUnusable("nnkit merge: the inputs must all be shards of one split (K/N with the same N), "
                                f"got {', '.join(m.get('shard') or 'unsharded' for m in manifests)}")
        n = counts[0]
        seen: dict[int, Path] = {}
        for (k, _), folder in zip(specs, inputs):
            if k in seen:
                raise MergeUnusable(f"nnkit merge: shard {k}/{n} is given twice ({outdir.show(seen[k])} and "
                                    f"{outdir.show(folder)})")
            seen[k] = folder
        missing = [f"{k}/{n}" for k in range(n) if k not in seen]
        if missing:
            raise ShardIncomplete(f"nnkit merge: shard {', '.join(missing)} is missing: give the --out folder of "
                                  "every shard")
    for m, folder in zip(manifests, inputs):
        if not m.get("finished"):
            raise ShardIncomplete(f"nnkit merge: {m.get('shard') or 'the run'} in {outdir.show(folder)} did not "
                                  "finish; rerun that shard's command (it resumes) and merge again")


def gather(inputs) -> tuple[dict[str, str], dict[str, SubmissionResult], dict[str, dict]]:
    """Check the inputs; ``({key: result JSON text}, {key: its result}, {key: unsaved error row})`` over all of
    them (the text is copied as it is, the result is what it says)."""
    inputs = [Path(p) for p in inputs]
    manifests = []
    for folder in inputs:
        if not folder.is_dir():
            raise MergeUnusable(f"nnkit merge: {outdir.show(folder)} is not a folder")
        holder = outdir.in_use_by(folder)
        if holder:
            raise MergeUnusable(f"nnkit merge: {outdir.show(folder)} is in use by {holder} (still grading?)")
        manifests.append(read_manifest(folder))
    _check_shards(inputs, manifests)
    texts: dict[str, str] = {}
    results: dict[str, SubmissionResult] = {}
    unsaved: dict[str, dict] = {}
    owner: dict[str, Path] = {}
    for m, folder in zip(manifests, inputs):
        for key in m["keys"]:
            if key in owner:
                raise MergeUnusable(f"nnkit merge: {key} is in both {outdir.show(owner[key])} and "
                                    f"{outdir.show(folder)}")
            owner[key] = folder
            path = folder / "results" / f"{key}.json"
            if path.is_file():
                try:   # bytes that are not UTF-8 (a disk error, a hand edit) are damage too, not a grader bug
                    text = path.read_text(encoding="utf-8")
                    results[key] = SubmissionResult.from_dict(json.loads(text))
                except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                    raise ShardIncomplete(f"nnkit merge: {outdir.show(path)} is damaged ({exc}); rerun that "
                                          "shard's command (it grades a damaged result again) and merge again") \
                        from None
                texts[key] = text
            elif key in m.get("unsaved", {}):
                unsaved[key] = m["unsaved"][key]
            else:
                raise ShardIncomplete(f"nnkit merge: {outdir.show(folder)} has no result for {key}; rerun its "
                                      "shard (it resumes) and merge again")
    return texts, results, unsaved


def merge(inputs, out: Path) -> dict[str, SubmissionResult]:
    """Merge the ``--out`` folders ``inputs`` into ``out``; the merged results by key.

    Raises ``MergeUnusable`` or ``ShardIncomplete`` before writing anything, ``outdir.OutputUnusable``
    when ``out`` cannot be written or is in use, and ``outdir.OutputError`` when a write fails.
    """
    out = Path(out)
    if any(Path(p).resolve() == out.resolve() for p in inputs):
        raise MergeUnusable(f"nnkit merge: --out {outdir.show(out)} is one of the inputs; give a new folder")
    texts, results, unsaved = gather(inputs)
    results.update({key: SubmissionResult.from_dict(row) for key, row in unsaved.items()})
    with outdir.claim(out, "nnkit merge"):
        outdir.sweep_partial_writes(out)
        # unfinished until the end: a merge stopped half-way over an earlier one must not look complete
        write_manifest(out, results, None, finished=False, unsaved=unsaved)
        for key, text in sorted(texts.items()):
            outdir.write_text(out / "results" / f"{key}.json", text)
        report.write_batch(out, results)
        write_manifest(out, results, None, finished=True, unsaved=unsaved)
    return results
