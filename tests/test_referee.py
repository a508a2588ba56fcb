"""The fair referee: the declared stop rule, the representational ceiling, and the tuning
protocol (validation split, choice, settings applied by ``run``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import Budget, Logger, Method, Task, register_method, register_task
from bench.core import registry
from bench.core.ceiling import preimage_sizes
from bench.core.stop import Plateau, floor_for
from bench.engine import tuning
from bench.engine.execute import execute
from bench.engine.plan import RunSpec, plan
from bench.kit.nn import InputScaler

# -- the stop rule ------------------------------------------------------------------------------


def test_plateau_settles_after_patience_not_before() -> None:
    rule = Plateau(1)
    flags = [rule.update(1.0)[0] for _ in range(6)]
    # The first window sets the best; five more without a 1% gain make a plateau.
    assert flags == [False, False, False, False, False, True]


def test_plateau_waits_while_improving_and_stops_at_the_floor() -> None:
    rule = Plateau(2, floor=np.array([1e-6, 0.0]))
    for k in range(30):
        settled = rule.update(np.array([0.9**k, 0.9**k]))
    assert not settled.any()  # 10% better every window: no plateau
    settled = rule.update(np.array([1e-7, 1e-7]))
    assert settled.tolist() == [True, False]  # only the seed with a floor stops there
    assert floor_for(1e-4) == pytest.approx(1e-6) and floor_for(None) == 0.0


def test_logger_windows_are_steps_not_calls() -> None:
    log = Logger()
    for step in range(1, 501):  # a method that logs every step: five windows of 100 steps
        log(step, 1.0)
    assert log.plateau.windows == 5 and not log.settled()
    for step in range(501, 601):
        log(step, 1.0)
    assert log.settled() and log.converged_step[0] == 600


def test_records_say_whether_a_run_converged() -> None:
    recs = execute(RunSpec("gelu-mlp[settings=paper]", "tone[cycles=10000]", (0,)))
    (rec,) = recs
    # A plain MLP on 10,000 cycles settles at the variance at once: a converged failure.
    assert rec["converged"] is True and rec["success"] is False
    assert rec["metrics"]["steps"] == rec["converged_step"] < rec["budget"]["steps"]
    (spectral,) = execute(RunSpec("fft", "tone[cycles=10]", (0,)))
    assert spectral["converged"] is None  # takes no steps


# -- the representational ceiling ---------------------------------------------------------------


def test_preimage_sizes_count_integers_sharing_a_float() -> None:
    t = np.array([0, 1, 2**24 + 1, 2**30 + 5, -(2**30) - 77], dtype=np.int64)

    def f32(u):
        return np.asarray(u).astype(np.float32)

    sizes = preimage_sizes(t, f32, -(2**31), 2**31)
    brute = [int(np.sum(f32(np.arange(v - 300, v + 301)) == f32([v])[0])) for v in t]
    assert sizes.tolist() == brute and brute[:3] == [1, 1, 2] and brute[3] > 64
    in_f64 = preimage_sizes(t, lambda u: np.asarray(u).astype(np.float64), -(2**31), 2**31)
    assert in_f64.tolist() == [1] * 5


def test_clock_ceiling_follows_the_representation() -> None:
    task = registry.get_task("clock[encoding=int64,span=120y]", seed=1)
    f64 = task.ceiling(InputScaler.from_domain(task.domain, "float64"))
    f32 = task.ceiling(InputScaler.from_domain(task.domain, "float32"))
    assert f64["metrics"]["exact_match"] == 1.0 and f64["success_possible"] is True
    # Scaled to [-1, 1] in float32, neighbouring inputs are 52-207 s apart: about 4% at best.
    assert 0.02 < f32["metrics"]["exact_match"] < 0.06 and f32["success_possible"] is False
    assert f32["metrics"]["extrap_exact_match"] < 0.01


def test_network_records_carry_their_ceiling() -> None:
    (rec,) = execute(RunSpec("gelu-mlp[settings=paper]", "clock[encoding=int64,span=1d]", (0,)))
    assert rec["ceiling"]["metrics"]["exact_match"] == 1.0  # float64 front: every second apart
    (rec,) = execute(RunSpec("fft", "tone[cycles=10]", (0,)))
    assert rec["ceiling"] is None  # regression: no ceiling computed


# -- tuning -------------------------------------------------------------------------------------


class _Fixed(Task):
    family = "test-fixed"
    description = "fixed set"
    infinite = False
    budgets = {p: Budget(steps=10, batch_size=4) for p in ("quick", "full")}

    @property
    def domain(self):
        return (0.0, 1.0)

    def train_set(self):
        x = np.arange(100, dtype=float)
        return x, x * 2

    def eval_sets(self):
        return {"test": (np.full(3, -1.0), np.full(3, -2.0))}

    def score(self, predictor):
        return {"test_mse": 0.0}


def test_holdout_view_keeps_validation_out_of_training() -> None:
    view = tuning.HoldoutView(_Fixed(), np.random.default_rng(0))
    xv, _ = view.validation
    xt, _ = view.train_set()
    assert len(xv) == 20 and len(xt) == 80 and not set(xv) & set(xt)
    tone = registry.get_task("tone[cycles=10]")
    view = tuning.HoldoutView(tone, np.random.default_rng(0))
    budget = tone.budget
    assert len(view.validation[0]) == tuning.VAL_MAX
    # Drawn from the method's own sample budget, leaving what gradient training spends.
    assert view.samples_left == budget.max_samples - tuning.VAL_MAX
    assert view.samples_left >= budget.steps * budget.batch_size


def test_choice_prefers_paper_on_ties_and_better_scores_otherwise() -> None:
    points = [{"lr": 1e-4}, {"lr": 1e-3}, {"lr": 1e-2}]
    paper = {"lr": 1e-3}
    tied = tuning.choose(points, {"a": [1.0, 1.0, 1.0]}, paper)
    assert tied["params"] == paper and tied["is_paper"]
    better = tuning.choose(points, {"a": [0.1, 0.5, 1.0], "b": [0.2, 0.3, float("inf")]}, paper)
    assert better["params"] == {"lr": 1e-4} and not better["is_paper"]
    assert better["mean_rank"] == 1.0 and better["paper_mean_rank"] == 2.0


class _Knob(Method):
    """Predicts a constant ``c``; tunable over ``c``."""

    description = "constant"
    search_space = {"c": [0.0, 1.0, 2.0]}

    def __init__(self, c: float = 0.0, settings: str = "tuned") -> None:
        self.c = c
        self.settings = settings

    def fit(self, task, budget, seed, device, log):
        task.data(8)
        return self

    def predict(self, x):
        return np.full(len(x), self.c)


class _Const(Task):
    family = "test-const"
    description = "y = 1"
    success_criterion = "exact"
    budgets = {p: Budget(steps=1, batch_size=8, samples=8000) for p in ("quick", "full")}

    @property
    def domain(self):
        return (0.0, 1.0)

    def sample(self, n, rng):
        return rng.uniform(0, 1, n), np.ones(n)

    def eval_sets(self):
        raise AssertionError("a tuning trial must never touch the evaluation sets")

    def score(self, predictor):
        x = np.linspace(0, 1, 5)
        return {"test_mse": float(np.mean((predictor.predict(x) - 1) ** 2))}

    def success(self, metrics):
        return metrics["test_mse"] == 0


@pytest.fixture
def knob(tmp_path, monkeypatch):
    register_method("test-knob")(_Knob)
    register_task("test-const")(_Const)
    monkeypatch.setenv("BENCH_TUNED", str(tmp_path / "tuned.json"))
    yield tmp_path / "tuned.json"
    registry.METHODS.unregister("test-knob")
    registry.TASKS.unregister("test-const")
    tuning._load.cache_clear()


def test_tune_chooses_on_validation_and_run_applies_it(knob: Path) -> None:
    entry = registry.METHODS.get("test-knob")
    task = registry.TASKS.get("test-const")
    trials = []
    for point in tuning.grid(entry):
        trial = registry.METHODS.get(tuning.trial_id(entry, point))
        for spec in plan([trial], [task], 1, "quick", "cpu", tuning.TUNE_BASE_SEED,
                         purpose="tune"):  # fmt: skip
            trials += execute(spec)
    assert all(r["purpose"] == "tune" and r["success"] is None for r in trials)
    chosen = tuning.summarise(trials, [entry])
    assert chosen["test-knob"]["families"]["test-const"]["params"] == {"c": 1.0}
    before = plan([entry], [task], 1, "quick", "cpu")[0].keys
    tuning.write_settings(knob, "quick", chosen, {"command": "test"})
    data = json.loads(knob.read_text())
    assert data["protocol"] == tuning.PROTOCOL
    assert data["profiles"]["quick"]["test-knob"]["families"]["test-const"]["trials"] == 3
    (rec,) = execute(plan([entry], [task], 1, "quick", "cpu")[0])
    assert rec["tuning"]["settings"] == "tuned" and rec["method_params"]["c"] == 1.0
    assert rec["success"] is True
    assert rec["run_key"] != before[0]  # new settings, new runs
    (paper,) = execute(RunSpec("test-knob[settings=paper]", "test-const", (0,)))
    assert paper["tuning"]["settings"] == "paper" and paper["method_params"]["c"] == 0.0


def test_tuning_one_family_keeps_the_others(tmp_path: Path) -> None:
    """``bench tune --tasks 'real*'`` once rewrote a method's entry with its real-data family
    alone, dropping every other family's settings."""
    path = tmp_path / "tuned.json"

    def chosen(fam: str, lr: float) -> dict:
        return {"m": {"paper": {"lr": 1.0}, "families": {fam: {"params": {"lr": lr}}}}}

    tuning.write_settings(path, "quick", chosen("tone", 0.1), {"command": "first"})
    tuning.write_settings(path, "quick", chosen("real", 0.2), {"command": "second"})
    tuning.write_settings(path, "quick", chosen("real", 0.3), {"command": "third"})
    fams = json.loads(path.read_text())["profiles"]["quick"]["m"]["families"]
    assert fams["tone"] == {"params": {"lr": 0.1}, "made_by": {"command": "first"}}
    assert fams["real"] == {"params": {"lr": 0.3}, "made_by": {"command": "third"}}


@pytest.mark.slow
def test_every_network_fits_one_cycle_with_its_tuned_settings() -> None:
    """The check that the training loop works: each network, with the committed tuned settings
    and the quick budget, fits a single cycle of a tone on 3 of 3 seeds (~1 min)."""
    for method in ("siren", "snake", "gelu-mlp"):
        recs = [r for s in range(3) for r in execute(RunSpec(method, "tone[cycles=1]", (s,)))]
        assert all(r["tuning"]["settings"] == "tuned" for r in recs), method
        assert [r["success"] for r in recs] == [True] * 3, (method, [r["metrics"] for r in recs])


def test_a_restarted_rule_records_the_plateau_that_ends_the_run() -> None:
    log = Logger()
    for step in range(100, 700, 100):
        log(step, 1.0)
    assert log.settled() and log.converged_step[0] == 600
    log.restart_plateau()  # the networks drop their learning rate here and go on
    assert not log.settled() and log.converged_step[0] == -1
    for step in range(700, 1300, 100):
        log(step, 0.5)
    assert log.settled() and log.converged_step[0] == 1200 and not log.at_floor()


def test_a_corrupt_settings_file_is_one_line_and_exit_2(tmp_path, monkeypatch) -> None:
    from bench.cli import main

    bad = tmp_path / "tuned.json"
    bad.write_text("{not json")
    monkeypatch.setenv("BENCH_TUNED", str(bad))
    tuning._load.cache_clear()
    try:
        code = main(["run", "--methods", "siren", "--tasks", "sin31", "--dry-run"])
    finally:
        tuning._load.cache_clear()
    assert code == 2
