"""The failure map: the sin31[cycles=C] tasks, the method sgd-sinusoid, the basin theory
(bench.lib.landscape) and the table and figure (bench.report.failure_map)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import Budget, Logger, TaskView
from bench.core import registry
from bench.kit.methods import learned_state
from bench.lib import landscape as L
from bench.report import failure_map as fm

VARIANTS = [
    "sgd-sinusoid",
    "sgd-sinusoid[opt=sgd-stable]",
    "sgd-sinusoid[opt=adam]",
    "sgd-sinusoid[init=uniform-2x]",
    "sgd-sinusoid[init=uniform-2x,opt=sgd-stable]",
    "sgd-sinusoid[init=uniform-2x,opt=adam]",
    # Starts over the band the samples resolve, one and several (tests/test_multistart.py).
    *(f"sgd-sinusoid[init=band{o}]" for o in ("", ",opt=sgd-stable", ",opt=adam")),
    *(
        f"sgd-sinusoid[{o}restarts={k}]"
        for k in (10, 100)
        for o in ("", "opt=sgd-stable,", "opt=adam,")
    ),
]


# -- the tasks ----------------------------------------------------------------------------------


def test_plain_sin31_is_unchanged() -> None:
    task = registry.get_task("sin31")
    assert task.domain == (-1000.0, 1000.0) and task.params == {}
    assert registry.TASKS.get("sin31").description.startswith("The original: sin(31x)")
    assert task.budget == Budget(steps=20_000, batch_size=32, seconds=900)


@pytest.mark.parametrize("cycles", [1, 3, 10000])
def test_cycle_variants_hold_c_cycles_of_sin31(cycles: int) -> None:
    task = registry.get_task(f"sin31[cycles={cycles}]")
    lo, hi = task.domain
    assert hi == -lo and math.isclose((hi - lo) / (2 * math.pi / 31), cycles)
    x, y = task.sample(1000, np.random.default_rng(0))
    assert np.all(np.abs(x) <= hi) and np.array_equal(y, np.sin(31 * x))
    assert task.truth() == {"freqs": [31.0]} and task.budget == registry.get_task("sin31").budget


def test_cycle_variants_and_method_variants_are_on_demand() -> None:
    everything = {e.id for e in registry.TASKS.select(None)}
    assert "sin31" in everything and not any(i.startswith("sin31[") for i in everything)
    named = [e.id for e in registry.TASKS.select(["sin31[cycles=*]"])]
    assert len(named) == 9 and named[0] == "sin31[cycles=1]"
    methods = {e.id for e in registry.METHODS.select(None)}
    assert "sgd-sinusoid" in methods and not any(v in methods for v in VARIANTS[1:])
    assert [e.id for e in registry.METHODS.select(["sgd-sinusoid*"])] == sorted(
        VARIANTS, key=registry.natural_key
    )


# -- the method ---------------------------------------------------------------------------------


def _autograd(theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    t = theta.clone().requires_grad_(True)
    w, a, phi, c = (t[i, :, None] for i in range(4))
    per_seed = ((a * torch.sin(w * x + phi) + c - y) ** 2).mean(dim=1)
    per_seed.sum().backward()
    return per_seed.detach(), t.grad


def test_closed_form_gradient_equals_autograd() -> None:
    from bench.builtin.methods.sgd_sinusoid import batch_loss_and_grad

    g = torch.Generator().manual_seed(0)
    f64 = torch.float64
    for r in (0.1, 10.0, 1000.0):
        theta = torch.randn(4, 7, generator=g, dtype=f64) * torch.tensor([[30], [1], [3], [1]])
        x = (torch.rand(7, 32, generator=g, dtype=f64) * 2 - 1) * r
        y = torch.sin(31 * x)
        loss, grad = batch_loss_and_grad(theta, x, y)
        loss_ag, grad_ag = _autograd(theta, x, y)
        torch.testing.assert_close(loss, loss_ag, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(grad, grad_ag, rtol=1e-10, atol=1e-12 * r)


@pytest.mark.parametrize("opt", ["sgd", "sgd-stable", "adam"])
def test_a_few_steps_match_torch_optimisers_with_autograd(opt: str) -> None:
    """The method's loop against torch.optim on the same samples and starts."""
    task = registry.get_task("sin31[cycles=10]")
    seeds = [3, 4, 5]
    budget = Budget(steps=25, batch_size=32)
    method = registry.get_method(f"sgd-sinusoid[opt={opt}]")
    views = [TaskView(task, np.random.default_rng(s)) for s in seeds]
    fitted = method.fit_seeds(views, budget, seeds, "cpu", Logger(n_seeds=3))
    got = np.array([[f.w_, f.a_, f.phi_, f.c_] for f in fitted]).T

    f64 = torch.float64
    theta = torch.zeros(4, 3, dtype=f64)
    theta[0] = torch.tensor(method.initial_freqs(seeds), dtype=f64)
    theta[1] = 1.0
    theta.requires_grad_(True)
    lr = method.step_size(task.domain)
    optim = (
        torch.optim.Adam([theta], lr=lr, foreach=False)
        if opt == "adam"
        else torch.optim.SGD([theta], lr=lr)
    )
    rngs = [np.random.default_rng(s) for s in seeds]
    for _ in range(budget.steps):
        xy = [task.sample(32, rng) for rng in rngs]
        x = torch.tensor(np.stack([p[0] for p in xy]))
        y = torch.tensor(np.stack([p[1] for p in xy]))
        w, a, phi, c = (theta[i, :, None] for i in range(4))
        optim.zero_grad()
        ((a * torch.sin(w * x + phi) + c - y) ** 2).mean(dim=1).sum().backward()
        optim.step()
    np.testing.assert_allclose(got, theta.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_one_seed_alone_equals_the_same_seed_in_a_batch() -> None:
    task = registry.get_task("sin31[cycles=30]")
    budget = Budget(steps=300, batch_size=32)
    seeds = [11, 12, 13, 14]
    for variant in ("sgd-sinusoid[opt=sgd-stable]", "sgd-sinusoid[init=uniform-2x,opt=adam]"):
        many = registry.get_method(variant).fit_seeds(
            [TaskView(task, np.random.default_rng(s)) for s in seeds],
            budget, seeds, "cpu", Logger(n_seeds=4),
        )  # fmt: skip
        alone = registry.get_method(variant)
        alone.fit(TaskView(task, np.random.default_rng(13)), budget, 13, "cpu", Logger())
        assert learned_state(alone).keys() == learned_state(many[2]).keys()
        for k in ("w_", "a_", "phi_", "c_"):  # bit for bit: each row is its own computation
            assert getattr(alone, k) == getattr(many[2], k)


def test_fit_returns_self_and_fit_seeds_fitted_copies() -> None:
    task = registry.get_task("sin31[cycles=3]")
    budget = Budget(steps=50, batch_size=16)
    method = registry.get_method("sgd-sinusoid[init=uniform-2x]")
    assert method.fit(TaskView(task, np.random.default_rng(0)), budget, 0, "cpu", Logger()) is (
        method
    )
    assert set(learned_state(method)) == {
        "w_", "a_", "phi_", "c_", "freqs_", "amplitudes_", "n_params_",
    }  # fmt: skip
    x = np.linspace(-0.3, 0.3, 5)
    expect = method.a_ * np.sin(method.w_ * x + method.phi_) + method.c_
    np.testing.assert_array_equal(method.predict(x), expect)
    assert method.freqs_[0] == abs(method.w_) and "freq_error" in task.score(method)

    fresh = registry.get_method("sgd-sinusoid[init=uniform-2x]")
    views = [TaskView(task, np.random.default_rng(s)) for s in (0, 1, 2)]
    fitted = fresh.fit_seeds(views, budget, [0, 1, 2], "cpu", Logger(n_seeds=3))
    assert [type(f) for f in fitted] == [type(fresh)] * 3 and fresh not in fitted
    assert not learned_state(fresh) and len({f.w_ for f in fitted}) == 3
    assert all(f.get_params() == fresh.get_params() for f in fitted)


def test_starts_follow_the_named_distributions() -> None:
    randn = registry.get_method("sgd-sinusoid").initial_freqs(range(2000))
    sgd_sin = registry.get_method("sgd-sin")  # the same draw as the original learner's
    w0 = torch.randn(1, generator=torch.Generator().manual_seed(7)).item()
    assert randn[7] == w0 and sgd_sin.init == "randn"
    assert abs(np.mean(randn)) < 0.1 and abs(np.std(randn) - 1) < 0.05
    uni = np.array(registry.get_method("sgd-sinusoid[init=uniform-2x]").initial_freqs(range(2000)))
    assert uni.min() >= 0 and uni.max() <= 62 and abs(uni.mean() - 31) < 1.5
    with pytest.raises(ValueError, match="init must be one of"):
        registry.get_method("sgd-sinusoid[init=oracle]").initial_freqs([0])
    with pytest.raises(ValueError, match="opt must be one of"):
        registry.get_method("sgd-sinusoid[opt=lbfgs]").step_size((-1.0, 1.0))


def test_stable_step_is_half_the_limit_of_the_exact_hessian() -> None:
    """1 / max(R^2/3, 2) against the exact 2 E[J J^T] at the optimum (w = 31, a = 1)."""
    for cycles in (1, 3, 30, 1000):
        r = cycles * math.pi / 31
        step = L.sinusoid_stable_step((-r, r))
        assert step == pytest.approx(1 / max(r * r / 3, 2), rel=1e-12)
        x = np.linspace(-r, r, 400_001)
        jac = np.stack([x * np.cos(31 * x), np.sin(31 * x), np.cos(31 * x), np.ones_like(x)])
        exact = np.linalg.eigvalsh(2 * (jac @ jac.T) / x.size)[-1]
        assert step * exact == pytest.approx(1.0, rel=0.1)


# -- the theory ---------------------------------------------------------------------------------


def test_profile_loss_is_the_least_squares_optimum_over_a_phi_c() -> None:
    r = 3 * math.pi / 31
    x = np.linspace(-r, r, 200_001)
    y = np.sin(31 * x)
    for w in (0.7, 12.0, 30.5, 31.0, 33.0, 80.0):
        design = np.column_stack([np.sin(w * x), np.cos(w * x), np.ones_like(x)])
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        lsq = float(np.mean((design @ coef - y) ** 2))
        assert float(L.profile_loss(w, 31, r)) == pytest.approx(lsq, rel=1e-3, abs=1e-9)
    assert float(L.profile_loss(-12.0, 31, r)) == float(L.profile_loss(12.0, 31, r))


def test_basin_is_the_central_lobe_two_pi_over_r_wide() -> None:
    """Hand check: for many cycles the profile is (1 - S((w - t) R)^2) / 2, whose main lobe
    ends at the first zeros of S, |w - t| = pi / R; the width 2 pi / R scales as 1 / R."""
    for r in (10.0, 100.0, 1000.0):
        lo, hi = L.basin(31, r)
        assert (hi - lo) * r / (2 * math.pi) == pytest.approx(1, rel=2e-3)
        assert (lo + hi) / 2 == pytest.approx(31, abs=2e-3 * math.pi / r)
    # One cycle in the domain: the basin reaches down to w = 0 (and meets its mirror there).
    lo, hi = L.basin(31, math.pi / 31)
    assert lo == 0 and hi == pytest.approx(62, rel=1e-3)


def test_probability_of_starting_in_the_basin() -> None:
    # C whole cycles: w* R = C pi, so the basin is 31 +- 31/C exactly and U[0, 62] holds it
    # with probability 1 / C.
    for cycles in (2, 3, 10, 100, 10000):
        assert L.basin_probability(cycles, "uniform-2x") == pytest.approx(1 / cycles, rel=2e-3)
    assert L.basin_probability(1, "uniform-2x") == pytest.approx(1.0)
    assert L.basin_probability(1, "randn") == pytest.approx(1.0)  # basin reaches 0: all of N(0,1)
    assert L.basin_probability(2, "randn") < 1e-50  # 15.5 standard deviations away
    assert L.INITS["randn"].mass(-1, 1) == pytest.approx(math.erf(1 / math.sqrt(2)))


# -- the table and the figure -------------------------------------------------------------------


def _rec(opt: str, init: str, cycles: int, seed: int, success: bool | None, **kw) -> dict:
    params = {
        k: v for k, v, default in (("init", init, "randn"), ("opt", opt, "sgd")) if v != default
    }
    method = registry.variant_id("sgd-sinusoid", params)
    return {
        "method": method, "method_family": "sgd-sinusoid", "params": params,
        "method_params": {"opt": opt, "init": init},
        "task": f"sin31[cycles={cycles}]", "task_family": "sin31",
        "task_params": {"cycles": cycles},
        "seed": seed, "profile": "quick", "base_seed": 0, "status": kw.get("status", "ok"),
        "success": success, "metrics": {"freq_error": kw.get("fe", 1.0), "test_mse": 0.5},
        "run_key": f"{method}/{cycles}/{seed}/{success}", "reason": "", "time": {},
        "trace": [], "env": {}, "headline": "test_mse", "loss_target": 1e-4,
    }  # fmt: skip


def _records() -> list[dict]:
    recs = []
    for s in range(10):  # 3/10 at C = 3 with the uniform start: theory 1/3
        recs.append(_rec("sgd-stable", "uniform-2x", 3, s, s < 3, fe=0.0 if s < 3 else 14.0))
    for s in range(4):  # 0/4 at C = 10 with N(0,1): theory ~0
        recs.append(_rec("adam", "randn", 10, s, False, status="diverged" if s == 0 else "ok"))
    recs.append(_rec("adam", "randn", 10, 4, None, status="skipped"))  # not judged
    recs.append(_rec("adam", "randn", 10, 1, True))  # a rerun of seed 1: the newest counts
    other = dict(_rec("sgd", "randn", 10, 0, True), task="sin31", task_params={})
    recs.append(other)  # the plain task is not part of the map
    return recs


def test_failure_map_rows_on_synthetic_records() -> None:
    rows = fm.failure_map_rows(_records())
    assert [(r["init"], r["optimiser"], r["cycles"]) for r in rows] == [
        ("randn", "adam", 10),
        ("uniform-2x", "sgd-stable", 3),
    ]
    adam, stable = rows
    assert (adam["successes"], adam["n"], adam["not_ok"]) == (1, 4, 1)
    assert adam["theory"] < 1e-50 and adam["theory_inside"] is False  # Wilson(1/4) > 0.04
    assert (stable["successes"], stable["n"], stable["rate"]) == (3, 10, 0.3)
    lo, hi = fm.wilson_interval(3, 10)
    assert (stable["ci_low"], stable["ci_high"]) == (lo, hi) and lo < 1 / 3 < hi
    assert stable["theory"] == pytest.approx(1 / 3, rel=1e-3) and stable["theory_inside"]
    assert stable["median_freq_error"] == 14.0
    table = fm.failure_map_table(_records())
    assert ["uniform-2x", "sgd-stable", "3", "3 / 10", "30%"] == table.rows[1][:5]
    assert fm.failure_map_table(_records()[-1:]) is None


def test_starts_in_basin_are_recomputed_from_the_seed() -> None:
    """The report reads records only: the application layer redraws each start from the
    record's seed through the plugin and hands the answer to the table."""
    from bench.app.report import start_in_basin
    from bench.engine.plan import derive_seed

    rec = _rec("sgd-stable", "uniform-2x", 3, 5, True)
    method = registry.get_method(rec["method"])
    w0 = method.initial_freqs([derive_seed(0, "sin31[cycles=3]", 5, 2)])[0]  # as the runner
    assert start_in_basin(rec) == (31 - 31 / 3 < w0 < 31 + 31 / 3)
    assert start_in_basin(dict(rec, method="no-such-method")) is None
    recs = [r for r in _records() if r["task"] == "sin31[cycles=3]"]
    (row,) = [r for r in fm.failure_map_rows(recs, start_in_basin)]
    assert row["in_basin"] == sum(start_in_basin(r) for r in recs)
    assert row["successes_in_basin"] + row["successes_outside"] == row["successes"]
    (bare,) = fm.failure_map_rows(recs)  # without the lookup: the starts are not known
    assert bare["in_basin"] is None and bare["successes"] == row["successes"]


def test_the_report_carries_the_failure_map(tmp_path: Path) -> None:
    from bench import report
    from bench.report.records import Loaded

    done = report.write_report(Loaded(_records(), []), [tmp_path], tmp_path, plots=True)
    png = tmp_path / "plots" / "failure_map.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "report.md").read_text()
    assert "## The failure map" in md and "plots/failure_map.png" in md
    assert done.written
    with pytest.raises(ValueError, match="no records"):
        fm.failure_map_plot(_records()[-1:])


def test_networks_get_their_own_rows_without_theory() -> None:
    net = [
        {
            **_rec("sgd", "randn", 3, s, s == 0),
            "method": "siren",
            "method_family": "siren",
            "params": {},
            "method_params": {},
            "run_key": f"siren/3/{s}",
        }  # fmt: skip
        for s in range(3)
    ]
    rows = fm.failure_map_rows(_records() + net)
    (siren,) = [r for r in rows if r["init"] == "network"]
    assert siren["optimiser"] == "siren" and (siren["successes"], siren["n"]) == (1, 3)
    assert math.isnan(siren["theory"]) and siren["theory_inside"] is None
    assert len(rows) == len(fm.failure_map_rows(_records())) + 1
