"""Past the Fourier limit (issue 34, first part): the two-tone Cramer-Rao bound, ESPRIT with
MDL order, the close-tones task, and TimesNet's integer period picker."""

from __future__ import annotations

import numpy as np
import pytest
from bench.builtin.methods.esprit import ESPRIT, esprit, mdl_order
from bench.builtin.methods.fft import FFTEstimate
from bench.builtin.methods.timesnet_period import TimesNetPeriod, fft_for_period

from bench import Logger, get_task
from bench.core import registry
from bench.core.task import TaskView
from bench.lib.metrics import tone_crlb_std, tones_crlb_std


def _fit(method, task):
    view = TaskView(task, np.random.default_rng(0))
    assert method.supports(view) is None
    return method.fit(view, task.budget, 0, "cpu", Logger())


def test_two_tone_bound_reduces_to_one_tone_and_grows_as_tones_close() -> None:
    x = np.arange(256.0)
    one = tones_crlb_std(x, [0.5], [1.0], [0.3], 0.1)
    assert one[0] == pytest.approx(tone_crlb_std(x, 0.5, 1.0, 0.3, 0.1), rel=1e-9)
    far = tones_crlb_std(x, [0.5, 1.5], [1, 1], [0.3, 1.0], 0.1)
    close = tones_crlb_std(x, [0.5, 0.5 + 0.25 * 2 * np.pi / 256], [1, 1], [0.3, 1.0], 0.1)
    assert far[0] == pytest.approx(one[0], rel=0.05)
    assert close[0] > 3 * far[0]  # coupled tones: the bound rises well above one tone's


def test_mdl_counts_the_exponentials() -> None:
    rng = np.random.default_rng(0)
    n = np.arange(200)
    y = np.sin(0.7 * n) + np.sin(1.9 * n + 1) + 0.05 * rng.standard_normal(n.size)
    h = np.lib.stride_tricks.sliding_window_view(y - y.mean(), 100).T
    sv = np.linalg.svd(h, compute_uv=False)
    assert mdl_order(sv**2 / h.shape[1], h.shape[1]) == 4  # two real tones, four exponentials
    noise = np.lib.stride_tricks.sliding_window_view(rng.standard_normal(200), 100).T
    sv = np.linalg.svd(noise, compute_uv=False)
    assert mdl_order(sv**2 / noise.shape[1], noise.shape[1]) == 0
    np.testing.assert_allclose(esprit(y - y.mean(), 100, 8), [0.7, 1.9], atol=2e-3)


def test_esprit_resolves_tones_half_a_bin_apart_where_the_fft_sees_one() -> None:
    task = get_task("close-tones[sep=0.5]", seed=1)
    sub = _fit(ESPRIT(), task)
    assert task.success(task.score(sub)) is True
    fft = _fit(FFTEstimate(), task)
    assert task.score(fft)["efficiency"] == np.inf  # one peak: fewer tones than the truth
    assert task.success(task.score(fft)) is False


def test_close_tones_is_on_demand_and_states_its_bound() -> None:
    registry.load_plugins()
    entry = registry.TASKS.get("close-tones[sep=0.25]")
    assert entry.in_all is False
    task = get_task("close-tones[sep=0.25]", seed=0)
    w1, w2 = task.truth()["freqs"]
    assert w2 - w1 == pytest.approx(0.25 * 2 * np.pi / 256)
    assert len(task.truth()["crlb_std"]) == 2 and min(task.truth()["crlb_std"]) > 0
    x, _ = task.train_set()
    np.testing.assert_array_equal(x, np.arange(256.0))


def test_esprit_declines_irregular_samples() -> None:
    task = get_task("noisy-tone[snr_db=20]", seed=0)
    reason = ESPRIT().supports(TaskView(task, np.random.default_rng(0)))
    assert reason is not None and "regular grid" in reason


def test_timesnet_periods_are_whole_samples() -> None:
    t = np.arange(256)
    assert fft_for_period(np.sin(2 * np.pi * t / 16), 1).tolist() == [16]
    # A period of 10.5 samples lands in bin 24 (256 / 10.5 = 24.4): 256 // 24 = 10.
    assert fft_for_period(np.sin(2 * np.pi * t / 10.5), 1).tolist() == [10]
    task = get_task("close-tones[sep=1.0]", seed=0)
    m = _fit(TimesNetPeriod(), task)
    assert np.all(m.periods_ == np.floor(m.periods_)) and m.periods_.size <= 5
