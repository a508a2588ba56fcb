"""The cycle sweep: one pure tone ``sin(w x + phi)`` over a domain that holds between C and
C + 1 cycles.

The loss of ``sin(w' x)`` against the tone is roughly ``1 - sinc((w' - w) R)``, so its basin
narrows as ``1 / R``. Fixing the number of cycles in the domain rather than the width makes C
the one axis on which gradient methods are known to collapse; the report plots success against
it. Frequency and phase are drawn from the seed, so no method can be tuned to one constant, and
so is the fraction of a cycle on top of C: the domain ``[-R, R]``, ``R = (C + u) pi / w`` with
``u ~ U[0, 1)``, holds a non-whole number of cycles, as real data do. A whole number would
flatter FFT-based methods (no spectral leakage). ``truth()`` and the record's extras give the
number drawn as ``cycles_in_domain``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, register_task
from bench.kit.tasks import SymmetricTask, log_uniform

CYCLES = [1, 3, 10, 30, 100, 1000, 10000]
#: Far above the quick profile's mean-rate Nyquist (2**17 cycles for 2**18 samples): only a
#: search that uses the randomness of the sample positions finds these. On demand: listed and
#: runnable by name, not in ``--all``.
ON_DEMAND = [100_000, 1_000_000]
FREQ_RANGE = (1.0, 100.0)
MSE_TARGET = 1e-4


@register_task(
    "tone", variants={"cycles": CYCLES}, base=False, on_demand=[{"cycles": c} for c in ON_DEMAND]
)
class Tone(SymmetricTask):
    """One tone sin(w x + phi), w log-uniform in [1, 100], over a domain holding between C and
    C + 1 cycles (drawn per seed)."""

    family = "tone"
    tune_per_task = True  # cycles span orders of magnitude
    description = (
        "One tone sin(w x + phi) over a domain holding between C and C+1 cycles (drawn per "
        "seed); success: test MSE < 1e-4"
    )
    success_criterion = "test MSE < 1e-4"
    headline = "test_mse"
    loss_target = MSE_TARGET
    # 2**18 samples give about 26 per cycle at C = 10000, ample for a spectral estimate; a
    # gradient method spends steps * batch_size = 160,000 of them, fresh at every step.
    budgets = {
        "quick": Budget(steps=5000, batch_size=32, samples=2**18, seconds=300),
        "full": Budget(steps=1_000_000, batch_size=32, seconds=7200),
    }

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        c = params.get("cycles")
        if c is None:
            return cls.description
        return (
            f"One tone sin(w x + phi), w log-uniform [1, 100], over x in [-R, R] holding "
            f"between {c} and {c + 1} cycles (drawn per seed; R = cycles pi / w); success: test "
            "MSE < 1e-4"
        )

    def __init__(self, seed: int = 0, profile: str = "quick", cycles: float = 100) -> None:
        super().__init__(seed=seed, profile=profile, cycles=cycles)
        if not cycles > 0:
            raise ValueError(f"cycles must be positive, not {cycles!r}")
        rng = np.random.default_rng(seed)
        self._freq = log_uniform(rng, *FREQ_RANGE)
        self._phase = float(rng.uniform(0.0, 2 * np.pi))
        # Drawn after frequency and phase, so those stay what they were for every seed.
        self._cycles = float(cycles + rng.uniform(0.0, 1.0))
        self._half = float(self._cycles * np.pi / self._freq)

    def _f(self, x: np.ndarray) -> np.ndarray:
        return np.sin(self._freq * x + self._phase)

    def truth(self) -> dict[str, Any]:
        return {
            "freqs": [self._freq],
            "phase": self._phase,
            "period": 2 * np.pi / self._freq,
            "cycles_in_domain": self._cycles,
        }

    def record_extras(self) -> dict[str, Any]:
        return {"cycles_in_domain": self._cycles}

    def success(self, metrics: dict[str, float]) -> bool:
        return bool(metrics.get("test_mse", np.inf) < MSE_TARGET)
