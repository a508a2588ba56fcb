"""CSV output: the summaries at full precision and the flat per-run table."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.report.records import ENV_FIELDS, headline_of


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Rows of dicts to CSV; columns in first-seen order, missing cells empty."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: "" if v is None else v for k, v in r.items()})
    return path


def runs_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The raw per-run table: flat, prefixed columns (``metric_*``, ``time_*``, ``env_*``)."""
    rows = []
    for r in records:
        row: dict[str, Any] = {
            k: r.get(k)
            for k in ("task", "method", "seed", "status", "success", "reason", "profile")
        }
        row["headline"] = headline_of([r])
        row["loss_target"] = r.get("loss_target")
        for group, prefix in (("metrics", "metric_"), ("time", "time_"), ("extras", "extras_")):
            for k, v in (r.get(group) or {}).items():
                if not isinstance(v, dict | list):
                    row[prefix + k] = v
        for k in (*ENV_FIELDS, "git_commit", "threads"):
            row["env_" + k] = (r.get("env") or {}).get(k)
        row["source"] = r.get("_source")
        row["run_key"] = r.get("run_key")
        rows.append(row)
    return rows
