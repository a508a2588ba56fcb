"""Noisy tone: estimate a frequency from a fixed, noisy sample, judged against the physical limit.

With noise, "how close" has an answer that no method can beat: the Cramer-Rao bound. The task
computes it for its own random sample positions (not for an idealised grid), so a method's
frequency error can be read as a multiple of the best possible, ``efficiency = |w_hat - w| /
sqrt(CRLB)``, where ``w_hat`` is the dominant frequency the method reports (the first of
``freqs_``; a further one it lists earns nothing, see ``bench.lib.metrics.freq_error``). A
fixed training set, not a sampler, keeps the bound well defined: more samples would move it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, Task, register_task
from bench.kit.tasks import log_uniform
from bench.lib.metrics import freq_error, nmse, tone_crlb_std

HALF_WIDTH = 1000.0
FREQ_RANGE = (1.0, 100.0)
AMPLITUDE = 1.0
EFFICIENCY_TARGET = 3.0


@register_task("noisy-tone", variants={"snr_db": [-10, 0, 20]}, base=False)
class NoisyTone(Task):
    """One tone in white Gaussian noise, fixed random sample on [-1000, 1000]; vs Cramer-Rao."""

    family = "noisy-tone"
    description = (
        "One tone plus white Gaussian noise, fixed random sample on [-1000, 1000]; success: "
        "dominant reported frequency within 3 x the Cramer-Rao bound"
    )
    success_criterion = (
        "|w_hat - w| <= 3 sqrt(CRLB), w_hat the dominant (first) reported frequency "
        "(not judged without freqs_)"
    )
    headline = "efficiency"
    loss_target = None
    infinite = False
    n_train = {"quick": 10_000, "full": 1_000_000}
    budgets = {
        "quick": Budget(steps=5000, batch_size=32, samples=10_000, seconds=300),
        "full": Budget(steps=1_000_000, batch_size=32, samples=1_000_000, seconds=7200),
    }
    n_eval = {"quick": 4096, "full": 100_000}

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        snr = params.get("snr_db")
        if snr is None:
            return cls.description
        return (
            f"One tone (w log-uniform [1, 100]) plus white noise at {snr} dB SNR, fixed random "
            f"sample on [-1000, 1000]; success: |w_hat - w| <= 3 x Cramer-Rao std, w_hat the "
            "dominant reported frequency"
        )

    def __init__(self, seed: int = 0, profile: str = "quick", snr_db: float = 0) -> None:
        super().__init__(seed=seed, profile=profile, snr_db=snr_db)
        rng = np.random.default_rng(seed)
        self._freq = log_uniform(rng, *FREQ_RANGE)
        self._phase = float(rng.uniform(0.0, 2 * np.pi))
        # SNR = A^2 / (2 s^2) for a real tone of amplitude A.
        self._noise_std = float(np.sqrt(AMPLITUDE**2 / (2 * 10 ** (snr_db / 10))))
        self._train: tuple[np.ndarray, np.ndarray] | None = None
        self._crlb: float | None = None

    def _f(self, x: np.ndarray) -> np.ndarray:
        return AMPLITUDE * np.sin(self._freq * x + self._phase)

    @property
    def domain(self) -> tuple[float, float]:
        return (-HALF_WIDTH, HALF_WIDTH)

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        if self._train is None:
            rng = np.random.default_rng([self.seed, 3])
            x = rng.uniform(-HALF_WIDTH, HALF_WIDTH, size=self.n_train[self.profile])
            y = self._f(x) + self._noise_std * rng.standard_normal(x.size)
            x.setflags(write=False)
            y.setflags(write=False)
            self._train = (x, y)
        # Copies: a method that edits its data in place must not move this seed's bound.
        return self._train[0].copy(), self._train[1].copy()

    def crlb_std(self) -> float:
        """The bound's standard deviation for this seed's own sample positions."""
        if self._crlb is None:
            self.train_set()
            assert self._train is not None
            x = self._train[0]
            self._crlb = tone_crlb_std(x, self._freq, AMPLITUDE, self._phase, self._noise_std)
        return self._crlb

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        # Scored against the noiseless tone: the question is whether the method found the
        # signal, not whether it reproduces this draw's noise.
        rng = np.random.default_rng([self.seed, 7])
        n, r = self.n_eval[self.profile], HALF_WIDTH
        x_test = rng.uniform(-r, r, size=n)
        x_ext = rng.uniform(r, 2 * r, size=n) * rng.choice([-1.0, 1.0], size=n)
        return {"test": (x_test, self._f(x_test)), "extrapolation": (x_ext, self._f(x_ext))}

    def truth(self) -> dict[str, Any]:
        return {
            "freqs": [self._freq],
            "phase": self._phase,
            "amplitude": AMPLITUDE,
            "noise_std": self._noise_std,
            "crlb_std": self.crlb_std(),
        }

    def score(self, predictor: Any) -> dict[str, float]:
        sets = self.eval_sets()
        x, y = sets["test"]
        xe, ye = sets["extrapolation"]
        out = {
            "test_nmse": nmse(predictor.predict(x), y),
            "extrap_nmse": nmse(predictor.predict(xe), ye),
            "crlb_std": self.crlb_std(),
        }
        fe = freq_error(predictor, [self._freq])
        if fe:
            out.update(fe)
            out["efficiency"] = fe["freq_error"] / out["crlb_std"]
        return out

    def success(self, metrics: dict[str, float]) -> bool | None:
        if "efficiency" not in metrics:
            return None
        return bool(metrics["efficiency"] <= EFFICIENCY_TARGET)
