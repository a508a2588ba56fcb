"""The multi-start baseline: ``sgd-sinusoid[restarts=K]`` (K starts per seed over the band the
samples resolve, the lowest training loss kept), its theory ``1 - (1 - p)^K``
(bench.lib.landscape) and its rows on the failure map (bench.report.failure_map)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from bench.builtin.methods import sgd_sinusoid as S

from bench import Budget, Logger, TaskView
from bench.core import registry
from bench.kit.methods import learned_state
from bench.lib import landscape as L
from bench.lib.sampling import search_limit
from bench.report import failure_map as fm

SIN3 = "sin31[cycles=3]"


def _views(task, seeds):
    return [TaskView(task, np.random.default_rng(s)) for s in seeds]


def _fit(method_id: str, task_id: str, seeds, steps: int, bs: int = 32):
    task = registry.get_task(task_id)
    log = Logger(n_seeds=len(seeds))
    method = registry.get_method(method_id)
    fitted = method.fit_seeds(_views(task, seeds), Budget(steps=steps, batch_size=bs), seeds,
                              "cpu", log)  # fmt: skip
    return fitted, log


# -- one start is today's method ----------------------------------------------------------------


@pytest.mark.parametrize("opt", ["sgd", "sgd-stable", "adam"])
def test_one_restart_is_the_single_run_bit_for_bit(opt: str) -> None:
    seeds = [0, 1, 2]
    base = "sgd-sinusoid" if opt == "sgd" else f"sgd-sinusoid[opt={opt}]"
    one = "sgd-sinusoid[restarts=1]" if opt == "sgd" else f"sgd-sinusoid[opt={opt},restarts=1]"
    a, log_a = _fit(base, SIN3, seeds, steps=1200)
    b, log_b = _fit(one, SIN3, seeds, steps=1200)
    for fa, fb in zip(a, b, strict=True):
        assert (fa.w_, fa.a_, fa.phi_, fa.c_) == (fb.w_, fb.a_, fb.phi_, fb.c_)
        assert set(learned_state(fa)) == set(learned_state(fb)) and not hasattr(fb, "searched_")
    for i in range(3):  # the same logged losses at the same steps
        assert [(t[0], t[2]) for t in log_a.trace(i)] == [(t[0], t[2]) for t in log_b.trace(i)]
    assert registry.get_method(base).restarts == 1  # the default


def test_hyper_parameters_are_checked_and_described() -> None:
    with pytest.raises(ValueError, match="restarts must be"):
        registry.get_method("sgd-sinusoid[restarts=0]").step_size((-1.0, 1.0))
    with pytest.raises(ValueError, match="leave init unset"):
        registry.get_method("sgd-sinusoid[init=uniform-2x,restarts=3]").step_size((-1.0, 1.0))
    with pytest.raises(ValueError, match="band starts depend on the samples"):
        registry.get_method("sgd-sinusoid[init=band]").initial_freqs([0])
    with pytest.raises(ValueError, match="init must be one of randn, uniform-2x, band"):
        registry.get_method("sgd-sinusoid[init=oracle]").step_size((-1.0, 1.0))
    desc = registry.METHODS.get("sgd-sinusoid[opt=adam,restarts=10]").description
    assert "best of 10 starts" in desc and "10x its compute" in desc and "no oracle" in desc
    on_demand = {e.id for e in registry.METHODS.select(["sgd-sinusoid[*restarts=*]"])}
    assert {"sgd-sinusoid[restarts=10]", "sgd-sinusoid[opt=adam,restarts=100]"} <= on_demand
    assert not on_demand & {e.id for e in registry.METHODS.select(None)}  # not in --all


# -- the band -----------------------------------------------------------------------------------


def test_band_is_the_mean_rate_nyquist_of_the_run_for_random_samples() -> None:
    seeds, steps, bs = [4, 5], 100, 32
    task = registry.get_task(SIN3)
    fitted, _ = _fit("sgd-sinusoid[restarts=7]", SIN3, seeds, steps=steps, bs=bs)
    method = registry.get_method("sgd-sinusoid[restarts=7]")
    for f, s in zip(fitted, seeds, strict=True):
        x, _ = TaskView(task, np.random.default_rng(s)).sample(steps * bs)  # the seed's samples
        w_max = math.pi * steps * bs / (x.max() - x.min())
        got = f.searched_["max_freq_searched"]
        assert got == pytest.approx(w_max, rel=1e-12)
        r = task.domain[1]
        assert got == pytest.approx(math.pi * steps * bs / (2 * r), rel=0.01)
        assert got < search_limit(x)[0] / 10  # the lower of the project's two limits
        starts = method.start_freqs([s], [got])
        assert starts.shape == (1, 7) and np.all((starts >= 0) & (starts < got))
        assert len(set(starts[0])) == 7
        b = int(f.searched_["best_start"])
        assert f.searched_["w0_kept"] == starts[0, b] and f.searched_["restarts"] == 7
        assert 1 <= f.searched_["starts_at_kept_freq"] <= 7
    # Regular samples alias above their Nyquist frequency: that is their band, whatever n.
    assert S.band_limit(np.linspace(0.0, 1.0, 101), 10**6) == pytest.approx(math.pi / 0.01)


def test_single_band_start_draws_the_same_u_as_the_uniform_start() -> None:
    method = registry.get_method("sgd-sinusoid[init=band]")
    uni = registry.get_method("sgd-sinusoid[init=uniform-2x]").initial_freqs([3, 9])
    np.testing.assert_allclose(method.start_freqs([3, 9], [62.0, 62.0])[:, 0], uni, rtol=1e-15)
    (f,), _ = _fit("sgd-sinusoid[init=band]", SIN3, [3], steps=50)
    assert set(f.searched_) == {"max_freq_searched", "restarts", "w0_kept"}
    assert (
        f.searched_["w0_kept"] == method.start_freqs([3], [f.searched_["max_freq_searched"]])[0, 0]
    )


# -- the kept start -----------------------------------------------------------------------------


@pytest.mark.parametrize("where", [0, 2, 3])
def test_the_start_with_the_lowest_training_loss_is_kept(where: int, monkeypatch) -> None:
    """Four starts, one of them exactly on w* (zero loss from the first step): it is kept, its
    state is what one run from that start reaches on the same batches, and the logged loss is
    the lowest among the starts (that run's own)."""
    starts = [500.0, 7.0, 2000.0, 90.0]
    starts[where] = 31.0

    def fake(self, seeds, w_max):
        return np.array([starts[: self.restarts]] * len(seeds))

    monkeypatch.setattr(S.SGDSinusoid, "start_freqs", fake)
    (multi,), log_m = _fit("sgd-sinusoid[opt=sgd-stable,restarts=4]", SIN3, [8], steps=1500)
    monkeypatch.setattr(
        S.SGDSinusoid, "start_freqs", lambda self, seeds, w_max: np.array([[31.0]] * len(seeds))
    )
    (single,), log_s = _fit("sgd-sinusoid[init=band,opt=sgd-stable]", SIN3, [8], steps=1500)
    assert multi.searched_["best_start"] == where and multi.searched_["w0_kept"] == 31.0
    assert abs(multi.w_ - 31) < 1e-9 and registry.get_task(SIN3).score(multi)["test_mse"] < 1e-20
    kept = [multi.w_, multi.a_, multi.phi_, multi.c_]
    np.testing.assert_allclose(kept, [single.w_, single.a_, single.phi_, single.c_], atol=1e-12)
    tm, ts = ([p[2] for p in log.trace()] for log in (log_m, log_s))
    assert [p[0] for p in log_m.trace()] == [1000, 1500] and tm == ts and max(tm) < 1e-20


def test_the_window_loss_chooses_and_a_diverged_start_never_wins() -> None:
    """The rule alone: the lowest summed batch loss over the final window, NaN never kept
    unless every start is NaN."""
    d = S._Descent(adam=False, lr=1e-4, steps=10, starts=3)
    d.window_loss = torch.tensor([[0.3, 0.1, 0.2], [float("nan"), 0.5, 0.4], [float("nan")] * 3])
    theta = torch.arange(36, dtype=torch.float64).reshape(4, 3, 3)
    w0 = np.array([[1.0, 2.0, 3.0]] * 3)
    states = S._band_states(theta, d, w0, [100.0] * 3, [2.0] * 3)
    assert [int(s["best_start"]) for _, s in states] == [1, 2, 0]
    np.testing.assert_array_equal(states[1][0], theta[:, 1, 2].numpy())
    assert [s["w0_kept"] for _, s in states] == [2.0, 3.0, 1.0]
    loss = torch.tensor([[0.3, float("nan")], [float("nan"), float("nan")]])
    got = S.best_loss(loss)
    assert got[0] == 0.3 and math.isinf(got[1])


def test_restarts_alone_equal_the_same_seed_in_a_batch() -> None:
    seeds = [21, 22, 23]
    many, _ = _fit("sgd-sinusoid[opt=adam,restarts=5]", "sin31[cycles=10]", seeds, steps=400)
    alone = registry.get_method("sgd-sinusoid[opt=adam,restarts=5]")
    task = registry.get_task("sin31[cycles=10]")
    alone.fit(TaskView(task, np.random.default_rng(22)), Budget(steps=400, batch_size=32), 22,
              "cpu", Logger())  # fmt: skip
    assert (alone.w_, alone.a_, alone.phi_, alone.c_) == (
        many[1].w_, many[1].a_, many[1].phi_, many[1].c_
    )  # fmt: skip
    assert alone.searched_ == many[1].searched_


# -- the theory ---------------------------------------------------------------------------------


def test_band_basin_probability_by_hand() -> None:
    # C whole cycles (C >= 2): the basin is 31 +- 31 / C, so U[0, w_max] holds it with
    # probability (62 / C) / w_max; with one cycle it reaches down to 0: 62 / w_max.
    for cycles, w_max in ((3, 1000.0), (10, 5e4), (100, 3.3e6)):
        want = (62 / cycles) / w_max
        assert L.band_basin_probability(cycles, w_max) == pytest.approx(want, rel=2e-3)
    assert L.band_basin_probability(1, 6200.0) == pytest.approx(0.01, rel=2e-3)
    assert L.band_basin_probability(3, 20.0) == 0.0  # the band stops below the basin
    assert L.band_basin_probability(1, 40.0) == 1.0  # the band lies inside it
    # The mean-rate band of n samples: about 4 / n whatever the cycles.
    n = 640_000
    for cycles in (3, 30, 1000):
        r = cycles * math.pi / 31
        p = L.band_basin_probability(cycles, math.pi * n / (2 * r))
        assert p == pytest.approx(4 / n, rel=5e-3)
    with pytest.raises(ValueError):
        L.band_basin_probability(3, 0.0)


def test_multistart_probability_by_hand_and_monotone() -> None:
    assert L.multistart_probability(0.1, 10) == pytest.approx(1 - 0.9**10, rel=1e-14)
    assert L.multistart_probability(0.25, 1) == pytest.approx(0.25, rel=1e-15)
    assert L.multistart_probability(1e-12, 10) == pytest.approx(1e-11, rel=1e-9)  # digits kept
    assert L.multistart_probability(0.0, 100) == 0.0 and L.multistart_probability(1.0, 3) == 1.0
    ks = [1, 2, 5, 10, 100, 1000, 10_000]
    for p in (1e-6, 0.01, 0.3):
        seq = [L.multistart_probability(p, k) for k in ks]
        # Strictly rising until it rounds to 1 (0.7^1000 is below double precision).
        assert all(a < b or a == b == 1.0 for a, b in zip(seq, seq[1:], strict=False))
        assert seq[0] == pytest.approx(p, rel=1e-12) and seq[-1] <= 1
    with pytest.raises(ValueError):
        L.multistart_probability(1.5, 2)
    with pytest.raises(ValueError):
        L.multistart_probability(0.5, 0)


# -- the failure map ----------------------------------------------------------------------------


def _rec(params: dict, cycles: int, seed: int, success: bool, **metrics) -> dict:
    method = registry.variant_id("sgd-sinusoid", params)
    full = {"opt": "sgd", "init": "randn", "restarts": 1, **params}
    return {
        "method": method, "method_family": "sgd-sinusoid", "params": params,
        "method_params": full, "task": f"sin31[cycles={cycles}]", "task_family": "sin31",
        "task_params": {"cycles": cycles}, "seed": seed, "profile": "quick", "base_seed": 0,
        "status": "ok", "success": success,
        "metrics": {"freq_error": 0.0 if success else 9.0, "test_mse": 0.5, **metrics},
        "run_key": f"{method}/{cycles}/{seed}", "reason": "", "time": {}, "trace": [],
        "env": {}, "headline": "test_mse", "loss_target": 1e-4,
    }  # fmt: skip


def _band_records() -> list[dict]:
    w_max, recs = 400.0, []
    for s in range(8):  # single band start, Adam, C = 3: 2 of 8 succeed, both started in basin
        w0 = 30.0 if s < 3 else 300.0
        recs.append(_rec({"init": "band", "opt": "adam"}, 3, s, s < 2,
                         max_freq_searched=w_max + s, w0_kept=w0))  # fmt: skip
    for s in range(6):  # best of 10, Adam, C = 3: 4 of 6
        recs.append(_rec({"opt": "adam", "restarts": 10}, 3, s, s < 4, max_freq_searched=w_max,
                         w0_kept=31.5 if s < 4 else 200.0, best_start=s))  # fmt: skip
    recs.append(_rec({"init": "uniform-2x"}, 3, 0, True))  # a fixed-distribution row
    return recs


def test_failure_map_has_the_multistart_rows_and_their_theory() -> None:
    looked_up = []

    def lookup(r):  # the plugin lookup is for fixed distributions only
        looked_up.append(r["method"])
        return True

    rows = fm.failure_map_rows(_band_records(), lookup)
    assert [(r["init"], r["restarts"], r["optimiser"]) for r in rows] == [
        ("uniform-2x", 1, "sgd"),
        ("band", 1, "adam"),
        ("band", 10, "adam"),
    ]
    assert looked_up == ["sgd-sinusoid[init=uniform-2x]"]
    _, single, multi = rows
    p = L.band_basin_probability(3, 403.5)  # the median of the single start's recorded bands
    assert single["theory"] == pytest.approx(p, rel=1e-12)
    assert single["theory"] == pytest.approx((62 / 3) / 403.5, rel=2e-3)
    assert math.isnan(single["theory_from_single"])
    p10 = L.band_basin_probability(3, 400.0)
    assert multi["theory"] == pytest.approx(1 - (1 - p10) ** 10, rel=1e-12)
    assert (multi["successes"], multi["n"]) == (4, 6)
    assert multi["theory_from_single"] == pytest.approx(1 - (1 - 2 / 8) ** 10, rel=1e-12)
    assert (single["in_basin"], single["successes_in_basin"]) == (3, 2)
    assert (multi["in_basin"], multi["successes_in_basin"], multi["successes_outside"]) == (
        4, 4, 0,
    )  # fmt: skip
    table = fm.failure_map_table(_band_records())
    cells = {row[0]: row for row in table.rows}
    assert "band, best of 10" in cells and cells["band, best of 10"][3] == "4 / 6"
    col = table.columns.index("theory from single-start rate")
    assert cells["band, best of 10"][col] == fm._pct(1 - 0.75**10)
    assert cells["band"][col] == "-"


def test_failure_map_plot_has_a_panel_per_start_and_number_of_starts() -> None:
    fig = fm.failure_map_plot(_band_records())
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert len(titles) == 3 and any("best of 10" in t for t in titles)
    band10 = next(ax for ax in fig.axes if "best of 10" in ax.get_title())
    styles = {line.get_linestyle() for line in band10.get_lines()}
    assert {"--", ":"} <= styles  # the theory and the theory from the single-start rate
