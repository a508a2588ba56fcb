"""The plugin author's kit: base classes and helpers for methods and tasks, the network
trainer, and the conformance checks. With ``bench`` itself and the numerics of ``bench.lib``,
this is the public plugin API (README, "The plugin API"); names here keep working, or keep a
deprecation warning, for at least one minor release after they change.

Each name is imported on first use, so that a task plugin taking ``SymmetricTask`` from here,
or a spectral method taking ``SinusoidMethod``, does not load the network trainer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: name -> the kit module that defines it
_WHERE = {
    "NetMethod": "bench.kit.netmethod",
    "SeedBatchMethod": "bench.kit.methods",
    "SinusoidMethod": "bench.kit.methods",
    "SteppedSinusoidMethod": "bench.kit.methods",
    "SymmetricTask": "bench.kit.tasks",
    "check_method": "bench.kit.conformance",
    "check_task": "bench.kit.conformance",
    "draw_samples": "bench.kit.methods",
    "forget": "bench.kit.methods",
    "learned_state": "bench.kit.methods",
    "log_uniform": "bench.kit.tasks",
    "mlp": "bench.kit.nn",
    "spawn": "bench.kit.methods",
    "train": "bench.kit.train",
    "train_seeds": "bench.kit.train",
}

__all__ = [
    "NetMethod",
    "SeedBatchMethod",
    "SinusoidMethod",
    "SteppedSinusoidMethod",
    "SymmetricTask",
    "check_method",
    "check_task",
    "draw_samples",
    "forget",
    "learned_state",
    "log_uniform",
    "mlp",
    "spawn",
    "train",
    "train_seeds",
]

if TYPE_CHECKING:  # for type checkers and readers; at run time names load on first use
    from bench.kit.conformance import check_method, check_task
    from bench.kit.methods import (
        SeedBatchMethod,
        SinusoidMethod,
        SteppedSinusoidMethod,
        draw_samples,
        forget,
        learned_state,
        spawn,
    )
    from bench.kit.netmethod import NetMethod
    from bench.kit.nn import mlp
    from bench.kit.tasks import SymmetricTask, log_uniform
    from bench.kit.train import train, train_seeds


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
