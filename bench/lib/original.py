"""The original experiment's training loop, as the post wrote it: the reference that the lean
``sgd-sin`` (:mod:`bench.kit.closed_form`) is measured and checked against.

``sin(freq * x)`` with ``freq ~ randn(1)``, a fresh batch of 32 inputs uniform on
``[-1000, 1000]`` at every step, targets ``sin(31 x)``, mean-squared error, autograd and
``torch.optim.SGD(lr=1e-4)``, in torch's default float32, eagerly, one step at a time.
"""

from __future__ import annotations

import torch


def original_loop(
    steps: int,
    seed: int = 0,
    device: str = "cpu",
    *,
    batch: int = 32,
    lr: float = 1e-4,
    target: float = 31.0,
    half_width: float = 1000.0,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
    freq: float | None = None,
) -> tuple[float, float]:
    """Run the loop for ``steps`` steps; returns (the final ``freq``, the last batch's loss).

    ``data`` (x and y, ``(steps, batch)``) replaces the loop's own draws, and ``freq`` its
    random start, so that a test can feed it the exact batches another implementation sees.
    """
    gen = torch.Generator(device=device).manual_seed(seed)
    if freq is None:
        w = torch.randn(1, generator=gen, device=device).requires_grad_(True)
    else:
        w = torch.tensor([freq], device=device, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    loss = torch.zeros(())
    for i in range(steps):
        if data is None:
            x = (torch.rand(batch, generator=gen, device=device) * 2 - 1) * half_width
            y = torch.sin(target * x)
        else:
            x, y = data[0][i], data[1][i]
        loss = ((torch.sin(w * x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(w.item()), float(loss.item())
