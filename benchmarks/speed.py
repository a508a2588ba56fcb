"""The original loop against ``sgd-sin``, per step, on one device: ``python benchmarks/speed.py``.

Prints (and with ``--out`` writes) one JSON object:

- ``original_us_per_step``: the loop as the post wrote it (``bench.lib.original``), eager,
  one seed, its own data drawn inside the loop;
- ``sgd_sin_us_per_step`` for 1 and for ``--seeds`` seeds: the ``sgd-sin`` method fitting
  ``sin31`` through its ``fit_seeds``, data drawn from the task's sampler included, CUDA graph
  capture (the ``compile`` phase) excluded and reported apart;
- the ratios: per step for one seed, per seed-step for many;
- milliseconds per step of SIREN's and the GELU MLP's networks, 1 seed and ``--seeds`` seeds
  trained as one batched model.

The pytest-benchmark suite (``benchmarks/test_bench_speed.py``) measures the same things on CPU;
``benchmarks/gpu.sh`` runs this script on a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from bench import Budget, Logger
from bench.core.contracts import TaskView
from bench.core.registry import get_method, get_task
from bench.engine.store import environment
from bench.lib.original import original_loop


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_original(device: str, steps: int) -> float:
    """Microseconds per step of the original loop (after a short warm-up)."""
    original_loop(50, device=device)
    sync(device)
    t0 = time.perf_counter()
    original_loop(steps, device=device)
    sync(device)
    return (time.perf_counter() - t0) / steps * 1e6


def time_sgd_sin(device: str, steps: int, n_seeds: int) -> dict[str, float]:
    """Microseconds per step of ``sgd-sin`` with ``n_seeds`` seeds (capture excluded)."""
    task = get_task("sin31")
    method = get_method("sgd-sin")
    budget = Budget(steps=steps, batch_size=32, samples=steps * 32)
    method.warm_up(TaskView(task, np.random.default_rng(0)), budget, device)
    views = [TaskView(task, np.random.default_rng(s)) for s in range(n_seeds)]
    log = Logger(n_seeds=n_seeds, sync=lambda: sync(device))
    sync(device)
    t0 = time.perf_counter()
    method.fit_seeds(views, budget, list(range(n_seeds)), device, log)
    sync(device)
    total = time.perf_counter() - t0
    capture = log.phases.get("compile", 0.0)
    return {"us_per_step": (total - capture) / steps * 1e6, "capture_s": capture}


def time_network(device: str, method_id: str, n_seeds: int, steps: int) -> float:
    """Milliseconds per step of ``method_id``'s networks for ``n_seeds`` seeds trained as one
    batched model (``bench.kit.train.train_seeds``, graphs on CUDA, capture excluded)."""
    from bench.kit.train import train_seeds

    task = get_task("tone[cycles=1]")
    method = get_method(method_id)
    budget = Budget(steps=steps, batch_size=32, samples=steps * 32)
    models = []
    for s in range(n_seeds):
        torch.manual_seed(s)
        models.append(method.network(1))
    views = [TaskView(task, np.random.default_rng(s)) for s in range(n_seeds)]
    log = Logger(n_seeds=n_seeds, sync=lambda: sync(device))
    sync(device)
    t0 = time.perf_counter()
    train_seeds(models, views, budget, list(range(n_seeds)), device, log, lr=1e-4)
    sync(device)
    # The stop rule may end the fit early: divide by the steps taken.
    return (time.perf_counter() - t0 - log.phases.get("compile", 0.0)) / log.last_step * 1e3


def measure(device: str, steps: int, seeds: int, original_steps: int) -> dict[str, object]:
    torch.set_num_threads(1)
    orig = time_original(device, original_steps)
    one = time_sgd_sin(device, steps, 1)
    many = time_sgd_sin(device, steps, seeds)
    net_steps = 300 if device == "cpu" else 2000
    nets = {
        f"{m}_{n}_seeds_ms_per_step": round(time_network(device, m, n, net_steps), 3)
        for m in ("siren", "gelu-mlp")
        for n in (1, seeds)
    }
    return {
        "device": device,
        "device_name": environment(device)["device_name"],
        "torch": torch.__version__,
        "original_us_per_step": round(orig, 2),
        "original_steps_timed": original_steps,
        "sgd_sin_steps_timed": steps,
        "sgd_sin_1_seed_us_per_step": round(one["us_per_step"], 3),
        f"sgd_sin_{seeds}_seeds_us_per_step": round(many["us_per_step"], 3),
        "capture_s": round(one["capture_s"] + many["capture_s"], 3),
        "ratio_per_step_1_seed": round(orig / one["us_per_step"], 1),
        f"ratio_per_seed_step_{seeds}_seeds": round(orig * seeds / many["us_per_step"], 1),
        "network_steps_timed": net_steps,
        **nets,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=20_000, help="sgd-sin steps timed")
    ap.add_argument("--original-steps", type=int, default=5_000)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args(argv)
    result = measure(args.device, args.steps, args.seeds, args.original_steps)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
