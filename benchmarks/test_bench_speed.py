"""What users wait for, measured (pytest-benchmark; figures, never asserts on time).

``python -m pytest benchmarks/test_bench_speed.py`` prints, at the end, the ratios the README
quotes: the original loop as the post wrote it against ``sgd-sin`` (one seed, and 20 seeds in
one tensor), the networks one seed at a time against seeds in one model, a network step against
the same matrix products alone (and the CPU's matrix rate on one large product), the harness's
overhead per run with a no-op method, and the FFT estimator on 10**6 samples. ``BENCH_SWEEP=1``
adds the default quick sweep's wall time and busy share (9 to 15 minutes on a 2-core machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import torch

from bench import Budget, Logger, Method, register_method
from bench.core import registry
from bench.core.contracts import TaskView
from bench.engine.execute import execute
from bench.engine.plan import RunSpec
from bench.kit.train import train, train_seeds
from bench.lib import estimators
from bench.lib.original import original_loop

from .conftest import record

torch.set_num_threads(1)

ORIGINAL_STEPS = 2000
SGD_STEPS = 20_000
NET_STEPS = 200


def test_original_loop(benchmark) -> None:
    """The original loop, eager, one seed, its own data drawn in the loop."""
    original_loop(50)
    benchmark.pedantic(original_loop, args=(ORIGINAL_STEPS,), rounds=3)
    record("original_loop", benchmark, ORIGINAL_STEPS)


@pytest.mark.parametrize("n_seeds", [1, 20])
def test_sgd_sin(benchmark, n_seeds: int) -> None:
    """``sgd-sin`` on ``sin31`` through its ``fit_seeds``, sampling included."""
    task = registry.get_task("sin31")
    method = registry.get_method("sgd-sin")
    budget = Budget(steps=SGD_STEPS, batch_size=32, samples=SGD_STEPS * 32)

    def run() -> None:
        views = [TaskView(task, np.random.default_rng(s)) for s in range(n_seeds)]
        method.fit_seeds(views, budget, list(range(n_seeds)), "cpu", Logger(n_seeds=n_seeds))

    benchmark.pedantic(run, rounds=3)
    record("sgd_sin_1_seed" if n_seeds == 1 else "sgd_sin_20_seeds", benchmark, SGD_STEPS)


#: Steps of the ``sgd-sin`` fleet benchmark (each member's steps).
FLEET_STEPS = 2000


def _fleet_members() -> tuple[list, list[TaskView], list[int]]:
    """Every float32 ``sgd-sin`` unit of the default sweep on the tasks that share the tones'
    budget (the original task, tones, multitones, waves), 20 seeds each, as one fleet's
    members: (methods, task views, seeds)."""
    registry.load_plugins()
    variants = [registry.METHODS.get(i) for i in ("sgd-sin", "sgd-sin[lr=stable]")]
    tasks = registry.TASKS.select(["sin31", "tone*", "multitone*", "wave*"], None)
    methods, views, seeds = [], [], []
    for v in variants:
        method = registry.build(v)
        for t in tasks:
            task = registry.build(t)
            for s in range(20):
                methods.append(method)
                views.append(TaskView(task, np.random.default_rng(s)))
                seeds.append(s)
    return methods, views, seeds


def test_sgd_sin_fleet(benchmark) -> None:
    """Every float32 ``sgd-sin`` unit (both variants, 20 seeds, tasks of one budget) in one
    tensor, as a sweep's fleet trains them, sampling included; per member-step."""
    methods, _, seeds = _fleet_members()
    budget = Budget(steps=FLEET_STEPS, batch_size=32, samples=FLEET_STEPS * 32)

    def run() -> None:
        _, views, _ = _fleet_members()
        fit = type(methods[0]).fit_fleet
        fit(methods, views, budget, seeds, "cpu", Logger(n_seeds=len(seeds)))

    benchmark.pedantic(run, rounds=2)
    record("sgd_sin_fleet", benchmark, FLEET_STEPS * len(seeds))
    FLEET_SIZE[0] = len(seeds)


#: Members of the fleet benchmark, for the summary line.
FLEET_SIZE = [0]


def _siren_models(n: int) -> list[torch.nn.Module]:
    method = registry.get_method("siren")
    models = []
    for s in range(n):
        torch.manual_seed(s)
        models.append(method.network(1))
    return models


def _net_views(n: int) -> tuple[Budget, list[TaskView]]:
    task = registry.get_task("tone[cycles=1]")
    budget = Budget(steps=NET_STEPS, batch_size=NET_BATCH, samples=NET_STEPS * NET_BATCH)
    return budget, [TaskView(task, np.random.default_rng(s)) for s in range(n)]


def test_networks_one_at_a_time(benchmark) -> None:
    """Three SIREN seeds, each its own network and torch Adam (the loop before batching)."""

    def run() -> None:
        budget, views = _net_views(3)
        for s, (model, view) in enumerate(zip(_siren_models(3), views, strict=True)):
            train(model, view, budget, s, "cpu", Logger(), lr=1e-4, plateau_stop=False)

    benchmark.pedantic(run, rounds=2)
    record("networks_one_at_a_time", benchmark)


def test_networks_batched(benchmark) -> None:
    """The same three seeds as one batched model (``train_seeds``)."""

    def run() -> None:
        budget, views = _net_views(3)
        train_seeds(_siren_models(3), views, budget, [0, 1, 2], "cpu", Logger(3), lr=1e-4)

    benchmark.pedantic(run, rounds=2)
    record("networks_batched", benchmark)


#: The batched SIREN of the benchmarks above: layer widths, and the batch of one step.
SIREN_LAYERS = [(1, 256), (256, 256), (256, 256), (256, 256), (256, 1)]
NET_BATCH = 32


def _matmuls_of_a_step(n_seeds: int, batch: int, dtype: torch.dtype) -> callable:
    """The matrix products one training step of the batched SIREN performs and nothing else:
    per layer the forward ``baddbmm`` and, backwards, the input's and the weight's gradients
    (two ``bmm``), over ``n_seeds`` stacked members."""
    g = torch.Generator().manual_seed(0)
    mats = []
    for n_in, n_out in SIREN_LAYERS:
        w = torch.randn(n_seeds, n_in, n_out, generator=g, dtype=dtype)
        b = torch.randn(n_seeds, 1, n_out, generator=g, dtype=dtype)
        x = torch.randn(n_seeds, batch, n_in, generator=g, dtype=dtype)
        gy = torch.randn(n_seeds, batch, n_out, generator=g, dtype=dtype)
        mats.append((w, b, x, gy))

    def step() -> None:
        for w, b, x, gy in mats:
            torch.baddbmm(b, x, w)
            torch.bmm(gy, w.mT)
            torch.bmm(x.mT, gy)

    return step


def step_flops(n_seeds: int, batch: int) -> float:
    return 3 * 2.0 * n_seeds * batch * sum(i * o for i, o in SIREN_LAYERS)


def test_network_matmuls_alone(benchmark) -> None:
    """The matrix products of ``NET_STEPS`` steps of the three-seed SIREN above, alone: the
    floor a step cannot go below on this CPU, against which the summary sets the real step."""
    step = _matmuls_of_a_step(3, NET_BATCH, torch.float32)

    def run() -> None:
        for _ in range(NET_STEPS):
            step()

    benchmark.pedantic(run, rounds=5)
    record("network_matmuls", benchmark)


def test_matmul_peak(benchmark) -> None:
    """One large product (1024 x 1024 x 1024, float32): what this CPU's matrix library reaches
    when the work per call dwarfs the call's fixed cost."""
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(1024, 1024, generator=g) for _ in range(2))
    benchmark.pedantic(torch.mm, args=(a, b), rounds=5, iterations=3)
    record("matmul_peak", benchmark)


@register_method("noop-speed")
class _Noop(Method):
    """Learns nothing and predicts zeros: what the harness costs around a method."""

    description = "no-op (benchmark only)"
    reference = "-"
    handles_multi_output = True
    handles_classification = True
    handles_fixed_data = True
    input_dtypes = ("float32", "float64", "int64")

    def fit(self, task, budget, seed, device, log):
        self.zero_ = 0.0
        return self

    def predict(self, x):
        return np.zeros(len(x))


def test_harness_overhead(benchmark) -> None:
    """One run of a no-op method through the runner: building, scoring, the record."""
    benchmark.pedantic(
        lambda: execute(RunSpec("noop-speed", "tone[cycles=10]", (0,))), rounds=20, warmup_rounds=1
    )
    record("harness_noop_run", benchmark)


def test_typical_run(benchmark) -> None:
    """The fastest method family's typical run, for the overhead's share: fft on a tone."""
    benchmark.pedantic(
        lambda: execute(RunSpec("fft", "tone[cycles=10]", (0,))), rounds=5, warmup_rounds=1
    )
    record("typical_run", benchmark)


def test_fft_estimate_million_samples(benchmark) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1000, 1000, 10**6)
    y = np.sin(31 * x + 0.3)
    model = benchmark.pedantic(estimators.estimate_tones, args=(x, y), rounds=5)
    assert abs(model.freqs[0] - 31) < 1e-9
    record("fft_estimate_1e6", benchmark)


#: The default sweep's own last line: how busy its workers were (``busy: N% of W worker(s)``).
SWEEP_BUSY = [""]


@pytest.mark.skipif(os.environ.get("BENCH_SWEEP") != "1", reason="set BENCH_SWEEP=1 (10 to 15 min)")
def test_quick_sweep(benchmark) -> None:
    """The README's run command in a fresh folder; its progress lines are not kept, its
    last line (the workers' busy share) is."""

    def run() -> None:
        with tempfile.TemporaryDirectory() as out:
            cmd = [sys.executable, "-m", "bench", "run", "--all", "--no-report", "--out", out]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            busy = [line for line in done.stderr.splitlines() if line.startswith("busy:")]
            SWEEP_BUSY[0] = busy[-1] if busy else ""

    benchmark.pedantic(run, rounds=1)
    record("quick_sweep", benchmark)
