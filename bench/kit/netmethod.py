"""Methods that are one network per seed, and what every tunable network plugin shares.

Kept out of ``bench.kit.methods`` so that a method importing the spectral helpers does not
import torch's network machinery; ``bench.kit.methods.NetMethod`` still finds the class here.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from bench.core.contracts import Budget, Logger, Method, TaskView
from bench.core.stop import STOP_POLICY, StopPolicy
from bench.kit.methods import SeedBatchMethod, SeedFit, spawn
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
        return NetMethod.descend_fleet([self] * len(job.seeds), job)

    @staticmethod
    def descend_fleet(methods: Sequence[NetMethod], job: SeedFit) -> list[Any]:
        """Train every member of ``job`` as one stacked model, member ``i`` (task view
        ``job.tasks[i]``, seed ``job.seeds[i]``) with the network and learning rate of
        ``methods[i]``: the seeds of one unit (all ``methods`` the same) or a fleet of units
        (``bench.engine.fleet``), whose methods share a :meth:`fleet_key`. Each member's
        arithmetic is its own, so a member alone and inside a fleet end the same, bit for
        bit. Returns one learned state per member."""
        lead = methods[0]
        for method in {id(m): m for m in methods}.values():
            method.check_settings()
        n_out = head_size(job.tasks[0].output)
        models = []
        for method, seed in zip(methods, job.seeds, strict=True):
            torch.manual_seed(seed)
            models.append(method.network(n_out))
        if len({id(m) for m in methods}) > 1:
            _check_one_architecture(models)
        return train_seeds(
            models,
            *job,
            lr=[float(m.lr) for m in methods],
            weight_decay=float(getattr(lead, "weight_decay", 0.0)),
            policy=lead.stop_policy,
        )

    #: Hyper-parameters in which the members of one fleet may differ: values the stacked
    #: model holds per member (the learning rate is a row of ``StackedAdam``'s). Every other
    #: hyper-parameter shapes the network or its training, and must be equal.
    fleet_scalars: ClassVar[tuple[str, ...]] = ("lr",)

    @classmethod
    def joins_fleets(cls) -> bool:
        """Whether units of this method may train as one stacked model (``bench.engine.plan.
        fleets``): not for a subclass that trains its own way (overrides ``_descend``,
        ``fit_seeds`` or ``fit``)."""
        return (
            cls._descend is NetMethod._descend
            and cls.fit_seeds is SeedBatchMethod.fit_seeds
            and cls.fit is SeedBatchMethod.fit
        )

    @staticmethod
    def fit_fleet(
        methods: Sequence[NetMethod],
        tasks: Sequence[TaskView],
        budget: Budget,
        seeds: Sequence[int],
        device: str,
        log: Logger,
    ) -> list[NetMethod]:
        """``fit_seeds`` for the members of a fleet: member ``i`` is ``methods[i]`` on
        ``tasks[i]`` with seed ``seeds[i]``; the methods share a :meth:`fleet_key`. Returns
        one fitted copy of each member's method."""
        states = NetMethod.descend_fleet(methods, SeedFit(tasks, budget, seeds, device, log))
        return [spawn(m)._set(s) for m, s in zip(methods, states, strict=True)]

    def fleet_key(self, task: TaskView) -> Hashable | None:
        """What the units of a fleet must share to train as one stacked model on ``task``:
        the class and its hyper-parameters but :attr:`fleet_scalars`, and the task's output
        (one loss over the stack). ``None`` where this method trains its own way (a subclass
        that overrides ``_descend``), and so trains alone."""
        if not self.joins_fleets():
            return None
        params = {k: v for k, v in self.get_params().items() if k not in self.fleet_scalars}
        return (type(self), repr(sorted(params.items())), repr(task.output))

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


def _architecture(model: nn.Module) -> tuple[Any, ...]:
    """What a stacked model takes from its first member for all: every module's type and
    plain attributes (a Python float in a forward pass, say), and every tensor's name, shape
    and dtype."""
    modules = tuple(
        (
            name,
            type(m).__qualname__,
            tuple(
                sorted(
                    (k, repr(v))
                    for k, v in vars(m).items()
                    if not k.startswith("_") and k != "training" and not isinstance(v, torch.Tensor)
                )
            ),
        )  # fmt: skip
        for name, m in model.named_modules()
    )
    tensors = tuple(
        (name, tuple(t.shape), t.dtype)
        for name, t in [*model.named_parameters(), *model.named_buffers()]
    )
    return modules, tensors


def _check_one_architecture(models: Sequence[nn.Module]) -> None:
    """Refuse to stack networks that differ in more than their tensors' values: the stack
    would run every member as the first (a ``fleet_scalars`` entry held as a plain float)."""
    first = _architecture(models[0])
    for i, model in enumerate(models[1:], start=1):
        if _architecture(model) != first:
            raise ValueError(
                f"fleet member {i} builds another architecture than member 0 (a setting in "
                "fleet_scalars that is not a parameter or buffer?): they cannot share a stack"
            )
