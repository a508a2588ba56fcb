"""The clock of a run: what each phase took, and whether it stayed within its time budget.

The budget binds ``warm_up``, ``fit`` and ``predict`` alike, whether or not a method logs: a
logging method is stopped at its deadline by the logger (``RunTimeout``), and every seed is
checked again once it is scored (:meth:`Clock.overrun`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.core.contracts import Logger, as_numpy


class TimedPredictor:
    """Wraps a fitted model: times ``predict`` (device-synchronised), flags non-finite output,
    and forwards attributes such as ``freqs_`` to the scorer."""

    def __init__(self, model: Any, sync: Callable[[], None]) -> None:
        self._model = model
        self._sync = sync
        self.seconds = 0.0
        self.nonfinite = False

    def predict(self, x: np.ndarray) -> np.ndarray:
        self._sync()
        t0 = time.perf_counter()
        y = as_numpy(self._model.predict(x))
        self._sync()
        self.seconds += time.perf_counter() - t0
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            self.nonfinite = True
        return y

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


@dataclass(frozen=True)
class Clock:
    """What a unit's fit took, and the time budget each of its seeds is judged against."""

    log: Logger
    fit_seconds: float
    n: int
    budget_s: float

    def times(self, predict_seconds: float) -> dict[str, float]:
        """The per-seed phase times of a seed whose ``predict`` took ``predict_seconds``."""
        return phase_times(self.log, self.fit_seconds, predict_seconds, self.n)

    def overrun(self, times: dict[str, float]) -> str | None:
        """Why a seed that took ``times`` is over its time budget (``None`` if it is not):
        warm-up, fit and predict all count, whether or not the method logs."""
        total = times["total"]
        if not total > self.budget_s:
            return None
        warm, pred = times.get("warmup", 0.0), times["predict"]
        fit = total - warm - pred
        phase = "fit"  # the phase in which the budget ran out
        if total - pred <= self.budget_s:
            phase = "predict"
        elif warm > self.budget_s:
            phase = "warm_up"
        return (
            f"time budget exceeded in {phase}: {total:.1f} s used of the {self.budget_s:g} s "
            f"budget (warm_up {warm:.1f} s, fit {fit:.1f} s, predict {pred:.1f} s per seed)"
        )


def phase_times(
    log: Logger, fit_seconds: float, predict_seconds: float, n: int
) -> dict[str, float]:
    """Per-seed phase seconds. Time inside ``fit`` outside named phases counts as ``train``;
    a vectorised fit's time is shared equally among its seeds (``batch_seeds`` says how many)."""
    named = {k: v for k, v in log.phases.items() if k != "train"}
    train = log.phases.get("train", max(fit_seconds - sum(named.values()), 0.0))
    times = {**named, "train": train, "predict": predict_seconds}
    times = {k: v / n if k != "predict" else v for k, v in times.items()}
    times["total"] = sum(v for k, v in times.items())
    times["batch_seeds"] = n
    return times
