"""Fleets (issue 35): the units of a sweep that share a method and its shapes train as one
stacked model, each member with its own task, seeds, learning rate and stop, and a member
gives the same weights, losses, stop steps and records alone as inside its fleet."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench.core import registry
from bench.engine.execute import execute, unit_records
from bench.engine.plan import Fleet, RunSpec, drop_done, fleets, plan

#: Small networks on short runs; the learning rate and ``w0`` differ between members
#: (per-member scalars: Adam's rows, ``SineLayer``'s buffer), the width is a shape: the last
#: unit cannot join the others' stack.
_SETS = [
    ("tone[cycles=1]", (0, 1), {"width": 16, "hidden_layers": 1, "lr": 1e-3, "w0": 30.0}),
    ("tone[cycles=3]", (0, 2), {"width": 16, "hidden_layers": 1, "lr": 3e-4, "w0": 300.0}),
    ("tone[cycles=10]", (1,), {"width": 12, "hidden_layers": 1, "lr": 1e-3}),
]


def _unit(task: str, seeds: tuple[int, ...], params: dict, device: str) -> RunSpec:
    return RunSpec("siren", task, seeds, device=device, tuning={"params": params, "steps": 600})


def _same(a: dict, b: dict) -> None:
    """Everything a run learned and was judged by, equal bit for bit (times aside)."""
    for key in ("run_key", "status", "success", "metrics", "stop_step", "converged_step",
                "best_step", "metrics_final", "validation", "method_params"):  # fmt: skip
        assert a[key] == b[key], key
    assert [(p[0], p[2]) for p in a["trace"]] == [(p[0], p[2]) for p in b["trace"]]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_a_member_alone_and_inside_its_fleet_record_the_same(device: str) -> None:
    units = [_unit(t, s, p, device) for t, s, p in _SETS]
    inside = execute(Fleet(tuple(units), "family:tone"))
    alone = [r for u in units for r in execute(u)]
    assert len(inside) == len(alone) == 5
    for a, b in zip(inside, alone, strict=True):
        _same(a, b)
    # The first two units trained as one stack of four seeds; the third alone.
    assert [r["time"].get("fleet_units") for r in inside] == [2, 2, 2, 2, None]
    assert [r["time"]["batch_seeds"] for r in inside] == [4, 4, 4, 4, 1]
    assert all(r["status"] == "ok" for r in inside)
    assert inside[0]["metrics"] != inside[2]["metrics"]  # members differ


def test_fleets_join_units_of_one_family_and_shape() -> None:
    """``fleets`` joins the units of a stackable method on one task family whose settings
    differ only in per-member scalars; other methods and other families stay units."""
    methods = [registry.METHODS.get(i) for i in ("siren[settings=paper]", "fft")]
    tasks = [registry.TASKS.get(i) for i in ("tone[cycles=1]", "tone[cycles=3]", "sin31")]
    specs = plan(methods, tasks, n_seeds=2, profile="quick", device="cpu")
    units = fleets(specs)
    (fleet,) = [u for u in units if isinstance(u, Fleet)]
    assert fleet.method == "siren[settings=paper]"
    assert [m.task for m in fleet.members] == ["tone[cycles=1]", "tone[cycles=3]"]
    assert fleet.seeds == (0, 1, 0, 1) and len(fleet.keys) == 4
    assert "2 units, 4 runs" in fleet.label
    others = [u for u in units if not isinstance(u, Fleet)]
    assert sorted({(u.method, u.task) for u in others}) == sorted(
        [("siren[settings=paper]", "sin31")] + [("fft", t.id) for t in tasks]
    )
    # Every run of the plan is in exactly one unit.
    assert sorted(k for u in units for k in u.keys) == sorted(k for s in specs for k in s.keys)


def test_resume_keeps_the_members_left() -> None:
    units = [_unit(t, s, p, "cpu") for t, s, p in _SETS[:2]]
    units = [RunSpec(u.method, u.task, u.seeds, keys=tuple(f"{u.task}/{s}" for s in u.seeds),
                     tuning=u.tuning) for u in units]  # fmt: skip
    fleet = Fleet(tuple(units), "family:tone")
    (left,) = drop_done([fleet], {"tone[cycles=1]/0", "tone[cycles=1]/1"})
    assert isinstance(left, RunSpec) and left.task == "tone[cycles=3]"
    (left,) = drop_done([fleet], {"tone[cycles=1]/0"})
    assert isinstance(left, Fleet) and left.seeds == (1, 0, 2)
    assert drop_done([fleet], set(fleet.keys)) == []


def test_a_lost_fleet_records_every_member() -> None:
    units = [_unit(t, s, p, "cpu") for t, s, p in _SETS]
    recs = unit_records(Fleet(tuple(units), "family:tone"), "error", "worker died", 10.0)
    assert [r["task"] for r in recs] == ["tone[cycles=1]"] * 2 + ["tone[cycles=3]"] * 2 + [
        "tone[cycles=10]"
    ]
    assert all(r["time"]["batch_seeds"] == 5 and r["time"]["fleet_units"] == 3 for r in recs)
    assert np.isclose(sum(r["time"]["total"] for r in recs), 10.0)


def test_the_original_learner_trains_a_familys_units_of_one_dtype_in_one_tensor() -> None:
    """``sgd-sin`` and its step-size variant share a fleet per task family; the float64
    variant cannot share the float32 tensor: a fleet of its own, or run on its own inside a
    fleet it was put in by hand."""
    methods = [registry.METHODS.get(i) for i in ("sgd-sin", "sgd-sin[lr=stable]",
                                                 "sgd-sin[dtype=float64]")]  # fmt: skip
    tasks = [registry.TASKS.get(i) for i in ("tone[cycles=1]", "tone[cycles=3]", "sin31")]
    specs = plan(methods, tasks, n_seeds=2, profile="quick", device="cpu")
    units = fleets(specs)
    assert [(u.method, u.task, len(getattr(u, "members", [u]))) for u in units] == [
        ("sgd-sin[*]", "family:tone", 4),
        ("sgd-sin[dtype=float64]", "family:tone", 2),
        ("sgd-sin[*]", "family:sin31", 2),
        ("sgd-sin[dtype=float64]", "sin31", 1),
    ]

    short = [RunSpec(m, t, s, tuning={"steps": 700}) for m, t, s in [
        ("sgd-sin", "tone[cycles=1]", (0, 1)),
        ("sgd-sin[lr=stable]", "tone[cycles=3]", (0,)),
        ("sgd-sin", "tone[cycles=10]", (2,)),
        ("sgd-sin[dtype=float64]", "tone[cycles=3]", (1,)),
    ]]  # fmt: skip
    inside = execute(Fleet(tuple(short), "every task"))
    alone = [r for u in short for r in execute(u)]
    for a, b in zip(inside, alone, strict=True):
        _same(a, b)
    assert [r["time"].get("fleet_units") for r in inside] == [3, 3, 3, 3, None]
    assert inside[0]["metrics"] != inside[2]["metrics"]


@pytest.mark.parametrize(
    ("method", "scalars"),
    [("siren", [{"w0": 30.0, "lr": 1e-3}, {"w0": 90.0, "hidden_w0": 10.0, "lr": 3e-4}]),
     ("snake", [{"a_init": "periodic", "lr": 1e-3}, {"a_init": 30.0, "lr": 3e-3}]),
     ("finer", [{"w0": 30.0, "lr": 5e-4}, {"w0": 300.0, "lr": 2e-3}])],
)  # fmt: skip
def test_members_of_other_scalars_share_one_stack(method: str, scalars: list[dict]) -> None:
    """What a tuned network sets per task family (SIREN's and FINER's ``w0``, Snake's start of
    ``a``) does not split a fleet: the members share one stack and record as alone."""
    units = [
        RunSpec(method, t, (0, 1), tuning={"params": {"width": 12, **p}, "steps": 400})
        for t, p in zip(("tone[cycles=1]", "tone[cycles=3]"), scalars, strict=True)
    ]
    inside = execute(Fleet(tuple(units), "family:tone"))
    alone = [r for u in units for r in execute(u)]
    for a, b in zip(inside, alone, strict=True):
        _same(a, b)
    assert [r["time"].get("fleet_units") for r in inside] == [2, 2, 2, 2]


def test_a_member_that_fails_fails_alone() -> None:
    """A member whose setting breaks the joint fit does not take the others down: the fleet
    runs its members again one by one, and each records what it would alone."""
    units = [
        RunSpec("sgd-sin", "tone[cycles=1]", (0, 1), tuning={"steps": 300}),
        RunSpec("sgd-sin", "tone[cycles=3]", (0,), tuning={"steps": 300,
                                                          "params": {"init": "bogus"}}),
    ]  # fmt: skip
    inside = execute(Fleet(tuple(units), "family:tone"))
    alone = [r for u in units for r in execute(u)]
    assert [r["status"] for r in inside] == ["ok", "ok", "error"]
    for a, b in zip(inside, alone, strict=True):
        _same(a, b)
        assert a["reason"] == b["reason"]
    assert all("fleet_units" not in r["time"] for r in inside)


def test_networks_that_differ_in_a_plain_attribute_do_not_share_a_stack() -> None:
    """A setting declared a per-member scalar but held as a plain float in the module would
    run every member as the first: the stack refuses, and the members run alone."""
    from bench.kit.netmethod import _architecture

    siren = registry.build(registry.METHODS.get("siren"), {"width": 8, "hidden_layers": 1})
    a, b = siren.network(1), siren.network(1)
    assert _architecture(a) == _architecture(b)
    b[0].w0_as_float = 3.0  # what a plugin's layer might keep
    assert _architecture(a) != _architecture(b)


def test_tune_trains_the_trials_of_a_rung_in_fleets() -> None:
    """``bench tune``: the grid points of a network that differ only in its fleet scalars
    (SIREN's ``lr`` and ``w0``) join one fleet per task family; ``--no-fleets`` runs each."""
    from bench.app.tune import plan_tune

    p = plan_tune(["siren"], ["tone[cycles=1]", "tone[cycles=3]", "sin31"], dry_run=True)
    units = p.work(p.specs)
    assert all(isinstance(u, Fleet) for u in units)
    assert sum(len(u.members) for u in units) == len(p.specs)
    assert {u.name for u in units} == {"family:tone", "family:sin31"}
    alone = replace(p, fleet=False).work(p.specs)
    assert alone == list(p.specs)


def test_a_stopped_member_draws_no_more_data() -> None:
    """Once a seed has stopped, its stream is not drawn from again (its record counts the
    samples it used, the same alone as beside members that train on); it gets zeros of its
    chunk's shape, which the stepper drops."""
    from bench.kit.train import live_chunks

    drawn = [0, 0]

    def stream(i: int, width: int):
        for _ in range(4):
            drawn[i] += 1
            yield np.ones((5, 2, width)), np.ones((5, 2, 1))

    stopped = np.zeros(2, dtype=bool)
    chunks = live_chunks([stream(0, 3), stream(1, 4)], stopped)
    first = next(chunks)
    assert [c[0].shape for c in first] == [(5, 2, 3), (5, 2, 4)] and drawn == [1, 1]
    stopped[1] = True
    second = next(chunks)
    assert drawn == [2, 1]
    assert second[1][0].shape == (5, 2, 4) and not second[1][0].any()
    assert len(list(chunks)) == 2 and drawn == [4, 1]
