"""The document every renderer prints: provenance, tables, notes and figures.

The flow is records -> one summary per (method, task) -> tables -> this small document model ->
one renderer per format (``render``). Figures are drawn apart (``plots``) and attached by the
caller, so building a report never needs matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.naming import natural_key
from bench.engine.provenance import record_commit
from bench.engine.store import BadLine
from bench.report.competition import NOTES_TITLE, compete, competition_tables
from bench.report.cost_tables import aggregate_table, cost_table
from bench.report.ecdf import ecdf_runs, ecdf_table
from bench.report.failure_map import StartInBasin, failure_map_table
from bench.report.plotkit import Figure
from bench.report.records import ENV_FIELDS, env_signature, environment_labels
from bench.report.summaries import Summary, summarise
from bench.report.tables import (
    MIXED,
    UNTUNED,
    Table,
    TuningChoice,
    accuracy_table,
    convergence_table,
    crlb_table,
    headline_matrix,
    representation_evidence,
    success_table,
    tuning_table,
    tuning_trials_table,
)


@dataclass(frozen=True)
class Lookups:
    """What a report shows but cannot read off its records: answers that need the plugins (a
    method's own draw of its start, a method's search grid). A report reads records only, so
    the caller that loads the plugins supplies these (``bench.app.report.lookups``); without
    them the failure map's started-in-basin columns read ``-`` and the tuning-trials table is
    left out."""

    start_in_basin: StartInBasin | None = None
    tuning_choice: TuningChoice | None = None


@dataclass
class Report:
    """Everything a renderer needs: provenance text, notes, tables and figures. ``headline`` is
    the task x method success matrix a page may lead with (the README's table)."""

    intro: list[str]
    tables: list[Table]
    notes: list[tuple[str, list[str]]]
    figures: list[Figure]
    summaries: list[Summary]
    records: list[dict[str, Any]]
    headline: Table | None = None


def build_report(
    records: Sequence[dict[str, Any]],
    sources: Sequence[Path],
    problems: Sequence[BadLine | str] = (),
    lookups: Lookups | None = None,
) -> Report:
    """Tables and notes for a set of records (figures are added by the caller); ``lookups``
    supply what the records alone cannot (see :class:`Lookups`)."""
    labels = environment_labels(records)
    summaries = summarise(records, labels)
    show_env = len(labels) > 1
    tables = [
        success_table(summaries, show_env),
        accuracy_table(summaries),
        convergence_table(summaries),
        cost_table(summaries, show_env),
    ]
    crlb = crlb_table(records)
    if crlb is not None:
        tables.append(crlb)
    for agg in (aggregate_table(summaries), ecdf_table(ecdf_runs(records))):
        if agg is not None:
            tables.append(agg)
    lookups = lookups or Lookups()
    trials = tuning_trials_table(records, lookups.tuning_choice)
    for extra in (tuning_table(summaries), trials):
        if extra is not None:
            tables.append(extra)
    headline = headline_matrix(summaries) if summaries else None
    if trials is not None and all(r.get("purpose") == "tune" for r in records):
        headline = trials  # a folder of tuning trials leads with what was chosen
    fmap = failure_map_table(records, lookups.start_in_basin)
    if fmap is not None:
        tables.append(fmap)
    notes = _notes(summaries, labels, records, problems)
    comp = compete(records)  # the real-series family, read as a forecasting competition
    if comp is not None:
        tables += competition_tables(comp)
        if comp.footnotes:
            notes.append((NOTES_TITLE, comp.footnotes))
    return Report(
        provenance(records, sources),
        tables,
        notes,
        [],
        summaries,
        list(records),
        headline,
    )


def provenance(records: Sequence[dict[str, Any]], sources: Sequence[Path]) -> list[str]:
    n_m = len({r["method"] for r in records})
    n_t = len({r["task"] for r in records})
    profiles = sorted({str(r.get("profile")) for r in records})
    commits = sorted({record_commit(r.get("env") or {}) for r in records})
    stamps = sorted(str((r.get("env") or {}).get("timestamp", "")) for r in records)
    commands = sorted({str((r.get("env") or {}).get("command", "")) for r in records} - {""})
    lines = [
        f"{len(records)} records ({n_m} methods x {n_t} tasks) from "
        f"{', '.join(str(s) for s in sources)}; profile {', '.join(profiles) or '-'}.",
        "Produced by: " + ("; ".join(f"`{c}`" for c in commands) or "-") + ".",
        f"Code: commit {', '.join(commits) or '-'}." + _span(stamps),
        f"Machine: {machines(records)}.",
        "Generated from the records alone (nothing was rerun) by `python -m bench report`.",
    ]
    untuned = untuned_count(records)
    if untuned:
        lines.append(
            f"{untuned} of {len(records)} records ran untuned: a tunable method found no tuned "
            f"settings for this profile and ran with its defaults ({UNTUNED} in the success "
            "matrix; see Tuning below)."
        )
    return lines


def untuned_count(records: Sequence[dict[str, Any]]) -> int:
    """Attempted runs of a tunable method that had no tuned settings (``tuning.settings``)."""
    return sum(
        1
        for r in records
        if r.get("status") != "skipped" and (r.get("tuning") or {}).get("settings") == "untuned"
    )


def machines(records: Sequence[dict[str, Any]]) -> str:
    """Device, CPU, OS and thread count of each distinct machine, most records first."""
    counts: dict[str, int] = {}
    for r in records:
        env = r.get("env") or {}
        desc = (
            f"{env.get('device', '?')} ({env.get('device_name', '?')}), CPU {env.get('cpu', '?')}"
            f" x {env.get('cpu_count', '?')}, {env.get('platform', '?')}, "
            f"{env.get('threads', '?')} torch thread(s)"
        )
        counts[desc] = counts.get(desc, 0) + 1
    return "; ".join(sorted(counts, key=lambda d: -counts[d])) or "-"


def _span(stamps: Sequence[str]) -> str:
    if not stamps or not stamps[0]:
        return ""
    if stamps[0] == stamps[-1]:
        return f" Run at {stamps[0]}."
    return f" Runs from {stamps[0]} to {stamps[-1]}."


def _notes(
    summaries: Sequence[Summary],
    labels: dict[tuple[str, ...], str],
    records: Sequence[dict[str, Any]],
    problems: Sequence[BadLine | str],
) -> list[tuple[str, list[str]]]:
    notes = []
    counts: dict[str, int] = {}
    for r in records:
        lab = labels[env_signature(r)]
        counts[lab] = counts.get(lab, 0) + 1
    envs = [
        f"{lab}: "
        + ", ".join(f"{k} {v}" for k, v in zip(ENV_FIELDS, sig, strict=True))
        + f" ({counts[lab]} records)"
        for sig, lab in sorted(labels.items(), key=lambda kv: natural_key(kv[1]))
    ]
    if len(labels) > 1:
        mixed = [f"{s.method} on {s.task}" for s in summaries if s["env_mixed"]]
        envs.insert(
            0,
            f"The records come from {len(labels)} different environments; numbers "
            "from different environments (versions, device) are not directly comparable.",
        )
        if mixed:
            envs.append(
                f"{MIXED} marks pairs whose seeds ran in more than one environment: "
                + ", ".join(mixed)
                + "."
            )
    notes.append(("Environment", envs))
    impossible = sorted({s.task for s in summaries if s["representable"] is False}, key=natural_key)
    if impossible:
        items = []
        for t in impossible:
            s = next(x for x in summaries if x.task == t and x["representable"] is False)
            items.append(
                f"{t}: impossible by representation; {representation_evidence(s)}. "
                "No method can succeed, so its failures say nothing about the methods."
            )
        notes.append(("Impossible by representation", items))
    tuning = _tuning_notes(records)
    if tuning:
        notes.append(("Tuning", tuning))
    if problems:
        notes.append(("Unreadable records (skipped)", [str(p) for p in problems]))
    return notes


def _tuning_notes(records: Sequence[dict[str, Any]]) -> list[str]:
    """Per tunable method: which settings it ran with on each task family, and their cost."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        info = r.get("tuning")
        if isinstance(info, dict) and info.get("settings") in ("tuned", "untuned"):
            seen.setdefault((str(r["method"]), str(r["task_family"])), info)
    items = []
    for (method, family), info in sorted(seen.items(), key=lambda kv: natural_key(" ".join(kv[0]))):
        if info["settings"] == "untuned":
            items.append(f"{method} on {family}: untuned ({info.get('why', 'no tuned settings')})")
            continue
        params = ", ".join(f"{k}={v}" for k, v in (info.get("params") or {}).items()) or "defaults"
        items.append(
            f"{method} on {family}: {params}, chosen from {info.get('tuning_trials')} trials on "
            f"{', '.join(info.get('tuning_tasks') or [])} ({info.get('tuning_seconds')} s of "
            f"tuning; {info.get('source')})"
        )
    if items:
        items.insert(
            0,
            "Tunable methods ran with the settings the declared protocol chose per task family "
            "(python -m bench tune: validation data carved from the training samples, never the "
            "evaluation sets); their tuning time is on top of the run times in the tables.",
        )
    untuned = untuned_count(records)
    if untuned:
        items.insert(
            1,
            f"{untuned} record(s) ran untuned (marked {UNTUNED} in the success matrix): no "
            "tuned settings existed for their profile, so they ran with the method's defaults "
            "and their verdicts are not those of tuned methods.",
        )
    return items
