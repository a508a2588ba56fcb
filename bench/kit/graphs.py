"""Training steps replayed as CUDA graphs, a window at a time.

A training step on a GPU at the suite's batch sizes costs kernel launches, not arithmetic; a
window of steps captured once as a CUDA graph and replayed launches them all from the device.
:class:`GraphWindow` is used by the networks' loop (``bench.kit.train.train_seeds``) and by the
lean original loop (``bench.kit.closed_form``); elsewhere, or with graphs off, it runs the same
steps eagerly.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from bench.core.contracts import Logger


class GraphWindow:
    """Runs ``k`` training steps, ``step(x[j], y[j])`` for each ``j``; a full window of
    ``size`` steps as one CUDA graph replay where graphs are on.

    The graph is captured at the first full window: one eager step warms up the kernels (on a
    side stream, as CUDA graph capture requires), ``state`` (every tensor a step changes) is
    then restored, and the window is captured, which runs nothing. Replays read the window's
    data from static buffers. Graphs default to on for CUDA devices; ``BENCH_CUDA_GRAPHS=0``
    turns them off.
    """

    def __init__(
        self,
        step: Callable[[torch.Tensor, torch.Tensor], None],
        size: int,
        graphs: bool | None,
        device: str,
        state: Sequence[torch.Tensor],
        log: Logger,
    ) -> None:
        if graphs is None:
            graphs = device.startswith("cuda") and os.environ.get("BENCH_CUDA_GRAPHS") != "0"
        self.step, self.size, self.graphs = step, size, graphs
        self.state, self.log = list(state), log
        self.graph: Any = None
        self.static: tuple[torch.Tensor, torch.Tensor] | None = None

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if not (self.graphs and x.shape[0] == self.size):
            for j in range(x.shape[0]):
                self.step(x[j], y[j])
            return
        if self.graph is None:
            try:
                with self.log.phase("compile"):
                    self._capture(x, y)
            except RuntimeError as exc:  # a model whose step cannot be captured trains eagerly
                warnings.warn(f"CUDA graph capture failed, training eagerly: {exc}", stacklevel=2)
                self.graphs = False
                self(x, y)
                return
        assert self.static is not None
        self.static[0].copy_(x)
        self.static[1].copy_(y)
        self.graph.replay()

    def _capture(self, x: torch.Tensor, y: torch.Tensor) -> None:
        saved = [t.detach().clone() for t in self.state]
        sx, sy = x.clone(), y.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.step(sx[0], sy[0])
        torch.cuda.current_stream().wait_stream(side)
        with torch.no_grad():
            for t, v in zip(self.state, saved, strict=True):
                t.copy_(v)
        graph = torch.cuda.CUDAGraph()
        # Captured on the warm-up's stream: autograd remembers the stream each gradient was
        # first accumulated on, and a capture on another stream made it warn (and synchronise).
        with torch.cuda.graph(graph, stream=side):
            for j in range(self.size):
                self.step(sx[j], sy[j])
        self.graph, self.static = graph, (sx, sy)
