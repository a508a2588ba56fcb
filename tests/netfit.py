"""A full-batch Adam loop shared by the tests of the networks' papers' claims."""

from __future__ import annotations

import torch


def adam_fit(
    net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float
) -> float:
    """Train ``net`` on ``(x, y)`` by full-batch Adam for ``steps``; the last step's MSE."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return float(loss.detach())
