"""Records in and out: ``bench export`` (a Parquet table) and ``bench merge`` (result folders
combined, each run once).

The Parquet table has one row per record. Identity, verdict and stop fields are columns of
their own; every metric, phase time and memory figure is a column named ``metrics.<name>``,
``time.<phase>`` or ``memory.<name>`` (null where a record lacks it); nested fields whose
shape varies (parameters, budget, tuning, extras, ceiling, trace, environment) are JSON text
columns, so no information is lost and any reader (pandas, polars, DuckDB) loads the file
without this package.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.engine.store import (
    BadLine,
    RecordWriter,
    clean,
    load_records,
    raw_records,
    read_manifest,
    record_files,
)

#: Record fields exported as plain columns, in this order.
SCALARS = (
    "run_key", "method", "method_family", "task", "task_family", "profile", "device", "seed",
    "base_seed", "purpose", "status", "reason", "success", "headline", "converged",
    "converged_step", "loss_target", "success_criterion", "finished", "env_id",
)  # fmt: skip
#: Record fields whose numeric entries become one column each.
SPREAD = ("metrics", "time", "memory")
#: Record fields exported as JSON text.
AS_JSON = ("params", "task_params", "method_params", "budget", "tuning", "extras", "ceiling",
           "trace", "env")  # fmt: skip


def _row(rec: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {k: rec.get(k) for k in SCALARS}
    for k in ("seed", "base_seed", "converged_step"):
        row[k] = None if row[k] is None else int(row[k])
    row["loss_target"] = None if row["loss_target"] is None else float(row["loss_target"])
    row["success_criterion"] = (
        None if row["success_criterion"] is None else str(row["success_criterion"])
    )
    for group in SPREAD:
        for name, value in (rec.get(group) or {}).items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue  # numbers only: a text entry would make the column mixed
            row[f"{group}.{name}"] = float(value)
    for k in AS_JSON:
        row[k] = None if rec.get(k) is None else json.dumps(clean(rec[k]), sort_keys=True)
    row["source"] = rec.get("_source")
    return row


def export_parquet(paths: Sequence[Path], out: Path) -> tuple[int, list[BadLine]]:
    """Write every record of ``paths`` to the Parquet file ``out``; returns how many rows and
    the lines that were skipped."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    problems: list[BadLine] = []
    rows = [_row(r) for r in load_records(paths, problems)]
    columns = list(dict.fromkeys(k for row in rows for k in row))  # first-seen order
    spread = sorted(c for c in columns if c.split(".", 1)[0] in SPREAD and "." in c)
    order = [*SCALARS, *spread, *AS_JSON, "source"]
    table = pa.Table.from_pylist(rows, schema=_schema(order)) if rows else pa.table({})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, out)  # never half a file
    return len(rows), problems


def _schema(columns: Sequence[str]) -> Any:
    import pyarrow as pa

    types = {
        **dict.fromkeys(("seed", "base_seed", "converged_step"), pa.int64()),
        **dict.fromkeys(("success", "converged"), pa.bool_()),
        "loss_target": pa.float64(),
    }
    return pa.schema(
        [
            (c, types.get(c, pa.float64() if c.split(".", 1)[0] in SPREAD else pa.string()))
            for c in columns
        ]
    )


def merge_folders(dest: Path, sources: Sequence[Path]) -> tuple[int, int, list[BadLine]]:
    """Append to ``dest`` every record of ``sources`` whose run is not in ``dest`` yet, each
    run once (of several records of one run, the one that finished last), and carry their
    environment blocks into ``dest``'s manifest. Returns (added, duplicates left out,
    skipped lines)."""
    problems: list[BadLine] = []
    have = {r["run_key"] for f in record_files(dest) for r in raw_records(f, problems)}
    best: dict[str, dict[str, Any]] = {}
    envs: dict[str, Any] = {}
    seen = 0
    for src in sources:
        if Path(src).resolve() == Path(dest).resolve():
            continue
        envs.update(read_manifest(Path(src))["environments"])
        for f in record_files(Path(src)):
            for rec in raw_records(f, problems):
                seen += 1
                key = rec["run_key"]
                if key in have:
                    continue
                old = best.get(key)
                if old is None or str(rec.get("finished", "")) >= str(old.get("finished", "")):
                    best[key] = rec
    writer = RecordWriter(dest)
    writer.add_environments(envs)
    for rec in sorted(best.values(), key=lambda r: str(r.get("finished", ""))):
        writer.write(rec)
    return len(best), seen - len(best), problems
