"""The fair referee: the declared stop rule, the representational ceiling, and the tuning
protocol (validation split, choice, settings applied by ``run``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import Budget, Logger, Method, Task, register_method, register_task
from bench.core import registry
from bench.core.ceiling import preimage_sizes
from bench.core.contracts import TaskView
from bench.core.stop import STOP_POLICY, Plateau, StopPolicy, describe_rule, floor_for
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


def test_settings_are_looked_up_once_per_unit_and_the_key_hashes_them(knob, monkeypatch) -> None:
    """``plan`` looks a pair's settings up once and ships them on the unit; ``execute`` applies
    exactly those (no second look-up that could disagree with the key), and looks them up
    itself, once, only for a unit built by hand."""
    from bench.engine import purpose

    calls = []
    real = purpose.settings_for
    monkeypatch.setattr(purpose, "settings_for", lambda *a: calls.append(a) or real(*a))
    entry, task = registry.METHODS.get("test-knob"), registry.TASKS.get("test-const")
    (spec,) = plan([entry], [task], 1, "quick", "cpu")
    assert len(calls) == 1 and spec.tuning == real(entry, task, "quick")
    (rec,) = execute(spec)
    assert len(calls) == 1
    assert rec["tuning"] == spec.tuning and rec["run_key"] == spec.keys[0]
    (by_hand,) = execute(RunSpec("test-knob", "test-const", (0,)))
    assert len(calls) == 2 and by_hand["run_key"] == rec["run_key"]
    (trial,) = plan([entry], [task], 1, "quick", "cpu", purpose="tune")
    assert len(calls) == 2 and trial.tuning == {}  # a trial runs its own grid point


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


def test_adopting_a_published_tune_merges_its_units_with_their_own_provenance(
    tmp_path: Path,
) -> None:
    """``publish --adopt``: a published tune's ``tuned.json`` replaces the units it tuned, each
    keeping the ``made_by`` that names its published trials; every other unit stays."""
    path, published = tmp_path / "tuned.json", tmp_path / "published.json"
    first = {"m": {"families": {"tone": {"params": {"lr": 0.1}}, "real": {"params": {}}}}}
    tuning.write_settings(path, "quick", first, {"command": "old"})
    mine = {"params": {"lr": 0.3}, "made_by": {"records": "results/t"}}
    same = {"params": {}, "made_by": {"records": "results/t"}}
    task = {"params": {"lr": 1.0}, "made_by": {"records": "results/t"}}
    published.write_text(
        json.dumps(
            {
                "profiles": {
                    "quick": {
                        "m": {"families": {"real": same, "tone": mine}, "tasks": {"x[a=1]": task}}
                    }
                }
            }
        )
    )
    lines = tuning.adopt_settings(published, path)
    assert lines == [
        "quick m real: unchanged",
        "quick m tone: lr=0.1 -> lr=0.3",
        "quick m x[a=1]: (none) -> lr=1.0",
    ]
    m = json.loads(path.read_text())["profiles"]["quick"]["m"]
    assert m["families"] == {"real": same, "tone": mine} and m["tasks"] == {"x[a=1]": task}
    published.write_text("{}")
    with pytest.raises(ValueError, match="no 'profiles'"):
        tuning.adopt_settings(published, path)


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


def test_the_stop_policy_is_one_value_that_names_its_constants() -> None:
    assert (
        STOP_POLICY.describe()
        == describe_rule(100)
        == {
            "window_steps": 100,
            "patience_windows": 5,
            "rel_tol": 0.01,
            "min_windows": 5,
            "floor_share_of_loss_target": 0.01,
            "network_lr_drop": 0.1,
            "network_lr_drops": 1,
            "patience_share_of_windows": 0.25,
            "judged_at": "best",
            "stops": True,
        }
    )
    assert StopPolicy(**STOP_POLICY.to_dict()) == STOP_POLICY
    log = Logger()
    assert log.policy is STOP_POLICY and log.window == 100
    # At a plateau a seed with a drop left drops, unless it is at the floor; the rest stop.
    drop, end = STOP_POLICY.on_plateau(
        np.array([True, True, True, False]),
        np.array([False, True, False, False]),
        np.array([1, 1, 0, 1]),
    )
    assert drop.tolist() == [True, False, False, False]
    assert end.tolist() == [False, True, True, False]


def test_a_logger_adopts_a_policy_only_before_its_first_step() -> None:
    short = StopPolicy(window=50, patience=2, min_windows=2, lr_drops=0)
    log = Logger(floor=0.5)
    assert log.adopt(None) is STOP_POLICY and log.adopt(short) is short
    assert log.window == 50 and log.plateau.patience == 2 and log.plateau.floor[0] == 0.5
    for step in (50, 100, 150):
        log(step, 1.0)
    assert log.settled() and log.converged_step[0] == 150
    drop, end = log.on_plateau(150)  # no drop to spend: the seed stops
    assert not drop.any() and end.all() and log.steps(0) == 150
    with pytest.raises(RuntimeError):
        log.adopt(STOP_POLICY)


def test_a_networks_declared_policy_is_the_one_it_trains_and_is_judged_by() -> None:
    """Set on the method, the policy reaches the logger's rule and the loop's schedule."""
    registry.load_plugins()
    base = type(registry.get_method("gelu-mlp"))
    short = StopPolicy(patience=2, min_windows=2, lr_drops=0)
    quick = type("QuickStop", (base,), {"stop_policy": short})(width=8, settings="paper")
    task = registry.get_task("tone[cycles=10000]")
    budget = Budget(steps=3000, batch_size=16, samples=3000 * 16)
    log = Logger()
    quick.fit(TaskView(task, np.random.default_rng(0)), budget, 0, "cpu", log)
    assert log.policy is short
    # No drop to spend: the run ends at the first plateau, which the record would report.
    assert 0 < log.converged_step[0] == log.steps(0) < budget.steps


def test_spectral_helpers_leave_the_network_trainer_unimported() -> None:
    code = (
        "import sys, bench.kit.methods as m\n"
        "assert not {'bench.kit.netmethod', 'bench.kit.train'} & set(sys.modules)\n"
        "import warnings; warnings.simplefilter('ignore', DeprecationWarning)\n"
        "from bench.methodlib import NetMethod  # 0.1.0's path still gives it\n"
        "from bench.kit.netmethod import NetMethod as Net\n"
        "assert NetMethod is Net\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


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
