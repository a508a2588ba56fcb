"""The grids the tuning protocol searches, and how it spends its trials: successive halving.

**Grids that bracket.** A method's ``search_space`` is its declared grid. Its scale knob
(``Method.scale_knob``: SIREN's ``w0``, Snake's ``a``, the Fourier features' ``sigma``, NeRF's
levels) is extended upward, a ``factor`` at a time, until it reaches the highest frequency the
task's samples resolve (:func:`resolution`): the first value at or above it is the grid's top,
so no frequency the data can show lies beyond the grid. When the chosen value of the scale knob
or of the learning rate lies on an edge of what was tried, the protocol tries one more value
beyond that edge (:func:`beyond_edges`) and says so (``extended``); the report shows whether
each chosen value ended interior.

**Successive halving** (as in Hyperband): every grid point runs on a ninth (or a third) of the
task's steps, the best third by validation score goes on to three times the steps, and so on
up to the full budget (:func:`rungs`). Only full-budget trials are candidates for the choice.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench.core.contracts import Task
from bench.core.registry import Entry

#: Successive halving keeps the best ``1 / ETA`` of the points at each rung, which then get
#: ``ETA`` times the steps.
ETA = 3
#: Most rungs: the first one runs on ``ETA ** -(MAX_RUNGS - 1)`` of the budget.
MAX_RUNGS = 3
#: The learning rate's step beyond an edge of its grid.
LR_FACTOR = 3.0


def resolution(task: Task) -> tuple[float, int]:
    """The highest angular frequency, per unit of the input scaled to [-1, 1], that the
    training samples of ``task`` resolve at their mean rate (``pi n / 2`` for ``n`` samples
    over the two units of the scaled domain), and ``n``."""
    budget = task.budget
    if task.infinite:
        n = min(budget.max_samples, budget.steps * budget.batch_size)
    else:
        n = len(task.train_set()[0])
    return math.pi * n / 2.0, int(n)


def knob_values(entry: Entry, w_max: float) -> dict[str, list[Any]]:
    """The values searched per knob for a task resolving up to ``w_max``: the declared ones,
    the scale knob extended to bracket ``w_max``; knobs the entry fixes are left out."""
    space = {k: list(v) for k, v in entry.cls.search_space.items() if k not in entry.params}
    knob = getattr(entry.cls, "scale_knob", None)
    if knob is not None and knob.name in space:
        values = space[knob.name]
        numbers = sorted(v for v in values if _is_number(v))
        if numbers:
            top = numbers[-1]
            while knob.reach(top) < w_max:
                top = knob.step(top, up=True)
                values.append(top)
    return space


def points(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the knobs' values."""
    keys = list(space)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*space.values())]


def n_rungs(n_points: int) -> int:
    """As many rungs as it takes to cut ``n_points`` to about ``ETA``, at most ``MAX_RUNGS``."""
    return max(1, min(MAX_RUNGS, math.ceil(math.log(max(n_points, 1), ETA))))


def rungs(full_steps: int, n_points: int) -> list[int]:
    """The steps of each of the :func:`n_rungs` rungs, the last one the full budget."""
    n = n_rungs(n_points)
    return [max(1, full_steps // ETA ** (n - 1 - r)) for r in range(n)]


def survivors(n: int) -> int:
    """How many of ``n`` points go on to the next rung."""
    return max(1, math.ceil(n / ETA))


def beyond_edges(
    entry: Entry, winner: Mapping[str, Any], tried: Mapping[str, Sequence[Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """The extra points to try where the winner's scale knob or learning rate is the lowest
    or highest value tried: ``(knob, point)`` with that knob one step beyond the edge."""
    knob = getattr(entry.cls, "scale_knob", None)
    out = []
    for name in [k for k in (getattr(knob, "name", None), "lr") if k in winner]:
        edge = edge_of(winner[name], tried.get(name, ()))
        if edge not in ("low edge", "high edge"):
            continue
        up = edge == "high edge"
        value = winner[name]
        if name == "lr":
            new = value * LR_FACTOR if up else value / LR_FACTOR
        else:
            new = knob.step(value, up=up)
        if not up and knob is not None and name == knob.name and knob.octaves and new < 1:
            continue
        out.append((name, {**winner, name: _tidy(new)}))
    return out


def edge_of(value: Any, tried: Sequence[Any]) -> str:
    """``interior``, ``low edge``, ``high edge``, ``single`` (one value tried) or
    ``categorical`` (a named value, such as an initialisation)."""
    if not _is_number(value):
        return "categorical"
    numbers = sorted({float(v) for v in tried if _is_number(v)})
    if len(numbers) < 2:
        return "single"
    if float(value) <= numbers[0]:
        return "low edge"
    if float(value) >= numbers[-1]:
        return "high edge"
    return "interior"


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _tidy(v: Any) -> Any:
    """A grid value as it reads: floats rounded to 6 significant digits."""
    return float(f"{v:.6g}") if isinstance(v, float) else v
