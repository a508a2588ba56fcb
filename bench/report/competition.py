"""The real-series family read the way forecasting competitions (the M competitions) read it.

A real series has no known truth, only a benchmark forecast (seasonal naive, or the last value)
that each run's relative MAE is measured against, and several forecast origins (one per seed).
One success rate per task says little there: what a forecaster wants to know is by how much a
method beats the benchmark on each series, whether its lead over the others is more than the
luck of a few origins, and how it ranks across the series. So this module works on the relative
MAE of every origin:

- per (method, series), the geometric mean over origins (Davydenko and Fildes, 2013: relative
  errors are ratios, so their arithmetic mean is pulled up by a single bad origin and is not
  symmetric in which forecast is on top), with a t interval on the log scale;
- per series, the best method and a paired Wilcoxon signed-rank test of each other method
  against it over the origins both ran;
- per method, its mean rank over the series and a family score that weighs each series alike.

Runs a method declined (skipped) or that failed are shown as such, with their reasons, never
counted as a forecast. Only evaluation records count: tuning trials are not forecasts.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.core.naming import natural_key
from bench.report.records import fmt, num
from bench.report.tables import Table

#: The task family this section covers.
FAMILY = "real"
#: Cell marks: declined (skipped) and failed, the series' best, significantly worse than it.
DECLINED = "—"
FAILED = "×"
BEST = "*"
WORSE = "†"
#: Fewest matched origins at which a two-sided Wilcoxon signed-rank test can reach p < 0.05
#: (with 5 the smallest exact p is 2/32 = 0.0625).
MIN_PAIRS = 6
ALPHA = 0.05
#: Title of the report's note that lists why runs were declined or failed.
NOTES_TITLE = "Real series: declined and failed runs"


@dataclass
class Entry:
    """One method on one series: the relative MAE of each usable origin (by seed), and what
    kept the other origins out (a decline, a failure, an unusable value)."""

    method: str
    task: str
    rel: dict[Any, float] = field(default_factory=dict)
    mase: list[float] = field(default_factory=list)
    declined: set[str] = field(default_factory=set)
    failures: Counter[str] = field(default_factory=Counter)
    gm: float | None = None
    low: float | None = None
    high: float | None = None
    rank: float | None = None
    p: float | None = None
    best: bool = False
    worse: bool = False

    def add(self, r: Mapping[str, Any]) -> None:
        status = r.get("status")
        if status == "skipped":
            self.declined.add(str(r.get("reason") or "no reason recorded"))
            return
        if status != "ok":
            why = str(r.get("reason") or "").strip()
            self.failures[f"{status}: {why}" if why else str(status)] += 1
            return
        metrics = r.get("metrics") or {}
        rel = num(metrics.get("rel_mae"))
        if rel is None or rel <= 0:
            missing = "rel_mae" not in metrics
            self.failures["no rel_mae recorded" if missing else "rel_mae not positive"] += 1
            return
        self.rel[r.get("seed", len(self.rel))] = rel
        mase = num(metrics.get("mase"))
        if mase is not None:
            self.mase.append(mase)

    @property
    def failed(self) -> int:
        """Attempted origins left out of the geometric mean."""
        return sum(self.failures.values())

    def cell(self) -> str:
        """What a table prints where this pair has no geometric mean."""
        if self.rel:
            return fmt2(self.gm)
        return FAILED if self.failures else DECLINED


@dataclass
class Competition:
    """The real-series records worked out: series in natural order (``names`` gives each
    task's display name), methods in table order, one :class:`Entry` per pair that has
    records, and each method's mean rank, family score and count of series beaten."""

    records: list[dict[str, Any]]
    tasks: list[str]
    names: dict[str, str]
    methods: list[str]
    entries: dict[tuple[str, str], Entry]
    mean_rank: dict[str, float] = field(default_factory=dict)
    ranked: dict[str, int] = field(default_factory=dict)
    family: dict[str, float] = field(default_factory=dict)
    beats: dict[str, int] = field(default_factory=dict)
    footnotes: list[str] = field(default_factory=list)


def real_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evaluation records of the real-series family (tuning trials left out; records
    written before ``purpose`` existed are evaluations)."""
    return [
        r for r in records if r.get("task_family") == FAMILY and r.get("purpose") in (None, "eval")
    ]


def geometric_mean_interval(
    values: Sequence[float], level: float = 0.95
) -> tuple[float, float | None, float | None]:
    """``(gm, low, high)``: the geometric mean of positive ``values`` and its t interval,
    ``exp(mean(log v) -+ t * sd / sqrt(n))``. The interval is on the log scale because that is
    where a ratio's errors are roughly symmetric; ``None`` bounds for fewer than 2 values."""
    if not values or any(not v > 0 or not math.isfinite(v) for v in values):
        raise ValueError("the geometric mean needs positive finite values")
    logs = [math.log(v) for v in values]
    centre = math.fsum(logs) / len(logs)
    if len(logs) < 2:
        return math.exp(centre), None, None
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, len(logs) - 1)) * statistics.stdev(logs)
    half /= math.sqrt(len(logs))
    return math.exp(centre), math.exp(centre - half), math.exp(centre + half)


def paired_p(best: Mapping[Any, float], other: Mapping[Any, float]) -> float | None:
    """Two-sided Wilcoxon signed-rank p of ``log other - log best`` over the origins (seeds)
    both have; ``None`` below :data:`MIN_PAIRS` matched origins, where no outcome could reach
    0.05. Identical forecasts at every origin give 1."""
    seeds = sorted(best.keys() & other.keys(), key=str)
    if len(seeds) < MIN_PAIRS:
        return None
    diffs = [math.log(other[s]) - math.log(best[s]) for s in seeds]
    if not any(diffs):
        return 1.0
    from scipy.stats import wilcoxon

    return float(wilcoxon(diffs).pvalue)


def fmt2(v: float | None) -> str:
    """Two significant digits, trailing zeros kept (``0.87``, ``1.0``, ``12``)."""
    if v is None or not math.isfinite(v):
        return "-"
    if v == 0:
        return "0"
    if not 1e-3 <= abs(v) < 1e3:
        return f"{v:.1e}"
    rounded = float(f"{v:.2g}")
    return f"{rounded:.{max(0, 1 - math.floor(math.log10(abs(rounded))))}f}"


def compete(records: Sequence[dict[str, Any]]) -> Competition | None:
    """The competition over the real-series records; ``None`` when there are none."""
    recs = real_records(records)
    if not recs:
        return None
    entries: dict[tuple[str, str], Entry] = {}
    for r in recs:
        key = (str(r["task"]), str(r["method"]))
        entries.setdefault(key, Entry(key[1], key[0])).add(r)
    names = _series_names(recs)
    tasks = sorted(names, key=lambda t: (natural_key(names[t]), natural_key(t)))
    comp = Competition(recs, tasks, names, [], entries)
    for task in tasks:
        _judge_series([e for (t, _), e in entries.items() if t == task])
    _score_methods(comp)
    comp.footnotes = _footnotes(comp)
    return comp


def _series_names(recs: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each task's dataset name, or the task itself where two tasks share a dataset."""
    names = {}
    for r in recs:
        dataset = (r.get("task_params") or {}).get("dataset")
        names.setdefault(str(r["task"]), str(dataset) if dataset else str(r["task"]))
    shared = Counter(names.values())
    return {t: (n if shared[n] == 1 else t) for t, n in names.items()}


def _judge_series(entries: Sequence[Entry]) -> None:
    """Geometric means, ranks (ties share the average rank) and the tests against the best."""
    from scipy.stats import rankdata

    scored = [e for e in entries if e.rel]
    for e in scored:
        e.gm, e.low, e.high = geometric_mean_interval(list(e.rel.values()))
    if not scored:
        return
    scored.sort(key=lambda e: (e.gm, natural_key(e.method)))
    lead = scored[0]
    for e, rank in zip(scored, rankdata([e.gm for e in scored]), strict=True):
        e.rank = float(rank)
        e.best = e.gm == lead.gm
        if e.best:
            continue
        e.p = paired_p(lead.rel, e.rel)
        shared = lead.rel.keys() & e.rel.keys()
        ahead = sum(math.log(e.rel[s] / lead.rel[s]) for s in shared) > 0
        e.worse = e.p is not None and e.p < ALPHA and ahead


def _score_methods(comp: Competition) -> None:
    """Mean rank, family score (geometric mean of the per-series GMs) and series beaten, and
    the table order: mean rank, then family score; methods with no GM anywhere last."""
    methods = {m for _, m in comp.entries}
    for m in methods:
        mine = [e for (_, k), e in comp.entries.items() if k == m and e.gm is not None]
        if not mine:
            continue
        comp.mean_rank[m] = statistics.fmean(e.rank or 0.0 for e in mine)
        comp.ranked[m] = len(mine)
        comp.family[m] = math.exp(statistics.fmean(math.log(e.gm or 1.0) for e in mine))
        comp.beats[m] = sum(1 for e in mine if (e.gm or 0.0) < 1)
    comp.methods = sorted(
        methods,
        key=lambda m: (
            m not in comp.mean_rank,
            comp.mean_rank.get(m, 0.0),
            comp.family.get(m, 0.0),
            natural_key(m),
        ),
    )


def _footnotes(comp: Competition) -> list[str]:
    """One line per distinct reason a run was declined or failed, with who and where."""
    where: dict[tuple[str, str], dict[str, list[str]]] = {}
    for task in comp.tasks:
        for m in comp.methods:
            e = comp.entries.get((task, m))
            if e is None:
                continue
            if not e.rel and not e.failures:
                for why in sorted(e.declined):
                    where.setdefault((DECLINED, why), {}).setdefault(m, []).append(comp.names[task])
            attempted = len(e.rel) + e.failed
            for why, n in sorted(e.failures.items()):
                place = comp.names[task] + (f" ({n} of {attempted} origins)" if e.rel else "")
                where.setdefault((FAILED, why), {}).setdefault(m, []).append(place)
    lines = []
    for (mark, why), who in sorted(where.items(), key=lambda kv: (kv[0][0] != DECLINED, kv[0])):
        kind = "declined" if mark == DECLINED else "failed"
        runs = "; ".join(f"{m} on {', '.join(places)}" for m, places in who.items())
        lines.append(f"{mark} {kind}: {why} ({runs}).")
    return lines


def competition_tables(comp: Competition) -> list[Table]:
    """The three tables: methods by series, the series themselves, and the long detail."""
    return [score_table(comp), series_table(comp), detail_table(comp)]


def score_table(comp: Competition) -> Table:
    """Methods down, series across: geometric mean relative MAE, best and worse marked."""
    cols = ["method", *[comp.names[t] for t in comp.tasks], "GM (all)", "mean rank", "series < 1"]
    rows = []
    for m in comp.methods:
        row = [m]
        for t in comp.tasks:
            e = comp.entries.get((t, m))
            text = "" if e is None else e.cell()
            if e is not None and e.best:
                text = BEST + text
            elif e is not None and e.worse:
                text += WORSE
            row.append(text)
        if m in comp.mean_rank:
            row += [
                fmt2(comp.family[m]),
                fmt(comp.mean_rank[m]),
                f"{comp.beats[m]}/{comp.ranked[m]}",
            ]
        else:
            row += ["-", "-", "-"]
        rows.append(row)
    about = (
        "Relative MAE is a forecast's mean absolute error over the horizon divided by that of "
        "the series' benchmark forecast over the same horizon (column 'bar' of the next "
        "table): below 1 beats the benchmark. Each cell is the geometric mean over the forecast "
        "origins (one per seed), exp(mean(log relMAE)), as Davydenko and Fildes (2013) advise "
        "for relative errors, to 2 significant digits. A leading asterisk marks the series' best "
        "(lowest geometric mean; the renderers print cells as plain text, so no bold). "
        f"{WORSE}: significantly worse than that best, by a two-sided Wilcoxon signed-rank test "
        "on the differences of log relative MAE over the origins both ran (matched by seed), "
        f"p < {ALPHA:g}; with fewer than {MIN_PAIRS} matched origins the test cannot reach "
        f"{ALPHA:g}, so there is no mark (n/a in the detail table). {DECLINED}: the method "
        f"declined the series (skipped); {FAILED}: every attempted origin failed; reasons under "
        f"'{NOTES_TITLE}'; blank: not run. 'GM (all)' is the geometric mean of the method's "
        "per-series values (each series weighs the same) over the series it has one on; "
        "'mean rank' its average rank there (1 = best, ties share the average rank); "
        "'series < 1' the series where it beats the benchmark, of those. Rows by mean rank, "
        "then GM (all). Failed origins are left out of a cell and counted in the detail table."
    )
    title = "Real series: geometric mean relative MAE over forecast origins"
    return Table("real_scores", title, about, cols, rows)


def series_table(comp: Competition) -> Table:
    """One row per series: what it is, how far ahead it is forecast, and against what."""
    cols = ["dataset", "label", "sampling", "calendar seasons", "season", "horizon (samples)",
            "horizon (seasons)", "origins (seeds)", "distinct origins", "bar"]  # fmt: skip
    rows = []
    for t in comp.tasks:
        recs = [r for r in comp.records if str(r["task"]) == t]
        calendar = _extra(recs, "calendar")
        if isinstance(calendar, list):
            calendar = ", ".join(fmt(num(c)) for c in calendar) or "none"
        seeds = {r.get("seed") for r in recs}
        origins = {o for r in recs if (o := num((r.get("extras") or {}).get("origin"))) is not None}
        rows.append(
            [comp.names[t], _text(_extra(recs, "series_label")), _text(_extra(recs, "sampling")),
             _text(calendar), fmt(_extra(recs, "season")), fmt(_extra(recs, "horizon_samples")),
             fmt(_extra(recs, "horizon_seasons")), str(len(seeds)),
             str(len(origins)) if origins else "-", _text(_extra(recs, "bar"))]
        )  # fmt: skip
    about = (
        "Each real series as its task records it: the sampling, the calendar seasons the task "
        "names (in samples) and the season a seasonal benchmark repeats (1: none), the horizon "
        "forecast from each origin, the number of origins (seeds) with how many distinct "
        "origins they gave, and the benchmark forecast ('bar') every relative MAE is divided "
        "by. '-': older records that do not say."
    )
    title = "Real series: the series, their horizons and benchmarks"
    return Table("real_series", title, about, cols, rows)


def detail_table(comp: Competition) -> Table:
    """One row per (series, method): origins, GM with its interval, mean MASE, rank, p."""
    cols = ["series", "method", "origins", "GM relMAE [95% CI]", "mean MASE", "rank", "p vs best"]
    rows = []
    for t in comp.tasks:
        here = [e for (k, _), e in comp.entries.items() if k == t]
        here.sort(key=lambda e: (e.rank is None, e.rank or 0.0, natural_key(e.method)))
        for e in here:
            rows.append([comp.names[t], e.method, *_detail_cells(e)])
    about = (
        "Per series and method: the origins that gave a usable relative MAE (with the failed "
        "ones, left out, in brackets), the geometric mean relative MAE with its 95% interval "
        "(t interval on the log scale; none with one origin), the arithmetic mean MASE over "
        "the same runs (MAE over the in-sample seasonal-naive MAE), the rank among the methods "
        "with a value on the series (1 = best, ties averaged), and the two-sided Wilcoxon "
        "signed-rank p against the series' best over matched origins ('best' for the best, "
        f"'n/a' with fewer than {MIN_PAIRS} matched origins)."
    )
    return Table("real_detail", "Real series: per-series detail", about, cols, rows)


def _detail_cells(e: Entry) -> list[str]:
    if not e.rel:
        return [f"0 (+{e.failed} failed)" if e.failed else "0", e.cell(), "-", "-", "-"]
    origins = str(len(e.rel)) + (f" (+{e.failed} failed)" if e.failed else "")
    gm = fmt(e.gm) + (f" [{fmt(e.low)}, {fmt(e.high)}]" if e.low is not None else "")
    p = "best" if e.best else ("n/a" if e.p is None else fmt(e.p))
    mase = fmt(statistics.fmean(e.mase)) if e.mase else "-"
    return [origins, gm + (WORSE if e.worse else ""), mase, fmt(e.rank), p]


def _extra(recs: Sequence[dict[str, Any]], key: str) -> Any:
    """The first value a series' records give for ``extras[key]``; ``None`` when none do."""
    return next((v for r in recs if (v := (r.get("extras") or {}).get(key)) is not None), None)


def _text(v: Any) -> str:
    return "-" if v is None or v == "" else str(v)
