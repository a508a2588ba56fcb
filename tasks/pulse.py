"""Narrow periodic pulses: where a sum of a few tones is a poor model of a periodic signal.

A box pulse of height ``H`` and duty cycle ``q`` (on for a fraction ``q`` of each period) has
Fourier amplitudes ``2 H sin(pi k q) / (pi k)``, close to ``2 H q`` for every harmonic
``k << 1 / q``: its power is spread over about ``1 / q`` nearly equal harmonics, so the
fundamental's periodogram peak is a small fraction of the pulse, and the strongest peak may be
any harmonic. Transit surveys meet this daily (box-shaped dips a few percent of the period
long, sparse irregular sampling); box least squares (Kovacs, Zucker and Mazeh 2002) was built
for it.

Each seed: a span ``[0, L]``, ``L = 1000``, holding ``C`` cycles, ``C`` log-uniform in
``[8, 32]`` (period ``P = L / C`` in ``[31.25, 125]``); the pulse starts at a uniform phase;
``N`` uniform random sample times on the span (2000 quick, 10000 full); height 1 in white
Gaussian noise with a per-sample height/noise ratio of 2 (a folded SNR ``2 sqrt(q N)`` of 8.9,
15.5 and 28 for ``q`` = 0.01, 0.03, 0.1 on the quick profile).

Success: folding the data at the reported fundamental ``f_hat`` (cycles per unit) keeps the
pulse aligned across the span, ``|f_hat - f| L <= q / 2`` (the fold drifts by at most half the
pulse's width); ``pulse_drift`` is ``|f_hat - f| L / q``. The fundamental a method reports:
its dominant frequency (``freqs_`` ranked by ``amplitudes_`` where it sets them, as
``freq_error`` ranks them), or, where it also lists lower frequencies of which the dominant is
a whole multiple ``k <= 64`` (``|w_dom - k w| L / 2 pi <= 1/2``: related within half a Fourier
bin), the lowest of those, so a method that models the pulse by its harmonics is judged on the
fundamental its harmonics imply. A harmonic (``2f``) or sub-harmonic (``f/2``) is off by ``C``
or ``C / 2`` cycles and fails; ``freq_ratio`` records ``f_hat / f`` (``dominant_ratio`` the
dominant's) so the report shows harmonic confusions. Not judged without ``freqs_``. Scored
also by nMSE against the noiseless pulse at fresh times inside the span (``test``) and on the
next quarter span (``extrapolation``). On demand (not in ``--all``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, Task, register_task
from bench.kit.tasks import log_uniform
from bench.lib.metrics import freq_error, nmse, reported_freqs

#: Duty cycles of the family, the span, the cycles it holds, and the per-sample height/noise.
DUTIES = (0.01, 0.03, 0.1)
SPAN = 1000.0
CYCLES = (8.0, 32.0)
HEIGHT = 1.0
HEIGHT_TO_NOISE = 2.0
#: Success: the fold drifts by at most this fraction of the pulse's width across the span.
DRIFT_TARGET = 0.5
#: Harmonic numbers and tolerance (in cycles over the span) of the harmonically related set.
MAX_HARMONIC = 64
RELATED_CYCLES = 0.5


def fundamental(freqs: np.ndarray, span: float) -> float:
    """The fundamental angular frequency a list of reported ones (dominant first) implies: the
    lowest of those the dominant is a whole multiple of (within ``RELATED_CYCLES`` over
    ``span``), the dominant itself when none is."""
    dom = float(freqs[0])
    low = freqs[(freqs > 0) & (freqs < dom)]
    k = np.rint(dom / low) if low.size else low
    near = np.abs(dom - k * low) * span / (2 * np.pi) <= RELATED_CYCLES
    related = low[near & (k >= 2) & (k <= MAX_HARMONIC)]
    return float(related.min()) if related.size else dom


@register_task("pulse", on_demand=[{"duty": q} for q in DUTIES], base=False)
class Pulse(Task):
    """A narrow periodic box pulse at uniform random times in white noise (transit-like)."""

    family = "pulse"
    description = (
        "Narrow periodic box pulse (duty q), N uniform random times over 8-32 cycles, "
        "height/noise 2 per sample; success: fold at the reported fundamental drifts <= q/2 "
        "over the span"
    )
    success_criterion = (
        "pulse drift <= 0.5: |f_hat - f| * span <= q / 2 cycles, f_hat the reported "
        "fundamental (the dominant frequency, or the lowest reported one it is a whole "
        "multiple of); a harmonic or sub-harmonic fails (not judged without freqs_)"
    )
    headline = "pulse_drift"
    loss_target = None
    infinite = False
    n_train = {"quick": 2000, "full": 10_000}
    n_eval = {"quick": 4096, "full": 16_384}
    budgets = {
        "quick": Budget(steps=5000, batch_size=32, samples=2000, seconds=300),
        "full": Budget(steps=100_000, batch_size=32, samples=10_000, seconds=3600),
    }

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        q = params.get("duty")
        if q is None:
            return cls.description
        return (
            f"Periodic box pulse of duty {q:g}, N uniform random times over 8-32 cycles (period "
            f"log-uniform), height/noise {HEIGHT_TO_NOISE:g} per sample; success: "
            f"|f_hat - f| span <= {q / 2:g} cycles (harmonics fail)"
        )

    def __init__(self, seed: int = 0, profile: str = "quick", duty: float = 0.03) -> None:
        super().__init__(seed=seed, profile=profile, duty=duty)
        if not 0 < duty < 0.5:
            raise ValueError(f"duty must be in (0, 0.5), not {duty!r}")
        rng = np.random.default_rng([seed, 51])
        self._cycles = log_uniform(rng, *CYCLES)
        self._period = SPAN / self._cycles
        self._start = float(rng.uniform(0.0, 1.0))  # the pulse's start, as a phase
        self._duty = float(duty)
        self._noise_std = HEIGHT / HEIGHT_TO_NOISE
        self._n = self.n_train[profile]

    @property
    def freq(self) -> float:
        """The true angular frequency."""
        return 2 * np.pi / self._period

    def _f(self, x: np.ndarray) -> np.ndarray:
        phase = np.mod(np.asarray(x, dtype=np.float64) / self._period - self._start, 1.0)
        return np.where(phase < self._duty, HEIGHT, 0.0)

    @property
    def domain(self) -> tuple[float, float]:
        return (0.0, SPAN)

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, 52])
        x = np.sort(rng.uniform(0.0, SPAN, self._n))
        return x, self._f(x) + self._noise_std * rng.standard_normal(self._n)

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng([self.seed, 53])
        n = self.n_eval[self.profile]
        x_test = rng.uniform(0.0, SPAN, n)
        x_ext = rng.uniform(SPAN, 1.25 * SPAN, n)
        return {"test": (x_test, self._f(x_test)), "extrapolation": (x_ext, self._f(x_ext))}

    def truth(self) -> dict[str, Any]:
        return {
            "freqs": [self.freq],
            "period": self._period,
            "duty": self._duty,
            "start_phase": self._start,
            "cycles_in_span": self._cycles,
            "height": HEIGHT,
            "noise_std": self._noise_std,
        }

    def record_extras(self) -> dict[str, Any]:
        return {"cycles_in_span": self._cycles, "duty": self._duty}

    def score(self, predictor: Any) -> dict[str, float]:
        sets = self.eval_sets()
        out = {f"{k}_nmse": nmse(predictor.predict(x), y) for k, (x, y) in sets.items()}
        out["extrap_nmse"] = out.pop("extrapolation_nmse")
        out.update(freq_error(predictor, [self.freq]))
        est = reported_freqs(predictor)
        if est is None or est.size == 0 or not np.all(np.isfinite(est)):
            if est is not None:  # reports frequencies, none usable: judged, and failed
                out.update(pulse_drift=float("inf"), freq_ratio=0.0, dominant_ratio=0.0)
            return out
        w_hat = fundamental(est, SPAN)
        cycles_off = abs(w_hat - self.freq) * SPAN / (2 * np.pi)
        out["pulse_drift"] = cycles_off / self._duty
        out["freq_ratio"] = w_hat / self.freq
        out["dominant_ratio"] = float(est[0]) / self.freq
        return out

    def success(self, metrics: dict[str, float]) -> bool | None:
        if "pulse_drift" not in metrics:
            return None
        return bool(metrics["pulse_drift"] <= DRIFT_TARGET)
