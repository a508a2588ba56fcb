"""The words and marks of a table cell: a verdict cell of the success matrix, why seeds failed
or ran untuned, and why a task cannot be solved; kept apart from ``tables`` (which imports them
from here) so that every table words a pair alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.core.record import STATUSES
from bench.report.bars import success_bar
from bench.report.records import fmt, num
from bench.report.summaries import Summary

#: Marks a row whose seeds ran in more than one environment.
MIXED = "†"
#: Marks a ceiling-limited cell, and one with failed seeds that ran out of budget.
CEILING = "‡"
BUDGET = "*"
#: Marks the near misses of a cell (``≈2``) and a cell with seeds that ran untuned.
NEAR = "≈"
UNTUNED = "§"
#: Between a cell's success count and its median headline.
SEP = " · "
#: How a failed seed is described, by its status: only a seed that finished (``ok``) before
#: the stop rule fired ran out of budget; the others failed for the reason their status names.
FAILED_AS = {
    "ok": "ran out of budget before converging",
    "diverged": "diverged",
    "timeout": "timed out",
    "oom": "ran out of memory",
    "error": "crashed",
}


def verdict_cell(s: Summary) -> str:
    """``2/3 · 8.1e-05 [5.0e-05–2.0e-04] ≈1 §``: successes over judged seeds (with the ceiling
    and budget marks), the median headline and its range over the judged seeds that finished
    (2 significant digits, more where the bar is a share close to 1), the near misses and the
    untuned mark, each only where it applies."""
    text = f"{s['successes']}/{s['judged']}"
    text += (CEILING if s["ceiling_limited"] else "") + (BUDGET if s["out_of_budget"] else "")
    med = s["judged_headline_median"]
    if med is not None:
        bar = success_bar(s.records)
        d = 2 if bar is None else bar.digits()
        lo, hi = fmt(s["judged_headline_min"], d), fmt(s["judged_headline_max"], d)
        text += f"{SEP}{fmt(med, d)}" + (f" [{lo}–{hi}]" if lo != hi else "")
    if s["near_misses"]:
        text += f" {NEAR}{s['near_misses']}"
    return text + (f" {UNTUNED}" if s["untuned"] else "")


def bar_text(pairs: Sequence[Summary]) -> str:
    """A task's headline metric and its numeric bar (``test_mse < 1e-4``), from its pairs."""
    name = next((s["headline"] for s in pairs if s["headline"]), None)
    bar = next((s["success_bar"] for s in pairs if s["success_bar"]), None)
    return "-" if name is None else f"{name} {bar}" if bar else name


def untuned_why(s: Summary) -> str:
    """Why a pair's seeds ran untuned, in the records' words."""
    why = {
        str((r.get("tuning") or {}).get("why") or "no tuned settings for this profile")
        for r in s.records
        if (r.get("tuning") or {}).get("settings") == "untuned"
    }
    return "; ".join(sorted(why))


def failure_words(s: Summary) -> list[str]:
    """Per status of the seeds that did not finish, how many and why, worded by the status
    (``2 diverged: non-finite loss``), never as running out of budget."""
    out = []
    for st in STATUSES:
        recs = [r for r in s.records if r["status"] == st]
        if st in ("ok", "skipped") or not recs:
            continue
        why = "; ".join(sorted({str(r["reason"]) for r in recs if r.get("reason")}))
        out.append(f"{len(recs)} {FAILED_AS.get(st, st)}" + (f": {why}" if why else ""))
    return out


def failed_steps(s: Summary) -> str:
    """Seeds that took steps but did not finish, by status (``1 diverged``); '' if none."""
    recs = [r for r in s.records if r["status"] not in ("ok", "skipped")]
    counts = {FAILED_AS.get(st, st): 0 for st in STATUSES}
    for r in recs:
        if r.get("converged") is not None:
            counts[FAILED_AS.get(r["status"], r["status"])] += 1
    return ", ".join(f"{n} {word}" for word, n in counts.items() if n)


def representation_evidence(s: Summary, short: bool = False) -> str:
    """Why a task cannot be solved from its input encoding, in numbers from the record."""
    di, ds = num(s["distinct_inputs"]), num(s["distinct_seconds"])
    if di is None or ds is None or ds == 0:
        return "the input encoding cannot tell some distinct instants apart"
    if short:
        return f"{int(di):,} distinct inputs for {int(ds):,} seconds ({di / ds:.1%})"
    return (
        f"the input takes {int(di):,} distinct values for {int(ds):,} distinct seconds "
        f"({di / ds:.1%}), so the target is not a function of the input"
    )
