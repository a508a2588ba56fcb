"""The one record type: its key lists, its round trip through the store and the Parquet export,
the schema version old records read as, and the newest-record rule of ``bench merge``."""

import json
from dataclasses import replace
from pathlib import Path

from bench.core.record import (
    JSON_KEYS,
    RECORD_KEYS,
    SCALAR_KEYS,
    SCHEMA,
    SPREAD_KEYS,
    Record,
    RunContext,
)
from bench.engine.exchange import export_parquet, merge_folders, read_parquet
from bench.engine.store import REQUIRED_KEYS, RecordWriter, iter_records, raw_records, record_files

ROOT = Path(__file__).resolve().parent.parent


def _full_record(key: str = "key-1", **changes) -> Record:
    """A record with a value in every field, none left at its default, so that a field lost
    on the way shows up as a difference; ``changes`` replace fields afterwards."""
    ctx = RunContext(
        method="m[lr=0.1]", method_family="m", params={"lr": 0.1}, task="t[cycles=3]",
        task_family="t", task_params={"cycles": 3}, profile="quick", device="cpu", base_seed=7,
        method_params={"lr": 0.1, "width": 8}, budget={"steps": 10, "seconds": 1.5},
        purpose="tune", tuning={"settings": "trial"},
    )  # fmt: skip
    rec = Record.new(
        ctx, key, 2, "ok", "a note", success=True, env={"python": "3.11", "device": "cpu"},
        metrics={"test_mse": 1e-5, "samples": 100}, time={"train": 1.25, "total": 1.5},
        memory={"host_peak_rss_mb": 512.0}, trace=[[0, 0.0, 1.0], [10, 0.5, 0.01]],
        extras={"note": "x", "freqs": [1.0, 2.0]}, headline="test_mse", converged=True,
        converged_step=10, stop_rule={"window": 100, "patience": 5},
        ceiling={"metrics": {"test_mse": 0.0}, "success_possible": True},
        loss_target=1e-4, success_criterion="test MSE < 1e-4", best_step=8, stop_step=10,
        metrics_final={"test_mse": 2e-5}, validation={"source": "held-out", "pairs": 20},
    )  # fmt: skip
    return replace(rec, **changes)


def test_the_key_lists_come_from_the_record_type() -> None:
    from bench.engine import exchange

    flat = _full_record().to_json()
    assert tuple(flat) == RECORD_KEYS and flat["schema"] == SCHEMA
    assert all(v not in (None, "", {}, []) for v in flat.values())  # the fixture is complete
    # every field has exactly one place in the export
    assert sorted(SCALAR_KEYS + SPREAD_KEYS + JSON_KEYS) == sorted(RECORD_KEYS)
    assert exchange.SCALARS[: len(SCALAR_KEYS)] == SCALAR_KEYS
    assert (exchange.SPREAD, exchange.AS_JSON) == (SPREAD_KEYS, JSON_KEYS)
    # what a line must carry to be a record: the keys of the very first layout, no more
    assert set(REQUIRED_KEYS) < set(RECORD_KEYS) and "schema" not in REQUIRED_KEYS


def test_a_record_round_trips_through_the_store_and_parquet(tmp_path) -> None:
    import pyarrow.parquet as pq

    rec = _full_record()
    RecordWriter(tmp_path).write(rec)  # the record type itself, not a dict
    (stored,) = iter_records(tmp_path)
    # The environment block comes back from the manifest with the record's own finishing time.
    expect = replace(rec, env={**rec.env, "timestamp": rec.finished})
    assert Record.from_json(stored) == expect
    assert stored["schema"] == SCHEMA

    assert export_parquet([tmp_path], tmp_path / "r.parquet") == (1, [])
    (row,) = read_parquet(tmp_path / "r.parquet")
    assert {k: row[k] for k in RECORD_KEYS} == {k: stored[k] for k in RECORD_KEYS}
    assert Record.from_json(row) == expect
    types = {f.name: str(f.type) for f in pq.read_schema(tmp_path / "r.parquet")}
    assert types["seed"] == types["schema"] == types["converged_step"] == "int64"
    assert types["success"] == types["converged"] == "bool"
    assert types["metrics.test_mse"] == types["loss_target"] == "double"


def test_records_without_schema_read_as_schema_1(tmp_path) -> None:
    # Every published folder reads, the ones written before records carried a schema (the GPU
    # folders of earlier commits) as schema 1.
    folders = [f for f in sorted((ROOT / "results").iterdir()) if f.is_dir() and record_files(f)]
    assert folders
    for folder in folders:
        raw = [r for f in record_files(folder) for r in raw_records(f)]
        published = list(iter_records(folder))
        assert len(published) == len(raw)
        assert [r.get("schema", 1) for r in raw] == [r["schema"] for r in published]
        assert Record.from_json(published[0]).schema == published[0]["schema"]

    # One line of the old layout beside a new one, and one of a layout newer than this code.
    old = {k: v for k, v in _full_record("old").to_json().items() if k != "schema"}
    future = {**_full_record("future").to_json(), "schema": SCHEMA + 1}
    with open(tmp_path / "records.jsonl", "w") as f:
        for r in (old, _full_record("new").to_json(), future):
            f.write(json.dumps(r) + "\n")
    problems: list = []
    read = {r["run_key"]: r["schema"] for r in iter_records(tmp_path, problems)}
    assert read == {"old": 1, "new": SCHEMA}
    assert len(problems) == 1 and "newer than this bench reads" in problems[0].why


def test_merge_keeps_the_run_that_finished_last(tmp_path) -> None:
    """Sources named newest first: the newest record still wins, by its finishing time, read
    as a time (10:30 at +0000 is later than 11:00 at +0200, though not as text)."""
    newer, older, dest = tmp_path / "newer", tmp_path / "older", tmp_path / "dest"
    RecordWriter(newer).write(_full_record(finished="2026-01-01T10:30:00+0000", reason="new"))
    RecordWriter(older).write(_full_record(finished="2026-01-01T11:00:00+0200", reason="old"))
    assert merge_folders(dest, [newer, older])[:2] == (1, 1)
    assert [r["reason"] for r in iter_records(dest)] == ["new"]
