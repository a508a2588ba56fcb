"""The Clock Problem: read HH:MM:SS off a count of seconds since an epoch.

Every output digit is periodic in t (periods dividing 86,400 s), yet plain networks stay at
chance. The input encoding is a task variant because it decides what is possible at all: at
120 years adjacent float32 values are up to 128 s apart, so the seconds field is not even a
function of a float32 input. The task computes, from the float bit patterns, how many of the
span's whole seconds an encoding keeps apart, and records it, so the report can say "impossible
by representation" instead of "failed".

Inputs are a 1-D array of t in the variant's dtype (float32, float64 or int64 seconds, centred
on the epoch so negative times occur), both from ``sample`` and in ``predict`` during scoring.
Targets are int64 labels of shape (n, 3): hour (24 classes), minute (60), second (60), with
floor-mod semantics, so -1 s reads 23:59:59.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import OutputSpec, register_task
from bench.core.ceiling import preimage_sizes

from ._clock import TRAIN_SHARE, ClockTask, check_choice

DAY = 86_400
SPANS = {"120y": int(round(120 * 365.25 * DAY)), "1d": DAY}
ENCODINGS = ("float32", "float64", "int64")

_UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def clock_labels(t: np.ndarray) -> np.ndarray:
    """(hour, minute, second) of integer seconds ``t`` on a 24-hour clock, floor-mod semantics."""
    s = np.mod(np.asarray(t, dtype=np.int64), DAY)  # numpy's mod floors: -1 -> 86399
    return np.stack([s // 3600, (s // 60) % 60, s % 60], axis=-1)


def _ordinal(v: float, dtype: np.dtype) -> int:
    """Position of a non-negative float among the non-negative floats of ``dtype``: its bits."""
    return int(np.array(v, dtype=dtype).view(_UINT[dtype]))


def _distinct_nonneg(hi: int, dtype: np.dtype) -> int:
    """How many distinct values ``dtype(t)`` takes for integers 0 <= t <= hi."""
    if hi < 0:
        return 0
    exact = 2 ** (np.finfo(dtype).nmant + 1)  # every integer up to here is representable
    if hi <= exact:
        return hi + 1
    # Above ``exact`` every float of the type is an integer, and rounding is monotone, so the
    # images of exact..hi are exactly the floats from ``exact`` to ``dtype(hi)``: count them by
    # their bit patterns, which are consecutive integers for consecutive positive floats.
    top = _ordinal(float(np.array(hi, dtype=np.float64).astype(dtype)), dtype)
    return exact + (top - _ordinal(float(exact), dtype)) + 1


def distinct_values(lo: int, hi: int, encoding: str) -> int:
    """Number of distinct inputs the integer seconds ``lo..hi`` become in ``encoding``.

    Rounding to the nearest float is monotone and symmetric in sign, so the count splits into
    the non-negative part and the mirrored negative part.
    """
    if lo > hi:
        return 0
    if encoding == "int64":
        return hi - lo + 1
    dtype = np.dtype(encoding)
    if lo >= 0:
        # lo - 1 and lo may round to the same float; then that value belongs to both counts.
        shared = lo > 0 and np.array(lo - 1).astype(dtype) == np.array(lo).astype(dtype)
        return _distinct_nonneg(hi, dtype) - _distinct_nonneg(lo - 1, dtype) + int(shared)
    if hi < 0:
        return distinct_values(-hi, -lo, encoding)
    return _distinct_nonneg(hi, dtype) + _distinct_nonneg(-lo, dtype) - 1  # 0 counted once


def extrapolation_judged(span: str) -> bool:
    """Whether the extrapolation set counts towards success for a span.

    Only when the training range holds at least one full day: then every hour, minute and
    second label occurs in training, and extrapolation asks whether the method learnt the
    period. On the 1d span the final 10/120 (two hours) holds hour labels that training never
    shows, so no classifier can be expected to name them; there it is reported, not judged.
    """
    length = SPANS[span]
    return length * TRAIN_SHARE[0] // TRAIN_SHARE[1] >= DAY


def spacing_at(t: int, encoding: str) -> float:
    """Gap between adjacent representable inputs near ``t`` seconds (1 for integers)."""
    if encoding == "int64":
        return 1.0
    return float(np.spacing(np.array(abs(t), dtype=encoding)))


@register_task("clock", variants={"encoding": list(ENCODINGS), "span": list(SPANS)}, base=False)
class Clock(ClockTask):
    """The Clock Problem: HH:MM:SS (24-hour, floor-mod) from integer seconds since an epoch."""

    family = "clock"
    description = (
        "The Clock Problem: HH:MM:SS from seconds since an epoch; success: exact match >= 99.9% "
        "inside and beyond the training range"
    )
    success_criterion = (
        "exact match >= 0.999 on held-out instants and on the final 10/120 (the latter only "
        "where training spans a full day)"
    )
    output = OutputSpec(
        kind="classification", n_outputs=3, classes=(24, 60, 60), names=("hour", "minute", "second")
    )

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        enc, span = params.get("encoding"), params.get("span")
        if enc not in ENCODINGS or span not in SPANS:
            return cls.description
        lo, hi = -SPANS[span] // 2, SPANS[span] // 2
        gap = spacing_at(hi, enc)
        if distinct_values(lo, hi, enc) == hi - lo + 1:
            rep = "every second representable"
        else:
            rep = f"NOT representable, inputs {gap:g} s apart: impossible by representation"
        where = (
            "in and beyond the training range"
            if extrapolation_judged(span)
            else "on held-out instants (extrapolation shows unseen hours: reported, not judged)"
        )
        return (
            f"Clock Problem: HH:MM:SS from {enc} seconds, {span} span centred on the epoch "
            f"({rep}); success: exact match >= 99.9% {where}"
        )

    def __init__(
        self, seed: int = 0, profile: str = "quick", encoding: str = "int64", span: str = "120y"
    ) -> None:
        super().__init__(seed=seed, profile=profile, encoding=encoding, span=span)
        check_choice("encoding", encoding, ENCODINGS)
        check_choice("span", span, SPANS)
        self.input_dtype = encoding
        self._set_span(SPANS[span])

    def _labels(self, t: np.ndarray) -> np.ndarray:
        return clock_labels(t)

    def _judges_extrapolation(self) -> bool:
        return extrapolation_judged(self.params["span"])

    def truth(self) -> dict[str, Any]:
        return {"periods": [60, 3600, DAY], "span_seconds": [self._lo, self._hi]}

    def ceiling(self, represent: Any) -> dict[str, Any]:
        """Best exact match for a method that receives ``represent(input)``: an instant whose
        representation ``L`` seconds of the span share is right at best one time in ``L``
        (``L`` < 1 day, so the ``L`` readings all differ), on the test and extrapolation sets
        alike."""
        sets = {"exact_match": self._test_instants(), "extrap_exact_match": self._extrap()}

        def seen(t: np.ndarray) -> np.ndarray:
            return represent(self._encode(t))

        metrics = {}
        for name, t in sets.items():
            share = preimage_sizes(t, seen, self._lo, self._hi)
            metrics[name] = float(np.mean(np.where(share < DAY, 1.0 / share, 0.0)))
        return {"metrics": metrics, "success_possible": self.success(metrics)}

    def record_extras(self) -> dict[str, Any]:
        seconds = self._hi - self._lo + 1
        distinct = distinct_values(self._lo, self._hi, self.input_dtype)
        return {
            "representable": distinct == seconds,
            "distinct_inputs": distinct,
            "distinct_seconds": seconds,
            # Best exact-match rate any method can reach on uniform instants: one right answer
            # per distinct input (a group of colliding seconds never spans a day).
            "exact_match_ceiling": distinct / seconds,
            "input_spacing_s": spacing_at(self._hi, self.input_dtype),
            "extrap_judged": self._judges_extrapolation(),
        }
