"""Progress of a sweep: a bar in a terminal, one line per finished unit everywhere else, and
at the end the share of the workers' time spent running units.

The ETA is the sum of what each remaining unit is expected to take, scaled by how fast the
sweep actually goes. A unit is expected to take what its (method, task) pair took per run so
far, else what earlier records say it takes (``bench.engine.cost``, the ``prior``: so the ETA
is there from the first unit), else what its method took per run, else the mean run: method
costs differ by a factor of a thousand, so a plain "elapsed / done" ETA swings with whichever
runs happen to finish first.
"""

from __future__ import annotations

import math
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from bench.engine.cost import CostModel, busy_share, format_seconds, percent
from bench.engine.plan import Unit

__all__ = ["EtaModel", "Progress", "format_seconds"]


class EtaModel:
    """Expected seconds per run, learnt from the units that finished."""

    def __init__(self) -> None:
        self.pair: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
        self.method: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        self.total = [0.0, 0]

    def observe(self, spec: Unit, seconds: float) -> None:
        if not math.isfinite(seconds):
            return
        n = len(spec.seeds)
        for acc in (self.pair[(spec.method, spec.task)], self.method[spec.method], self.total):
            acc[0] += seconds
            acc[1] += n

    def per_run(self, spec: Unit) -> float:
        return self.per_pair_run(spec.method, spec.task)

    def per_pair_run(
        self, method: str, task: str, prior: CostModel | None = None, spec: Unit | None = None
    ) -> float:
        acc = self.pair.get((method, task))
        if acc and acc[1]:
            return acc[0] / acc[1]
        if prior is not None and spec is not None:
            e = prior.unit(spec)
            if e.basis != "unknown":
                return e.seconds / len(spec.seeds)
        for acc in (self.method.get(method), self.total):
            if acc and acc[1]:
                return acc[0] / acc[1]
        return math.nan

    @property
    def observed_seconds(self) -> float:
        return self.total[0]


class Progress:
    """Reports each finished unit; ``remaining`` holds the units not finished yet."""

    def __init__(
        self,
        specs: Sequence[Unit],
        stream: Any = None,
        quiet: bool = False,
        prior: CostModel | None = None,
        workers: int | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.prior = prior
        #: Workers running units at once (``None``: not known, e.g. another's cluster).
        self.workers = workers
        #: Seconds the finished units ran, each measured where it ran.
        self.unit_seconds = 0.0
        self.remaining = {id(s): s for s in specs}
        self.total = sum(len(s.seeds) for s in specs)
        # Seeds left per (method, task): the ETA sums over pairs, not over thousands of units.
        self.left: dict[tuple[str, str], int] = defaultdict(int)
        self.example: dict[tuple[str, str], Unit] = {}
        for s in specs:
            self.left[(s.method, s.task)] += len(s.seeds)
            self.example.setdefault((s.method, s.task), s)
        self.done = 0
        self.t0 = time.perf_counter()
        self.eta_model = EtaModel()
        self.quiet = quiet
        self.bar = None
        if not quiet and self.total and _isatty(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                file=self.stream,
                unit="run",
                dynamic_ncols=True,
                bar_format="{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} runs "
                "[{elapsed} elapsed, eta {postfix}]",
            )
            self.bar.set_postfix_str("?", refresh=True)

    def eta(self) -> float:
        """Seconds left: expected seconds of the remaining runs, times the sweep's observed
        wall seconds per run-second (below 1 with several workers); before any unit has
        finished, the expected seconds over the workers (from the prior alone)."""

        def per_run(pair: tuple[str, str]) -> float:
            return self.eta_model.per_pair_run(*pair, self.prior, self.example.get(pair))

        left = sum(per_run(pair) * n for pair, n in self.left.items() if n)
        if not self.eta_model.observed_seconds:
            return left / self.workers if self.prior is not None and self.workers else math.nan
        elapsed = time.perf_counter() - self.t0
        return left * elapsed / self.eta_model.observed_seconds

    @property
    def busy(self) -> float:
        """The share of the workers' time since the start spent running units."""
        if not self.workers:
            return math.nan
        return busy_share(self.unit_seconds, time.perf_counter() - self.t0, self.workers)

    def finish(self, spec: Unit, recs: list[dict[str, Any]], seconds: float) -> None:
        if self.remaining.pop(id(spec), None) is not None:
            self.left[(spec.method, spec.task)] -= len(spec.seeds)
        self.eta_model.observe(spec, seconds)
        if math.isfinite(seconds):
            self.unit_seconds += seconds
        self.done += len(recs)
        if self.quiet:
            return
        eta = format_seconds(self.eta())
        if self.bar is not None:
            self.bar.set_postfix_str(eta, refresh=False)
            self.bar.update(len(recs))
            if any(r["status"] not in ("ok", "skipped") for r in recs):
                self.bar.write(self._line(spec, recs, seconds, eta), file=self.stream)
            return
        self.stream.write(self._line(spec, recs, seconds, eta) + "\n")
        self.stream.flush()

    def _line(self, spec: Unit, recs: list[dict[str, Any]], seconds: float, eta: str) -> str:
        statuses: dict[str, int] = {}
        for r in recs:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        st = ", ".join(f"{v} {k}" for k, v in statuses.items())
        wins = sum(1 for r in recs if r.get("success"))
        ok = f", {wins}/{len(recs)} success" if any(r["success"] is not None for r in recs) else ""
        reason = next((r["reason"] for r in recs if r["status"] != "ok"), "")
        reason = f" ({reason[:70]})" if reason else ""
        took = f" in {seconds:.1f}s" if math.isfinite(seconds) else ""
        elapsed = format_seconds(time.perf_counter() - self.t0)
        return (
            f"[{self.done}/{self.total}] {spec.label}: {st}{ok}{reason}{took}"
            f" | elapsed {elapsed}, eta {eta}"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if not self.quiet and self.done and self.workers:
            wall = time.perf_counter() - self.t0
            self.stream.write(
                f"busy: {percent(self.busy)} of {self.workers} worker(s) over "
                f"{format_seconds(wall)} ({self.unit_seconds:.0f} s of runs)\n"
            )
            self.stream.flush()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
