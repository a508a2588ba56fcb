"""CUDA path: device placement and synchronised timing. Skipped where torch sees no GPU."""

import pytest

from bench.engine.device import resolve_device
from bench.engine.execute import execute
from bench.engine.plan import RunSpec

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


def _tone_views(n: int):
    import numpy as np

    from bench.core.contracts import TaskView
    from bench.core.registry import get_task

    task = get_task("tone[cycles=1]")
    return task, [TaskView(task, np.random.default_rng(s)) for s in range(n)]


def _sirens(n: int) -> list:
    """``n`` 32-wide SIRENs for one input, seed ``s`` initialising the ``s``-th."""
    import torch

    from bench.core.registry import get_method

    method = get_method("siren", width=32)
    models = []
    for s in range(n):
        torch.manual_seed(s)
        models.append(method.network(1))
    return models


def test_network_graph_replay_matches_eager_training() -> None:
    """The captured CUDA graph takes the same steps as the eager loop."""
    import numpy as np

    from bench import Budget, Logger
    from bench.kit.train import train_seeds

    budget = Budget(steps=300, batch_size=32, samples=10**6)
    preds = []
    for graphs in (True, False):
        task, views = _tone_views(3)
        models = _sirens(3)
        log = Logger(n_seeds=3)
        nets = train_seeds(models, views, budget, [0, 1, 2], "cuda", log, lr=1e-3, graphs=graphs)
        x = np.linspace(*views[0].domain, 101)
        preds.append(np.stack([n.predict(x) for n in nets]))
        if graphs:
            assert log.phases.get("compile", 0) > 0
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-4, atol=1e-5)


def test_network_graph_capture_warns_nothing() -> None:
    """The warm-up and the capture run on one stream: autograd raises no stream-mismatch
    warning (torch 2.11 warned "AccumulateGrad node's stream does not match" when they did not)."""
    import warnings

    from bench import Budget, Logger
    from bench.kit.train import train_seeds

    task, views = _tone_views(2)
    models = _sirens(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_seeds(
            models,
            views,
            Budget(steps=200, batch_size=32, samples=10**6),
            [0, 1],
            "cuda",
            Logger(n_seeds=2),
            lr=1e-3,
            graphs=True,
        )
    assert not [w for w in caught if "stream" in str(w.message).lower()], [
        str(w.message) for w in caught
    ]


def test_sgd_sin_graph_matches_eager() -> None:
    import numpy as np

    from bench import Budget, Logger
    from bench.kit import closed_form

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (1000, 20, 32)).astype(np.float32)
    y = np.sin(3.0 * x).astype(np.float32)
    budget = Budget(steps=1000, batch_size=32)
    w0 = list(np.linspace(1, 5, 20))
    out = [
        closed_form.sgd_sin_torch(w0, [(x, y)], 0.3, budget, "cuda", "float32", Logger(20), g)
        for g in (True, False)
    ]
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5)


def test_records_carry_peak_device_memory_and_compile_time() -> None:
    recs = execute(RunSpec("gelu-mlp", "tone[cycles=1]", (0, 1, 2), device="cuda"))
    for rec in recs:
        assert rec["status"] == "ok", rec["reason"]
        assert rec["memory"]["device_peak_mb"] > 0
        assert rec["time"]["compile"] > 0 and rec["time"]["batch_seeds"] == 3
