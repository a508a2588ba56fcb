"""Building blocks shared by task plugins."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bench.core.contracts import Task
from bench.lib.metrics import freq_error, mse, nmse


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One draw, uniform in log between ``lo`` and ``hi`` (frequencies spread over decades)."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


class SymmetricTask(Task):
    """A target ``_f(x)`` learnt on ``[-_half, _half]`` from fresh uniform samples.

    Evaluation: a uniform test set inside the domain, and an extrapolation set on
    ``_half < |x| <= extrapolate * _half`` (both sides), each with ``n_eval`` points drawn from
    the task's own evaluation stream, so they are the same for every method and run.
    Subclasses set ``_half`` in ``__init__``, define ``_f``, and list the true frequencies
    under ``"freqs"`` in ``truth()``; scoring is the same for all of them.
    """

    extrapolate: ClassVar[float] = 2.0
    n_eval: ClassVar[dict[str, int]] = {"quick": 4096, "full": 100_000}
    _half: float

    def _f(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def domain(self) -> tuple[float, float]:
        return (-self._half, self._half)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(-self._half, self._half, size=n)
        return x, self._f(x)

    def eval_sets(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng([self.seed, 7])
        n, r = self.n_eval[self.profile], self._half
        x_test = rng.uniform(-r, r, size=n)
        x_ext = rng.uniform(r, self.extrapolate * r, size=n) * rng.choice([-1.0, 1.0], size=n)
        return {"test": (x_test, self._f(x_test)), "extrapolation": (x_ext, self._f(x_ext))}

    def score(self, predictor: Any) -> dict[str, float]:
        sets = self.eval_sets()
        x, y = sets["test"]
        p = predictor.predict(x)
        xe, ye = sets["extrapolation"]
        out = {
            "test_mse": mse(p, y),
            "test_nmse": nmse(p, y),
            "extrap_nmse": nmse(predictor.predict(xe), ye),
        }
        out.update(freq_error(predictor, self.truth()["freqs"]))
        return out
