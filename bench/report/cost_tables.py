"""The tables of what runs cost: seconds per phase, the expected running time to a success
(ERT) and the performance profile built on it.

Every attempted run counts, whatever its status: a run stopped at its timeout, out of memory,
diverged or crashed used time, and the ERT divides the time of all attempted runs by the
successes (COCO counts the evaluations of unsuccessful runs alike), so failing is never free.
Where a record carries no time (failed runs recorded before failures were timed), the cell says
how many runs' time is unknown and marks the ERT as a lower bound (``≥``) instead of counting
them as 0 s.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.core.naming import natural_key
from bench.report import stats
from bench.report.records import fmt, pct
from bench.report.summaries import PHASE_ORDER, Summary, cost_matrix, cost_unknown
from bench.report.tables import Table, row_marker

#: Prefixes an ERT that counts only the runs whose time is known: the true cost is higher.
LOWER_BOUND = "≥"
#: Statuses of attempted runs that failed before finishing.
FAILED = ("diverged", "timeout", "oom", "error")


def _unknown(s: Summary) -> str:
    return f" ({s['time_unknown']} unknown)" if s["time_unknown"] else ""


def ert_cell(s: Summary) -> str:
    """The ERT, marked as a lower bound with the count of runs whose time is unknown (an
    unsolved pair's ``inf`` needs no mark: no time makes it finite)."""
    ert = s["ert_seconds"]
    if not s["time_unknown"] or ert is None or ert == float("inf"):
        return fmt(ert)
    return f"{LOWER_BOUND}{fmt(ert)}{_unknown(s)}"


def cost_table(summaries: Sequence[Summary], show_env: bool) -> Table:
    phases = []
    for s in summaries:
        phases += [k[4:] for k in s.values if k.startswith("sec_") and k != "sec_total"]
    phases = sorted(
        set(phases), key=lambda p: (PHASE_ORDER.index(p) if p in PHASE_ORDER else 99, p)
    )
    cols = ["task", "method", *[f"{p} s" for p in phases], "total s", "s/1k steps", "ERT s"]
    cols += ["samples", "params"]
    memory = any(s["peak_device_mb"] is not None for s in summaries)
    if memory:
        cols.append("peak device MiB")
    cols.append("device")
    rows = []
    for s in summaries:
        row = [s.task, s.method, *[fmt(s[f"sec_{p}"]) for p in phases]]
        row += [fmt(s["sec_total"]) + _unknown(s), fmt(s["steps1k_seconds"]), ert_cell(s)]
        row += [fmt(_int(s["samples"])), fmt(_int(s["n_params"]))]
        if memory:
            row.append(fmt(s["peak_device_mb"]))
        row.append(s["device"] + (f" ({s['env']}{row_marker(s)})" if show_env else ""))
        rows.append(row)
    about = (
        "Median seconds per phase and per seed (a vectorised fit's time is shared among the "
        "seeds it trained together; warm-up or compile time is kept apart from training). ERT is "
        "the expected running time to one success: all judged seconds divided by the number of "
        "successes (COCO's measure; inf when none succeeded). Samples are input/target pairs "
        "drawn, params the learned parameter count (medians). Peak device MiB (GPU runs) is the "
        "largest peak allocation of any seed's fit; seeds trained together share one peak."
    )
    return Table("cost", "Cost", about + _failed_note(summaries), cols, rows)


def _failed_note(summaries: Sequence[Summary]) -> str:
    """What the cost note adds where some runs failed or their time is unknown."""
    note = ""
    if any(s[f"n_{st}"] for s in summaries for st in FAILED):
        note += (
            " Runs that timed out, diverged, ran out of memory or crashed count with the time "
            "they used, in the medians, the total and the ERT; skipped runs cost nothing."
        )
    unknown = sum(s["time_unknown"] or 0 for s in summaries)
    if unknown:
        note += (
            f" The records of {unknown} attempted run(s) carry no time (failed runs recorded "
            "before failures were timed): '(n unknown)' counts them in a row, whose total is "
            f"the median of the other runs and whose ERT ({LOWER_BOUND}) counts only the "
            "others' time, a lower bound."
        )
    return note


def _int(v: float | None) -> int | None:
    return None if v is None else int(round(v))


def aggregate_table(summaries: Sequence[Summary]) -> Table | None:
    cost = cost_matrix(summaries)
    if not cost or not any(cost.values()):
        return None
    prof = stats.performance_profile(cost)
    ranks = stats.average_rank(cost)
    unknown = cost_unknown(summaries)
    cols = ["method", "solved", *[f"rho({t:g})" for t in stats.TAUS], "mean rank"]
    order = sorted(cost, key=lambda m: (-prof.solved(m), ranks[m], natural_key(m)))
    rows = [
        [
            m + (f" ({LOWER_BOUND}: {unknown[m]} unknown)" if m in unknown else ""),
            f"{prof.solved(m)}/{len(prof.tasks)}",
            *[pct(prof.rho(m, t)) for t in stats.TAUS],
            f"{ranks[m]:.2f}",
        ]
        for m in order
    ]
    about = (
        f"Performance profile (Dolan and More, 2002) over the {len(prof.tasks)} task(s) that "
        "have a success criterion. The cost of a method on a task is its expected running "
        "time to one success (ERT, see Cost); 'solved' means at least one seed succeeded. "
        "rho(tau) is the fraction of all these tasks a method solves within tau times the best "
        "ERT any method achieved there; rho(1) counts the tasks where it was fastest. A method "
        "not run or skipped on a task counts as not solving it; tasks impossible by "
        "representation are left out. Mean rank orders methods by ERT "
        "per task (1 = cheapest, unsolved tie for last)."
    ) + unknown_note(unknown)
    return Table("aggregate", "Across tasks: performance profile", about, cols, rows)


def unknown_note(unknown: dict[str, int]) -> str:
    """The profile's caveat where some ERTs are lower bounds (``cost_unknown``); else ''."""
    if not unknown:
        return ""
    named = ", ".join(f"{m} ({unknown[m]})" for m in sorted(unknown, key=natural_key))
    return (
        f" The ERTs of {named} count only the runs whose time their records carry: the time of "
        f"that many failed run(s) is unknown, so those costs are lower bounds ({LOWER_BOUND}) "
        "and the profile may flatter them."
    )
