"""Seeds in one model and the lean original loop (issue 14): same results, less time.

- A network's seed trained alone and the same seed inside a batch of three give bit-identical
  predictions, losses and stop steps, also when the seeds stop at different plateaus.
- :class:`StackedAdam` takes torch's Adam steps; the stop schedule is per seed.
- ``sgd-sin``'s written-out gradient takes the original loop's steps.
"""

import numpy as np
import pytest
import torch

from bench import Budget, Logger
from bench.core.contracts import TaskView
from bench.core.registry import get_method, get_task
from bench.engine.execute import execute
from bench.engine.plan import RunSpec
from bench.kit import closed_form
from bench.kit.adam import StackedAdam
from bench.kit.nn import float64_front
from bench.kit.stack import SeedStack
from bench.kit.train import train_seeds
from bench.lib.original import original_loop

BUDGET = Budget(steps=900, batch_size=16, samples=900 * 16 * 4)


def _fit(method_id: str, task_id: str, seeds: list[int], **params):
    task = get_task(task_id)
    views = [TaskView(task, np.random.default_rng(100 + s)) for s in seeds]
    log = Logger(n_seeds=len(seeds), floor=1e-6)
    models = get_method(method_id, **params).fit_seeds(views, BUDGET, seeds, "cpu", log)
    x = np.linspace(*task.domain, 257)
    return [m.predict(x) for m in models], log


@pytest.mark.parametrize(
    "method_id, params",
    [("gelu-mlp", {"width": 24}), ("siren", {"width": 24}), ("snake", {"width": 24})],
)
def test_one_seed_alone_equals_the_same_seed_in_a_batch(method_id, params) -> None:
    batch_pred, batch_log = _fit(method_id, "tone[cycles=1]", [5, 6, 7], **params)
    alone_pred, alone_log = _fit(method_id, "tone[cycles=1]", [6], **params)
    np.testing.assert_array_equal(batch_pred[1], alone_pred[0])
    assert batch_log.final_loss[1] == alone_log.final_loss[0]
    assert batch_log.steps(1) == alone_log.steps(0)
    assert batch_log.trace(1) != [] and [p[2] for p in batch_log.trace(1)] == [
        p[2] for p in alone_log.trace(0)
    ]
    assert not np.array_equal(batch_pred[0], batch_pred[1])  # seeds differ


def test_classification_batch_matches_alone() -> None:
    batch_pred, _ = _fit("gelu-mlp", "clock[span=1d,encoding=int64]", [1, 2], width=16)
    alone_pred, _ = _fit("gelu-mlp", "clock[span=1d,encoding=int64]", [2], width=16)
    np.testing.assert_array_equal(batch_pred[1], alone_pred[0])


def test_seeds_stop_at_their_own_plateau() -> None:
    """A seed that meets the stop rule early stops (learning rate 0, log frozen) while the
    others train on; its record says how many steps it took."""
    torch.manual_seed(0)
    models = [float64_front(torch.nn.Sequential(torch.nn.Linear(1, 1))) for _ in range(2)]
    task = get_task("tone[cycles=1]")
    views = [TaskView(task, np.random.default_rng(s)) for s in range(2)]
    log = Logger(n_seeds=2, floor=[1.0, 0.0])  # seed 0 is at its floor from the first window
    budget = Budget(steps=2000, batch_size=8, samples=10**6)
    train_seeds(models, views, budget, [0, 1], "cpu", log, lr=1e-3)
    assert log.steps(0) == 100 and log.stop_step[0] == 100
    assert log.steps(1) > 100
    assert all(p[0] <= 100 for p in log.trace(0))


@pytest.mark.parametrize("rowwise", [True, False])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_stacked_adam_takes_torchs_adam_steps(rowwise: bool, weight_decay: float) -> None:
    # Both step paths (the row-wise fused kernel of the CPU, the written-out one of CUDA), as
    # Adam and as AdamW.
    torch.manual_seed(0)
    ref = torch.nn.Linear(4, 3)
    stack = SeedStack([ref, torch.nn.Linear(4, 3)], "cpu")
    params = list(stack.params.values())
    opt = StackedAdam(params, [1e-2, 0.0], weight_decay=weight_decay)
    opt.rowwise = rowwise
    kind = torch.optim.AdamW if weight_decay else torch.optim.Adam
    ref_opt = kind(ref.parameters(), lr=1e-2, weight_decay=weight_decay)
    seed1 = {k: v[1].clone() for k, v in stack.params.items()}
    for _ in range(5):
        x = torch.randn(2, 8, 4)
        loss = (stack(x) ** 2).mean(dim=(1, 2))
        opt.step(torch.autograd.grad(loss.sum(), params))
        ref_opt.zero_grad()
        (ref(x[0]) ** 2).mean().backward()
        ref_opt.step()
    for name, p in ref.named_parameters():
        torch.testing.assert_close(stack.param(name)[0], p, rtol=1e-6, atol=1e-7)
        assert torch.equal(stack.params[name][1], seed1[name])  # learning rate 0: untouched


def test_closed_form_sgd_takes_the_original_loops_steps() -> None:
    """The same batches, the same start: the written-out gradient and the original's autograd
    loop end at the same ``w`` (float32 rounding apart)."""
    rng = np.random.default_rng(3)
    steps, lr = 300, 0.3
    x = rng.uniform(-1, 1, (steps, 1, 32)).astype(np.float32)
    y = np.sin(3.0 * x).astype(np.float32)
    w_orig, _ = original_loop(
        steps, data=(torch.from_numpy(x[:, 0]), torch.from_numpy(y[:, 0])), freq=2.0, lr=lr
    )
    budget = Budget(steps=steps, batch_size=32)
    w_np = closed_form.sgd_sin_numpy([2.0], [(x, y)], lr, budget, "float32", Logger())
    w_t = closed_form.sgd_sin_torch([2.0], [(x, y)], lr, budget, "cpu", "float32", Logger())
    assert abs(w_orig - 3.0) < 1e-3  # it converged, so the comparison means something
    assert w_np[0] == pytest.approx(w_orig, abs=2e-6)
    assert w_t[0] == pytest.approx(w_orig, abs=2e-6)


def test_sgd_sin_records_steps_and_memory() -> None:
    (rec,) = execute(RunSpec("sgd-sin", "tone[cycles=1]", (0,)))
    assert rec["status"] == "ok" and rec["metrics"]["steps"] == rec["budget"]["steps"]
    assert rec["memory"]["host_peak_rss_mb"] > 0


def test_seeds_stopping_at_different_steps_match_their_runs_alone() -> None:
    """On a CPU a seed that stopped leaves the stack; the seeds left go on exactly as alone."""
    budget = Budget(steps=4000, batch_size=16, samples=4000 * 16 * 4)
    task = get_task("tone[cycles=3]")
    x = np.linspace(*task.domain, 257)

    def fit(seeds):
        views = [TaskView(task, np.random.default_rng(100 + s)) for s in seeds]
        log = Logger(n_seeds=len(seeds), floor=1e-6)
        models = get_method("gelu-mlp", width=8).fit_seeds(views, budget, seeds, "cpu", log)
        return [m.predict(x) for m in models], log

    batch_pred, batch_log = fit([5, 6, 7, 8])
    steps = [batch_log.steps(i) for i in range(4)]
    assert len(set(steps)) > 2 and max(steps) < budget.steps  # they stopped at their own steps
    for i, seed in [(1, 6), (2, 7)]:
        alone_pred, alone_log = fit([seed])
        np.testing.assert_array_equal(batch_pred[i], alone_pred[0])
        assert alone_log.steps(0) == steps[i]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
@pytest.mark.parametrize(
    "method_id", ["siren", "snake", "gelu-mlp", "xsin2", "fourier-features", "fan", "time2vec"]
)
def test_the_batched_forward_pass_matches_vmap(method_id: str, device: str) -> None:
    """Without vmap (every Linear one baddbmm over the seeds), outputs and gradients agree with
    the vmap-ed module's own forward pass, on the CPU and on a GPU."""
    from bench.core.registry import load_plugins

    load_plugins()
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(get_method(method_id).network(2))
    stack = SeedStack(models, device)
    assert stack.batched
    params = list(stack.params.values())
    x = torch.linspace(-1, 1, 3 * 16, dtype=torch.float64, device=device).reshape(3, 16, 1)
    fast = stack(x)
    grads_fast = torch.autograd.grad((fast**2).sum(), params)
    slow = stack._vmapped(x)
    grads_slow = torch.autograd.grad((slow**2).sum(), params)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads_fast, grads_slow, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


class _PerSample(torch.nn.Module):
    """Reads the batch axis by position, which a stacked (seed, batch, ...) input breaks."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - x[0]


def test_a_module_the_batched_pass_cannot_run_keeps_vmap() -> None:
    torch.manual_seed(0)
    models = [
        torch.nn.Sequential(torch.nn.Linear(1, 4), _PerSample(), torch.nn.Linear(4, 1))
        for _ in range(2)
    ]
    stack = SeedStack(models, "cpu")
    assert not stack.batched
    x = torch.randn(2, 5, 1)
    for i, model in enumerate(models):
        torch.testing.assert_close(stack(x)[i], model(x[i]))
