"""The logger a method reports to while it fits: convergence trace, phase times, the time
budget and the stop rule."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from bench.core.defaults import TRACE_POINTS
from bench.core.stop import STOP_POLICY, StopPolicy


class RunTimeout(RuntimeError):
    """A run went past its wall-clock budget (raised from the logger)."""


class Logger:
    """Collects the convergence trace and times phases; passed to ``Method.fit`` as ``log``.

    ``log(step, loss)`` records a point (``loss`` a float, or one value per seed when a method
    fits several seeds at once). ``with log.phase("estimate"):`` attributes the enclosed time
    to that phase; time not inside a named phase is counted as ``train``. ``log.check()`` lets
    a method without a loss still honour the time budget.

    The logger also applies the suite's declared stop rule (``policy``, a
    :class:`bench.core.stop.StopPolicy`) to what is logged: the losses are averaged over
    windows of ``policy.window`` steps, however often a method logs, and ``log.settled()``
    tells a method that every seed has reached a plateau (or the loss floor), so that it can
    stop. ``converged_step`` keeps, per seed, the step at which the rule first fired (``-1``:
    not yet). A method that drops its learning rate on a plateau asks :meth:`on_plateau`
    which seeds drop and which stop, so that the policy's schedule is applied where its
    rule is.

    A method that fits several seeds at once and ends some of them early (each seed stopping
    at its own plateau, as it would alone) calls ``log.stop_seeds(mask, step)``: from then on
    those seeds' losses are frozen, their trace ends at ``step``, and ``steps(i)`` reports the
    steps that seed actually trained.
    """

    def __init__(
        self,
        n_seeds: int = 1,
        max_points: int = TRACE_POINTS,
        deadline: float | None = None,
        sync: Callable[[], None] | None = None,
        floor: float | Sequence[float] = 0.0,
        policy: StopPolicy = STOP_POLICY,
    ) -> None:
        self.n_seeds = n_seeds
        self.max_points = max_points
        self.deadline = deadline
        self.sync = sync or (lambda: None)
        self.start = time.perf_counter()
        self.phases: dict[str, float] = {}
        self._points: list[tuple[int, float, np.ndarray]] = []
        self._stride = 1
        self._calls = 0
        self._excluded = 0.0  # one-off warm-up/compile time, kept out of the trace's clock
        self.nonfinite = np.zeros(n_seeds, dtype=bool)
        self.final_loss = np.full(n_seeds, np.nan)
        self.last_step = 0
        #: Each seed's loss floor: what the harness computed from the task's loss target.
        self.floor = np.broadcast_to(np.asarray(floor, float), (n_seeds,))
        self.policy = policy
        self.plateau = policy.plateau(n_seeds, self.floor)
        #: Learning-rate drops each seed has left under the policy's reduce-on-plateau.
        self.drops_left = np.full(n_seeds, policy.lr_drops)
        self.converged_step = np.full(n_seeds, -1, dtype=np.int64)
        self._win_sum = np.zeros(n_seeds)
        self._win_calls = 0
        self._win_start = 0
        self.stop_step = np.full(n_seeds, -1, dtype=np.int64)
        #: Per seed, the step of the state with the lowest validation loss so far and that
        #: loss (``-1`` and ``inf``: no validation yet; see :meth:`note_validation`).
        self.best_step = np.full(n_seeds, -1, dtype=np.int64)
        self.best_val = np.full(n_seeds, np.inf)
        #: How each seed was validated (``bench.kit.validation.Plan.describe``), set by the
        #: training loop of a run judged at its best state; empty otherwise.
        self.validation: list[dict[str, object]] = []

    def note_validation(self, step: int, losses: Sequence[float] | np.ndarray) -> np.ndarray:
        """Take each seed's validation loss at ``step`` (``nan``: not scored now); returns the
        seeds whose loss is the lowest so far, whose state the caller keeps as their best."""
        v = np.asarray(losses, dtype=float).reshape(-1)
        better = np.isfinite(v) & (v < self.best_val)
        self.best_val = np.where(better, v, self.best_val)
        self.best_step = np.where(better, int(step), self.best_step)
        return better

    def __call__(self, step: int, loss: float | Sequence[float] | np.ndarray) -> None:
        values = np.broadcast_to(np.asarray(loss, dtype=float).reshape(-1), (self.n_seeds,))
        stopped = self.stop_step >= 0
        if stopped.any():  # a seed that ended keeps its last loss
            values = np.where(stopped, self.final_loss, values)
        bad = ~np.isfinite(values)
        self.nonfinite |= bad
        self.final_loss = np.where(bad, self.final_loss, values)
        self.last_step = max(self.last_step, int(step))
        self._window(int(step), values)
        now = time.perf_counter() - self.start - self._excluded
        # Keep the trace bounded: once full, drop every other point and keep every other call.
        if self._calls % self._stride == 0:
            self._points.append((int(step), now, values.copy()))
            if len(self._points) >= self.max_points:
                self._points = self._points[::2]
                self._stride *= 2
        self._calls += 1
        self.check()

    def _window(self, step: int, values: np.ndarray) -> None:
        self._win_sum = self._win_sum + values
        self._win_calls += 1
        if step - self._win_start < self.window:
            return
        settled = self.plateau.update(self._win_sum / self._win_calls)
        self.converged_step = np.where(
            settled & (self.converged_step < 0), step, self.converged_step
        )
        self._win_sum, self._win_calls, self._win_start = np.zeros(self.n_seeds), 0, step

    @property
    def window(self) -> int:
        """Steps per window of the stop rule."""
        return self.policy.window

    def adopt(self, policy: StopPolicy | None) -> StopPolicy:
        """Judge by ``policy`` (a method's own, see ``NetMethod.stop_policy``) from now on;
        returns the policy in force (this logger's when ``policy`` is ``None``).

        Only before the first logged step: a rule changed half-way would judge the windows
        before and after the change by different constants. The floors stay as the harness
        gave them; it computes them from the tasks' loss targets (``StopPolicy.floor_for``).
        """
        if policy is None or policy == self.policy:
            return self.policy
        if self._calls:
            raise RuntimeError("the stop policy can change only before the first logged step")
        self.policy = policy
        self.plateau = policy.plateau(self.n_seeds, self.floor)
        self.drops_left = np.full(self.n_seeds, policy.lr_drops)
        return policy

    def on_plateau(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Apply the policy's reduce-on-plateau to the seeds that have settled and not yet
        stopped; returns ``(drop, end)``: the seeds whose learning rate drops now (their rule
        starts afresh) and the seeds that stop now (their log freezes at ``step``)."""
        settled = self.plateau.settled & (self.stop_step < 0)
        drop, end = self.policy.on_plateau(settled, self.plateau.at_floor, self.drops_left)
        self.drops_left = self.drops_left - drop
        self.restart_plateau(drop)
        self.stop_seeds(end, step)
        return drop, end

    def settled(self) -> bool:
        """Whether every seed has met the stop rule: a method may stop training now (never
        under a policy that does not stop, ``StopPolicy.stops``)."""
        return self.plateau.done and self.policy.stops

    def settled_seeds(self) -> np.ndarray:
        """Which seeds have met the stop rule (a boolean per seed)."""
        return self.plateau.settled.copy()

    def stop_seeds(self, mask: np.ndarray, step: int) -> None:
        """Record that the seeds in ``mask`` stopped training at ``step`` (see the class doc)."""
        mask = np.asarray(mask, dtype=bool) & (self.stop_step < 0)
        self.stop_step = np.where(mask, int(step), self.stop_step)

    def steps(self, i: int = 0) -> int:
        """Optimiser steps seed ``i`` trained for: its stop step, or the last step logged."""
        at = int(self.stop_step[i])
        return at if at >= 0 else self.last_step

    def at_floor(self) -> bool:
        """Whether every seed's loss has reached the floor (converged outright)."""
        return bool(self.plateau.at_floor.all())

    def restart_plateau(self, mask: np.ndarray | None = None) -> None:
        """Start the stop rule afresh (after a method changed its learning rate on a plateau)
        for the seeds in ``mask`` (all by default): ``converged_step`` then records the plateau
        that ends the run."""
        mask = np.ones(self.n_seeds, bool) if mask is None else np.asarray(mask, dtype=bool)
        self.plateau.reset(mask)
        self.converged_step = np.where(mask, -1, self.converged_step)

    def check(self) -> None:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise RunTimeout("time budget exceeded")

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.sync()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.sync()
            spent = time.perf_counter() - t0
            self.phases[name] = self.phases.get(name, 0.0) + spent
            if name in ("warmup", "compile"):
                self._excluded += spent

    def trace(self, i: int = 0) -> list[list[float]]:
        """Bounded ``[step, seconds, loss]`` list for seed ``i``."""
        out = []
        end = int(self.stop_step[i])
        for step, sec, vals in self._points:
            if 0 <= end < step:
                break
            v = float(vals[i])
            out.append([step, round(sec, 6), v if np.isfinite(v) else None])
        return out
