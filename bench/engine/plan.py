"""The plan of a sweep: units of work (:class:`RunSpec`), their seeds and their run keys.

Each unit is a small picklable description (ids, parameters, seeds, profile, device), so the
same unit runs in-process, in a sandbox child or on a dask worker. A vectorised method gets all
seeds of a task in one unit; every other method gets one seed per unit.

The settings a tunable method runs with are looked up here, once per (method, task) pair, and
travel on the unit (``RunSpec.tuning``): the run key hashes exactly the settings the run then
applies, even if the settings file changes while a sweep is under way.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from bench.core import registry
from bench.engine.keys import code_fingerprint, run_key
from bench.engine.purpose import purpose_of


@dataclass(frozen=True)
class RunSpec:
    """One unit of work (picklable): a method on a task for one or more seeds."""

    method: str
    task: str
    seeds: tuple[int, ...]
    profile: str = "quick"
    device: str = "cpu"
    base_seed: int = 0
    threads: int = 1
    keys: tuple[str, ...] = field(default=(), compare=False)
    #: ``eval`` (a benchmark run) or ``tune`` (a tuning trial): see ``bench.engine.purpose``.
    purpose: str = "eval"
    #: The settings the method runs with (``bench.engine.tuning.settings_for``), as ``plan``
    #: resolved them for the run keys; ``None`` on a unit built by hand: ``execute`` then
    #: resolves them itself, once.
    tuning: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        s = (
            f"seed {self.seeds[0]}"
            if len(self.seeds) == 1
            else f"seeds {self.seeds[0]}-{self.seeds[-1]}"
        )
        return f"{self.method} on {self.task} ({s})"


@dataclass(frozen=True)
class Fleet:
    """Units of one method on the tasks of one family, sent out as one unit of work: the
    executor trains those whose method can share a stacked model (``fleet_key``, e.g.
    ``bench.kit.netmethod.NetMethod``) as one, every member with its own task, seeds,
    settings and stop, and runs the others one after another. Each member's records are
    what it would record alone but for its times, which say how many runs shared them
    (``time.batch_seeds``, ``time.fleet_units``).

    It answers what a sweep asks of a :class:`RunSpec` (``label``, ``seeds``, ``keys``,
    ``method``, ``task``, ...): ``seeds`` and ``keys`` are its members', end to end, and
    ``task`` the family's name."""

    members: tuple[RunSpec, ...]
    #: The task family the members are drawn from (the unit's ``task`` in progress lines).
    name: str

    @property
    def method(self) -> str:
        """The members' method id, or their family's name with ``[*]`` where variants of
        one method share the fleet."""
        ids = list(dict.fromkeys(m.method for m in self.members))
        return ids[0] if len(ids) == 1 else ids[0].split("[")[0] + "[*]"

    @property
    def task(self) -> str:
        return self.name

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(s for m in self.members for s in m.seeds)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for m in self.members for k in m.keys)

    @property
    def profile(self) -> str:
        return self.members[0].profile

    @property
    def device(self) -> str:
        return self.members[0].device

    @property
    def base_seed(self) -> int:
        return self.members[0].base_seed

    @property
    def threads(self) -> int:
        return self.members[0].threads

    @property
    def purpose(self) -> str:
        return self.members[0].purpose

    @property
    def tuning(self) -> None:
        return None

    @property
    def label(self) -> str:
        return f"{self.method} on {self.name} ({len(self.members)} units, {len(self.seeds)} runs)"


#: A unit of work as a sweep sends it out.
Unit = RunSpec | Fleet


def unit_to_json(unit: Unit) -> dict[str, Any]:
    """``unit`` as JSON carries it to a sandbox child (:func:`unit_from_json` reads it)."""
    if isinstance(unit, Fleet):
        return {"fleet": unit.name, "members": [unit_to_json(m) for m in unit.members]}
    return {**asdict(unit), "seeds": list(unit.seeds), "keys": list(unit.keys)}


def unit_from_json(fields: dict[str, Any]) -> Unit:
    """The unit :func:`unit_to_json` wrote."""
    if "fleet" in fields:
        return Fleet(tuple(unit_from_json(m) for m in fields["members"]), fields["fleet"])  # type: ignore[misc]
    return RunSpec(**{**fields, "seeds": tuple(fields["seeds"]), "keys": tuple(fields["keys"])})


def fleets(specs: Sequence[RunSpec]) -> list[Unit]:
    """``specs`` with the units that may train together joined into :class:`Fleet` s, for
    methods that can train the members of several units as one model (``joins_fleets``): one
    per method family (its variants included), task family (or every task, where the method's
    ``fleet_scope`` is ``"profile"``), settings but the method's ``fleet_scalars`` (which each
    member keeps), control and shared setting (profile, device, base seed, threads,
    purpose). A group of one stays the unit it was; the order is that of each group's first
    unit. The executor trains together those of a fleet that also share a budget and a
    ``fleet_key``; it runs the others one after another."""
    groups: dict[tuple[Any, ...], list[RunSpec]] = {}
    for sp in specs:
        cls = registry.METHODS.get(sp.method).cls
        joins = getattr(cls, "joins_fleets", None)
        if not (callable(joins) and joins()):
            groups[("alone", id(sp))] = [sp]
            continue
        entry = registry.METHODS.get(sp.method)
        scope = "every task"
        if getattr(cls, "fleet_scope", "family") == "family":
            scope = f"family:{registry.TASKS.get(sp.task).family}"
        tuning = sp.tuning or {}
        scalars = getattr(cls, "fleet_scalars", ())
        params = {**entry.params, **(tuning.get("params") or {})}
        shape = {k: v for k, v in params.items() if k not in scalars}
        control = {k: tuning[k] for k in CONTROLS if k in tuning}
        key = (entry.family, scope, repr(sorted(shape.items())), repr(sorted(control.items())),
               sp.profile, sp.device, sp.base_seed, sp.threads, sp.purpose)  # fmt: skip
        groups.setdefault(key, []).append(sp)
    out: list[Unit] = []
    for key, members in groups.items():
        if len(members) == 1:
            out.append(members[0])
        else:
            out.append(Fleet(tuple(members), key[1]))
    return out


def derive_seed(base: int, task_id: str, index: int, stream: int) -> int:
    """Deterministic 32-bit seed for a run. Stream 0 draws the task's truth, 1 its samples,
    2 the method's initialisation: every method sees the same truth and samples for a seed."""
    ss = np.random.SeedSequence([base, zlib.crc32(task_id.encode()), index, stream])
    return int(ss.generate_state(1)[0])


def task_seed(entry: registry.Entry, base: int, index: int) -> int:
    """The seed a task is built with for seed ``index``: derived (stream 0), or the index
    itself where the task's seeds are a design rather than draws (``Task.seed_is_index``: the
    rolling forecast origins of the real series)."""
    if getattr(entry.cls, "seed_is_index", False):
        return int(index)
    return derive_seed(base, entry.id, index, 0)


def plan(
    methods: Sequence[registry.Entry],
    tasks: Sequence[registry.Entry],
    n_seeds: int,
    profile: str,
    device: str,
    base_seed: int = 0,
    threads: int = 1,
    purpose: str = "eval",
    control: Mapping[str, Any] | None = None,
) -> list[RunSpec]:
    """Every (method, task) pair; vectorised methods get all seeds in one unit. A settings
    file that cannot be read is a ``ValueError`` here, before anything runs. ``control``
    changes how the runs train (:data:`CONTROLS`); it travels with the settings, so the
    run keys and records carry it."""
    why = purpose_of(purpose)
    specs = []
    for t in tasks:
        for m in methods:
            tuning = {**why.settings(m, t, profile), **(control or {})}
            keys = tuple(
                run_key_of(m, t, s, profile, base_seed, purpose, tuning) for s in range(n_seeds)
            )
            common = {"profile": profile, "device": device, "base_seed": base_seed,
                      "threads": threads, "purpose": purpose, "tuning": tuning}  # fmt: skip
            if getattr(m.cls, "vectorised", False):
                specs.append(RunSpec(m.id, t.id, tuple(range(n_seeds)), keys=keys, **common))
            else:
                for s in range(n_seeds):
                    specs.append(RunSpec(m.id, t.id, (s,), keys=(keys[s],), **common))
    return specs


#: What a control run may change, and how: ``steps``, fewer optimiser steps than the budget's
#: (a rung of successive halving, or a long control on the ``full`` profile); ``stop``:
#: ``"none"`` trains every seed to the end of its budget (``StopPolicy.stops``).
CONTROLS = ("steps", "stop")


def run_key_of(
    m: registry.Entry,
    t: registry.Entry,
    seed: int,
    profile: str,
    base: int,
    purpose: str = "eval",
    tuning: Mapping[str, Any] | None = None,
) -> str:
    """The run key of seed ``seed`` of ``m`` on ``t``. ``tuning`` is the settings the run
    applies (looked up when not given): new tuned settings make new runs."""
    why = purpose_of(purpose)
    if tuning is None:
        tuning = why.settings(m, t, profile)
    params = why.key_params(dict(m.params), tuning)
    return run_key(
        m.id,
        code_fingerprint(m.cls),
        params,
        t.id,
        code_fingerprint(t.cls),
        dict(t.params),
        seed if base == 0 else [base, seed],
        profile,
    )


def drop_done(specs: Iterable[Unit], done: set[str]) -> list[Unit]:
    """Keep only the seeds whose run key is not recorded yet (for ``--resume``); a fleet keeps
    its members with seeds left (one left is a unit again)."""
    out: list[Unit] = []
    for sp in specs:
        if isinstance(sp, Fleet):
            left = drop_done(sp.members, done)
            if len(left) > 1:
                out.append(replace(sp, members=tuple(left)))
            else:
                out.extend(left)
            continue
        keep = [(s, k) for s, k in zip(sp.seeds, sp.keys, strict=True) if k not in done]
        if keep:
            seeds, keys = zip(*keep, strict=True)
            out.append(replace(sp, seeds=seeds, keys=keys))
    return out


class Unbuildable(ValueError):
    """A selected method or task that cannot be built: one line naming it and why."""


def check_units(specs: Sequence[RunSpec]) -> None:
    """Build, as a run would, every task of ``specs`` (for the first seed of its first unit)
    and every method with each set of settings its units carry, so that a bad id or value
    fails here, before anything runs, and not in a worker midway through a sweep. A failure
    is a ``RegistryError`` or :class:`Unbuildable`, naming the id."""
    built: set[tuple[str, ...]] = set()
    for sp in specs:
        if ("task", sp.task, sp.profile) not in built:
            built.add(("task", sp.task, sp.profile))
            entry = registry.TASKS.get(sp.task)
            seed = task_seed(entry, sp.base_seed, sp.seeds[0])
            _try_build(registry.TASKS, sp.task, None, seed=seed, profile=sp.profile)
        params = (sp.tuning or {}).get("params")
        if ("method", sp.method, repr(params)) not in built:
            built.add(("method", sp.method, repr(params)))
            _try_build(registry.METHODS, sp.method, params)


def _try_build(
    reg: registry.Registry, key: str, overrides: Mapping[str, Any] | None, **fixed: Any
) -> None:
    """Build the id ``key``, looked up as a worker will look it up."""
    try:
        registry.build(reg.get(key), overrides, **fixed)
    except registry.RegistryError:
        raise
    except (Exception, SystemExit) as exc:  # sys.exit in a plugin's __init__ included
        family = key.split("[")[0]
        known = [i for i in reg.ids() if i == family or i.startswith(family + "[")]
        shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        text = str(exc).splitlines()[0] if str(exc) else ""
        raise Unbuildable(
            f"{reg.kind} {key!r} cannot be built: {type(exc).__name__}: {text}"
            + (f" (registered: {shown})" if shown else "")
        ) from exc
