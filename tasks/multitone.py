"""Multi-tone: a sum of K resolvable tones over [-100, 100].

A single tone tests whether a method finds one basin; several tones test whether it finds them
all, and whether a spectral method can separate peaks. Frequencies are kept at least four FFT
bins apart (bin = 2 pi / L over the training span L = 200) so that every tone is resolvable
in principle and success depends on the method, not on an ill-posed draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, register_task
from bench.kit.tasks import SymmetricTask, log_uniform

HALF_WIDTH = 100.0
FREQ_RANGE = (1.0, 100.0)
MIN_BINS_APART = 4
BIN = 2 * np.pi / (2 * HALF_WIDTH)
NMSE_TARGET = 1e-3


def draw_freqs(rng: np.random.Generator, k: int) -> np.ndarray:
    """K log-uniform frequencies, drawn one at a time and redrawn when closer than the
    minimum separation to one already kept (deterministic for the generator's state)."""
    kept: list[float] = []
    for _ in range(10_000):
        w = log_uniform(rng, *FREQ_RANGE)
        if all(abs(w - v) >= MIN_BINS_APART * BIN for v in kept):
            kept.append(w)
            if len(kept) == k:
                return np.array(sorted(kept))
    raise RuntimeError(f"could not place {k} tones {MIN_BINS_APART} bins apart")


@register_task("multitone", variants={"k": [2, 4, 8]}, base=False)
class MultiTone(SymmetricTask):
    """Sum of K tones, amplitudes U[0.5, 1], frequencies log-uniform [1, 100], over [-100, 100]."""

    family = "multitone"
    description = (
        "Sum of K tones (amplitudes U[0.5, 1], frequencies log-uniform [1, 100], >= 4 bins "
        "apart) over [-100, 100]; success: test MSE < 1e-3 var(y)"
    )
    success_criterion = "test nMSE < 1e-3"
    headline = "test_nmse"
    budgets = {
        "quick": Budget(steps=5000, batch_size=32, samples=2**18, seconds=300),
        "full": Budget(steps=1_000_000, batch_size=32, seconds=7200),
    }

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        k = params.get("k")
        if k is None:
            return cls.description
        return (
            f"Sum of {k} tones, amplitudes U[0.5, 1], frequencies log-uniform [1, 100] at least "
            f"4 bins apart, x in [-100, 100]; success: test MSE < 1e-3 var(y)"
        )

    def __init__(self, seed: int = 0, profile: str = "quick", k: int = 2) -> None:
        super().__init__(seed=seed, profile=profile, k=k)
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, not {k!r}")
        rng = np.random.default_rng(seed)
        self._half = HALF_WIDTH
        self._freqs = draw_freqs(rng, int(k))
        self._amps = rng.uniform(0.5, 1.0, size=int(k))
        self._phases = rng.uniform(0.0, 2 * np.pi, size=int(k))
        # Time-to-target uses the signal's own variance (sum of A^2 / 2), so the training-loss
        # bar matches the success bar for this seed.
        self.loss_target = float(NMSE_TARGET * np.sum(self._amps**2) / 2)

    def _f(self, x: np.ndarray) -> np.ndarray:
        arg = np.multiply.outer(x, self._freqs) + self._phases
        return np.sin(arg) @ self._amps

    def truth(self) -> dict[str, Any]:
        return {
            "freqs": self._freqs.tolist(),
            "amplitudes": self._amps.tolist(),
            "phases": self._phases.tolist(),
        }

    def success(self, metrics: dict[str, float]) -> bool:
        return bool(metrics.get("test_nmse", np.inf) < NMSE_TARGET)
