"""Device and process set-up around a run: which device, how many threads, synchronisation,
seeding, and peak memory."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np

from bench.core.defaults import limit_threads


def resolve_device(device: str) -> str:
    """``auto`` picks CUDA when available; asking for CUDA without it is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device")
    if device.startswith("cuda:"):
        index = device.split(":", 1)[1]
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise ValueError(f"no device {device}: torch sees {torch.cuda.device_count()} GPU(s)")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda[:N]")
    return device


def set_threads(threads: int) -> None:
    """One thread by default: on small machines torch's default pool makes small ops far slower."""
    import torch

    limit_threads(threads)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def sync_for(device: str) -> Callable[[], None]:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def seed_everything(seed: int) -> None:
    """Seed torch's, numpy's and Python's global generators for methods that use them (each
    run then draws the same numbers, whatever ran before it in the same interpreter)."""
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def reset_peak_memory(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(torch.device(device))


def peak_memory(device: str) -> dict[str, float]:
    """The run's peak device memory (CUDA) and the process's peak resident set, in MiB."""
    out: dict[str, float] = {}
    if device.startswith("cuda"):
        import torch

        peak = torch.cuda.max_memory_allocated(torch.device(device))
        out["device_peak_mb"] = round(peak / 2**20, 3)
    try:
        import resource

        rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out["host_peak_rss_mb"] = round(rss_kib / 1024, 1)
    except (ImportError, OSError):  # not on every platform
        pass
    return out


def release(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()
