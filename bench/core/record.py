"""The one record type: what a finished (or failed, or skipped) run leaves behind.

Every record is built by :meth:`Record.new`, whatever happened to the run, so that a record
from a lost worker carries the same keys as one from a clean run. ``to_json`` gives the dict
that the store writes; the README documents the keys.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("ok", "diverged", "timeout", "oom", "error", "skipped")


@dataclass(frozen=True)
class RunContext:
    """What every seed of one unit of work shares: ids, parameters, budget and judge."""

    method: str
    method_family: str
    params: dict[str, Any]
    task: str
    task_family: str
    task_params: dict[str, Any]
    profile: str
    device: str
    base_seed: int = 0
    method_params: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    #: ``eval`` for a benchmark run, ``tune`` for a tuning trial (scored on validation data).
    purpose: str = "eval"
    #: Which settings a tunable method ran with (``bench.engine.tuning.settings_for``).
    tuning: dict[str, Any] = field(default_factory=dict)


@dataclass
class Record:
    run_key: str
    context: RunContext
    seed: int
    status: str
    reason: str = ""
    success: bool | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    time: dict[str, float] = field(default_factory=dict)
    #: Peak memory of the run: ``device_peak_mb`` (torch's peak allocation on a CUDA device,
    #: reset before the fit) and ``host_peak_rss_mb`` (the worker process's peak resident set
    #: so far, an upper bound for the run).
    memory: dict[str, float] = field(default_factory=dict)
    trace: list[list[Any]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    headline: str | None = None
    #: The declared stop rule (``bench.core.stop``): ``True`` once it fired for this seed,
    #: ``False`` when the method logged steps but the budget ran out first, ``None`` when the
    #: method logged no step (it does not iterate).
    converged: bool | None = None
    converged_step: int | None = None
    #: The best the method could score given the inputs it receives (``bench.core.ceiling``):
    #: ``{"metrics": ..., "success_possible": ...}``; ``None`` where not computed.
    ceiling: dict[str, Any] | None = None
    loss_target: float | None = None
    success_criterion: str = ""
    env: dict[str, Any] = field(default_factory=dict)
    finished: str = ""

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
            finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **fields,
        )

    def to_json(self) -> dict[str, Any]:
        """The flat dict written to ``records.jsonl`` (context keys at the top level)."""
        out: dict[str, Any] = {"run_key": self.run_key}
        out.update(asdict(self.context))
        body = asdict(self)
        del body["context"], body["run_key"]
        out.update(body)
        return out
