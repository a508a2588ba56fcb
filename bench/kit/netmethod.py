"""Methods that are one network per seed, and what every tunable network plugin shares.

Kept out of ``bench.kit.methods`` so that a method importing the spectral helpers does not
import torch's network machinery; ``bench.kit.methods.NetMethod`` still finds the class here.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from bench.core.contracts import Budget, Method, TaskView
from bench.core.stop import STOP_POLICY, StopPolicy
from bench.kit.methods import SeedBatchMethod, SeedFit
from bench.kit.nn import float64_front, head_size
from bench.kit.train import train_seeds, warm_up_stacked

__all__ = ["NetMethod", "Tunable"]

#: The values of a tunable method's ``settings`` hyper-parameter.
SETTINGS = ("tuned", "paper", "trial")


class Tunable(Method):
    """A method with a declared tuning grid and a ``settings`` hyper-parameter: ``tuned`` (the
    settings chosen for the task's family under the declared protocol, ``bench.engine.tuning``),
    ``paper`` (the defaults of the subclass's signature: the paper's or reference code's
    settings) or ``trial`` (a tuning trial's own).

    The ``paper`` variant is listed by ``bench list`` in the same words for every plugin:
    ``Variant: <paper_settings>, untuned``. A subclass names its settings in
    ``paper_settings`` and, for its other variants, overrides :meth:`describe_variant`.
    """

    settings: str = "tuned"
    #: The paper's settings in a few words, for the ``settings=paper`` variant's line.
    paper_settings: ClassVar[str] = ""

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        if params.get("settings") == "paper" and cls.paper_settings:
            return f"Variant: {cls.paper_settings}, untuned"
        return cls.describe_variant(params)

    @classmethod
    def describe_variant(cls, params: dict[str, Any]) -> str:
        """The line of any variant but ``settings=paper``."""
        return cls.description

    def check_settings(self) -> None:
        """Fail before training on a ``settings`` value the harness would not understand."""
        if self.settings not in SETTINGS:
            raise ValueError(f"settings must be tuned, paper or trial, not {self.settings!r}")


class NetMethod(Tunable, SeedBatchMethod):
    """A method that is one network per seed, trained by ``bench.kit.train.train_seeds``:
    subclasses build the net.

    Handles every task kind: multi-output regression (one linear output per target) and
    classification (a softmax head per output, summed cross-entropy). The input, scaled to
    [-1, 1] in float64, stays float64 through the first layer (``bench.kit.nn.Float64Front``).
    All seeds of a task train as one batched model (``vectorised``), each with its own
    initialisation (``torch.manual_seed(seed)`` before ``build``), data, learning rate and
    stop; one seed alone runs the same code. ``fit`` returns the method with ``net_`` (the
    ``bench.kit.nn.NetPredictor``) and ``n_params_`` set. Its ``warm_up`` takes one throwaway
    batched step.
    """

    handles_multi_output = True
    handles_classification = True
    handles_fixed_data = True
    input_dtypes = ("float32", "float64", "int64")

    #: Adam's learning rate; subclasses store theirs as the ``lr`` hyper-parameter. A subclass
    #: with a ``weight_decay`` hyper-parameter trains by AdamW instead.
    lr: float
    #: The stop rule and learning-rate drops the networks train under, and the run's logger
    #: judges them by; a subclass may declare its own.
    stop_policy: ClassVar[StopPolicy] = STOP_POLICY

    def build(self, n_in: int, n_out: int) -> nn.Module:
        raise NotImplementedError

    def network(self, n_out: int) -> nn.Module:
        """The architecture as trained: ``build``'s network with its first layer in float64."""
        return float64_front(self.build(1, n_out))

    def warm_up(self, task: TaskView, budget: Budget, device: str) -> None:
        n_out = head_size(task.output)
        warm_up_stacked(lambda: self.network(n_out), task.output, budget.batch_size, device)

    def _descend(self, job: SeedFit) -> list[Any]:
        self.check_settings()
        n_out = head_size(job.tasks[0].output)
        models = []
        for seed in job.seeds:
            torch.manual_seed(seed)
            models.append(self.network(n_out))
        return train_seeds(
            models,
            *job,
            lr=float(self.lr),
            weight_decay=float(getattr(self, "weight_decay", 0.0)),
            policy=self.stop_policy,
        )

    def _set(self, net: Any) -> Any:
        self.net_ = net
        self.n_params_ = net.n_params_
        return self

    def final_state(self) -> NetMethod | None:
        """The fitted method as it was at its last step, where it is judged at its best state
        (``StopPolicy.judge``): the harness scores it too, for the record's ``metrics_final``.
        ``None`` where the best state is the last one kept."""
        final = getattr(getattr(self, "net_", None), "final", None)
        if final is None:
            return None
        twin = copy.copy(self)
        twin.net_ = final
        return twin

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.net_.predict(x)

    def representation(self, x: np.ndarray) -> np.ndarray:
        return self.net_.encoder(x)
