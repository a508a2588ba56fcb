"""TimesNet's period picker: the estimator deep time-series models use to find their periods
(Wu et al., "TimesNet: temporal 2D-variation modeling for general time series analysis", ICLR
2023; ``FFT_for_Period`` in the Time-Series-Library).

The picker takes the amplitude of the real FFT of a window of ``T`` samples, zeroes the constant
term, keeps the ``k`` largest (``top_k``, 5 in the library's default configuration) and turns
bin ``f`` into the period ``T // f``: a whole number of samples, rounded down, with the
resolution of the FFT's bins and no interpolation. TimesNet then folds its input at those
periods. Here the periods are the method's answer, and the predictor is the least-squares sum
of sinusoids at them (offset, amplitude and phase per period; ``bench.lib.sinusoid.fit_linear``),
so the suite measures what the integer periods cost: the frequency error on the tones, the
forecast on the real series. Regularly sampled fixed series only (the picker reads a window of
consecutive samples). On demand (not in ``--all``) while issue 34's estimators are added.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench import Budget, Logger, Method, TaskView, register_method
from bench.kit.methods import forget
from bench.lib.sinusoid import fit_linear

from ._forecast import regular_fixed, regular_series


def fft_for_period(values: np.ndarray, top_k: int) -> np.ndarray:
    """Periods in whole samples, strongest first, as TimesNet picks them: ``T // f`` for the
    ``top_k`` largest rFFT amplitudes ``f`` (the constant term excluded)."""
    amp = np.abs(np.fft.rfft(values))
    amp[0] = 0.0
    k = int(min(top_k, amp.size - 1))
    bins = np.argsort(-amp, kind="stable")[:k]
    bins = bins[amp[bins] > 0]
    return values.size // bins


@register_method("timesnet-period", base=False, on_demand=[{}])
class TimesNetPeriod(Method):
    """TimesNet's FFT period picker (Wu et al. 2023), then least-squares sinusoids."""

    description = (
        "Estimator: TimesNet's period picker (top-5 rFFT amplitudes, period T // f in whole "
        "samples), then least-squares sinusoids at those periods (regular fixed series)"
    )
    reference = "Wu et al., TimesNet, ICLR 2023 (Time-Series-Library FFT_for_Period)"
    handles_fixed_data = True
    input_dtypes = ("float32", "float64", "int64")

    def __init__(self, top_k: int = 5) -> None:
        self.top_k = top_k

    def supports(self, task: TaskView) -> str | None:
        why = regular_fixed(
            task,
            "picks the periods of one real-valued series",
            "the picker reads a window of consecutive samples",
        )
        return why or super().supports(task)

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        forget(self)
        x, y = (np.asarray(a, dtype=np.float64) for a in task.train_set())
        series = regular_series(x, y)  # on its grid, gaps filled (supports() checked it)
        values, dt = series.values, series.step
        with log.phase("estimate"):
            periods = fft_for_period(values, int(self.top_k))
        freqs = np.unique(2 * np.pi / (periods * dt))
        model = fit_linear(x, y, freqs).sorted()
        self.periods_ = periods.astype(np.float64)
        self.model_ = model
        self.freqs_ = model.freqs_.copy()
        self.amplitudes_ = model.amplitudes_.copy()
        self.n_params_ = model.n_params_
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict(np.asarray(x, dtype=np.float64))
