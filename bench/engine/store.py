"""Records: one JSON object per finished run, appended to ``records.jsonl``.

Appending a whole line and flushing it (plus ``fsync``) as each run ends means a killed sweep
loses at most the run in flight; a torn last line is detected on read, reported with its line
number, and skipped. No pickle: records are plain JSON that any tool can read.

The environment block (versions, commit, machine, command), identical for every record of a
sweep, is written once into ``manifest.json`` beside the records, and each record names it by
``env_id``. Records of the older layout, with the block inline under ``env``, read the same.

A record's keys are those of :class:`bench.core.record.Record`; every record read carries its
``schema`` (1 for lines written before the field), and a line of a newer layout is skipped.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import platform
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import record
from bench.engine.provenance import code_hash, git_commit, source_commit

RECORDS = "records.jsonl"
#: A published folder may keep its records gzipped; they are read before ``records.jsonl``
#: (which new runs append to), as the older part of the same file.
ARCHIVE = RECORDS + ".gz"

MANIFEST = "manifest.json"

#: Keys every record carries, derived from the record type (``bench.core.record``).
REQUIRED_KEYS = record.REQUIRED_KEYS
#: The key a stored record names its environment block by (the block is in the manifest).
ENV_ID = "env_id"


def clean(obj: Any) -> Any:
    """Make a value JSON-safe: numpy scalars to Python, NaN/inf to ``None``."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    return str(obj)


def env_id(env: dict[str, Any]) -> str:
    """Short stable name of an environment block."""
    blob = json.dumps(clean(env), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


class CorruptRecords(ValueError):
    """A records file (or its manifest) that cannot be read at all (one line for the user)."""


def read_manifest(folder: Path, strict: bool = False) -> dict[str, Any]:
    """``{"environments": {env_id: env}}`` of a results folder (empty if it has none). A
    manifest that cannot be read counts as empty, or with ``strict`` (what a writer reads,
    lest it replace the file) raises :class:`CorruptRecords`."""
    path = Path(folder) / MANIFEST
    why = "no environments object"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("environments"), dict):
            return data
    except FileNotFoundError:
        return {"environments": {}}
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
    if strict:
        raise CorruptRecords(
            f"{path} cannot be read ({why}): the records' environments are kept there; repair "
            "it, or move it aside to start a new one"
        )
    return {"environments": {}}


class RecordWriter:
    """Appends records to ``<out>/records.jsonl``, one flushed line per run, and keeps each
    distinct environment block once in ``<out>/manifest.json``."""

    def __init__(self, out: Path) -> None:
        self.folder = Path(out)
        self.path = self.folder / RECORDS
        self.folder.mkdir(parents=True, exist_ok=True)
        self._repair_tail()
        self._envs: dict[str, Any] = read_manifest(self.folder, strict=True)["environments"]

    def _repair_tail(self) -> None:
        """Drop a half-written last line (a process killed mid-write): the run it belonged to
        is not recorded, so ``--resume`` computes it again. A last line that is whole but lost
        its newline is kept and terminated."""
        if not (self.path.exists() and self.path.stat().st_size):
            return
        with open(self.path, "rb+") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - (1 << 20)))
            tail = f.read()
            if tail.endswith(b"\n"):
                return
            cut = tail.rfind(b"\n") + 1
            torn = tail[cut:]
            try:
                json.loads(torn)
                f.write(b"\n")
                return
            except ValueError:
                pass
            f.truncate(size - len(torn))
        print(
            f"warning: {self.path}: dropped a half-written last line ({len(torn)} bytes); "
            "its run was not recorded and will be run again",
            file=sys.stderr,
        )

    def _remember(self, env: dict[str, Any]) -> str:
        key = env_id(env)
        if key not in self._envs:
            self._envs[key] = clean(env)
            self._save_manifest()
        return key

    def add_environments(self, envs: dict[str, Any]) -> None:
        """Carry environment blocks (by their ids) over from another folder's manifest."""
        new = {k: v for k, v in envs.items() if k not in self._envs}
        if new:
            self._envs.update(new)
            self._save_manifest()

    def _save_manifest(self) -> None:
        """Merge this writer's environments into the manifest on disk and replace it at once
        (a temporary file renamed over it): never half a manifest, never one writer's blocks
        lost to another's."""
        data = read_manifest(self.folder, strict=True)
        self._envs = {**data["environments"], **self._envs}
        data.update(format=2, environments=self._envs)
        tmp = self.folder / f".{MANIFEST}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(json.dumps(data, indent=1) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.folder / MANIFEST)
        finally:
            tmp.unlink(missing_ok=True)

    def write(self, rec: record.Record | dict[str, Any]) -> None:
        """Append one record (a :class:`~bench.core.record.Record` or its flat dict)."""
        rec = rec.to_json() if isinstance(rec, record.Record) else dict(rec)
        env = rec.pop("env", None)
        if env:
            rec[ENV_ID] = self._remember(env)
        line = json.dumps(clean(rec), sort_keys=False, allow_nan=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


@dataclass
class BadLine:
    path: Path
    lineno: int
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: skipped ({self.why})"


def record_files(path: Path) -> list[Path]:
    """The record files of a folder (``records.jsonl.gz``, then ``records.jsonl``), or the
    file itself."""
    path = Path(path)
    if path.is_dir():
        return [p for p in (path / ARCHIVE, path / RECORDS) if p.is_file()]
    return [path] if path.is_file() else []


def iter_records(path: Path, problems: list[BadLine] | None = None) -> Iterator[dict[str, Any]]:
    """Records from a records file (``.jsonl``, or gzipped ``.jsonl.gz``) or a folder holding
    them; bad lines are skipped and reported into ``problems``."""
    for f in record_files(path):
        yield from _read_file(f, problems)


def _read_file(path: Path, problems: list[BadLine] | None) -> Iterator[dict[str, Any]]:
    envs = read_manifest(path.parent)["environments"]
    for rec in raw_records(path, problems):
        if "env" not in rec:
            # The shared block from the manifest, with this record's own finishing time.
            env = dict(envs.get(rec[ENV_ID]) or {"missing": f"env {rec[ENV_ID]}"})
            env["timestamp"] = rec.get("finished", "")
            rec["env"] = env
        rec["schema"] = record.schema_of(rec)  # a record written before the field: schema 1
        yield rec


def raw_records(path: Path, problems: list[BadLine] | None = None) -> Iterator[dict[str, Any]]:
    """The records of one file as stored (``env_id`` not resolved); bad lines are skipped and
    reported into ``problems``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                why = _not_a_record(rec) if isinstance(rec, dict) else "not a JSON object"
            except json.JSONDecodeError as exc:
                why = f"not JSON: {exc.msg}"
            if not why:
                yield rec
            elif problems is not None:
                problems.append(BadLine(path, lineno, why))


def _not_a_record(rec: dict[str, Any]) -> str | None:
    """Why a stored JSON object cannot be read as a record, or ``None``."""
    missing = [k for k in REQUIRED_KEYS if k not in rec]
    missing += [] if "env" in rec or ENV_ID in rec else [ENV_ID]
    return f"missing {', '.join(missing)}" if missing else record.schema_problem(rec)


def load_records(
    paths: Iterable[Path], problems: list[BadLine] | None = None
) -> list[dict[str, Any]]:
    """Every record of several folders or files, oldest first (file order, then argument
    order). Repeats are kept: the report keeps the newest record of each run and says how many
    older ones it set aside."""
    out = []
    for p in paths:
        for rec in iter_records(Path(p), problems):
            rec.setdefault("_source", str(p))
            out.append(rec)
    return out


#: What ``done_keys`` keeps of each record: enough for the newest-record rule and the status.
_RESUME_KEYS = ("run_key", "finished", "status")


def done_keys(out: Path, warn: bool = True, retry: Iterable[str] = ()) -> set[str]:
    """The run keys recorded in ``out`` (for ``--resume``), less those whose newest record
    (:func:`bench.core.record.latest_per_run`) has a status in ``retry``. Skipped lines are
    warned about, naming the file and line; a file that cannot be read, or has lines but not
    one record, raises :class:`CorruptRecords`."""
    problems: list[BadLine] = []
    found: list[dict[str, Any]] = []
    for f in record_files(Path(out)):
        before = len(problems)
        try:
            recs = [{k: r.get(k) for k in _RESUME_KEYS} for r in raw_records(f, problems)]
        except (OSError, EOFError, UnicodeError) as exc:  # not gzip, truncated archive, ...
            raise CorruptRecords(f"cannot read {f}: {exc}") from exc
        if not recs and len(problems) > before:
            raise CorruptRecords(
                f"{f} holds no readable record ({problems[before].why} at line "
                f"{problems[before].lineno}): not a records file, or corrupt"
            )
        found += recs
    if warn:
        warn_skipped(problems)
    newest, _ = record.latest_per_run(found, key=lambda r: r["run_key"])
    return {r["run_key"] for r in newest if r["status"] not in set(retry)}


def warn_skipped(problems: list[BadLine], limit: int = 10) -> None:
    """One warning per skipped line (file and line), at most ``limit`` of them."""
    for p in problems[:limit]:
        print(f"warning: {p}", file=sys.stderr)
    if len(problems) > limit:
        print(f"warning: ... and {len(problems) - limit} more skipped line(s)", file=sys.stderr)


# -- provenance ---------------------------------------------------------------------------------

_ENV_CACHE: dict[str, Any] | None = None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str) -> dict[str, Any]:
    """Provenance of the process: versions, commit, device and CPU names, threads."""
    global _ENV_CACHE
    if _ENV_CACHE is None:
        import scipy
        import torch

        from bench.core import __version__

        _ENV_CACHE = {
            "bench_version": __version__,
            "git_commit": git_commit(),
            # The code that ran, hashed from its files, and the commit a copy without (or with
            # a stale) .git was taken from: what `bench publish` checks (engine.provenance).
            "code_hash": code_hash(),
            **({"source_commit": source_commit()} if source_commit() else {}),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "torch": torch.__version__,
            "platform": platform.platform(),
            "cpu": _cpu_name(),
            "cpu_count": os.cpu_count(),
            # The command that started the sweep (worker processes inherit it from the CLI).
            "command": os.environ.get("BENCH_COMMAND") or " ".join(sys.argv),
        }
    import torch

    env = dict(_ENV_CACHE)
    env["device"] = device
    env["device_name"] = (
        torch.cuda.get_device_name(torch.device(device))
        if device.startswith("cuda")
        else env["cpu"]
    )
    env["threads"] = torch.get_num_threads()
    return env


def records_path_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as records (one line), or ``None``."""
    if not path.exists():
        return f"{path} does not exist"
    if path.is_dir():
        if not record_files(path):
            return f"{path} is not a records folder (no {RECORDS} or {ARCHIVE} in it)"
        return None
    if not path.name.endswith((".jsonl", ".jsonl.gz")):
        return f"{path} is not a records file (give a folder holding {RECORDS}, or a .jsonl file)"
    return None


def mixed_with(out: Path, env: dict[str, Any], profile: str) -> list[str]:
    """What differs between the records already in ``out`` and runs about to join them from
    environment ``env`` on ``profile``: code commit, machine or profile, one line each."""
    old = list(iter_records(out))
    if not old:
        return []
    found: dict[str, set[str]] = {"commit": set(), "machine": set(), "profile": set()}
    for r in old:
        e = r.get("env") or {}
        found["commit"].add(str(e.get("git_commit")))
        found["machine"].add(f"{e.get('device_name')} / {e.get('platform')}")
        found["profile"].add(str(r.get("profile")))
    mine = {
        "commit": str(env.get("git_commit")),
        "machine": f"{env.get('device_name')} / {env.get('platform')}",
        "profile": profile,
    }
    lines = []
    for what, theirs in found.items():
        other = sorted(theirs - {mine[what]})
        if other:
            lines.append(
                f"{out} holds {len(old)} record(s) from another {what} ({', '.join(other)[:120]}; "
                f"this run: {mine[what][:60]}); the report keeps the newest record of each run"
            )
    return lines
