"""The one record type: what a finished (or failed, or skipped) run leaves behind.

A record's fields are declared here and nowhere else. The runner builds every record with
:meth:`Record.new`, whatever happened to the run, so that a record from a lost worker carries
the same keys as one from a clean run; :meth:`Record.to_json` gives the flat dict the store
writes (the README documents the keys) and :meth:`Record.from_json` reads one back. The key
lists the store checks and the Parquet export lays out (:data:`REQUIRED_KEYS`,
:data:`SCALAR_KEYS`, :data:`SPREAD_KEYS`, :data:`JSON_KEYS`) are derived from the declaration,
so a field added here reaches every one of them.

The layout carries a version, :data:`SCHEMA`, written into every new record as ``schema``.
Records written before the field existed (all those published under ``results/`` with bench
0.2.0 and earlier) are schema 1 (:func:`schema_of`); their keys are otherwise the same.
"""

from __future__ import annotations

import time
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

STATUSES = ("ok", "diverged", "timeout", "oom", "error", "skipped")

#: Version of the record layout written by this code. 1: records without a ``schema`` field;
#: 2: the same fields plus ``schema``; 3: networks judged at their best state, ``metrics`` at
#: that state, with ``best_step``, ``stop_step``, ``metrics_final`` and ``validation``. Raise
#: it when a field changes meaning or shape, so that a reader can tell the layouts apart
#: instead of guessing from which keys are present.
SCHEMA = 3
#: The version of a record that has no ``schema`` field.
LEGACY_SCHEMA = 1
#: How ``finished`` is written (local time with its UTC offset).
FINISHED_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def _key(default: Any = MISSING, *, required: bool = False, spread: bool = False, **kw: Any):
    """A field with the two facts the key lists need: ``required`` (every record ever written
    carries it, so a line without it is not a record) and ``spread`` (a name -> number dict
    that the Parquet export turns into one column per name)."""
    return field(default=default, metadata={"required": required, "spread": spread}, **kw)


@dataclass(frozen=True)
class RunContext:
    """What every seed of one unit of work shares: ids, parameters, budget and judge."""

    method: str = _key(required=True)
    method_family: str = _key()
    params: dict[str, Any] = _key(required=True)
    task: str = _key(required=True)
    task_family: str = _key()
    task_params: dict[str, Any] = _key(required=True)
    profile: str = _key(required=True)
    device: str = _key()
    base_seed: int = _key(0)
    method_params: dict[str, Any] = _key(default_factory=dict)
    budget: dict[str, Any] = _key(default_factory=dict)
    #: ``eval`` for a benchmark run, ``tune`` for a tuning trial (scored on validation data).
    purpose: str = _key("eval")
    #: Which settings a tunable method ran with (``bench.engine.tuning.settings_for``).
    tuning: dict[str, Any] = _key(default_factory=dict)


@dataclass
class Record:
    """One run of one seed. Written flat: the context's fields sit beside the record's own."""

    run_key: str = _key(required=True)
    context: RunContext = _key()
    seed: int = _key(required=True)
    status: str = _key(required=True)
    reason: str = _key("", required=True)
    success: bool | None = _key(None, required=True)
    metrics: dict[str, Any] = _key(default_factory=dict, required=True, spread=True)
    time: dict[str, float] = _key(default_factory=dict, required=True, spread=True)
    #: Peak memory of the run: ``device_peak_mb`` (torch's peak allocation on a CUDA device,
    #: reset before the fit) and ``host_peak_rss_mb`` (the worker process's peak resident set
    #: so far, an upper bound for the run).
    memory: dict[str, float] = _key(default_factory=dict, spread=True)
    trace: list[list[Any]] = _key(default_factory=list, required=True)
    extras: dict[str, Any] = _key(default_factory=dict)
    headline: str | None = _key(None)
    #: The declared stop rule (``bench.core.stop``): ``True`` once it fired for this seed,
    #: ``False`` when the method logged steps but the budget ran out first, ``None`` when the
    #: method logged no step (it does not iterate).
    converged: bool | None = _key(None)
    converged_step: int | None = _key(None)
    #: The constants of the stop rule ``converged`` was judged by (``StopPolicy.describe``:
    #: window, patience, tolerance, floor share, the networks' learning-rate drops); empty in
    #: records written before the field existed, which all ran under the default policy.
    stop_rule: dict[str, Any] = _key(default_factory=dict)
    #: The step of the state the run was judged at, where it was judged at its best state
    #: (lowest validation loss, ``StopPolicy.judge``); ``None`` otherwise.
    best_step: int | None = _key(None)
    #: The step the seed stopped training at (its last logged step); ``None`` for a method
    #: that logs no steps.
    stop_step: int | None = _key(None)
    #: The judge's metrics at the last state, where ``metrics`` are those of the best one.
    metrics_final: dict[str, Any] = _key(default_factory=dict)
    #: How the best state was chosen: ``source`` (``held-out`` pairs or the ``window`` loss
    #: on fresh batches), ``rule`` (``random``, ``forward``, ``outer``) and ``pairs`` held out.
    validation: dict[str, Any] = _key(default_factory=dict)
    #: The best the method could score given the inputs it receives (``bench.core.ceiling``):
    #: ``{"metrics": ..., "success_possible": ...}``; ``None`` where not computed.
    ceiling: dict[str, Any] | None = _key(None)
    loss_target: float | None = _key(None)
    success_criterion: str = _key("")
    env: dict[str, Any] = _key(default_factory=dict)
    finished: str = _key("")
    #: The layout version (:data:`SCHEMA`); a record read without one is :data:`LEGACY_SCHEMA`.
    schema: int = _key(SCHEMA)

    @classmethod
    def new(
        cls,
        context: RunContext,
        run_key: str,
        seed: int,
        status: str,
        reason: str = "",
        *,
        success: bool | None = None,
        env: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Record:
        """The only constructor used by the harness. ``success`` defaults to ``False`` for a
        run that was attempted and failed, ``None`` for one that was skipped."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
        if success is None and status not in ("ok", "skipped"):
            success = False
        return cls(
            run_key=run_key,
            context=context,
            seed=seed,
            status=status,
            reason=reason,
            success=None if success is None else bool(success),
            env=dict(env or {}),
            finished=time.strftime(FINISHED_FORMAT),
            **fields,
        )

    def to_json(self) -> dict[str, Any]:
        """The flat dict written to ``records.jsonl``: keys in :data:`RECORD_KEYS` order."""
        out: dict[str, Any] = {"run_key": self.run_key}
        out.update(asdict(self.context))
        body = asdict(self)
        del body["context"], body["run_key"]
        out.update(body)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Record:
        """The record a flat dict (a stored line, or a row read back) describes.

        Keys the record type does not declare (what the store adds, such as ``env_id`` or
        ``_source``) are not part of the record and are left out. Fields an older record lacks
        take their defaults, and a record without ``schema`` is :data:`LEGACY_SCHEMA`.
        """
        missing = [f.name for f in _FLAT if _needed(f) and f.name not in data]
        if missing:
            raise ValueError(f"not a record: missing {', '.join(missing)}")
        ctx = RunContext(**{f.name: data[f.name] for f in fields(RunContext) if f.name in data})
        own = {f.name: data[f.name] for f in fields(cls) if f.name in data and f.name != "context"}
        own["schema"] = schema_of(data)
        return cls(context=ctx, **own)


def schema_of(rec: Mapping[str, Any]) -> Any:
    """The layout version of a stored record: its ``schema``, or 1 for one written before the
    field existed. Returned as stored, so that a reader can refuse a value it does not know."""
    return rec.get("schema", LEGACY_SCHEMA)


def schema_problem(rec: Mapping[str, Any]) -> str | None:
    """Why a stored record's layout version cannot be read here, or ``None``. A layout newer
    than this code is refused rather than half-read: its fields may mean something else."""
    schema = schema_of(rec)
    if isinstance(schema, bool) or not isinstance(schema, int) or schema < LEGACY_SCHEMA:
        return f"schema {schema!r} is not a record layout version"
    if schema > SCHEMA:
        return f"schema {schema} is newer than this bench reads ({SCHEMA}); upgrade bench"
    return None


def _needed(f: Field) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


_SCALARS = {int: "int", float: "float", bool: "bool", str: "str"}


def _kind(f: Field, hint: Any) -> str:
    """How the export stores a field: ``int``, ``float``, ``bool`` or ``str`` for a plain value
    (``None`` allowed), ``spread`` for a name -> number dict, ``json`` for anything nested."""
    if f.metadata.get("spread"):
        return "spread"
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    args = [a for a in typing.get_args(hint) if a is not type(None)] if union else [hint]
    return _SCALARS[args[0]] if len(args) == 1 and args[0] in _SCALARS else "json"


def _flat() -> tuple[Field, ...]:
    """Every field of a written record in the order :meth:`Record.to_json` writes them."""
    own = {f.name: f for f in fields(Record)}
    rest = [f for name, f in own.items() if name not in ("run_key", "context")]
    return (own["run_key"], *fields(RunContext), *rest)


_FLAT = _flat()
_HINTS = {**typing.get_type_hints(RunContext), **typing.get_type_hints(Record)}

#: Every key of a written record, in the order written.
RECORD_KEYS: tuple[str, ...] = tuple(f.name for f in _FLAT)
#: ``int``, ``float``, ``bool``, ``str``, ``spread`` or ``json`` for each key (see ``_kind``).
KINDS: dict[str, str] = {f.name: _kind(f, _HINTS[f.name]) for f in _FLAT}
#: Keys every record carries, whatever version wrote it: a stored line without one of them is
#: not a record. Keys added later (``memory``, ``converged``, ``schema``, ...) are not here, or
#: the published records would stop loading.
REQUIRED_KEYS: tuple[str, ...] = tuple(f.name for f in _FLAT if f.metadata.get("required"))
#: Keys holding one plain value each (a Parquet column of their own).
SCALAR_KEYS: tuple[str, ...] = tuple(k for k, v in KINDS.items() if v in _SCALARS.values())
#: Keys holding name -> number dicts (one Parquet column per name: ``metrics.test_mse``).
SPREAD_KEYS: tuple[str, ...] = tuple(k for k, v in KINDS.items() if v == "spread")
#: Keys holding nested values whose shape varies (JSON text in the Parquet table).
JSON_KEYS: tuple[str, ...] = tuple(k for k, v in KINDS.items() if v == "json")


# -- the newest record of a run -----------------------------------------------------------------


def run_identity(rec: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two records the same seed of the same run: method, task, seed, profile, base
    seed and the control a run trained under (``steps`` and ``stop`` in ``tuning``: a rung of
    successive halving, a long control). Not the run key: a plugin edited between a run and
    its ``--resume`` gets new run keys, and the seed must still count once."""
    control = rec.get("tuning") or {}
    return (
        rec["method"], rec["task"], rec["seed"], rec["profile"], rec.get("base_seed", 0),
        control.get("steps"), control.get("stop"),
    )  # fmt: skip


def finished_at(rec: Mapping[str, Any]) -> float | None:
    """When the run finished, in seconds since the epoch; ``None`` if the record does not say.
    Parsed rather than compared as text so that two machines' UTC offsets cannot reorder it."""
    try:
        return datetime.strptime(rec["finished"], FINISHED_FORMAT).timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def _newer(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    t_new, t_old = finished_at(new), finished_at(old)
    return t_new is None or t_old is None or t_new >= t_old


def latest_per_run(
    records: Sequence[dict[str, Any]],
    key: Callable[[Mapping[str, Any]], Any] = run_identity,
) -> tuple[list[dict[str, Any]], int]:
    """The newest record of each run, and how many older ones were set aside.

    The newest is the one that finished last; when the times are equal or one is unreadable,
    the one read last (records are read oldest first, so within a folder the two agree). Every
    reader of records uses this rule: the report (``key`` = :func:`run_identity`) and ``bench
    merge`` (``key`` = the run key). The records kept stay in reading order, each at the place
    where it was read.
    """
    latest: dict[Any, dict[str, Any]] = {}
    for r in records:
        k = key(r)
        old = latest.get(k)
        if old is not None:
            if not _newer(r, old):
                continue
            del latest[k]  # re-inserted below: the order follows the record kept
        latest[k] = r
    kept = list(latest.values())
    return kept, len(records) - len(kept)
