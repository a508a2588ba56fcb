"""Shared test set-up: one torch thread (small machines crawl otherwise), plugins loaded once."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

from bench.core import registry  # noqa: E402

registry.load_plugins()


def pytest_collection_modifyitems(config, items):  # noqa: ANN001, ANN201 - pytest hook
    """GPU tests skip themselves where torch sees no CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
