"""The fixed-target ECDF, as COCO and IOHprofiler draw it: per method, the share of (task, seed,
target) triples reached against time.

Only tasks whose success bar (:mod:`.bars`) is a lower-is-better error take part, with targets
at the bar times 100, 10, 1, 1/10 and 1/100 (:data:`TARGET_FACTORS`). The records keep a
training-loss trace but the judged headline only once, at the end, so a run reaches a target at
its total time per seed (``time.total``) when its final headline meets it (compared as the
criterion compares), and never otherwise; the trace is not used, because the training loss is
not the quantity judged. Runs that did not finish (diverged, timed out, ran out of memory,
crashed) or were skipped reach nothing, though their time was spent, as does a run whose time
is unknown (its method's curve is then a lower bound). A finished run judged a failure still
reaches the looser targets its final metric meets. Every method is
scored over the same (task, seed, target) triples, as the performance profile is over the same
tasks: a task a method skipped or never ran counts as reaching nothing, with as many seeds as
the method that ran most seeds there; a method that attempted none of these tasks is left out
(it would only add a flat line at zero). Tasks impossible by representation are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.core.naming import natural_key
from bench.report.bars import Bar, headline_value, success_bar
from bench.report.records import pct, run_seconds
from bench.report.tables import Table

#: The ECDF's targets, as multiples of each task's bar (hardest last), and their labels.
TARGET_FACTORS = (100.0, 10.0, 1.0, 0.1, 0.01)
TARGET_LABELS = ("bar×100", "bar×10", "bar", "bar/10", "bar/100")
#: The times (seconds per seed) at which the ECDF table reads each method's share.
TABLE_SECONDS = (1.0, 10.0, 100.0)


@dataclass
class Ecdf:
    """Per method, the time (seconds per seed) at which each of its (task, seed, target) triples
    was reached, ``inf`` where never; ``levels[m][i]`` is the share of its (task, seed) pairs
    that reached target ``i``, ``ran[m]`` the number of the tasks it attempted."""

    tasks: list[str]
    hits: dict[str, list[float]]
    levels: dict[str, list[float]]
    ran: dict[str, int]

    def share(self, method: str, seconds: float = math.inf) -> float:
        """The share of ``method``'s triples reached by ``seconds``."""
        times = self.hits[method]
        return sum(1 for t in times if t <= seconds and t < math.inf) / max(len(times), 1)


def ecdf_runs(records: Sequence[dict[str, Any]]) -> Ecdf | None:
    """The ECDF's data for the benchmark records (tuning trials left out); ``None`` without a
    task that has a lower-is-better numeric bar. Methods that attempted none of those tasks
    are left out."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("purpose") != "tune":
            by_task.setdefault(str(r["task"]), []).append(r)
    bars = {t: b for t, recs in by_task.items() if (b := _error_bar(recs)) is not None}
    tasks = sorted(bars, key=natural_key)
    ran: dict[str, int] = {}
    for t in tasks:
        for m in {str(r["method"]) for r in by_task[t] if r["status"] != "skipped"}:
            ran[m] = ran.get(m, 0) + 1
    if not ran:
        return None
    methods = sorted(ran, key=natural_key)
    hits: dict[str, list[float]] = {m: [] for m in methods}
    reached: dict[str, list[list[bool]]] = {m: [[] for _ in TARGET_FACTORS] for m in methods}
    for t in tasks:
        seeds = _seeds_per_method(by_task[t])
        for m in methods:
            mine = [r for r in by_task[t] if r["method"] == m]
            for k, factor in enumerate(TARGET_FACTORS):
                times = [_reached_at(r, bars[t], factor * bars[t].value) for r in mine]
                times += [math.inf] * (max(seeds.values()) - len(mine))
                hits[m] += times
                reached[m][k] += [math.isfinite(x) for x in times]
    levels = {m: [sum(v) / len(v) if v else 0.0 for v in reached[m]] for m in methods}
    return Ecdf(tasks, hits, levels, ran)


def _error_bar(recs: Sequence[dict[str, Any]]) -> Bar | None:
    """The task's bar where it is a positive, lower-is-better error and the task is solvable."""
    bar = success_bar(recs)
    if bar is None or not bar.lower_is_better or bar.value <= 0 or _impossible(recs):
        return None
    return bar


def _impossible(recs: Sequence[dict[str, Any]]) -> bool:
    return any((r.get("extras") or {}).get("representable") is False for r in recs)


def _seeds_per_method(recs: Sequence[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in recs:
        out[str(r["method"])] = out.get(str(r["method"]), 0) + 1
    return out


def _reached_at(r: dict[str, Any], bar: Bar, target: float) -> float:
    """When run ``r`` reached ``target``: its total time if its final headline meets it."""
    v = headline_value(r, bar.metric)
    t = run_seconds(r)
    if v is None or t is None or not bar.met(v, target):
        return math.inf
    return max(t, 0.0)


def ecdf_table(ecdf: Ecdf | None) -> Table | None:
    """The ECDF in numbers: per method, the share of its (task, seed) pairs reaching each
    target by the end, the share of all triples reached by a few times and in all."""
    if ecdf is None:
        return None
    methods = sorted(ecdf.hits, key=lambda m: (-ecdf.share(m), natural_key(m)))
    rows = [
        [
            m,
            f"{ecdf.ran[m]}/{len(ecdf.tasks)}",
            str(len(ecdf.hits[m])),
            *[pct(v) for v in ecdf.levels[m]],
            *[pct(ecdf.share(m, s)) for s in TABLE_SECONDS],
            pct(ecdf.share(m)),
        ]
        for m in methods
    ]
    cols = [
        "method",
        "tasks run",
        "triples",
        *TARGET_LABELS,
        *[f"by {s:g} s" for s in TABLE_SECONDS],
        "all",
    ]
    about = (
        f"Fixed-target view over the {len(ecdf.tasks)} task(s) whose success bar is a numeric, "
        "lower-is-better error: targets at the bar times 100, 10, 1, 1/10 and 1/100. A run "
        "reaches a target when its final headline metric meets it, at its total time per seed "
        "(the records hold the judged metric only at the end); runs that diverged, timed out, "
        "ran out of memory, crashed or were skipped, and tasks a method did not run, reach "
        "nothing (every method is counted over the same triples, with as many seeds per task "
        "as the method that ran most there; 'tasks run' says how many it attempted). The "
        "target columns give the share of (task, seed) pairs reaching each target; 'by t s' "
        "and 'all' the share of all (task, seed, target) triples reached by then and in all, "
        "the curve the ECDF figure draws."
    )
    return Table("ecdf", "Across tasks: targets reached (fixed-target ECDF)", about, cols, rows)
