"""Each task's success bar as a number, and near misses: the continuous side of a verdict.

Records carry no numeric bar, only the task's ``success_criterion`` sentence and the name of
its ``headline`` metric. :func:`success_bar` reads the bar off that sentence where it opens
with a plain comparison of the headline itself (``test MSE < 1e-4``, ``extrapolation nMSE <
1e-2``, ``rel_mae < 1: ...``, ``exact match >= 0.999 on ...``): each word of the headline's name
must begin a word of the compared quantity, one for one, so a criterion on another quantity is
never mistaken for one on the headline. A task whose criterion compares something else (the
noisy tone's ``|w_hat - w| <= 3 sqrt(CRLB)``, a bound that differs per seed, not a bar on its
``efficiency``) or states none has no numeric bar: it gets no near misses and no ECDF targets,
and its cells show the success count and the metric only.

Near miss (:meth:`Bar.near`): a seed judged a failure whose headline lies within a factor
:data:`NEAR_FACTOR` of the bar on the failing side (``v <= 10 x bar`` where lower is better).
A higher-is-better bar inside (0, 1) is a share of a perfect 1 (exact match), so the factor
applies to what is missing from 1: exact match >= 0.999 has near misses from 0.99 up. Any other
higher-is-better bar ``b`` has near misses from ``b / 10`` up. A failed seed whose headline met
the bar (it failed another clause of the criterion) is within the factor too, so it counts.
A bar at or below zero has no factor band, hence no near misses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.report.records import headline_of, num

#: A failed seed within this factor of the bar is a near miss.
NEAR_FACTOR = 10.0

_OPS = {"<": "<", "<=": "<=", "≤": "<=", ">": ">", ">=": ">=", "≥": ">="}
_CRITERION = re.compile(
    r"^\s*(?P<lhs>[A-Za-z][\w \-]*?)\s*(?P<op><=|>=|<|>|≤|≥)\s*"
    r"(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?P<pct>%?)(?![\w.])"
)


@dataclass(frozen=True)
class Bar:
    """A task's success bar on its headline metric: ``metric op value``."""

    metric: str
    value: float
    op: str  # "<", "<=", ">" or ">="

    @property
    def lower_is_better(self) -> bool:
        return self.op.startswith("<")

    @property
    def share(self) -> bool:
        """A higher-is-better bar inside (0, 1): a share of a perfect 1 (exact match)."""
        return not self.lower_is_better and 0 < self.value < 1

    def met(self, v: float, target: float | None = None) -> bool:
        """Whether ``v`` passes the bar (or ``target`` in its place), compared as stated."""
        t = self.value if target is None else target
        return {"<": v < t, "<=": v <= t, ">": v > t, ">=": v >= t}[self.op]

    def near(self, v: float, factor: float = NEAR_FACTOR) -> bool:
        """Whether ``v`` lies within ``factor`` of the bar, on its failing side or past it."""
        if self.value <= 0:
            return False
        if self.lower_is_better:
            return v <= factor * self.value
        if self.share:
            return 1 - v <= factor * (1 - self.value)
        return v >= self.value / factor

    def digits(self) -> int:
        """Significant digits a cell needs to tell values near the bar apart: 2, or for a share
        as many as the allowed shortfall takes (3 for exact match >= 0.999)."""
        return max(2, math.ceil(round(-math.log10(1 - self.value), 9))) if self.share else 2

    def text(self) -> str:
        return f"{self.op} {_short(self.value)}"


def _short(v: float) -> str:
    """``1e-4``, ``0.999``, ``1``: the bar as a criterion would write it."""
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.4g}"
    mant, exp = f"{v:.3e}".split("e")
    return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def parse_bar(criterion: str, headline: str) -> Bar | None:
    """The bar a criterion sentence puts on ``headline``, or ``None`` (see the module's rule)."""
    m = _CRITERION.match(criterion or "")
    if m is None or not headline:
        return None
    lhs, name = _words(m["lhs"]), _words(headline)
    if len(lhs) != len(name) or not all(w.startswith(n) for w, n in zip(lhs, name, strict=True)):
        return None
    value = float(f"{float(m['num']) / (100 if m['pct'] else 1):.12g}")
    return Bar(headline, value, _OPS[m["op"]]) if math.isfinite(value) else None


def success_bar(recs: Sequence[dict[str, Any]]) -> Bar | None:
    """The numeric bar of the task these records ran (the first criterion that states one)."""
    name = headline_of(recs)
    for text in dict.fromkeys(str(r.get("success_criterion") or "") for r in recs):
        bar = parse_bar(text, name or "")
        if bar is not None:
            return bar
    return None


def headline_value(r: dict[str, Any], name: str | None) -> float | None:
    """A finished run's finite headline metric, else ``None``."""
    if not name or r["status"] != "ok":
        return None
    return num((r.get("metrics") or {}).get(name))


def near_misses(recs: Sequence[dict[str, Any]], bar: Bar | None) -> int:
    """Judged failures whose headline is within :data:`NEAR_FACTOR` of ``bar``."""
    if bar is None:
        return 0
    vals = (headline_value(r, bar.metric) for r in recs if r["success"] is False)
    return sum(1 for v in vals if v is not None and bar.near(v))
