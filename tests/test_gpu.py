"""CUDA path: device placement and synchronised timing. Skipped where torch sees no GPU."""

import pytest

from bench.core.runner import RunSpec, execute, resolve_device

pytestmark = pytest.mark.gpu


def test_auto_picks_cuda() -> None:
    assert resolve_device("auto") == "cuda"


@pytest.mark.parametrize("method", ["sgd-sin", "gelu-mlp", "periodic-hybrid"])
def test_methods_run_on_cuda(method: str) -> None:
    (rec,) = execute(RunSpec(method, "tone[cycles=10]", (0,), device="cuda"))
    assert rec["status"] == "ok", rec["reason"]
    assert rec["device"] == "cuda"
    assert rec["env"]["device_name"] != rec["env"]["cpu"]
    assert rec["time"]["train"] > 0
