"""The radix clock (tasks/radix_clock.py): a clock whose radices and epoch offset are drawn
per seed. Its labels must follow its stated truth, its sampler must keep the held-out instants
out, a perfect reader must pass and a blank one fail, and it must run only when named.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench import get_task
from bench.core import registry
from bench.kit import conformance as c

IDS = ["radix-clock[encoding=int64]", "radix-clock[encoding=float64]"]
INT64 = IDS[0]


def module_of(task: Any) -> Any:
    """The plugin module that defines a task (plugins are loaded by path, not imported)."""
    return sys.modules[type(task).__module__]


def reference(t: np.ndarray, truth: dict[str, Any]) -> np.ndarray:
    """(hour, minute, unit) from the truth alone, by repeated floor division (no day modulus
    first, unlike the task), so that the two computations check each other."""
    a, b, c_ = truth["radices"]
    s = np.asarray(t, dtype=np.int64) + truth["offset"]
    return np.stack([(s // (a * b)) % c_, (s // a) % b, s % a], axis=-1)


class TruthReader:
    """A perfect predictor: reads the clock from the task's truth."""

    def __init__(self, task: Any) -> None:
        self.truth = task.truth()

    def predict(self, x: np.ndarray) -> np.ndarray:
        return reference(np.asarray(x).astype(np.int64), self.truth)


class HeldOutFirst:
    """A stand-in generator whose first draw is the held-out instants, then ordinary draws."""

    def __init__(self, held: np.ndarray) -> None:
        self.held = held
        self.rng = np.random.default_rng(2)
        self.calls = 0

    def integers(self, *args: Any, **kw: Any) -> np.ndarray:
        self.calls += 1
        if self.calls == 1:
            return self.held[: kw["size"]].copy()
        return self.rng.integers(*args, **kw)


class Zeros:
    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.zeros((len(x), 3), dtype=np.int64)


# -- the truth ----------------------------------------------------------------------------------


def test_radices_are_drawn_in_range_and_hidden_from_the_output() -> None:
    draws = set()
    for seed in range(50):
        task = get_task(INT64, seed=seed)
        truth = task.truth()
        a, b, c_ = truth["radices"]
        assert 20 <= a <= 100 and 20 <= b <= 100 and 10 <= c_ <= 50
        assert 0 <= truth["offset"] < a * b * c_
        assert truth["periods"] == [a, a * b, a * b * c_]
        assert task.output.classes == (50, 100, 100)  # the largest: it tells nothing
        y = task.sample(2000, np.random.default_rng(seed))[1]
        assert y[:, 0].max() < c_ and y[:, 1].max() < b and y[:, 2].max() < a
        assert task.output.names == ("hour", "minute", "unit")
        assert task.record_extras()["day_length"] == a * b * c_
        draws.add((a, b, c_, truth["offset"]))
    assert len(draws) == 50  # every seed its own clock


def test_labels_follow_the_truth() -> None:
    task = get_task(INT64, seed=3)
    truth = task.truth()
    a, b, c_ = truth["radices"]
    day = a * b * c_
    lab = module_of(task).radix_labels
    radices = (a, b, c_)
    t = np.arange(-2 * day - 17, 2 * day + 5, dtype=np.int64)
    y = lab(t, radices, truth["offset"])
    np.testing.assert_array_equal(y, reference(t, truth))
    np.testing.assert_array_equal(y, lab(t + day, radices, truth["offset"]))  # one day later
    assert np.all((y >= 0) & (y < np.array([c_, b, a])))
    # Counting: the unit advances every instant; the minute exactly when the unit wraps to 0,
    # the hour exactly when the minute does.
    du = np.diff(y, axis=0)
    unit_wraps = y[1:, 2] == 0
    assert np.all(np.where(unit_wraps, du[:, 2] == 1 - a, du[:, 2] == 1))
    assert np.all((du[:, 1] != 0) == unit_wraps)
    minute_wraps = unit_wraps & (y[1:, 1] == 0)
    assert np.all((du[:, 0] != 0) == minute_wraps)
    # The offset moves midnight away from t = 0: the day starts at t = -offset.
    np.testing.assert_array_equal(
        lab(np.array([-truth["offset"]]), radices, truth["offset"]), [[0, 0, 0]]
    )
    # Another seed draws another clock.
    other = get_task(INT64, seed=4).truth()
    assert (other["radices"], other["offset"]) != (truth["radices"], truth["offset"])


# -- data -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("task_id", IDS)
def test_sampler_keeps_the_held_out_instants_out(task_id: str) -> None:
    task = get_task(task_id, seed=1)
    truth = task.truth()
    lo, train_hi = task.domain
    held = task.eval_sets()["test"][0].astype(np.int64)
    x, y = task.sample(20_000, np.random.default_rng(0))
    assert x.dtype == np.dtype(task.input_dtype) == np.dtype(task_id.split("=")[1][:-1])
    t = x.astype(np.int64)
    assert np.all(t >= lo) and np.all(t <= train_hi)
    assert not np.isin(t, held).any()
    np.testing.assert_array_equal(y, reference(t, truth))
    assert y.dtype == np.int64
    # Forcing the issue: a generator whose first draws are all held-out instants.
    rng = HeldOutFirst(held)
    xr, _ = task.sample(64, rng)  # type: ignore[arg-type]
    assert rng.calls >= 2 and not np.isin(xr.astype(np.int64), held).any()


@pytest.mark.parametrize("task_id", IDS)
def test_eval_sets_inside_and_beyond(task_id: str) -> None:
    task = get_task(task_id, seed=2)
    truth = task.truth()
    lo, train_hi = task.domain
    sets = task.eval_sets()
    assert set(sets) == {"test", "extrapolation"}
    xt, yt = sets["test"]
    xe, ye = sets["extrapolation"]
    assert xt.dtype == xe.dtype == np.dtype(task.input_dtype)
    t, te = xt.astype(np.int64), xe.astype(np.int64)
    assert len(t) == len(np.unique(t)) == task.n_eval["quick"]
    assert np.all((t >= lo) & (t <= train_hi))
    assert np.all((te > train_hi) & (te <= truth["span"][1]))
    np.testing.assert_array_equal(yt, reference(t, truth))
    np.testing.assert_array_equal(ye, reference(te, truth))
    assert truth["span"][1] - truth["span"][0] == int(round(120 * 365.25 * 86_400))


# -- the judge ------------------------------------------------------------------------------------


@pytest.mark.parametrize("task_id", IDS)
def test_a_reader_of_the_truth_passes_and_zeros_fail(task_id: str) -> None:
    task = get_task(task_id, seed=0)
    perfect = task.score(TruthReader(task))
    assert perfect == {
        "exact_match": 1.0,
        "extrap_exact_match": 1.0,
        "acc_hour": 1.0,
        "acc_minute": 1.0,
        "acc_unit": 1.0,
    }
    assert task.success(perfect) is True
    blank = task.score(Zeros())
    assert blank["exact_match"] < 0.01 and task.success(blank) is False
    # Right inside the training range only is not enough: extrapolation is always judged.
    assert task.success({**perfect, "extrap_exact_match": 0.5}) is False


def test_the_clock_is_another_clock_for_another_seed() -> None:
    """A reader of seed 0's clock fails on seed 1's: no single clock fits every seed."""
    a, b = get_task(INT64, seed=0), get_task(INT64, seed=1)
    assert b.success(b.score(TruthReader(a))) is False


def test_other_encodings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown encoding 'float32'"):
        get_task("radix-clock[encoding=float32]")


# -- registry and conformance ---------------------------------------------------------------------


def test_listed_by_name_but_not_in_all() -> None:
    registry.load_plugins()
    family = [i for i in registry.TASKS.ids() if i.startswith("radix-clock")]
    listed = sorted(IDS, key=registry.natural_key)  # float64 before int64
    assert family == listed
    assert not any(e.family == "radix-clock" for e in registry.TASKS.select(None))
    assert [e.id for e in registry.TASKS.select(["radix-clock*"])] == listed
    assert [e.id for e in registry.TASKS.select([INT64])] == [INT64]
    for task_id in IDS:
        entry = registry.TASKS.get(task_id)
        assert not entry.in_all and "drawn per seed" in entry.description
        assert "success" in entry.description


@pytest.mark.parametrize("task_id", IDS)
def test_conformance(task_id: str) -> None:
    c.check_task(task_id)
