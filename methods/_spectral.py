"""What the spectral method plugins share (a helper module: its name starts with ``_``, so the
plugin loader registers nothing from it).

- :class:`ToneEstimate` is a method that is one configuration of
  ``bench.lib.estimators.estimate_tones``. ``fft``, ``nls`` and ``lomb-scargle`` differ only in
  how a periodogram peak becomes a tone (a ``ToneConfig``) and in their hyper-parameters; the
  fit around the estimator (samples, trend choice, time checks, the record's search limit) is
  the same, so it is written once here.
- :func:`descend` runs ``refine_gd`` for a method that spends a step budget
  (``bench.kit.methods.SteppedSinusoidMethod``): it logs each step under its count across the
  whole fit and adds the steps to ``steps_``, which ``grid-warm-start`` and ``wavelet-init``
  both need around every descent.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar

from bench import Budget, Logger, TaskView
from bench.kit.methods import SinusoidMethod, SteppedSinusoidMethod, draw_samples, forget
from bench.lib.estimators import ToneConfig, ToneSearch, choose_trend
from bench.lib.sinusoid import FloatArray, SinusoidModel, refine_gd


class ToneEstimate(SinusoidMethod):
    """A :class:`SinusoidMethod` that is ``estimate_tones`` with the configuration
    :meth:`tone_config` gives (by default the class's ``config``).

    Subclasses store ``n_samples``, ``max_tones`` and ``false_alarm`` as hyper-parameters, and
    ``trend`` if they offer the choice (without it, no trend term). ``fit`` draws the samples,
    lets :func:`choose_trend` settle the trend, and estimates, checking the time budget after
    every pass (passes are not optimiser steps, so the trace stays empty). It leaves the
    search's diagnostics in ``search_`` and its highest frequency in ``searched_``.
    """

    #: How this method turns peaks into tones; each subclass declares its own.
    config: ClassVar[ToneConfig] = ToneConfig()
    #: The default for a subclass that has no ``trend`` hyper-parameter.
    trend: bool | str = False
    n_samples: int
    max_tones: int
    false_alarm: float

    def tone_config(self) -> ToneConfig:
        """The configuration ``fit`` uses: ``config``, unless a hyper-parameter changes it."""
        return self.config

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        config = self.tone_config()  # a bad setting fails here, before anything is drawn
        forget(self)
        x, y = draw_samples(task, self.n_samples)

        def fit(xs: FloatArray, ys: FloatArray, trend: bool, **kw: Any) -> SinusoidModel:
            return config.estimate(
                xs,
                ys,
                max_tones=int(self.max_tones),
                trend=trend,
                false_alarm=float(self.false_alarm),
                **kw,
            )

        trend = choose_trend(self.trend, task.infinite, x, y, fit)
        self.search_ = ToneSearch()
        model = fit(x, y, trend, info=self.search_, on_pass=lambda *_: log.check(), timer=log.phase)
        self._set(model)
        self.searched_ = {"max_freq_searched": self.search_.max_freq}
        return self


def descend(
    method: SteppedSinusoidMethod,
    x: FloatArray,
    y: FloatArray,
    model: SinusoidModel,
    steps: int,
    log: Logger | None,
    **stop: Any,
) -> SinusoidModel:
    """``refine_gd`` from ``model`` for at most ``steps`` steps (``stop``: its stopping
    keywords), counted in ``method.steps_``; its losses go to ``log`` (if any) at the step
    count of the whole fit, so that several descents make one trace."""
    base = method.steps_

    def report(step: int, loss: float) -> None:
        if log is not None:
            log(base + step, loss)

    out, taken = refine_gd(x, y, model, steps=steps, callback=report, **stop)
    method.steps_ += taken
    return out


def phase(log: Logger | None, name: str) -> AbstractContextManager[Any]:
    """``log.phase(name)``, or nothing to time when there is no log (a trial fit)."""
    return log.phase(name) if log is not None else nullcontext()
