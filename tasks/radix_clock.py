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

from bench import OutputSpec, register_task

# The span, held-out set, sampler and scoring come from the helper beside this file, not from
# clock.py: a run's code fingerprint covers this file and the ``_*.py`` helpers it imports, so a
# sibling-plugin import would let an edit of clock.py change this task without changing its keys.
from ._clock import ClockTask, check_choice

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
class RadixClock(ClockTask):
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
        check_choice("encoding", encoding, ENCODINGS)
        self.input_dtype = encoding
        rng = np.random.default_rng([seed, 11])
        a = int(rng.integers(*UNITS_PER_MINUTE, endpoint=True))
        b = int(rng.integers(*MINUTES_PER_HOUR, endpoint=True))
        c = int(rng.integers(*HOURS_PER_DAY, endpoint=True))
        self._radices = (a, b, c)
        self._day = a * b * c
        self._offset = int(rng.integers(0, self._day))
        self._set_span(LENGTH)

    def _labels(self, t: np.ndarray) -> np.ndarray:
        return radix_labels(t, self._radices, self._offset)

    # -- judge -----------------------------------------------------------------------------
    def truth(self) -> dict[str, Any]:
        a, b, c = self._radices
        return {
            "radices": [a, b, c],
            "periods": [a, a * b, self._day],
            "offset": self._offset,
            "span": [self._lo, self._hi],
        }

    def record_extras(self) -> dict[str, Any]:
        return {
            "radices": list(self._radices),
            "day_length": self._day,
            "representable": True,  # int64, and float64 below 2**53: every instant is exact
            "extrap_judged": self._judges_extrapolation(),
        }
