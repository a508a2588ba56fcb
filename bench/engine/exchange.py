"""Records in and out: ``bench export`` (a Parquet table) and ``bench merge`` (result folders
combined, each run once).

The Parquet table has one row per record. Identity, verdict and stop fields are columns of
their own; every metric, phase time and memory figure is a column named ``metrics.<name>``,
``time.<phase>`` or ``memory.<name>`` (null where a record lacks it); nested fields whose
shape varies (parameters, budget, tuning, extras, ceiling, trace, environment) are JSON text
columns, so no information is lost and any reader (pandas, polars, DuckDB) loads the file
without this package. Which field goes where, and each column's type, follow from the record
type (``bench.core.record``): a field declared there is exported without a change here. The
``schema`` column tells the layouts apart (1 for records written before the field).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.core.record import (
    JSON_KEYS,
    KINDS,
    RECORD_KEYS,
    SCALAR_KEYS,
    SPREAD_KEYS,
    latest_per_run,
)
from bench.engine.store import (
    ENV_ID,
    BadLine,
    RecordWriter,
    clean,
    load_records,
    raw_records,
    read_manifest,
    record_files,
)

#: Columns of one plain value each, in this order: the record's scalar fields (as the record
#: type declares them), then the store's name for the environment block.
SCALARS = (*SCALAR_KEYS, ENV_ID)
#: Record fields whose numeric entries become one column each (``metrics.test_mse``).
SPREAD = SPREAD_KEYS
#: Record fields exported as JSON text.
AS_JSON = JSON_KEYS
#: How each plain column is typed; the store's env_id is text.
_TYPES = {**KINDS, ENV_ID: "str"}
#: Python conversions of the plain kinds; ``bool`` is left as stored (``bool("false")`` lies).
_CONVERT: dict[str, Any] = {"int": int, "float": float, "str": str}


def _row(rec: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for k in SCALARS:
        convert, v = _CONVERT.get(_TYPES[k]), rec.get(k)
        row[k] = convert(v) if convert and v is not None else v
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

    types = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "spread": pa.float64()}
    kind = {**_TYPES, **{c: "spread" for c in columns if c.split(".", 1)[0] in SPREAD}}
    return pa.schema([(c, types.get(kind.get(c, "str"), pa.string())) for c in columns])


def read_parquet(path: Path) -> list[dict[str, Any]]:
    """The records of a table written by :func:`export_parquet`, as flat dicts with every key
    of the record type (the inverse of ``_row``; a spread entry that was not a number, which
    the export leaves out, does not come back). ``env_id`` and ``_source`` come back too."""
    import pyarrow.parquet as pq

    out = []
    for row in pq.read_table(path).to_pylist():
        rec: dict[str, Any] = {k: row.get(k) for k in SCALARS}
        for group in SPREAD:
            prefix = group + "."
            found = {c[len(prefix) :]: v for c, v in row.items() if c.startswith(prefix)}
            rec[group] = {name: v for name, v in found.items() if v is not None}
        for k in AS_JSON:
            rec[k] = None if row.get(k) is None else json.loads(row[k])
        rec["_source"] = row.get("source")
        out.append({k: rec[k] for k in (*RECORD_KEYS, ENV_ID, "_source")})
    return out


def merge_folders(dest: Path, sources: Sequence[Path]) -> tuple[int, int, list[BadLine]]:
    """Append to ``dest`` every record of ``sources`` whose run is not in ``dest`` yet, each
    run once (of several records of one run, the one that finished last), and carry their
    environment blocks into ``dest``'s manifest. Returns (added, duplicates left out,
    skipped lines). Which record is the newest is :func:`bench.core.record.latest_per_run`'s
    rule, the one the report applies."""
    problems: list[BadLine] = []
    have = {r["run_key"] for f in record_files(dest) for r in raw_records(f, problems)}
    found: list[dict[str, Any]] = []
    envs: dict[str, Any] = {}
    for src in sources:
        if Path(src).resolve() == Path(dest).resolve():
            continue
        envs.update(read_manifest(Path(src))["environments"])
        found += [r for f in record_files(Path(src)) for r in raw_records(f, problems)]
    best, _ = latest_per_run([r for r in found if r["run_key"] not in have], lambda r: r["run_key"])
    writer = RecordWriter(dest)
    writer.add_environments(envs)
    for rec in sorted(best, key=lambda r: str(r.get("finished", ""))):
        writer.write(rec)
    return len(best), len(found) - len(best), problems
