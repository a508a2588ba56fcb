"""Reports: tables from records only (nothing is rerun)."""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .store import BadLine, load_records

HEADLINE = ("test_mse", "test_nmse", "extrap_nmse", "freq_error", "efficiency", "exact_match")


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.2e}"
    return f"{v:.4g}"


def summarise(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (method, task): counts by status, success rate, median metrics and time."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["method"], r["task"]), []).append(r)
    rows = []
    for (method, task), recs in sorted(groups.items()):
        judged = [r for r in recs if r["status"] != "skipped" and r["success"] is not None]
        wins = sum(1 for r in judged if r["success"])
        statuses: dict[str, int] = {}
        for r in recs:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        row: dict[str, Any] = {
            "method": method,
            "task": task,
            "runs": len(recs),
            "status": ", ".join(f"{v} {k}" for k, v in sorted(statuses.items())),
            "success": f"{wins}/{len(judged)}" if judged else "-",
        }
        for name in ("final_loss", *HEADLINE):
            vals = [r["metrics"].get(name) for r in recs if r["status"] == "ok"]
            vals = [v for v in vals if isinstance(v, int | float)]
            row[name] = statistics.median(vals) if vals else None
        times = [r["time"].get("total") for r in recs if r["time"]]
        times = [t for t in times if isinstance(t, int | float)]
        row["seconds"] = statistics.median(times) if times else None
        reasons = sorted({r["reason"] for r in recs if r["status"] != "ok" and r["reason"]})
        row["reason"] = "; ".join(reasons)[:120]
        rows.append(row)
    return rows


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    metric_cols = [c for c in ("final_loss", *HEADLINE) if any(r[c] is not None for r in rows)]
    cols = ["method", "task", "success", "status", *metric_cols, "seconds"]
    head = "| " + " | ".join(cols) + " |"
    sep = "|" + "|".join("---" for _ in cols) + "|"
    lines = [head, sep]
    for r in rows:
        cells = [r[c] if isinstance(r[c], str) else _fmt(r[c]) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_reports(
    dirs: Sequence[Path],
    out: Path,
    formats: Sequence[str] = ("md",),
    plots: bool = False,
    echo: bool = False,
) -> list[Path]:
    problems: list[BadLine] = []
    records = load_records(dirs, problems)
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    rows = summarise(records)
    table = markdown_table(rows) if rows else "_no records_"
    out = Path(out)
    path = out / "report.md"
    path.write_text(
        f"# Results\n\n{len(records)} records from {', '.join(map(str, dirs))}.\n\n{table}\n"
    )
    if echo:
        print(table)
    return [path]
