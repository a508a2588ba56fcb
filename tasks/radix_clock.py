"""The radix clock: a clock whose radices and epoch are drawn per seed.

The Clock Problem's periods (60, 3,600 and 86,400 s) are fixed by definition, so a method could
carry them as constants and pass without learning a period. Here every seed draws its own clock:
``a`` units per minute and ``b`` minutes per hour (each 20 to 100), ``c`` hours per day (10 to
50), so a day lasts from 4,000 to 500,000 units, and no constant sized to the suite fits more
than a few seeds. An epoch offset ``o``, drawn in ``[0, a*b*c)``, puts the field boundaries at an
arbitrary phase relative to t = 0, so that they do not line up with round numbers either.

Inputs are a 1-D array of integer instants t in the variant's dtype (int64, or float64, which
holds every integer of this span exactly), over a span as long as the 120-year clock and centred
on the epoch, so negative times occur. Targets are int64 labels of shape (n, 3): hour (``c``
classes), minute (``b``) and unit (``a``) of ``s = (t + o) mod (a*b*c)``, with floor-mod
semantics. The declared output is the largest any seed can have (50, 100 and 100 classes),
the same for every seed, so the class counts tell nothing. Training covers the first 110/120
of the span, which holds thousands of days, so the extrapolation set (the final 10/120) is
always judged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, OutputSpec, Task, register_task
from bench.lib.metrics import exact_match, labels

# Copied from clock.py rather than imported: plugins are loaded as modules of a private package,
# and a run's code fingerprint covers only this file (and ``_*.py`` helpers beside it), so a
# sibling import would let an edit of clock.py change this task without changing its run keys.
TRAIN_SHARE = (110, 120)  # train on the first 110/120 of the span, extrapolate on the rest
MATCH_TARGET = 0.999

LENGTH = int(round(120 * 365.25 * 86_400))  # the 120-year clock's span, in units
ENCODINGS = ("int64", "float64")
UNITS_PER_MINUTE = (20, 100)  # inclusive ranges of the radices drawn per seed
MINUTES_PER_HOUR = (20, 100)
HOURS_PER_DAY = (10, 50)
NAMES = ("hour", "minute", "unit")


def radix_labels(t: np.ndarray, radices: tuple[int, int, int], offset: int) -> np.ndarray:
    """(hour, minute, unit) of integer instants ``t`` on a clock of ``radices`` = (units per
    minute, minutes per hour, hours per day) whose day starts at ``t = -offset``; floor-mod
    semantics, so instants before the epoch read like any other."""
    a, b, c = radices
    s = np.mod(np.asarray(t, dtype=np.int64) + offset, a * b * c)  # numpy's mod floors
    return np.stack([s // (a * b), (s // a) % b, s % a], axis=-1)


@register_task("radix-clock", on_demand=[{"encoding": e} for e in ("int64", "float64")], base=False)
class RadixClock(Task):
    """A clock with radices and epoch offset drawn per seed: (hour, minute, unit) from t."""

    family = "radix-clock"
    description = (
        "Radix clock: (hour, minute, unit) of a clock whose radices and epoch offset are drawn "
        "per seed; success: exact match >= 99.9% inside and beyond the training range"
    )
    success_criterion = "exact match >= 0.999 on held-out instants and on the final 10/120"
    # The largest output any seed can have, and the one every seed declares: class counts drawn
    # per seed would hand a method the radices (and so the periods) before it sees any data, and
    # would give the seeds of one run different heads. A seed uses labels 0..c-1, 0..b-1, 0..a-1.
    output = OutputSpec(
        kind="classification",
        n_outputs=3,
        classes=(HOURS_PER_DAY[1], MINUTES_PER_HOUR[1], UNITS_PER_MINUTE[1]),
        names=NAMES,
    )
    headline = "exact_match"
    loss_target = None
    budgets = {
        "quick": Budget(steps=2000, batch_size=128, samples=2**17, seconds=300),
        "full": Budget(steps=100_000, batch_size=256, seconds=7200),
    }
    n_eval = {"quick": 4096, "full": 100_000}

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        enc = params.get("encoding")
        if enc not in ENCODINGS:
            return cls.description
        return (
            f"Radix clock: (hour, minute, unit) from {enc} instants over a 120-year-long span, "
            f"radices ({UNITS_PER_MINUTE[0]}-{UNITS_PER_MINUTE[1]} units per minute, "
            f"{MINUTES_PER_HOUR[0]}-{MINUTES_PER_HOUR[1]} minutes per hour, "
            f"{HOURS_PER_DAY[0]}-{HOURS_PER_DAY[1]} hours per day) and epoch offset drawn per "
            "seed; success: exact match >= 99.9% inside and beyond the training range"
        )

    def __init__(self, seed: int = 0, profile: str = "quick", encoding: str = "int64") -> None:
        super().__init__(seed=seed, profile=profile, encoding=encoding)
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}; choose from {', '.join(ENCODINGS)}")
        self.input_dtype = encoding
        rng = np.random.default_rng([seed, 11])
        a = int(rng.integers(*UNITS_PER_MINUTE, endpoint=True))
        b = int(rng.integers(*MINUTES_PER_HOUR, endpoint=True))
        c = int(rng.integers(*HOURS_PER_DAY, endpoint=True))
        self._radices = (a, b, c)
        self._day = a * b * c
        self._offset = int(rng.integers(0, self._day))
        # The span is centred on the epoch: t in [lo, hi], both ends included.
        self._lo = -(LENGTH // 2)
        self._hi = self._lo + LENGTH
        self._train_hi = self._lo + LENGTH * TRAIN_SHARE[0] // TRAIN_SHARE[1]
        self._held_out: np.ndarray | None = None

    # -- data ------------------------------------------------------------------------------
    def _encode(self, t: np.ndarray) -> np.ndarray:
        return t.astype(self.input_dtype)

    def _labels(self, t: np.ndarray) -> np.ndarray:
        return radix_labels(t, self._radices, self._offset)

    def _test_instants(self) -> np.ndarray:
        """Sorted held-out instants inside the training range; the sampler never draws them."""
        if self._held_out is None:
            rng = np.random.default_rng([self.seed, 7])
            size = self._train_hi - self._lo + 1
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
        while np.any(bad):  # redraw the rare held-out hits
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
    def truth(self) -> dict[str, Any]:
        a, b, c = self._radices
        return {
            "radices": [a, b, c],
            "periods": [a, a * b, self._day],
            "offset": self._offset,
            "span": [self._lo, self._hi],
        }

    def score(self, predictor: Any) -> dict[str, float]:
        sets = self.eval_sets()
        x, y = sets["test"]
        p = labels(predictor.predict(x), y)
        xe, ye = sets["extrapolation"]
        pe = labels(predictor.predict(xe), ye)
        out = {"exact_match": exact_match(p, y), "extrap_exact_match": exact_match(pe, ye)}
        for i, name in enumerate(NAMES):
            out[f"acc_{name}"] = float(np.mean(p[:, i] == y[:, i]))
        return out

    def success(self, metrics: dict[str, float]) -> bool:
        inside = metrics.get("exact_match", 0.0) >= MATCH_TARGET
        beyond = metrics.get("extrap_exact_match", 0.0) >= MATCH_TARGET
        return bool(inside and beyond)

    def record_extras(self) -> dict[str, Any]:
        return {
            "radices": list(self._radices),
            "day_length": self._day,
            "representable": True,  # int64, and float64 below 2**53: every instant is exact
            "extrap_judged": True,
        }
