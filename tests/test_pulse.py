"""Narrow periodic pulses: the ``pulse`` task family (on demand, its fold-alignment criterion,
harmonics failing) and the box least squares period finder ``pulse-period``, whose search range
is derived from the samples."""

from __future__ import annotations

import numpy as np
import pytest
from bench.builtin.methods.fft import FFTEstimate
from bench.builtin.methods.pulse_period import PulsePeriod, bls, search_grid
from bench.builtin.tasks.pulse import SPAN, fundamental

from bench import Logger, get_task
from bench.core import registry
from bench.core.task import TaskView
from bench.report.bars import parse_bar


def _fit(method, task):
    view = TaskView(task, np.random.default_rng(0))
    assert method.supports(view) is None
    return method.fit(view, task.budget, 0, "cpu", Logger())


class _Reports:
    """A predictor that reports the given frequencies (and amplitudes; none at all for
    ``None``) and predicts zero."""

    def __init__(self, freqs, amplitudes=None) -> None:
        if freqs is not None:
            self.freqs_ = np.asarray(freqs, dtype=float)
        if amplitudes is not None:
            self.amplitudes_ = np.asarray(amplitudes, dtype=float)

    def predict(self, x):
        return np.zeros(len(x))


def test_pulse_is_on_demand_and_states_its_criterion() -> None:
    registry.load_plugins()
    for q in (0.01, 0.03, 0.1):
        assert registry.TASKS.get(f"pulse[duty={q}]").in_all is False
    task = get_task("pulse[duty=0.03]", seed=4)
    assert task.success_criterion.startswith("pulse drift <= 0.5: ")  # the report's bar
    assert "q / 2" in task.success_criterion and "harmonic" in task.success_criterion
    assert parse_bar(task.success_criterion, task.headline).value == 0.5
    truth = task.truth()
    assert 8 <= truth["cycles_in_span"] <= 32
    assert truth["period"] == pytest.approx(SPAN / truth["cycles_in_span"])
    x, y = task.train_set()
    assert x.size == 2000 and 0 <= x.min() and x.max() <= SPAN
    assert np.ptp(np.diff(x)) > np.mean(np.diff(x))  # random times, not a grid
    on = task._f(x) > 0  # the noiseless pulse: on for a share q of the time
    assert on.mean() == pytest.approx(0.03, abs=0.01)
    assert get_task("pulse[duty=0.03]", profile="full", seed=4).train_set()[0].size == 10_000


def test_a_harmonic_or_subharmonic_fails_and_the_drift_bound_is_q_over_2() -> None:
    task = get_task("pulse[duty=0.03]", seed=1)
    w = task.truth()["freqs"][0]
    per_cycle = 2 * np.pi / SPAN  # one cycle of drift over the span, in rad per unit

    def judge(freqs, amps=None):
        m = task.score(_Reports(freqs, amps))
        return task.success(m), m

    ok, m = judge([w])
    assert ok is True and m["pulse_drift"] == 0 and m["freq_ratio"] == 1
    for ratio in (2.0, 0.5, 3.0):
        ok, m = judge([ratio * w])
        assert ok is False and m["freq_ratio"] == pytest.approx(ratio)
    assert judge([w + 0.4 * 0.03 * per_cycle])[0] is True  # drifts 0.4 q over the span
    assert judge([w + 0.6 * 0.03 * per_cycle])[0] is False  # 0.6 q: the fold smears
    # Several tones: the dominant (largest amplitude) is the third harmonic, and the fundamental
    # is among the lower ones listed: judged on the fundamental the harmonics imply.
    ok, m = judge([w, 2 * w, 3 * w], [0.2, 0.3, 0.5])
    assert ok is True and m["dominant_ratio"] == pytest.approx(3) and m["freq_ratio"] == 1
    ok, m = judge([2 * w, 4 * w])  # even harmonics only: the model's period is P / 2
    assert ok is False and m["freq_ratio"] == pytest.approx(2)
    ok, m = judge([w, 0.5 * w])  # a sub-harmonic listed below the fundamental: period 2 P
    assert ok is False and m["freq_ratio"] == pytest.approx(0.5)
    assert fundamental(np.array([3 * w, 1.37 * w]), SPAN) == 3 * w  # unrelated: dominant
    assert judge([])[0] is False  # reports frequencies, none found: judged, failed
    assert task.success(task.score(_Reports(None))) is None  # no freqs_: not judged


def test_the_fold_at_the_fundamental_beats_its_harmonics() -> None:
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 500, 1000))
    f = 1 / 23.7
    y = (np.mod(t * f + 0.3, 1) < 0.05).astype(float)
    power, start, width, nb = bls(t, y - y.mean(), np.array([f, 2 * f, f / 2]), 0.04)
    assert power[0] > 0.9  # the box explains nearly all the variance of a noiseless pulse
    assert power[0] > 1.8 * power[1] and power[0] > 1.8 * power[2]  # 2f and f/2 halve it
    assert width[0] / nb == pytest.approx(0.05, abs=1.5 / nb)


def test_pulse_period_finds_narrow_pulses_the_fft_does_not() -> None:
    task = get_task("pulse[duty=0.01]", seed=0)
    fft = task.score(_fit(FFTEstimate(), task))
    assert fft["pulse_drift"] == np.inf and task.success(fft) is False  # no tone found
    bls_fit = _fit(PulsePeriod(), task)
    metrics = task.score(bls_fit)
    assert task.success(metrics) is True and metrics["freq_ratio"] == pytest.approx(1, abs=1e-3)
    assert metrics["test_nmse"] < 0.5  # the fitted box, not a constant (nMSE 1)
    s = bls_fit.searched_
    assert s["sde"] > 8 and s["fold_evals"] <= bls_fit.max_evals
    assert s["min_freq_searched"] < task.truth()["freqs"][0] < s["max_freq_searched"]
    # A wider pulse: the FFT's strongest tone is a harmonic, and its lower harmonics imply the
    # fundamental, which the judging rule credits.
    wide = get_task("pulse[duty=0.1]", seed=0)
    m = wide.score(_fit(FFTEstimate(), wide))
    assert m["dominant_ratio"] == pytest.approx(3, abs=0.01)
    assert m["freq_ratio"] == pytest.approx(1, abs=0.01) and wide.success(m) is True


def test_search_range_scales_with_the_data() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1000, 2000)
    base = search_grid(x)
    longer = search_grid(2 * x)  # same samples over twice the span
    assert longer["f_lo"] == pytest.approx(base["f_lo"] / 2)  # two cycles in the span
    assert base["f_lo"] == pytest.approx(2 / np.ptp(x))
    for b, lb in zip(base["bands"], longer["bands"], strict=True):
        assert b.duty == lb.duty
        assert np.diff(lb.freqs)[0] == pytest.approx(np.diff(b.freqs)[0] / 2)  # finer grid
    assert longer["f_hi"] == pytest.approx(base["f_hi"] / 2, rel=0.01)
    denser = search_grid(rng.uniform(0, 1000, 4000))  # twice the samples, same span
    assert denser["f_hi"] == pytest.approx(2 * base["f_hi"], rel=0.01)
    assert denser["bands"][0].duty == base["bands"][0].duty == 0.005
    assert search_grid(rng.uniform(0, 1000, 500))["bands"][0].duty == pytest.approx(10 / 500)
    assert base["evals"] == 2000 * sum(b.freqs.size for b in base["bands"])
    capped = search_grid(x, max_evals=2e7)  # over the cost cap: the shortest pulse widens
    assert capped["evals"] <= 2e7 and capped["m"] > base["m"] and capped["f_hi"] < base["f_hi"]
    regular = search_grid(np.arange(2000.0), min_pulse_samples=0.1)
    assert regular["f_hi"] < 0.5  # regular samples: below the Nyquist frequency
