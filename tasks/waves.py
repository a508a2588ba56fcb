"""Periodic waves beyond a pure tone: classic non-smooth shapes and the FAN paper's compositions.

A method that only interpolates can fit any of these on the training range; extrapolation to
``R < |x| <= 3R`` is what shows whether it learnt the period. The shapes cover discontinuous
waves (sawtooth, square: slow harmonic decay), a kink (triangle) and smooth compositions with
many harmonics. Every shape ``f`` is 2 pi-periodic; the task uses ``f(w x + phi)`` with ``w``
and ``phi`` drawn from the seed, and so is the training range: ``R = (20 + u)`` periods with
``u ~ U[0, 1)``, between 20 and 21 periods each side, a non-whole number, as real data hold (a
whole number would flatter FFT-based methods: no spectral leakage). ``truth()`` and the
record's extras give ``periods_per_side`` and ``cycles_in_domain`` (both sides).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench import Budget, register_task
from bench.kit.tasks import SymmetricTask, log_uniform

FREQ_RANGE = (1.0, 10.0)
PERIODS_HALF = 20  # training range R = (20 + u) periods, u ~ U[0, 1) drawn per seed
NMSE_TARGET = 1e-2
TWO_PI = 2 * np.pi


def saw(u: np.ndarray) -> np.ndarray:
    """Rising sawtooth in [-1, 1), period 2 pi, zero at u = 0."""
    return 2 * np.mod(u / TWO_PI + 0.5, 1.0) - 1


def square(u: np.ndarray) -> np.ndarray:
    """+1 on the first half of each period, -1 on the second."""
    return np.where(np.mod(u, TWO_PI) < np.pi, 1.0, -1.0)


def triangle(u: np.ndarray) -> np.ndarray:
    """Continuous triangle wave in [-1, 1], peak at u = 0."""
    return 1 - 2 * np.abs(saw(u))


SHAPES: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "sawtooth": (saw, "sawtooth"),
    "square": (square, "square wave"),
    "triangle": (triangle, "triangle wave"),
    "sin-sin": (lambda u: np.sin(u + np.sin(2 * u)), "sin(u + sin 2u)"),
    "am": (lambda u: (1 + np.sin(u)) * np.sin(2 * u), "(1 + sin u) sin 2u"),
    "exp-sin": (lambda u: np.exp(np.sin(u)) / (1 + np.cos(2 * u) ** 2), "exp(sin u)/(1+cos^2 2u)"),
    "saw-sum": (
        lambda u: sum(saw(n * u) / n for n in range(1, 6)),
        "sum_{n=1..5} saw(n u)/n",
    ),
}


def _variance(f: Callable[[np.ndarray], np.ndarray]) -> float:
    # Over whole periods the variance does not depend on w or phi, so one fine grid suffices.
    # The training range holds 40 to 42 periods, not a whole number; the part of a period on
    # top moves the variance over the range by under 1.5% (any shape, phase and u), and this
    # serves only to scale the training loss target (nMSE divides by each set's own variance).
    u = np.linspace(0.0, TWO_PI, 200_000, endpoint=False)
    return float(np.var(f(u)))


VARIANCE = {name: _variance(f) for name, (f, _) in SHAPES.items()}


def _dominant_harmonic(f: Callable[[np.ndarray], np.ndarray]) -> int:
    """The harmonic of the fundamental that carries the most power (1 for most shapes; 2 for
    ``(1 + sin u) sin 2u``), from the FFT of one period."""
    u = np.linspace(0.0, TWO_PI, 4096, endpoint=False)
    power = np.abs(np.fft.rfft(f(u) - np.mean(f(u))))
    return int(np.argmax(power[1:]) + 1)


#: A method's frequency error on a wave is judged on its dominant reported frequency against
#: the wave's strongest component, ``harmonic * w`` (see ``truth``).
DOMINANT = {name: _dominant_harmonic(f) for name, (f, _) in SHAPES.items()}


@register_task("wave", variants={"shape": list(SHAPES)}, base=False)
class Wave(SymmetricTask):
    """A periodic wave f(w x + phi), w log-uniform [1, 10], trained on between 20 and 21
    periods each side (drawn per seed)."""

    family = "wave"
    description = (
        "Periodic wave f(w x + phi), trained on [-R, R] (R between 20 and 21 periods, drawn "
        "per seed); success: extrapolation nMSE < 1e-2 on R < |x| <= 3R"
    )
    success_criterion = "extrapolation nMSE < 1e-2"
    headline = "extrap_nmse"
    validation_rule = "outer"
    budgets = {
        "quick": Budget(steps=5000, batch_size=32, samples=2**18, seconds=300),
        "full": Budget(steps=1_000_000, batch_size=32, seconds=7200),
    }
    extrapolate = 3.0

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        shape = params.get("shape")
        if shape not in SHAPES:
            return cls.description
        return (
            f"Wave {SHAPES[shape][1]}, u = w x + phi (w log-uniform [1, 10]), trained on "
            f"[-R, R], R between 20 and 21 periods (drawn per seed); success: nMSE < 1e-2 on "
            "R < |x| <= 3R"
        )

    def __init__(self, seed: int = 0, profile: str = "quick", shape: str = "sawtooth") -> None:
        super().__init__(seed=seed, profile=profile, shape=shape)
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")
        self._shape = SHAPES[shape][0]
        rng = np.random.default_rng(seed)
        self._freq = log_uniform(rng, *FREQ_RANGE)
        self._phase = float(rng.uniform(0.0, TWO_PI))
        # Drawn after frequency and phase, so those stay what they were for every seed.
        self._periods = float(PERIODS_HALF + rng.uniform(0.0, 1.0))
        self._half = float(self._periods * TWO_PI / self._freq)
        # Training MSE at which the fit is as good as the extrapolation bar asks.
        self.loss_target = NMSE_TARGET * VARIANCE[shape]

    def _f(self, x: np.ndarray) -> np.ndarray:
        return self._shape(self._freq * x + self._phase)

    def truth(self) -> dict[str, Any]:
        # freq_error compares the dominant reported frequency with the strongest component, so
        # "freqs" lists that one; the fundamental is kept apart.
        return {
            "freqs": [DOMINANT[self.params["shape"]] * self._freq],
            "fundamental": self._freq,
            "phase": self._phase,
            "period": TWO_PI / self._freq,
            "periods_per_side": self._periods,
            "cycles_in_domain": 2 * self._periods,
        }

    def record_extras(self) -> dict[str, Any]:
        return {"periods_per_side": self._periods, "cycles_in_domain": 2 * self._periods}

    def success(self, metrics: dict[str, float]) -> bool:
        return bool(metrics.get("extrap_nmse", np.inf) < NMSE_TARGET)
