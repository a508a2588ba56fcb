"""Every built-in method on task shapes the suite never shows it (``tests/unseen``).

A method either runs (status ``ok``) or declines with a reason (``skipped``): no task shape
here may crash it, make it "diverge" on a NaN it was handed, or exceed a budget. The methods
that derive every limit from the data (the spectral estimators and the hybrid) also solve the
regression shapes, and the hybrid the weekday-and-hour classification.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNSEEN = str(ROOT / "tests" / "unseen")
REGRESSION = [
    "unseen-constant",
    "unseen-hours",
    "unseen-long",
    "unseen-micro",
    "unseen-missing",
    "unseen-offset",
    "unseen-repeats",
]
SOLVERS = ["fft", "nls", "grid-warm-start", "periodic-hybrid"]


@pytest.mark.slow
def test_every_method_runs_or_declines_on_unseen_task_shapes(tmp_path: Path) -> None:
    """The whole registry (``--all``) on eight unseen shapes, one seed (about 30 s)."""
    r = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--all", "--tasks", "unseen-*", "--seeds", "1",
         "--jobs", "2", "--out", str(tmp_path), "--quiet", "--no-report"],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "BENCH_PLUGIN_PATH": UNSEEN},
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert {r["task"] for r in recs} == {*REGRESSION, "unseen-weekday"}
    bad = [
        (r["method"], r["task"], r["status"], r["reason"])
        for r in recs
        if r["status"] not in ("ok", "skipped") or (r["status"] == "skipped" and not r["reason"])
    ]
    assert not bad, bad
    by = {(r["method"], r["task"]): r for r in recs}
    missed = [(m, t) for m in SOLVERS for t in REGRESSION if not by[(m, t)]["success"]]
    assert not missed, missed
    assert by[("periodic-hybrid", "unseen-weekday")]["success"]
    # The missing values were left out and counted; the small budget went through epochs.
    assert by[("fft", "unseen-missing")]["metrics"]["samples_dropped"] == 10
    assert by[("sgd-sin", "unseen-long")]["metrics"]["samples"] == 4096
