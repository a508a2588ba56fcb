"""The CPU speed figures the README quotes, measured and written as one JSON file:
``python benchmarks/speed_figures.py --out DIR`` writes ``DIR/speed-cpu.json``.

It runs the speed benchmarks (``benchmarks/test_bench_speed.py``: the original loop against
``sgd-sin``, a fleet, the networks batched and alone, a network step against its matrix products,
the harness's overhead, the FFT estimate from 10**6 samples; ``benchmarks/test_estimator_band.py``:
the estimator against nifty-ls) under pytest-benchmark, one torch thread, and keeps what
``benchmarks/conftest.py`` adds up, with the environment that measured it (commit, code hash,
CPU). The publication plan runs it in ``sweep-quick-cpu`` (``results/plan.toml``), after that
folder's sweep, so that the figures and the sweep's wall time come from one commit and one
machine: measure on a machine doing nothing else (a few minutes).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

#: The file written in ``--out``.
NAME = "speed-cpu.json"
#: The benchmark files measured, from the checkout's root.
FILES = ("benchmarks/test_bench_speed.py", "benchmarks/test_estimator_band.py")


#: The figures every measurement holds (``benchmarks/conftest.py``, ``speed_figures``).
FIGURES = (
    "original_us_per_step",
    "sgd_sin_1_seed_ratio",
    "sgd_sin_20_seeds_ratio",
    "sgd_sin_fleet_ratio",
    "networks_batched_ratio",
    "network_step_over_matmuls",
    "matmul_peak_gflops",
    "harness_share_of_typical_run",
    "fft_estimate_1e6_s",
)
#: What each point of the estimator's table holds: the project with and without nifty-ls's
#: band, and nifty-ls.
BAND = ("project", "project_band_given", "nifty_ls", "nifty_over_project")


def incomplete(data: dict) -> list[str]:
    """What a measurement lacks (a benchmark skipped or deselected): empty when complete."""
    missing = [f"figures.{k}" for k in FIGURES if k not in data.get("figures", {})]
    band = data.get("band") or {}
    if not band:
        missing.append("band")
    missing += [f"band.{p}.{k}" for p, point in band.items() for k in BAND if k not in point]
    return missing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help=f"folder to write {NAME} in")
    args = ap.parse_args(argv)
    missing = [m for m in ("pytest_benchmark", "nifty_ls") if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"speed_figures: {', '.join(missing)} not installed: pip install -e '.[test,bench]'",
            file=sys.stderr,
        )
        return 2
    root = Path(__file__).resolve().parents[1]
    out = Path(args.out).resolve() / NAME
    out.unlink(missing_ok=True)  # a figure file is never left from an earlier measurement
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BENCH_SPEED_OUT": str(out)}
    env.pop("BENCH_SWEEP", None)  # the sweep's wall time is the folder's own records'
    cmd = [sys.executable, "-m", "pytest", *FILES, "-q", "-p", "no:cacheprovider"]
    code = subprocess.run(cmd, cwd=root, env=env, check=False).returncode
    if code != 0:
        print(f"speed_figures: the benchmarks failed (exit {code})", file=sys.stderr)
        return code
    if not out.is_file():
        print(f"speed_figures: the benchmarks wrote no {out}", file=sys.stderr)
        return 1
    missing = incomplete(json.loads(out.read_text(encoding="utf-8")))
    if missing:
        out.unlink()
        print(f"speed_figures: no figure for {', '.join(missing)}", file=sys.stderr)
        return 1
    print(f"speed_figures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
