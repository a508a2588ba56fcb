"""The cost model (issue 35): expected run times learnt from earlier records, the plan's wall
time for a number of workers, the longest-first order, the busy share, and the dry run that
prints them (for a CUDA device this machine may lack)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from bench.engine.cost import (
    CostModel,
    busy_share,
    cost_sources,
    forecast,
    learn,
    longest_first,
    schedule,
)
from bench.engine.plan import RunSpec
from bench.engine.progress import Progress


def rec(method: str, task: str, total: float | None, **kw: Any) -> dict[str, Any]:
    r = {
        "method": method,
        "task": task,
        "profile": kw.pop("profile", "quick"),
        "device": kw.pop("device", "cpu"),
        "status": kw.pop("status", "ok"),
        "time": {} if total is None else {"total": total},
        "budget": {"steps": kw.pop("steps", 1000)},
        "stop_step": kw.pop("stop_step", None),
        "env": {"cpu": kw.pop("host", "CPU A")},
    }
    r.update(kw)
    return r


def model(*records: dict[str, Any], host: str | None = None) -> CostModel:
    m = CostModel(host)
    for r in records:
        m.observe(r)
    return m


def test_estimates_say_what_they_rest_on() -> None:
    m = model(
        rec("net", "tone[c=1]", 2.0),
        rec("net", "tone[c=1]", 4.0),
        rec("net", "wave[s=a]", 10.0),
        rec("est", "tone[c=1]", 0.5),
        rec("est", "tone[c=1]", None, status="skipped"),  # a skip costs nothing
        rec("tuned", "tone[c=1]", 99.0, purpose="tune"),  # tuning trials are left out
    )
    assert m.per_run("net", "tone[c=1]", "quick", "cpu") == (3.0, "measured")
    assert m.per_run("net", "tone[c=2]", "quick", "cpu") == (3.0, "family")
    assert m.per_run("net", "clock[x]", "quick", "cpu").basis == "method"
    assert m.per_run("est", "tone[c=1]", "quick", "cpu").seconds == pytest.approx(0.25)
    assert m.per_run("tuned", "tone[c=1]", "quick", "cpu") == (0.0, "unknown")
    spec = RunSpec("net", "tone[c=1]", (0, 1, 2))
    assert m.unit(spec) == (9.0, "measured")  # a unit of three seeds: three shares


def test_this_machines_timings_come_first() -> None:
    recs = [rec("net", "t", 1.0, host="CPU A"), rec("net", "t", 9.0, host="CPU B")]
    assert model(*recs, host="CPU B").per_run("net", "t", "quick", "cpu").seconds == 9.0
    assert model(*recs, host="CPU C").per_run("net", "t", "quick", "cpu").seconds == 5.0


def test_another_profile_or_device_is_converted_by_a_fitted_ratio() -> None:
    """A network timed on both devices for one tone is scaled by that ratio on a wave;
    a method that stopped early is taken as measured; one that ran its whole budget on this
    device is scaled by the steps; one never timed on this device kind says so."""
    m = model(
        rec("net", "tone[c=1]", 2.0),
        rec("net", "wave[s=a]", 8.0),
        rec("net", "tone[c=1]", 0.5, profile="full", device="cuda", steps=100_000),
        rec("early", "tone[c=1]", 1.0, stop_step=10, steps=1000),
        rec("loop", "tone[c=1]", 1.0, stop_step=1000, steps=1000),
    )
    m.learn_steps("tone[c=1]", "full", 7)  # what a record says wins over the plan's fallback
    assert m.per_run("net", "wave[s=a]", "full", "cuda") == (2.0, "scaled")
    assert m.per_run("net", "tone[c=2]", "full", "cuda") == (0.5, "family")
    assert m.per_run("early", "tone[c=1]", "full", "cpu") == (1.0, "as measured there")
    got = m.per_run("loop", "tone[c=1]", "full", "cpu")
    assert got.basis == "budget" and got.seconds == pytest.approx(1.0 * 100_000 / 1000)
    assert m.per_run("loop", "tone[c=1]", "quick", "cuda").basis == "other device"


def test_schedule_longest_first_and_busy_share() -> None:
    assert schedule([4.0, 3.0, 3.0, 2.0], 2) == 6.0  # 4+2 and 3+3
    assert schedule([2.0, 3.0, 3.0, 4.0], 2) == 7.0  # the long unit last leaves a worker idle
    assert schedule([1.0] * 6, 1) == 6.0
    assert busy_share(12.0, 6.0, 2) == 1.0 and busy_share(6.0, 6.0, 2) == 0.5
    m = model(rec("a", "t", 1.0), rec("b", "t", 5.0), rec("c", "t", 3.0))
    specs = [RunSpec(x, "t", (0,)) for x in ("a", "b", "c", "unseen")]
    assert [s.method for s in longest_first(specs, m)] == ["b", "c", "a", "unseen"]
    f = forecast(specs, m, workers=2)
    assert f.run_seconds == 9.0 and f.wall_seconds == 5.0
    assert f.bases == {"measured": 3, "unknown": 1} and f.unknown == [("unseen", "t")]
    text = "\n".join(f.lines("cpu"))
    assert "expected on cpu with 2 worker(s): 5s wall" in text and "unseen on t" in text


def test_progress_has_an_eta_before_the_first_unit_and_reports_the_busy_share() -> None:
    m = model(rec("a", "t", 10.0))
    specs = [RunSpec("a", "t", (0,)), RunSpec("a", "t", (1,))]
    stream = io.StringIO()
    p = Progress(specs, stream=stream, prior=m, workers=2)
    assert p.eta() == pytest.approx(10.0)  # 20 s of runs on two workers
    p.finish(specs[0], [{"status": "ok", "success": True, "reason": ""}], 0.01)
    p.close()
    assert "busy:" in stream.getvalue() and "of 2 worker(s)" in stream.getvalue()


def test_sources_are_the_folder_and_the_published_ones(tmp_path: Path, monkeypatch) -> None:
    pub = tmp_path / "results"
    (pub / "a").mkdir(parents=True)
    (pub / "empty").mkdir()
    (pub / "a" / "records.jsonl").write_text("")
    monkeypatch.setenv("BENCH_COSTS", str(pub))
    assert cost_sources(tmp_path / "out") == [tmp_path / "out", pub / "a"]
    monkeypatch.setenv("BENCH_COSTS", "")
    assert cost_sources(None) == []


def test_learn_reads_a_records_folder(tmp_path: Path) -> None:
    lines = [rec("m", "t", 2.0), rec("m", "t", 4.0)]
    for r in lines:
        r.update({"run_key": "k", "seed": 0, "params": {}, "success": None, "metrics": {},
                  "task_params": {}, "reason": "", "trace": []})  # fmt: skip
        r["env_id"] = "e"
        del r["env"]
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (tmp_path / "manifest.json").write_text(json.dumps({"environments": {"e": {"cpu": "X"}}}))
    m = learn([tmp_path], host="X")
    assert m.records == 2 and m.per_run("m", "t", "quick", "cpu").seconds == 3.0


def test_dry_run_prints_the_expected_time_and_plans_for_a_missing_gpu(tmp_path, capsys):
    """``run --dry-run`` prints the forecast (the unit list with ``--list``); a CUDA plan works
    on a machine without a GPU, and a run on it does not."""
    import torch

    from bench.cli import main

    args = ["run", "--methods", "fft", "--tasks", "sin31", "--seeds", "2", "--out", str(tmp_path)]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr()
    assert "expected on cpu with" in out.out and "by task family" in out.out
    assert main([*args, "--dry-run", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed == ["fft on sin31 (seed 0)", "fft on sin31 (seed 1)"]
    if torch.cuda.is_available():
        return
    assert main([*args, "--device", "cuda", "--dry-run"]) == 0
    out = capsys.readouterr()
    assert "not on this machine: a plan only" in out.err and "expected on cuda" in out.out
    assert main([*args, "--device", "cuda"]) == 2  # a real run still needs the device
