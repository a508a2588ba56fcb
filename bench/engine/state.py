"""The interpreter state one run could leave behind for the next, put back after every unit.

A worker keeps one interpreter for many runs (the sandbox child, a dask worker's child, or the
command's own process with ``--in-process``). Whatever a method changes globally would reach
every later run of that interpreter: ``torch.set_default_dtype(torch.float64)`` in one plugin
made later runs of another method fail. :func:`restored` takes a :class:`Snapshot` of every
global setting below before a unit and puts back each one that differs afterwards, so each run
starts from the same state wherever it executes:

* torch: default dtype and device, threads, grad mode, anomaly detection, deterministic
  algorithms, float32 matmul precision, cuDNN flags, the CPU random generator (and the CUDA
  ones, once CUDA is initialised);
* numpy: the legacy global random generator, the floating-point error state;
* Python: the ``random`` module's generator, the warnings filters (and ``showwarning``),
  environment variables, the working directory.

What no snapshot can undo (a module a plugin monkeypatched, torch's inter-op threads, which
are fixed once set) is not covered; such a method would need a process of its own.
"""

from __future__ import annotations

import contextlib
import os
import random
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Setting:
    """One global setting: how to read it, how to set it back, and how to compare two reads."""

    name: str
    get: Callable[[], Any]
    put: Callable[[Any], None]
    same: Callable[[Any, Any], bool] = lambda a, b: bool(a == b)


def _same_np_state(a: Any, b: Any) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and tuple(a[2:]) == tuple(b[2:])


def _put_warnings(filters: list[Any]) -> None:
    warnings.filters[:] = filters
    mutated = getattr(warnings, "_filters_mutated", None)
    if mutated is not None:  # invalidates the "once"/"default" registries, as catch_warnings
        mutated()


def _put_environ(env: dict[str, str]) -> None:
    for k in [k for k in os.environ if k not in env]:
        del os.environ[k]
    for k, v in env.items():
        if os.environ.get(k) != v:
            os.environ[k] = v


def _put_showwarning(fn: Any) -> None:
    warnings.showwarning = fn


def _python_settings() -> list[Setting]:
    def put_errstate(old: dict[str, str]) -> None:
        np.seterr(**old)

    return [
        Setting("environment variables", lambda: dict(os.environ), _put_environ),
        Setting("working directory", os.getcwd, os.chdir),
        Setting("warnings filters", lambda: list(warnings.filters), _put_warnings),
        Setting("warnings.showwarning", lambda: warnings.showwarning, _put_showwarning),
        Setting("numpy error state", np.geterr, put_errstate),
        Setting("numpy random state", np.random.get_state, np.random.set_state, _same_np_state),
        Setting("python random state", random.getstate, random.setstate),
    ]


def _torch_settings() -> list[Setting]:
    import torch

    def put_anomaly(mode: tuple[bool, bool]) -> None:
        torch.autograd.set_detect_anomaly(*mode)  # sets the mode when constructed

    def put_deterministic(mode: tuple[bool, bool]) -> None:
        torch.use_deterministic_algorithms(mode[0], warn_only=mode[1])

    def put_cudnn(flags: tuple[bool, bool, bool]) -> None:
        cudnn = torch.backends.cudnn
        cudnn.enabled, cudnn.benchmark, cudnn.deterministic = flags

    cudnn = torch.backends.cudnn
    out = [
        Setting("torch default dtype", torch.get_default_dtype, torch.set_default_dtype),
        Setting("torch threads", torch.get_num_threads, torch.set_num_threads),
        Setting("torch grad mode", torch.is_grad_enabled, torch.set_grad_enabled),
        Setting(
            "torch anomaly mode",
            lambda: (torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()),
            put_anomaly,
        ),
        Setting(
            "torch deterministic algorithms",
            lambda: (
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
            ),
            put_deterministic,
        ),
        Setting(
            "torch float32 matmul precision",
            torch.get_float32_matmul_precision,
            torch.set_float32_matmul_precision,
        ),
        Setting(
            "torch cudnn flags",
            lambda: (cudnn.enabled, cudnn.benchmark, cudnn.deterministic),
            put_cudnn,
        ),
        Setting("torch random state", torch.get_rng_state, torch.set_rng_state, torch.equal),
    ]
    return out + _torch_optional()


def _torch_optional() -> list[Setting]:
    """The torch settings not every build or run has: the default device, the CUDA RNGs."""
    import torch

    def put_device(dev: Any) -> None:  # cpu: unset, so that no device mode stays installed
        torch.set_default_device(None if dev == torch.device("cpu") else dev)

    out = []
    if hasattr(torch, "get_default_device"):
        out.append(Setting("torch default device", torch.get_default_device, put_device))
    if torch.cuda.is_initialized():  # never initialise CUDA just to read its generators
        out.append(
            Setting(
                "torch cuda random state",
                torch.cuda.get_rng_state_all,
                torch.cuda.set_rng_state_all,
                lambda a, b: len(a) == len(b) and all(map(torch.equal, a, b)),
            )
        )
    return out


def settings() -> list[Setting]:
    """Every global setting a snapshot covers (torch's only where torch is imported)."""
    import sys

    out = _python_settings()
    if "torch" in sys.modules:
        out += _torch_settings()
    return out


class Snapshot:
    """The values of :func:`settings` at one moment."""

    def __init__(self) -> None:
        self._saved = [(s, s.get()) for s in settings()]

    def restore(self) -> list[str]:
        """Set back every setting that changed since the snapshot; returns their names."""
        changed = []
        for s, old in self._saved:
            if not s.same(s.get(), old):
                s.put(old)
                changed.append(s.name)
        return changed


@contextlib.contextmanager
def restored() -> Iterator[Snapshot]:
    """Run the block, then put back every global setting it changed (also when it raises)."""
    snap = Snapshot()
    try:
        yield snap
    finally:
        snap.restore()
