"""Numbers quoted in prose (``results/FINDINGS.md``), each produced from the records.

A quoted number names where it comes from, in a comment the rendered page does not show, and
its text follows up to the closing comment::

    ESPRIT resolves the pair on <!--q close-tones-cpu esprit close-tones[sep=0.25]
    successes-->9 of 20<!--/q--> seeds

The comment holds the published folder (beside the findings file), the method and the task
(``*`` stands for any text: ``*`` every one, ``tone[cycles=*]`` the cycle sweep), and a field:
one of the per-(method, task) summary's values (``bench.report.summaries``:
``headline_median``, ``success_rate``, ``sec_total`` ...), one of :data:`SPECIAL`, a statistic
over the records' own values, ``WHERE.NAME.STAT`` with WHERE one of :data:`VALUES` and STAT one
of :data:`STATS` (``metric.test_mse.range``, ``record.best_step.range``, ``param.w0.max``), or
a method's standing in the real-series competition (``series.beats``, ``series.rank``...). An
optional format follows the field after a colon: ``.2g`` (the default for a fraction, written
as the tables write it: ``1.6e-5``), ``.0%``, ``,d``. :func:`fill` writes every quote's text
from the records, and :func:`check` lists the quotes whose text is not what the records give,
so a number cannot go stale unseen.

A measurement that is not a record (the speed figures a plan folder's script writes) is quoted
from its JSON file with the method word ``json``: ``FOLDER json FILE PATH[:FORMAT]``, PATH the
keys (and list positions) down to the number, dot-separated
(``sweep-quick-cpu json speed-cpu.json figures.fft_estimate_1e6_s:.3f``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.record import finished_at
from bench.engine.provenance import record_commit
from bench.report.competition import Competition, compete
from bench.report.records import read
from bench.report.summaries import Summary, summarise

QUOTE = re.compile(r"<!--q\s+(?P<spec>[^<>]*?)\s*-->(?P<text>(?:(?!<!--/?q\b).)*?)<!--/q-->", re.S)
#: Every opening of a quote, closed or not (one without its close is an error, not a quote).
OPENING = re.compile(r"<!--q\s")


def _successes(s: Sequence[Summary]) -> str:
    return f"{sum(x['successes'] or 0 for x in s)} of {sum(x['judged'] or 0 for x in s)}"


def _range(key: str) -> Callable[[Sequence[Summary]], tuple[Any, Any]]:
    def get(s: Sequence[Summary]) -> tuple[Any, Any]:
        lows = [x[f"{key}_min"] for x in s if x[f"{key}_min"] is not None]
        highs = [x[f"{key}_max"] for x in s if x[f"{key}_max"] is not None]
        return (min(lows), max(highs)) if lows else (None, None)

    return get


def _matches(pattern: str, name: str) -> bool:
    """Whether a quote's method or task ``pattern`` names ``name``: ``*`` stands for any text
    (``tone[cycles=*]``, brackets being part of the names, not a class of characters)."""
    if "*" not in pattern:
        return pattern == name
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), name) is not None


#: How ``metric.NAME.STAT`` and ``time.PHASE.STAT`` reduce the values of the chosen records.
STATS: dict[str, Callable[[list[float]], Any]] = {
    "min": min,
    "max": max,
    "median": lambda v: float(np.median(v)),
    "range": lambda v: (min(v), max(v)),
    "rms": lambda v: float(np.sqrt(np.mean(np.square(v)))),
    "count": len,
    "sum": lambda v: int(sum(v)) if all(float(x).is_integer() for x in v) else sum(v),
}


#: Where ``WHERE.NAME.STAT`` finds a record's values: its metrics (judged at the best state),
#: the metrics of its last state, its phase times, a number of the record itself (its
#: ``best_step``, ``converged_step``, ``stop_step``; ``converged`` counts as 0 or 1), a
#: numeric parameter the method ran with (``param.max_freq.range``: its tuned settings too), a
#: number a task or method recorded beside its metrics (``extras.day_length.max``), or a metric
#: of the task's own ceiling, what a perfect predictor would score
#: (``ceiling.extrap_exact_match.median``).
VALUES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "metric": lambda r: r.get("metrics") or {},
    "final": lambda r: r.get("metrics_final") or {},
    "time": lambda r: r.get("time") or {},
    "record": lambda r: r,
    "param": lambda r: r.get("method_params") or {},
    "extras": lambda r: r.get("extras") or {},
    "ceiling": lambda r: (r.get("ceiling") or {}).get("metrics") or {},
}


def _over_records(q: Quote, chosen: Sequence[Summary]) -> Any:
    """``WHERE.NAME.STAT`` (:data:`VALUES`, :data:`STATS`) over every record of ``chosen``
    that has a finite value (``metric.test_mse.range``, ``time.total.median``,
    ``record.best_step.range``, ``record.converged.sum``)."""
    where, _, rest = q.field.partition(".")
    name, _, stat = rest.rpartition(".")
    if not name or stat not in STATS:
        raise ValueError(
            f"quote '{q.spec}': expected {where}.NAME.STAT with STAT one of {', '.join(STATS)}"
        )
    values = [
        v if type(v) is int else float(v)  # a count or a step stays whole: 1,024
        for x in chosen
        for r in x.records
        if isinstance(v := VALUES[where](r).get(name), (int, float)) and math.isfinite(v)
    ]
    if not values:
        raise ValueError(f"quote '{q.spec}': no record has a finite {where} value {name}")
    return STATS[stat](values)


def _commits(s: Sequence[Summary]) -> str:
    found = {record_commit(r.get("env") or {})[:7] for x in s for r in x.records}
    return ", ".join(sorted(found))


def _wall(s: Sequence[Summary]) -> int:
    """Seconds from the start of the first run (when it finished, less its own time) to the
    end of the last: the wall time of runs made in one go (a folder made in parts counts the
    time between its parts too)."""
    spans = [
        (end - float((r.get("time") or {}).get("total") or 0.0), end)
        for x in s
        for r in x.records
        if (end := finished_at(r)) is not None
    ]
    if not spans:
        raise ValueError("no record says when it finished")
    return round(max(e for _, e in spans) - min(b for b, _ in spans))


#: Fields that are not one summary value: "9 of 20", ranges over the judged seeds, the commit,
#: the wall time the runs spanned.
SPECIAL: dict[str, Callable[[Sequence[Summary]], Any]] = {
    "commit": _commits,
    "wall": _wall,
    "successes": _successes,
    "records": lambda s: sum(len(x.records) for x in s),
    "runs": lambda s: sum(x["runs"] or 0 for x in s),
    "untuned": lambda s: sum(x["untuned"] or 0 for x in s),
    "headline_range": _range("judged_headline"),
}

#: The method word of a quote that reads a JSON file of the folder instead of its records.
JSON = "json"


@dataclass(frozen=True)
class Quote:
    """One quote of a findings file: where its number comes from, and the text it shows."""

    folder: str
    method: str
    task: str
    field: str
    fmt: str | None
    text: str
    spec: str

    @classmethod
    def parse(cls, spec: str, text: str) -> Quote:
        words = spec.split()
        if len(words) != 4:
            raise ValueError(
                f"quote '{spec}': expected FOLDER METHOD TASK FIELD[:FORMAT], got {len(words)} "
                "words"
            )
        folder, method, task, field = words
        field, _, fmt = field.partition(":")
        return cls(folder, method, task, field, fmt or None, text, spec)


def _in_code(text: str, at: int) -> bool:
    """Whether position ``at`` lies inside a code span (after an odd number of backticks in its
    paragraph, which a span may cross lines of but not leave): a quote written there is an
    example of the syntax, not a quote."""
    return text.count("`", text.rfind("\n\n", 0, at) + 1, at) % 2 == 1


def quotes(text: str) -> list[Quote]:
    """Every quote in ``text``, in order (``ValueError`` for a malformed one, or an opening
    whose ``<!--/q-->`` is missing: its number would swallow the prose up to the next). One
    inside a code span (`` `<!--q ...-->9 of 20<!--/q-->` ``) is an example, not a quote."""
    found = [
        Quote.parse(m["spec"], m["text"])
        for m in QUOTE.finditer(text)
        if not _in_code(text, m.start())
    ]
    opened = sum(not _in_code(text, m.start()) for m in OPENING.finditer(text))
    if opened != len(found):
        raise ValueError(f"{opened - len(found)} quote(s) opened with <!--q but not closed")
    return found


def number(value: Any, fmt: str | None = None) -> str:
    """``value`` as the tables write it: integers with thousands separators, fractions to two
    significant digits (``3.8``, ``0.45``, ``1,500``; below 0.001 with a short exponent,
    ``1.6e-5``), or in ``fmt`` when given."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, tuple):
        return " to ".join(number(v, fmt) for v in value)
    if isinstance(value, str):
        return format(value, fmt) if fmt else value  # a commit as `.7s`
    if fmt:
        out = format(value, fmt)
    elif isinstance(value, (int, bool)):
        out = f"{int(value):,}"
    elif abs(rounded := float(f"{float(value):.2g}")) >= 100:
        out = f"{int(rounded):,}"  # two significant digits: 1,500 (and 99.96: 100)
    elif rounded == 0 or abs(rounded) >= 1e-3:
        out = f"{rounded:.2g}"
    else:
        out = f"{rounded:.1e}"
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{m[1].replace('+', '')}{m[2]}", out)


class Sources:
    """The summaries of the folders quotes name, read once each, relative to ``base``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._cache: dict[str, list[Summary]] = {}
        self._comp: dict[str, Competition | None] = {}
        self._json: dict[Path, Any] = {}

    def summaries(self, folder: str) -> list[Summary]:
        if folder not in self._cache:
            path = self.base / folder
            if not path.is_dir():
                raise ValueError(f"quote names folder {folder}, which {self.base} lacks")
            self._cache[folder] = summarise(read([path]).records)
        return self._cache[folder]

    def value(self, q: Quote) -> str:
        """What the records (or the JSON file a ``json`` quote names) give for ``q``, as
        text."""
        try:
            return self._value(q)
        except (TypeError, ValueError) as exc:
            if str(exc).startswith(f"quote '{q.spec}'"):
                raise
            # A format the value cannot take (",d" on a fraction), said with its quote.
            raise ValueError(f"quote '{q.spec}': {exc}") from exc

    def _value(self, q: Quote) -> str:
        if q.method == JSON:
            return number(self._json_value(q), q.fmt)
        chosen = self._chosen(q)
        if q.field in SPECIAL:
            return number(SPECIAL[q.field](chosen), q.fmt)
        if q.field.split(".", 1)[0] in VALUES:
            return number(_over_records(q, chosen), q.fmt)
        if q.field.startswith("series."):
            return number(self._competition_value(q), q.fmt)
        if len(chosen) != 1:
            raise ValueError(f"quote '{q.spec}': {len(chosen)} (method, task) pairs match")
        if q.field not in chosen[0].values:
            raise ValueError(f"quote '{q.spec}': no field {q.field} in the summary")
        return number(chosen[0][q.field], q.fmt)

    def _json_value(self, q: Quote) -> Any:
        """The number at ``q.field`` (keys and list positions, dot-separated) of the JSON file
        ``q.task`` in ``q.folder``."""
        path = self.base / q.folder / q.task
        if ".." in Path(q.task).parts or Path(q.task).is_absolute():
            raise ValueError(f"quote '{q.spec}': {q.task} is not a file of {q.folder}")
        if path not in self._json:
            if not path.is_file():
                raise ValueError(f"quote '{q.spec}': no file {path}")
            try:
                self._json[path] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"quote '{q.spec}': {path} is not readable JSON ({exc})") from exc
        node = self._json[path]
        for key in q.field.split("."):
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                raise ValueError(f"quote '{q.spec}': {path} has no {q.field}")
        if isinstance(node, bool) or not isinstance(node, (int, float, str, type(None))):
            raise ValueError(f"quote '{q.spec}': {q.field} in {path} is not a number or text")
        return node

    def _competition_value(self, q: Quote) -> Any:
        """A method's standing in the folder's real-series competition
        (``bench.report.competition``): ``series.family`` (its family score),
        ``series.rank`` (its place by that score), ``series.mean_rank``, ``series.beats``
        ("10 of 13": the series it beats the benchmark on, of those it has a value on) and
        ``series.declined`` ("4 of 13": the series it has no value on)."""
        if q.folder not in self._comp:
            records = [r for s in self.summaries(q.folder) for r in s.records]
            self._comp[q.folder] = compete(records)
        comp, m = self._comp[q.folder], q.method
        if comp is None or m not in comp.family:
            raise ValueError(f"quote '{q.spec}': {m} has no real-series standing there")
        field = q.field.removeprefix("series.")
        n = len(comp.tasks)
        values = {
            "family": comp.family[m],
            "rank": sorted(comp.family, key=lambda k: comp.family[k]).index(m) + 1,
            "mean_rank": comp.mean_rank.get(m),
            "beats": f"{comp.beats[m]} of {comp.ranked[m]}",
            "declined": f"{n - comp.ranked[m]} of {n}",
        }
        if field not in values:
            raise ValueError(f"quote '{q.spec}': expected series.{'|'.join(values)}")
        return values[field]

    def _chosen(self, q: Quote) -> list[Summary]:
        chosen = [
            s
            for s in self.summaries(q.folder)
            if _matches(q.method, s.method) and _matches(q.task, s.task)
        ]
        if not chosen:
            raise ValueError(f"quote '{q.spec}': no records of that method and task")
        return chosen


def fill(
    text: str,
    base: Path,
    folders: Sequence[str] | None = None,
    unresolved: list[str] | None = None,
) -> str:
    """``text`` with every quote's number written from the records (only those naming one of
    ``folders``, when given). A quote the records cannot give (its method, task or field is not
    in them) raises ``ValueError``; with ``unresolved``, it keeps its text instead and the
    reason is appended there, so that the other quotes are still written."""
    sources = Sources(base)
    quotes(text)  # refuses an unclosed quote before anything is rewritten

    def one(m: re.Match[str]) -> str:
        if _in_code(text, m.start()):
            return m[0]
        q = Quote.parse(m["spec"], m["text"])
        if folders is not None and q.folder not in folders:
            return m[0]
        try:
            value = sources.value(q)
        except ValueError as exc:
            if unresolved is None:
                raise
            unresolved.append(str(exc))
            return m[0]
        return f"<!--q {m['spec']}-->{value}<!--/q-->"

    return QUOTE.sub(one, text)


def check(text: str, base: Path) -> list[str]:
    """One line per quote whose text is not what the records give (empty: all agree)."""
    sources = Sources(base)
    problems = []
    for q in quotes(text):
        try:
            want = sources.value(q)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if q.text != want:
            problems.append(f"quote '{q.spec}' says {q.text!r}; the records give {want!r}")
    return problems
