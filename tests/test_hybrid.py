"""The hybrid learner (methods/hybrid.py): it must solve what the issue asks, on quick sizes."""

import numpy as np
import pytest
from bench.builtin.methods.hybrid import PeriodicHybrid

from bench import Budget, Logger, OutputSpec, Task
from bench.core.contracts import TaskView
from bench.engine.execute import execute
from bench.engine.plan import RunSpec


def _run(task: str, seeds: tuple[int, ...] = (0, 1)) -> list[dict]:
    return [r for s in seeds for r in execute(RunSpec("periodic-hybrid", task, (s,)))]


def test_sin31_frequency_to_machine_precision() -> None:
    for r in _run("sin31"):
        assert r["status"] == "ok" and r["success"]
        assert r["metrics"]["freq_error"] < 1e-6


@pytest.mark.parametrize("cycles", [1, 100, 10000])
def test_cycle_sweep(cycles: int) -> None:
    assert all(r["success"] for r in _run(f"tone[cycles={cycles}]"))


def test_noisy_tone_near_the_cramer_rao_bound() -> None:
    recs = _run("noisy-tone[snr_db=0]", seeds=tuple(range(6)))
    eff = np.array([r["metrics"]["efficiency"] for r in recs])
    assert np.sqrt(np.mean(eff**2)) < 2.0  # RMSE within 2x the bound


@pytest.mark.parametrize("encoding", ["int64", "float64"])
def test_clock_120y_from_samples_alone(encoding: str) -> None:
    (rec,) = _run(f"clock[encoding={encoding},span=120y]", seeds=(0,))
    assert rec["status"] == "ok" and rec["success"], rec["reason"]
    assert rec["metrics"]["exact_match"] >= 0.999
    assert rec["metrics"]["extrap_exact_match"] >= 0.999


def test_clock_float32_fails_honestly() -> None:
    (rec,) = _run("clock[encoding=float32,span=120y]", seeds=(0,))
    assert rec["status"] == "ok" and not rec["success"]
    assert rec["extras"]["representable"] is False


def test_harmonic_model_extrapolates_a_square_wave() -> None:
    (rec,) = _run("wave[shape=square]", seeds=(0,))
    assert rec["success"] and rec["metrics"]["extrap_nmse"] < 1e-2


def test_radix_clock_exact_with_no_prior() -> None:
    # Radices and epoch offset drawn per seed (seed 1: a 387,000-unit day, above the old
    # 2**17 search cap); every field's period and arcs come from the samples. (float64 inputs
    # take the same integer path: results/discovery-cpu runs both encodings on 20 seeds.)
    (rec,) = _run("radix-clock[encoding=int64]", seeds=(1,))
    assert rec["status"] == "ok" and rec["success"], rec["reason"]
    assert rec["metrics"]["exact_match"] == 1.0
    assert rec["metrics"]["extrap_exact_match"] == 1.0
    assert rec["metrics"]["max_period_searched"] > 10**9  # half the span, no cap


def test_tone_far_above_the_mean_rate() -> None:
    (rec,) = _run("tone[cycles=1000000]", seeds=(0,))
    assert rec["success"] and rec["metrics"]["freq_rel_error"] < 1e-9


class _LongDayHours(Task):
    """The hour of a 40-hour day, alone (no minutes or seconds to align to), whose day starts
    at an arbitrary second: its arcs must be found from its own changes."""

    output = OutputSpec(kind="classification", n_outputs=1, classes=(40,), names=("hour",))
    input_dtype = "int64"
    budgets = {"quick": Budget(steps=2000, batch_size=128, samples=2**17)}
    span = 3_786_912_000

    @property
    def domain(self) -> tuple[float, float]:
        return (0.0, float(self.span))

    @staticmethod
    def hour(t: np.ndarray) -> np.ndarray:
        return (np.mod(t + 5_077, 40 * 3_600) // 3_600)[:, None]

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        t = rng.integers(0, self.span, size=n)
        return t, self.hour(t)


def test_a_digit_with_no_finer_companion_is_exact() -> None:
    task = _LongDayHours(seed=0)
    view = TaskView(task, np.random.default_rng(0))
    method = PeriodicHybrid()
    method.fit(view, task.budget, 0, "cpu", Logger())
    assert method.periods_.tolist() == [40 * 3_600]
    probe = np.random.default_rng(1).integers(-(10**12), 10**12, size=20_000)  # far outside
    pred = method.predict(probe).reshape(len(probe), -1)
    assert np.array_equal(pred[:, 0], task.hour(probe)[:, 0])
