"""Two tones closer than a Fourier bin: where a periodogram sees one peak.

A periodogram's resolution is one bin, ``2 pi / L`` for a span ``L``: two tones closer than that
merge into one peak (Rayleigh's criterion), however many samples there are. Subspace methods
(ESPRIT, MUSIC) and maximum likelihood are not bound by it; what bounds every unbiased
estimator is the two-tone Cramer-Rao bound, which grows steeply as the tones approach
(Rife and Boorstyn 1976) and which the task computes for its own samples
(``bench.lib.metrics.tones_crlb_std``).

Each seed: ``N`` regular samples (``x = 0, 1, ..., N - 1``) of ``sin(w1 x + p1) + sin(w2 x + p2)``
in white Gaussian noise at ``snr_db`` per tone, ``w1`` uniform in ``[0.2 pi, 0.8 pi]`` rad per
sample, ``w2 = w1 + sep * 2 pi / N`` (``sep`` in bins), phases uniform. Success: both
frequencies, matched one to one, within ``EFFICIENCY_TARGET`` times the bound
(``efficiency = max |w_hat - w| / max CRLB std``). On demand (not in ``--all``) while issue 34's
estimators are being added.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, Task, register_task
from bench.lib.metrics import freq_error, nmse, tones_crlb_std

#: Separations, in Fourier bins (2 pi / N), and the SNR per tone.
SEPARATIONS = (0.25, 0.5, 1.0)
SNR_DB = 30.0
EFFICIENCY_TARGET = 3.0


@register_task(
    "close-tones",
    on_demand=[{"sep": s} for s in SEPARATIONS],
    base=False,
)
class CloseTones(Task):
    """Two equal tones a fraction of a Fourier bin apart, regular samples, white noise."""

    family = "close-tones"
    description = (
        "Two tones a fraction of a Fourier bin apart, regular samples, 30 dB per tone; success: "
        "both frequencies within 3 x their Cramer-Rao bound"
    )
    success_criterion = (
        "max |w_hat - w| over the two tones (matched one to one) <= 3 x the larger two-tone "
        "Cramer-Rao std (not judged without freqs_)"
    )
    headline = "efficiency"
    loss_target = None
    infinite = False
    n_train = {"quick": 256, "full": 4096}
    budgets = {
        "quick": Budget(steps=5000, batch_size=32, samples=256, seconds=300),
        "full": Budget(steps=100_000, batch_size=32, samples=4096, seconds=3600),
    }

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        sep = params.get("sep")
        if sep is None:
            return cls.description
        return (
            f"Two equal tones {sep:g} Fourier bin(s) apart (2 pi / N per bin), N regular "
            f"samples, {SNR_DB:g} dB per tone; success: both within 3 x the two-tone "
            "Cramer-Rao std"
        )

    def __init__(self, seed: int = 0, profile: str = "quick", sep: float = 0.5) -> None:
        super().__init__(seed=seed, profile=profile, sep=sep)
        rng = np.random.default_rng([seed, 41])
        n = self.n_train[profile]
        w1 = float(rng.uniform(0.2 * np.pi, 0.8 * np.pi))
        self._freqs = [w1, w1 + float(sep) * 2 * np.pi / n]
        self._phases = [float(p) for p in rng.uniform(0, 2 * np.pi, 2)]
        self._noise_std = float(np.sqrt(1.0 / (2 * 10 ** (SNR_DB / 10))))
        self._n = n
        self._crlb: np.ndarray | None = None

    def _f(self, x: np.ndarray) -> np.ndarray:
        return sum(np.sin(w * x + p) for w, p in zip(self._freqs, self._phases, strict=True))

    @property
    def domain(self) -> tuple[float, float]:
        return (0.0, float(self._n - 1))

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        x = np.arange(self._n, dtype=np.float64)
        noise = np.random.default_rng([self.seed, 42]).standard_normal(self._n)
        return x, self._f(x) + self._noise_std * noise

    def crlb_std(self) -> np.ndarray:
        if self._crlb is None:
            x = np.arange(self._n, dtype=np.float64)
            self._crlb = tones_crlb_std(x, self._freqs, [1.0, 1.0], self._phases, self._noise_std)
        return self._crlb

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        x = np.arange(self._n, 2 * self._n, dtype=np.float64)  # the next N samples, noiseless
        return {"extrapolation": (x, self._f(x))}

    def truth(self) -> dict[str, Any]:
        return {
            "freqs": list(self._freqs),
            "phases": list(self._phases),
            "noise_std": self._noise_std,
            "crlb_std": self.crlb_std().tolist(),
        }

    def score(self, predictor: Any) -> dict[str, float]:
        x, y = self.eval_sets()["extrapolation"]
        bound = float(np.max(self.crlb_std()))
        out = {"extrap_nmse": nmse(predictor.predict(x), y), "crlb_std": bound}
        fe = freq_error(predictor, self._freqs)
        if fe:
            out.update(fe)
            out["efficiency"] = fe["freq_error"] / bound
        return out

    def success(self, metrics: dict[str, float]) -> bool | None:
        if "efficiency" not in metrics:
            return None
        return bool(metrics["efficiency"] <= EFFICIENCY_TARGET)
