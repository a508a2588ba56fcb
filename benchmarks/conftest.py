"""Collects the speed benchmarks' figures and prints the ratios they add up to at the end of the
run (``python -m pytest benchmarks/``): the original loop against ``sgd-sin``, one seed at a time
against seeds in one model, and the harness's share of a run; and the table of
``test_estimator_band.py`` (the FFT tone estimator against ``nifty-ls``)."""

from __future__ import annotations

#: Mean seconds per call of each measured thing, filled in by the benchmarks.
FIGURES: dict[str, float] = {}
#: Steps (or runs) each measured call performs, to turn seconds per call into per-step figures.
UNITS: dict[str, float] = {}


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


def _band_lines() -> list[str]:
    """One line per point of test_estimator_band.py: time, frequency found and its error in CRB
    standard deviations for each method, and how many times longer nifty-ls took."""

    def cell(fig: dict[str, float | None] | None, w: float) -> str:
        if fig is None:
            return f"{'not run':>36}"
        found, crb = fig["found"], fig["crb"]
        where = f"{found:16.9f}" if found is not None else f"{'none':>16}"
        err = f"{(found - w) / crb:+8.2f}" if found is not None else f"{'-':>8}"
        return f"{where} {fig['seconds']:8.3f} s {err}"

    head = (
        f"{'n':>9} {'w':>6} {'CRB std':>9} | {'project: w found':>16} {'time':>10} {'err/CRB':>8}"
        f" | {'nifty-ls: w found':>17} {'time':>9} {'err/CRB':>8} | nifty/project time"
    )
    lines = [head]
    for (n, w), figs in sorted(BAND.items()):
        crb = next(iter(figs.values()))["crb"]
        mine, theirs = figs.get("project"), figs.get("nifty-ls")
        ratio = (
            f"{theirs['seconds'] / mine['seconds']:.1f}x" if mine is not None and theirs else "-"
        )
        lines.append(f"{n:>9} {w:>6g} {crb:9.2e} | {cell(mine, w)} | {cell(theirs, w)} | {ratio}")
    # The same band for both: the project told nifty-ls's band (max_freq = 2.5 w).
    banded = [(k, figs) for k, figs in sorted(BAND.items()) if "project, band given" in figs]
    if banded:
        lines.append("the project told the same band as nifty-ls (max_freq = 2.5 w):")
        for (n, w), figs in banded:
            mine, theirs = figs["project, band given"], figs.get("nifty-ls")
            ratio = f"{theirs['seconds'] / mine['seconds']:.1f}x" if theirs else "-"
            crb = mine["crb"]
            lines.append(
                f"{n:>9} {w:>6g} {crb:9.2e} | {cell(mine, w)} | {cell(theirs, w)} | {ratio}"
            )
    return lines


def _per(name: str) -> float | None:
    return FIGURES[name] / UNITS[name] if name in FIGURES else None


def pytest_terminal_summary(terminalreporter) -> None:  # pytest hook
    lines = []
    orig = _per("original_loop")
    one, many = _per("sgd_sin_1_seed"), _per("sgd_sin_20_seeds")
    if orig and one:
        lines.append(
            f"original loop {orig * 1e6:.1f} us/step; sgd-sin 1 seed {one * 1e6:.2f} us/step: "
            f"{orig / one:.1f}x per step"
        )
    if orig and many:
        lines.append(
            f"sgd-sin 20 seeds {many * 1e6:.2f} us/step: {orig * 20 / many:.1f}x per seed-step"
        )
    fleet = _per("sgd_sin_fleet")
    if orig and fleet:
        from .test_bench_speed import FLEET_SIZE

        lines.append(
            f"sgd-sin fleet ({FLEET_SIZE[0]} members in one tensor) {fleet * 1e6:.3f} us per "
            f"member-step: {orig / fleet:.0f}x per seed-step"
        )
    alone, batched = _per("networks_one_at_a_time"), _per("networks_batched")
    if alone and batched:
        lines.append(
            f"networks, 3 seeds: one at a time {alone:.2f} s, as one model {batched:.2f} s: "
            f"{alone / batched:.2f}x"
        )
    mm, peak = _per("network_matmuls"), _per("matmul_peak")
    if batched and mm:
        from .test_bench_speed import NET_BATCH, NET_STEPS, step_flops

        flops = step_flops(3, NET_BATCH) * NET_STEPS
        peak_note = f"; one 1024^3 product reaches {2 * 1024**3 / peak / 1e9:.1f}" if peak else ""
        lines.append(
            f"network step (3-seed SIREN, 256 wide, batch {NET_BATCH}): "
            f"{batched / NET_STEPS * 1e3:.2f} ms; its matrix products alone "
            f"{mm / NET_STEPS * 1e3:.2f} ms "
            f"({flops / mm / 1e9:.1f} GFLOP/s{peak_note} GFLOP/s): the step takes "
            f"{batched / mm:.1f}x its products"
        )
    noop, run = _per("harness_noop_run"), _per("typical_run")
    if noop is not None:
        share = f", {100 * noop / run:.2f}% of a typical run ({run:.2f} s)" if run else ""
        lines.append(f"harness overhead per run (no-op method) {noop * 1e3:.2f} ms{share}")
    fft = _per("fft_estimate_1e6")
    if fft is not None:
        lines.append(f"fft estimate from 10**6 samples: {fft:.3f} s")
    sweep = _per("quick_sweep")
    if sweep is not None:
        from .test_bench_speed import SWEEP_BUSY

        busy = f"; {SWEEP_BUSY[0]}" if SWEEP_BUSY[0] else ""
        lines.append(f"default quick sweep (python -m bench run --all): {sweep:.0f} s wall{busy}")
    if lines:
        terminalreporter.section("periodic-bench speed figures")
        for line in lines:
            terminalreporter.write_line(line)
    if BAND:
        terminalreporter.section("estimator against nifty-ls")
        terminalreporter.write_line(
            "one tone A sin(w x + phi) + noise at 0 dB SNR, x uniform on [-1000, 1000]; "
            "err/CRB = (found - w) / Cramer-Rao std; none = no tone reported"
        )
        for line in _band_lines():
            terminalreporter.write_line(line)
