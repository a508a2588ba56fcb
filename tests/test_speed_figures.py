"""The speed figures the README quotes are what the benchmarks measured, added up the way their
names say (``benchmarks/conftest.py``), and written with the environment that measured them."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks import conftest as speed


def _bench(mean: float) -> SimpleNamespace:
    return SimpleNamespace(stats=SimpleNamespace(stats=SimpleNamespace(mean=mean)))


@pytest.fixture(autouse=True)
def _empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed, "FIGURES", {})
    monkeypatch.setattr(speed, "UNITS", {})
    monkeypatch.setattr(speed, "BAND", {})


def test_per_step_figures_and_ratios_follow_from_the_measured_calls() -> None:
    speed.record("original_loop", _bench(0.2), 2000)  # 100 us per step
    speed.record("sgd_sin_1_seed", _bench(0.1), 20_000)  # 5 us per step
    speed.record("sgd_sin_20_seeds", _bench(0.4), 20_000)  # 20 us per step of 20 seeds
    speed.record("harness_noop_run", _bench(0.004))
    speed.record("typical_run", _bench(0.08))
    f = speed.speed_figures()
    assert f["original_us_per_step"] == pytest.approx(100)
    assert f["sgd_sin_1_seed_ratio"] == pytest.approx(20)
    assert f["sgd_sin_20_seeds_ratio"] == pytest.approx(100)  # per seed-step
    assert f["harness_share_of_typical_run"] == pytest.approx(0.05)
    assert "fft_estimate_1e6_s" not in f  # only what was measured


def test_the_estimator_table_gives_errors_in_cramer_rao_deviations() -> None:
    speed.record_band(10_000, 31.0, "project", _bench(0.02), 31.002, 0.001)
    speed.record_band(10_000, 31.0, "nifty-ls", _bench(0.05), 30.999, 0.001)
    speed.record_band(10_000, 31.0, "project, band given", _bench(0.01), None, 0.001)
    points = speed.band_figures()
    assert list(points) == ["n1e4-w31"]
    point = points["n1e4-w31"]
    assert point["project"]["err_crb"] == pytest.approx(2.0)
    assert point["nifty_ls"]["err_crb"] == pytest.approx(-1.0)
    assert point["project_band_given"]["err_crb"] is None  # no tone reported
    assert point["nifty_over_project"] == pytest.approx(2.5)
    lines = speed._band_lines(points)
    assert len(lines) == 4 and "none" in lines[-1]
    # A point nifty-ls was timed on and the project not (a -k run) is a line, not an error.
    speed.BAND.clear()
    speed.record_band(10_000, 31.0, "nifty-ls", _bench(0.05), 30.999, 0.001)
    assert speed._band_lines(speed.band_figures())[1].endswith("| -")


def test_the_figures_are_written_with_the_machine_and_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "speed-cpu.json"
    monkeypatch.setenv(speed.OUT_ENV, str(out))
    speed.record("fft_estimate_1e6", _bench(0.125))
    shown: list[str] = []
    reporter = SimpleNamespace(section=shown.append, write_line=shown.append)
    speed.pytest_terminal_summary(reporter, exitstatus=1)  # a failed run writes nothing
    assert not out.exists()
    speed.pytest_terminal_summary(reporter, exitstatus=0)
    data = json.loads(out.read_text())
    assert data["figures"] == {"fft_estimate_1e6_s": 0.125}
    assert data["environment"]["code_hash"] and data["environment"]["threads"] >= 1
    assert data["band"] == {}
    assert "fft estimate from 10**6 samples: 0.125 s" in shown


def test_a_measurement_missing_a_benchmark_is_incomplete() -> None:
    """``speed_figures.py`` refuses to publish figures a skipped benchmark left out."""
    from benchmarks.speed_figures import BAND, FIGURES, incomplete

    whole = {
        "figures": dict.fromkeys(FIGURES, 1.0),
        "band": {"n1e4-w31": dict.fromkeys(BAND, 1.0)},
    }
    assert incomplete(whole) == []
    del whole["figures"]["fft_estimate_1e6_s"], whole["band"]["n1e4-w31"]["nifty_ls"]
    assert incomplete(whole) == ["figures.fft_estimate_1e6_s", "band.n1e4-w31.nifty_ls"]
    assert incomplete({"figures": {}}) == [*(f"figures.{k}" for k in FIGURES), "band"]
