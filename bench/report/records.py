"""Records as the report sees them: reading and vetting them, and the small helpers every table
uses (number formatting, headline metric, environment signature). The natural order and the
newest-record rule are not defined here: the report uses the ones every other part of bench
uses (``bench.core.naming.natural_key``, ``bench.core.record.latest_per_run``), so a table, a
``bench list`` and a ``bench merge`` never disagree.

The report reads records only; nothing here reruns or changes one. A record that cannot be
summarised is set aside with the reason, never allowed to stop a report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core.record import STATUSES, latest_per_run
from bench.engine.store import BadLine, load_records
from bench.report import stats

#: For records without a ``headline``: the first of these a task's records carry.
HEADLINE_ORDER = (
    "test_mse",
    "test_nmse",
    "extrap_nmse",
    "rel_mae",
    "mase",
    "efficiency",
    "freq_error",
    "exact_match",
)
#: Environment fields whose disagreement makes records not directly comparable.
ENV_FIELDS = ("python", "numpy", "scipy", "torch", "device_name")


def num(v: Any) -> float | None:
    """A finite float, or ``None`` (bools and strings are not numbers here)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


def fmt(v: Any, digits: int = 3) -> str:
    """Compact number: 3 significant digits, scientific outside [1e-3, 1e5)."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and math.isnan(v):
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    if isinstance(v, int) and abs(v) < 10**6:
        return f"{v:,}"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def pct(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "-"
    return f"{100 * p:.0f}%"


def median_of(values: Iterable[Any]) -> float | None:
    q = stats.quantiles([v for v in (num(x) for x in values) if v is not None])
    return None if q["n"] == 0 else q["median"]


def headline_of(recs: Sequence[dict[str, Any]]) -> str | None:
    """The metric a task is judged by: the record's ``headline`` (the runner stores the task's),
    else the first well-known metric the records carry."""
    for r in recs:
        if isinstance(r.get("headline"), str):
            return r["headline"]
    present = {k for r in recs for k in (r.get("metrics") or {})}
    return next((m for m in HEADLINE_ORDER if m in present), None)


def loss_target_of(recs: Sequence[dict[str, Any]]) -> float | None:
    return next((v for r in recs if (v := num(r.get("loss_target"))) is not None), None)


def env_signature(rec: dict[str, Any]) -> tuple[str, ...]:
    env = rec.get("env") or {}
    return tuple(str(env.get(k, "?")) for k in ENV_FIELDS)


def batch_seeds(rec: dict[str, Any]) -> int:
    b = (rec.get("time") or {}).get("batch_seeds")
    return int(b) if isinstance(b, int | float) and b >= 1 else 1


def run_seconds(rec: dict[str, Any]) -> float | None:
    """The seconds a run used, per seed (``time.total``), whatever its status: a run stopped
    at its timeout or crashed used time too. ``None`` when the record does not say (failed
    runs recorded before they were timed carry an empty ``time``); never a silent 0."""
    return num((rec.get("time") or {}).get("total"))


def record_problem(rec: dict[str, Any]) -> str | None:
    """Why a record that has every required key still cannot be summarised (a foreign or
    hand-edited line), or ``None``. Checked here so that one odd record never stops a report."""
    if not isinstance(rec.get("method"), str) or not isinstance(rec.get("task"), str):
        return "method and task must be strings"
    if rec.get("status") not in STATUSES:
        return f"unknown status {rec.get('status')!r}"
    if rec.get("success") not in (True, False, None):
        return "success must be true, false or null"
    for key in ("metrics", "time", "env"):
        if not isinstance(rec.get(key), dict):
            return f"{key} must be an object"
    trace = rec.get("trace")
    if not isinstance(trace, list) or not all(is_trace_point(p) for p in trace):
        return "trace must be a list of [step, seconds, loss]"
    return None


def is_trace_point(p: Any) -> bool:
    return (
        isinstance(p, list | tuple)
        and len(p) >= 3
        and num(p[0]) is not None
        and num(p[1]) is not None
        and (p[2] is None or (isinstance(p[2], int | float) and not isinstance(p[2], bool)))
    )


def seconds_per_1k_steps(rec: dict[str, Any]) -> float | None:
    """Training seconds per 1,000 optimisation steps, from the trace's first and last points
    (per seed: a vectorised run's clock is divided by the seeds it trained together). ``None``
    for runs whose trace does not count steps (fewer than two points)."""
    pts = [p for p in rec.get("trace") or [] if is_trace_point(p)]
    if len(pts) < 2 or pts[-1][0] <= pts[0][0]:
        return None
    return (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0]) * 1000 / batch_seeds(rec)


def environment_labels(records: Sequence[dict[str, Any]]) -> dict[tuple[str, ...], str]:
    """``E1``, ``E2``, ... for each distinct environment, most records first."""
    counts: dict[tuple[str, ...], int] = {}
    for r in records:
        sig = env_signature(r)
        counts[sig] = counts.get(sig, 0) + 1
    ordered = sorted(counts, key=lambda s: (-counts[s], s))
    return {s: f"E{i + 1}" for i, s in enumerate(ordered)}


@dataclass
class Loaded:
    """The records a report is made of, and what was set aside while reading them."""

    records: list[dict[str, Any]]
    problems: list[BadLine | str] = field(default_factory=list)


def read(sources: Sequence[Path]) -> Loaded:
    """Records from folders or ``records.jsonl`` files: unreadable lines and records that cannot
    be summarised are set aside (each with why), and a seed recorded twice counts once."""
    bad: list[BadLine] = []
    loaded = load_records(sources, bad)
    problems: list[BadLine | str] = list(bad)
    records = []
    for r in loaded:
        why = record_problem(r)
        if why is None:
            records.append(r)
        else:
            problems.append(f"{r.get('_source')}: record {r.get('run_key')} skipped ({why})")
    records, superseded = latest_per_run(records)
    if superseded:
        problems.append(
            f"{superseded} older record(s) of a (method, task, seed) recorded again later "
            "(e.g. after the plugin changed) were left out; the newest one counts"
        )
    return Loaded(records, problems)
