"""What the clock tasks (``clock`` and ``radix-clock``) share: how instants are drawn, held out
and scored.

Both tasks read labelled fields off integer instants on a span centred on the epoch, train on
its first 110/120, hold out some instants inside that range (the ``test`` set, which the
sampler never draws) and extrapolate on the rest. Only the span, the encodings and the labels
differ. The held-out instants, the sampler that avoids them and the extrapolation instants are
the part where a slip would quietly leak test data into training, so there is one copy of them
here rather than one per task. A ``_`` file beside the plugins is part of each importing
plugin's code fingerprint, so an edit here changes both tasks' run keys, as it should.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from bench import Budget, Task
from bench.lib.metrics import exact_match, labels

TRAIN_SHARE = (110, 120)  # train on the first 110/120 of the span, extrapolate on the rest
MATCH_TARGET = 0.999


def check_choice(kind: str, value: str, choices: Collection[str]) -> None:
    """Refuse a variant parameter outside ``choices`` with a message that lists them, so a typo
    in a task id fails at construction rather than deep inside a run."""
    if value not in choices:
        raise ValueError(f"unknown {kind} {value!r}; choose from {', '.join(choices)}")


class ClockTask(Task):
    """A clock task: ``(n, 3)`` int64 labels of integer instants ``t`` in ``[_lo, _hi]``, given
    to methods in the dtype ``input_dtype``.

    Subclasses call :meth:`_set_span` in ``__init__`` and define :meth:`_labels`; the data,
    the held-out set and the scoring follow from those. The extrapolation set is judged unless
    :meth:`_judges_extrapolation` says otherwise.
    """

    headline = "exact_match"
    tune_per_task = True  # spans from a day to 120 years
    loss_target = None
    budgets = {
        "quick": Budget(steps=2000, batch_size=128, samples=2**17, seconds=300),
        "full": Budget(steps=100_000, batch_size=256, seconds=7200),
    }
    n_eval = {"quick": 4096, "full": 100_000}

    def _set_span(self, length: int) -> None:
        """Centre a span of ``length`` units on the epoch: t in [lo, hi], both ends included;
        training covers the first ``TRAIN_SHARE`` of it."""
        self._lo = -(length // 2)
        self._hi = self._lo + length
        self._train_hi = self._lo + length * TRAIN_SHARE[0] // TRAIN_SHARE[1]
        self._held_out: np.ndarray | None = None

    def _labels(self, t: np.ndarray) -> np.ndarray:
        """The ``(n, 3)`` int64 labels of integer instants ``t``."""
        raise NotImplementedError

    @property
    def validation_rule(self) -> str:  # type: ignore[override]
        """``forward`` (the latest instants held back) where the extrapolation beyond the
        training range is judged, else ``random``."""
        return "forward" if self._judges_extrapolation() else "random"

    def _judges_extrapolation(self) -> bool:
        """Whether the extrapolation set counts towards success (and the record says so)."""
        return True

    # -- data ------------------------------------------------------------------------------
    def _encode(self, t: np.ndarray) -> np.ndarray:
        return t.astype(self.input_dtype)

    def _test_instants(self) -> np.ndarray:
        """Sorted held-out instants inside the training range; the sampler never draws them."""
        if self._held_out is None:
            rng = np.random.default_rng([self.seed, 7])
            size = self._train_hi - self._lo + 1
            # Hold out at most a tenth of the training range, so that on a short span (the
            # clock's 1d) a method still sees most instants.
            n = min(self.n_eval[self.profile], size // 10)
            idx = rng.choice(size, size=n, replace=False)
            self._held_out = np.sort(self._lo + idx.astype(np.int64))
        return self._held_out

    def _is_held_out(self, t: np.ndarray) -> np.ndarray:
        held = self._test_instants()
        pos = np.minimum(np.searchsorted(held, t), held.size - 1)
        return held[pos] == t

    @property
    def domain(self) -> tuple[float, float]:
        return (float(self._lo), float(self._train_hi))

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        t = rng.integers(self._lo, self._train_hi, size=n, endpoint=True, dtype=np.int64)
        bad = self._is_held_out(t)
        while np.any(bad):  # redraw the rare held-out hits (all of them, for the clock's 1d)
            t[bad] = rng.integers(
                self._lo, self._train_hi, size=int(bad.sum()), endpoint=True, dtype=np.int64
            )
            bad = self._is_held_out(t)
        return self._encode(t), self._labels(t)

    def _extrap(self) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 8])
        return rng.integers(
            self._train_hi + 1, self._hi, size=self.n_eval[self.profile], endpoint=True
        ).astype(np.int64)

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        t_test, t_ext = self._test_instants(), self._extrap()
        return {
            "test": (self._encode(t_test), self._labels(t_test)),
            "extrapolation": (self._encode(t_ext), self._labels(t_ext)),
        }

    # -- judge -----------------------------------------------------------------------------
    def score(self, predictor: Any) -> dict[str, float]:
        sets = self.eval_sets()
        x, y = sets["test"]
        p = labels(predictor.predict(x), y)
        xe, ye = sets["extrapolation"]
        pe = labels(predictor.predict(xe), ye)
        out = {"exact_match": exact_match(p, y), "extrap_exact_match": exact_match(pe, ye)}
        for i, name in enumerate(self.output.names or ()):
            out[f"acc_{name}"] = float(np.mean(p[:, i] == y[:, i]))
        return out

    def success(self, metrics: dict[str, float]) -> bool:
        inside = metrics.get("exact_match", 0.0) >= MATCH_TARGET
        if not self._judges_extrapolation():
            return bool(inside)
        beyond = metrics.get("extrap_exact_match", 0.0) >= MATCH_TARGET
        return bool(inside and beyond)
