"""Collects the speed benchmarks' figures and prints the ratios they add up to at the end of the
run (``python -m pytest benchmarks/``): the original loop against ``sgd-sin``, one seed at a time
against seeds in one model, and the harness's share of a run; and the table of
``test_estimator_band.py`` (the FFT tone estimator against ``nifty-ls``).

With ``BENCH_SPEED_OUT=FILE`` the same figures are also written to FILE as JSON, with the
environment that measured them (commit, code hash, CPU, versions): what
``benchmarks/speed_figures.py`` publishes and the README quotes.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

#: Mean seconds per call of each measured thing, filled in by the benchmarks.
FIGURES: dict[str, float] = {}
#: Steps (or runs) each measured call performs, to turn seconds per call into per-step figures.
UNITS: dict[str, float] = {}
#: Where the figures are written as JSON at the end of the run (unset: printed only).
OUT_ENV = "BENCH_SPEED_OUT"


def record(name: str, benchmark, units: float = 1.0) -> None:
    FIGURES[name] = float(benchmark.stats.stats.mean)
    UNITS[name] = float(units)


#: Figures of test_estimator_band.py by point ``(n, w)``, then by method ("project",
#: "nifty-ls"): seconds per call, the angular frequency found (None: no tone) and the point's
#: Cramer-Rao standard deviation on the frequency.
BAND: dict[tuple[int, float], dict[str, dict[str, float | None]]] = {}


def record_band(n: int, w: float, method: str, benchmark, found: float | None, crb: float) -> None:
    BAND.setdefault((n, w), {})[method] = {
        "seconds": float(benchmark.stats.stats.mean),
        "found": found,
        "crb": float(crb),
    }


def _per(name: str) -> float | None:
    return FIGURES[name] / UNITS[name] if name in FIGURES else None


def speed_figures() -> dict[str, Any]:
    """What the measured calls add up to, by name (only what was measured): per-step times,
    the ratios against the original loop, the networks' step against its matrix products, the
    harness's share of a run. Times in the unit their name ends with."""
    out: dict[str, Any] = {}
    orig = _per("original_loop")
    one, many = _per("sgd_sin_1_seed"), _per("sgd_sin_20_seeds")
    if orig:
        out["original_us_per_step"] = orig * 1e6
    if one:
        out["sgd_sin_1_seed_us_per_step"] = one * 1e6
        if orig:
            out["sgd_sin_1_seed_ratio"] = orig / one  # per step
    if many:
        out["sgd_sin_20_seeds_us_per_step"] = many * 1e6
        if orig:
            out["sgd_sin_20_seeds_ratio"] = orig * 20 / many  # per seed-step
    fleet = _per("sgd_sin_fleet")
    if fleet:
        from .test_bench_speed import FLEET_SIZE

        out["sgd_sin_fleet_members"] = FLEET_SIZE[0]
        out["sgd_sin_fleet_us_per_member_step"] = fleet * 1e6
        if orig:
            out["sgd_sin_fleet_ratio"] = orig / fleet
    alone, batched = _per("networks_one_at_a_time"), _per("networks_batched")
    if alone and batched:
        out["networks_one_at_a_time_s"] = alone
        out["networks_batched_s"] = batched
        out["networks_batched_ratio"] = alone / batched
    mm, peak = _per("network_matmuls"), _per("matmul_peak")
    if batched and mm:
        from .test_bench_speed import NET_BATCH, NET_STEPS, step_flops

        out["network_step_ms"] = batched / NET_STEPS * 1e3
        out["network_matmuls_ms"] = mm / NET_STEPS * 1e3
        out["network_matmuls_gflops"] = step_flops(3, NET_BATCH) * NET_STEPS / mm / 1e9
        out["network_step_over_matmuls"] = batched / mm
    if peak:
        out["matmul_peak_gflops"] = 2 * 1024**3 / peak / 1e9
    noop, run = _per("harness_noop_run"), _per("typical_run")
    if noop is not None:
        out["harness_noop_ms"] = noop * 1e3
        if run:
            out["typical_run_s"] = run
            out["harness_share_of_typical_run"] = noop / run
    fft = _per("fft_estimate_1e6")
    if fft is not None:
        out["fft_estimate_1e6_s"] = fft
    sweep = _per("quick_sweep")
    if sweep is not None:
        from .test_bench_speed import SWEEP_BUSY

        out["quick_sweep_s"] = sweep
        out["quick_sweep_busy"] = SWEEP_BUSY[0]
    return out


#: How :func:`band_figures` names each method (a word a quote can name).
KEYS = {"project": "project", "project, band given": "project_band_given", "nifty-ls": "nifty_ls"}


def point_id(n: int, w: float) -> str:
    """A point's name, as the benchmarks' parameters name it: ``n1e4-w31``."""
    return f"n1e{round(math.log10(n))}-w{w:g}"


def band_figures() -> dict[str, dict[str, Any]]:
    """One entry per point of test_estimator_band.py, by :func:`point_id`, in order of ``n``
    and ``w``: ``n``, ``w``, the Cramer-Rao standard deviation and, per method measured, its
    time, the frequency found and its error in those standard deviations (``None`` where it
    reported no tone); ``nifty_over_project``: how many times longer nifty-ls took than the
    project told no band."""
    points = {}
    for (n, w), figs in sorted(BAND.items()):
        point: dict[str, Any] = {"n": n, "w": w, "crb": next(iter(figs.values()))["crb"]}
        for method, fig in sorted(figs.items()):
            found = fig["found"]
            point[KEYS[method]] = {
                "seconds": fig["seconds"],
                "found": found,
                "err_crb": None if found is None else (found - w) / fig["crb"],
            }
        if "project" in figs and "nifty-ls" in figs:
            point["nifty_over_project"] = figs["nifty-ls"]["seconds"] / figs["project"]["seconds"]
        points[point_id(n, w)] = point
    return points


def _band_lines(points: dict[str, dict[str, Any]]) -> list[str]:
    """One line per point of test_estimator_band.py: time, frequency found and its error in CRB
    standard deviations for each method, and how many times longer nifty-ls took."""

    def cell(fig: dict[str, Any] | None) -> str:
        if fig is None:
            return f"{'not run':>36}"
        found = fig["found"]
        where = f"{found:16.9f}" if found is not None else f"{'none':>16}"
        err = f"{fig['err_crb']:+8.2f}" if found is not None else f"{'-':>8}"
        return f"{where} {fig['seconds']:8.3f} s {err}"

    def line(p: dict[str, Any], mine: str) -> str:
        theirs = p.get("nifty_ls")
        ratio = f"{theirs['seconds'] / p[mine]['seconds']:.1f}x" if theirs and mine in p else "-"
        where = f"{p['n']:>9} {p['w']:>6g} {p['crb']:9.2e}"
        return f"{where} | {cell(p.get(mine))} | {cell(theirs)} | {ratio}"

    head = (
        f"{'n':>9} {'w':>6} {'CRB std':>9} | {'project: w found':>16} {'time':>10} {'err/CRB':>8}"
        f" | {'nifty-ls: w found':>17} {'time':>9} {'err/CRB':>8} | nifty/project time"
    )
    lines = [head, *(line(p, "project") for p in points.values())]
    # The same band for both: the project told nifty-ls's band (max_freq = 2.5 w).
    banded = [p for p in points.values() if "project_band_given" in p]
    if banded:
        lines.append("the project told the same band as nifty-ls (max_freq = 2.5 w):")
        lines += [line(p, "project_band_given") for p in banded]
    return lines


def _speed_lines(f: dict[str, Any]) -> list[str]:
    """The figures of :func:`speed_figures` in words, one line per comparison."""
    lines = []
    if "sgd_sin_1_seed_ratio" in f:
        lines.append(
            f"original loop {f['original_us_per_step']:.1f} us/step; sgd-sin 1 seed "
            f"{f['sgd_sin_1_seed_us_per_step']:.2f} us/step: {f['sgd_sin_1_seed_ratio']:.1f}x "
            "per step"
        )
    if "sgd_sin_20_seeds_ratio" in f:
        lines.append(
            f"sgd-sin 20 seeds {f['sgd_sin_20_seeds_us_per_step']:.2f} us/step: "
            f"{f['sgd_sin_20_seeds_ratio']:.1f}x per seed-step"
        )
    if "sgd_sin_fleet_ratio" in f:
        lines.append(
            f"sgd-sin fleet ({f['sgd_sin_fleet_members']} members in one tensor) "
            f"{f['sgd_sin_fleet_us_per_member_step']:.3f} us per member-step: "
            f"{f['sgd_sin_fleet_ratio']:.0f}x per seed-step"
        )
    if "networks_batched_ratio" in f:
        lines.append(
            f"networks, 3 seeds: one at a time {f['networks_one_at_a_time_s']:.2f} s, as one "
            f"model {f['networks_batched_s']:.2f} s: {f['networks_batched_ratio']:.2f}x"
        )
    if "network_step_ms" in f:
        from .test_bench_speed import NET_BATCH

        peak = f.get("matmul_peak_gflops")
        peak_note = f"; one 1024^3 product reaches {peak:.1f}" if peak else ""
        lines.append(
            f"network step (3-seed SIREN, 256 wide, batch {NET_BATCH}): "
            f"{f['network_step_ms']:.2f} ms; its matrix products alone "
            f"{f['network_matmuls_ms']:.2f} ms ({f['network_matmuls_gflops']:.1f} "
            f"GFLOP/s{peak_note} GFLOP/s): the step takes {f['network_step_over_matmuls']:.1f}x "
            "its products"
        )
    if "harness_noop_ms" in f:
        share = (
            f", {100 * f['harness_share_of_typical_run']:.2f}% of a typical run "
            f"({f['typical_run_s']:.2f} s)"
            if "typical_run_s" in f
            else ""
        )
        noop = f["harness_noop_ms"]
        lines.append(f"harness overhead per run (no-op method) {noop:.2f} ms{share}")
    if "fft_estimate_1e6_s" in f:
        lines.append(f"fft estimate from 10**6 samples: {f['fft_estimate_1e6_s']:.3f} s")
    if "quick_sweep_s" in f:
        busy = f"; {f['quick_sweep_busy']}" if f["quick_sweep_busy"] else ""
        wall = f["quick_sweep_s"]
        lines.append(f"default quick sweep (python -m bench run --all): {wall:.0f} s wall{busy}")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus: int) -> None:  # pytest hook
    figures, points = speed_figures(), band_figures()
    lines = _speed_lines(figures)
    if lines:
        terminalreporter.section("periodic-bench speed figures")
        for line in lines:
            terminalreporter.write_line(line)
    if points:
        terminalreporter.section("estimator against nifty-ls")
        terminalreporter.write_line(
            "one tone A sin(w x + phi) + noise at 0 dB SNR, x uniform on [-1000, 1000]; "
            "err/CRB = (found - w) / Cramer-Rao std; none = no tone reported"
        )
        for line in _band_lines(points):
            terminalreporter.write_line(line)
    out = os.environ.get(OUT_ENV)
    if out and exitstatus != 0:
        terminalreporter.write_line(f"speed figures not written to {out}: the run failed")
    elif out and (figures or points):
        from bench.engine.store import environment

        data = {
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "environment": environment("cpu"),
            "figures": figures,
            "band": points,
        }
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        terminalreporter.write_line(f"speed figures written to {out}")
