"""Checks of the standard periodic task suite.

Each family is checked for the contract (shapes, dtypes, determinism, truth kept from the fit
interface) and for being the task it claims to be: an estimate that never looks at the task's
hidden parameters must recover them, the Cramer-Rao bound must match what an efficient estimator
achieves, and the clock must read time the way a calendar library does.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench import TaskView, get_task, list_tasks
from bench.cli import main

FAMILY_IDS = {
    "sin31": ["sin31"],
    "tone": [f"tone[cycles={c}]" for c in (1, 3, 10, 30, 100, 1000, 10000)],
    "multitone": [f"multitone[k={k}]" for k in (2, 4, 8)],
    "noisy-tone": [f"noisy-tone[snr_db={s}]" for s in (-10, 0, 20)],
    "wave": [
        f"wave[shape={s}]"
        for s in ("sawtooth", "square", "triangle", "sin-sin", "am", "exp-sin", "saw-sum")
    ],
    "real": [
        f"real[dataset={d}]"
        for d in (
            "taylor",
            "seattle-temps",
            "sf-temps",
            "seattle-weather",
            "co2",
            "airline",
            "wineind",
            "elnino",
            "woolyrnq",
            "sunspots",
            "sunspots-monthly",
            "lynx",
            "nile",
        )
    ],
    "clock": [
        f"clock[encoding={e},span={s}]"
        for e in ("float32", "float64", "int64")
        for s in ("120y", "1d")
    ],
}
SUITE = [i for ids in FAMILY_IDS.values() for i in ids]
ROOT = Path(__file__).resolve().parent.parent


def module_of(task_id: str) -> Any:
    """The plugin module that defines a task (plugins are loaded by path, not imported)."""
    return sys.modules[type(get_task(task_id)).__module__]


def view_of(task: Any, seed: int = 0) -> TaskView:
    return TaskView(task, np.random.default_rng(seed))


class Oracle:
    """Predicts the evaluation targets by looking them up: a perfect method, for the judge."""

    def __init__(self, task: Any, freqs: list[float] | None = None) -> None:
        self._table: dict[bytes, np.ndarray] = {}
        for x, y in task.eval_sets().values():
            for xi, yi in zip(x, y, strict=True):
                self._table[xi.tobytes()] = yi
        if freqs is not None:
            self.freqs_ = np.asarray(freqs)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.stack([self._table[xi.tobytes()] for xi in x])


class Zeros:
    """Predicts zeros (label 0 for classification): a method that learnt nothing."""

    def __init__(self, task: Any) -> None:
        self._k = task.output.n_outputs
        self._cls = task.output.kind == "classification"

    def predict(self, x: np.ndarray) -> np.ndarray:
        shape = (len(x),) if self._k == 1 else (len(x), self._k)
        return np.zeros(shape, dtype=np.int64 if self._cls else np.float64)


def fft_peaks(
    x: np.ndarray, y: np.ndarray, k: int, cells: int, pad: int = 8, min_rel: float = 0.0
) -> np.ndarray:
    """Angular frequencies of the ``k`` largest spectral peaks of scattered samples (those
    below ``min_rel`` times the largest are dropped).

    The samples are averaged onto a regular grid (empty cells stay zero), zero-padded and
    transformed; this sees only (x, y), never the task's parameters.
    """
    lo, hi = float(x.min()), float(x.max())
    d = (hi - lo) / cells
    idx = np.minimum(((x - lo) / d).astype(np.int64), cells - 1)
    sums = np.bincount(idx, weights=y - y.mean(), minlength=cells)
    counts = np.bincount(idx, minlength=cells)
    grid = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    # A Hann window keeps side lobes of a strong peak (-31 dB) from passing for weaker ones.
    mag = np.abs(np.fft.rfft(grid * np.hanning(cells), n=pad * cells))
    mag[0] = 0.0
    is_peak = np.r_[False, (mag[1:-1] > mag[:-2]) & (mag[1:-1] >= mag[2:]), False]
    top = np.flatnonzero(is_peak)[np.argsort(mag[is_peak])[::-1][:k]]
    top = top[mag[top] >= min_rel * mag[top[0]]]
    return 2 * np.pi * top / (pad * cells * d)


# -- registry and listing ---------------------------------------------------------------------


def test_every_family_and_variant_is_registered() -> None:
    ids = set(list_tasks())
    missing = [i for i in SUITE if i not in ids]
    assert not missing, missing


def test_list_tasks_prints_one_line_with_success_criterion_per_variant(capsys) -> None:
    # In-process: the command line as a subprocess is exercised by test_install.py.
    assert main(["list", "tasks"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    for task_id in SUITE:
        assert task_id in lines, task_id
        assert "success" in lines[task_id].lower(), lines[task_id]


@pytest.mark.parametrize("task_id", SUITE)
def test_class_attributes(task_id: str) -> None:
    task = get_task(task_id, seed=0)
    assert task.family and task.description and task.success_criterion
    assert set(task.budgets) == {"quick", "full"}
    assert task.input_dtype in ("float32", "float64", "int64")
    # A spectral method draws its whole sample budget at once; a gradient method needs
    # steps * batch_size of it. The clock is the exception: its quick budget (2**17 instants)
    # is below the networks' 2,000 x 128 draws, so they cycle through the instants in shuffled
    # epochs (bench.kit.nn), about twice each.
    b = task.budgets["quick"]
    if task.infinite and task.family != "clock":
        assert b.max_samples >= b.steps * b.batch_size


# -- shapes, dtypes, scoring --------------------------------------------------------------------


@pytest.mark.parametrize("task_id", SUITE)
def test_shapes_dtypes_and_scoring(task_id: str) -> None:
    task = get_task(task_id, seed=1, profile="quick")
    view = view_of(task)
    x, y = view.data(512) if view.infinite else view.data()
    out = view.output
    n = len(x)
    assert x.dtype == np.dtype(view.input_dtype), (x.dtype, view.input_dtype)
    assert x.shape == (n,)
    if out.n_outputs == 1:
        assert y.shape == (n,)
    else:
        assert y.shape == (n, out.n_outputs)
    if out.kind == "classification":
        assert y.dtype == np.int64
        assert np.all(y >= 0) and np.all(y < np.asarray(out.classes))
    else:
        assert y.dtype == np.float64 and np.all(np.isfinite(y))
    lo, hi = view.domain
    assert isinstance(lo, float) and isinstance(hi, float) and lo < hi
    assert np.all(x.astype(np.float64) >= lo) and np.all(x.astype(np.float64) <= hi)

    sets = task.eval_sets()
    assert sets and set(sets) <= {"test", "extrapolation"}
    for xe, ye in sets.values():
        assert xe.dtype == x.dtype and xe.ndim == 1
        assert ye.shape[1:] == y.shape[1:] and ye.dtype == y.dtype

    truth_freqs = task.truth().get("freqs")
    perfect = task.score(Oracle(task, truth_freqs))
    assert all(isinstance(v, float) for v in perfect.values()), perfect
    assert task.headline in perfect, (task.headline, perfect)
    assert task.success(perfect) is True, perfect

    blank = task.score(Zeros(task))
    assert all(isinstance(v, float) for v in blank.values()), blank
    verdict = task.success(blank)
    # Without reported frequencies the noisy tone is not judged at all.
    assert verdict is (None if task.family == "noisy-tone" else False), blank


def test_scoring_treats_non_finite_predictions_as_failures() -> None:
    task = get_task("tone[cycles=10]", seed=0)

    class Bad:
        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.full(x.shape, np.nan)

    m = task.score(Bad())
    assert m["test_mse"] == float("inf") and task.success(m) is False
    clock = get_task("clock[encoding=int64,span=1d]", seed=0)

    class BadLabels:
        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.full((len(x), 3), np.nan)

    assert clock.score(BadLabels())["exact_match"] == 0.0


# -- determinism --------------------------------------------------------------------------------


def _draw(task: Any, rng_seed: int) -> tuple[np.ndarray, np.ndarray]:
    view = view_of(task, rng_seed)
    return view.data(64) if view.infinite else view.data()


def _same(a: Any, b: Any) -> bool:
    """Equal truths, eval sets or samples (dicts, lists, arrays, floats)."""
    return repr(a) == repr(b) if not isinstance(a, np.ndarray) else np.array_equal(a, b)


#: What the task seed draws, by family (README: run i derives one seed for the task's hidden
#: truth and another for its samples). Tones and waves draw their frequencies; sin31 and the
#: clock have a truth fixed by definition (31; periods of 60, 3,600 and 86,400 s) and draw only
#: their held-out instants; real series are the data, and the seed draws the forecast origin.
SEED_DRAWS = {
    "sin31": "eval",
    "tone": "truth",
    "multitone": "truth",
    "noisy-tone": "truth",
    "wave": "truth",
    "clock": "eval",
    "real": "eval",
}


@pytest.mark.parametrize("task_id", SUITE)
def test_determinism_for_a_seed(task_id: str) -> None:
    """The same seeds reproduce truth, evaluation sets and samples bit for bit; another task
    seed changes what the family draws from it, and another sampling seed the samples."""
    a, b, other = (get_task(task_id, seed=s) for s in (5, 5, 6))
    assert _same(a.truth(), b.truth())
    ea, eb, eo = a.eval_sets(), b.eval_sets(), other.eval_sets()
    assert ea.keys() == eb.keys() == eo.keys()
    for name in ea:
        for part in (0, 1):
            np.testing.assert_array_equal(ea[name][part], eb[name][part])
    xa, ya = _draw(a, 11)
    xb, yb = _draw(b, 11)
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)

    draws = SEED_DRAWS[a.family]
    same_truth = _same(a.truth(), other.truth())
    same_eval = all(_same(ea[n][0], eo[n][0]) for n in ea)
    assert same_truth is (draws != "truth"), (a.truth(), other.truth())
    assert same_eval is (draws == "nothing")
    xo, yo = _draw(other, 11)
    x12, _ = _draw(a, 12)
    if a.infinite:
        assert not np.array_equal(xa, x12), "another sampling seed gave the same samples"
    else:
        np.testing.assert_array_equal(xa, x12)  # a fixed training set ignores the sampler
        assert np.array_equal(ya, yo) is (draws == "nothing")


# -- truth is hidden from the fit interface ------------------------------------------------------


PUBLIC_VIEW = {
    "calendar",
    "data",
    "domain",
    "infinite",
    "input_dtype",
    "output",
    "sample",
    "samples_drawn",
    "samples_dropped",
    "validation_rule",
    "samples_left",
    "train_set",
}
#: What only the judge may see; none of it may be an attribute of the view under any name.
JUDGE_ONLY = ("truth", "eval_sets", "score", "success", "params", "seed", "record_extras")


def view_leaks(view: Any, task: Any) -> list[str]:
    """Every way ``view`` hands a method more than the fit interface allows (empty: none).

    Walks what a method can reach without touching a private name: the public names of
    ``dir(view)``, the values of the non-callable ones and, one level further, their public
    attributes. Any of them being the task, or anything with a judge-only attribute, is a leak.
    """
    found = []
    public = {n for n in dir(view) if not n.startswith("_")}
    if public != PUBLIC_VIEW:
        found.append(f"public names differ: extra {sorted(public - PUBLIC_VIEW)}")
    found += [f"view.{n}" for n in JUDGE_ONLY if hasattr(view, n)]
    if hasattr(view, "__dict__"):
        found.append("view has a __dict__ (state can ride along or be swapped)")

    def walk(obj: Any, path: str, depth: int) -> None:
        if obj is task:
            found.append(f"{path} is the task")
            return
        found.extend(f"{path}.{n}" for n in JUDGE_ONLY if hasattr(obj, n))
        if depth == 0 or isinstance(obj, str | int | float | bool | type(None) | np.ndarray):
            return
        items = (
            enumerate(obj)
            if isinstance(obj, tuple)
            else ((n, getattr(obj, n)) for n in dir(obj) if not n.startswith("_"))
        )
        for n, value in items:
            if not callable(value):
                walk(value, f"{path}.{n}", depth - 1)

    for name in sorted(public - {"sample", "data", "train_set"}):
        walk(getattr(view, name), f"view.{name}", 2)
    return found


def test_task_view_hides_the_task_and_what_only_the_judge_sees() -> None:
    """One test of TaskView itself: the class is the same for every task."""
    task = get_task("tone[cycles=10]", seed=0)
    view = view_of(task)
    assert view_leaks(view, task) == []
    with pytest.raises(AttributeError):
        view.anything = 1  # __slots__: a method cannot hang state on, or swap, the view
    # What the view hands out is plain data: no array subclass or tuple that carries the task.
    assert type(view.domain) is tuple and all(type(v) is float for v in view.domain)
    x, y = view.data(8)
    assert type(x) is np.ndarray and type(y) is np.ndarray
    assert "truth" not in repr(view) and repr(task.truth()["freqs"][0]) not in repr(view)


def test_view_leak_check_can_fail() -> None:
    """The check above is only worth something if it notices a leak: each of these views
    exposes the task or its truth in a different way, and each must be caught."""
    task = get_task("tone[cycles=10]", seed=0)

    class TruthView(TaskView):
        __slots__ = ()

        def truth(self) -> dict[str, Any]:
            return self._task.truth()

    class TaskAttr(TaskView):
        __slots__ = ()

        @property
        def task(self) -> Any:
            return self._task

    class Nested(TaskView):
        __slots__ = ()

        @property
        def domain(self) -> Any:  # a tuple that smuggles the task one level down
            return (-1.0, 1.0, self._task)

    class Open(TaskView):  # no __slots__: instances get a __dict__
        pass

    rng = np.random.default_rng(0)
    assert "view.truth" in view_leaks(TruthView(task, rng), task)
    assert "view.task is the task" in view_leaks(TaskAttr(task, rng), task)
    assert "view.domain.2 is the task" in view_leaks(Nested(task, rng), task)
    assert any("__dict__" in leak for leak in view_leaks(Open(task, rng), task))


#: One task per family; for the clock the dense int64 day, where a leak would show.
FAMILY_REPRESENTATIVES = [
    "sin31",
    "tone[cycles=10]",
    "multitone[k=2]",
    "noisy-tone[snr_db=0]",
    "wave[shape=sawtooth]",
    "real[dataset=co2]",
    "clock[encoding=int64,span=1d]",
]


@pytest.mark.parametrize("task_id", FAMILY_REPRESENTATIVES)
def test_view_hands_out_training_data_only(task_id: str) -> None:
    """What differs per family is the data behind the view: it must match the task's own
    domain, dtype and output spec, contain no evaluation input, and (fixed sets) be a copy
    that a method cannot edit. clock[int64,1d] is the dense case: 79,200 training seconds,
    its held-out instants among them."""
    task = get_task(task_id, seed=3)
    view = view_of(task)
    assert view.domain == task.domain and view.output == task.output
    assert view.input_dtype == task.input_dtype and view.infinite == task.infinite
    x, y = view.data(min(view.samples_left, 100_000)) if view.infinite else view.data()
    for name, (xe, _) in task.eval_sets().items():
        assert not np.isin(x, xe).any(), f"a training input is in the {name} set"
    if not view.infinite:
        x[:] = 0
        y[...] = 0
        x2, y2 = view_of(task).train_set()
        assert np.any(x2 != 0) and np.any(y2 != 0), "the view handed out the task's own arrays"


def test_fixed_training_set_cannot_be_edited_through_the_view() -> None:
    task = get_task("noisy-tone[snr_db=0]", seed=0)
    bound = task.truth()["crlb_std"]
    x, y = view_of(task).train_set()
    x *= 0.0
    y[:] = 0.0
    again = get_task("noisy-tone[snr_db=0]", seed=0)
    np.testing.assert_array_equal(task.train_set()[0], again.train_set()[0])
    assert task.truth()["crlb_std"] == bound


# -- independent estimates recover the truth ---------------------------------------------------


@pytest.mark.parametrize("cycles", [10, 100, 1000, 10000])
@pytest.mark.parametrize("seed", [0, 1])
def test_tone_fft_finds_the_frequency_within_a_bin(cycles: int, seed: int) -> None:
    task = get_task(f"tone[cycles={cycles}]", seed=seed)
    x, y = view_of(task).data()  # the whole quick sample budget, as a spectral method would
    w_hat = fft_peaks(x, y, 1, cells=2**16)[0]
    w = task.truth()["freqs"][0]
    bin_width = 2 * np.pi / (x.max() - x.min())
    assert abs(w_hat - w) < bin_width, (w_hat, w, bin_width)


@pytest.mark.parametrize(
    "task_id,whole,count",
    [
        ("tone[cycles=1]", 1, "cycles_in_domain"),
        ("tone[cycles=10000]", 10000, "cycles_in_domain"),
        ("wave[shape=am]", 20, "periods_per_side"),
    ],
)
def test_domain_holds_a_non_whole_number_of_cycles_drawn_per_seed(
    task_id: str, whole: int, count: str
) -> None:
    """Between C and C + 1 cycles (tone: in [-R, R]; wave: each side), a different, non-whole
    number per seed: a whole number would spare FFT-based methods any spectral leakage."""
    drawn = []
    for seed in (0, 1, 2):
        task = get_task(task_id, seed=seed)
        truth = task.truth()
        lo, hi = task.domain
        cycles = truth["cycles_in_domain"]
        assert task.record_extras()["cycles_in_domain"] == cycles
        assert hi == -lo and (hi - lo) / truth["period"] == pytest.approx(cycles)
        n = truth[count]
        assert whole <= n < whole + 1 and n != round(n), (task_id, seed, n)
        drawn.append(n)
        # The fraction is drawn after frequency and phase, which stay what the seed gave.
        rng = np.random.default_rng(seed)
        lo_w, hi_w = (1.0, 10.0) if task.family == "wave" else (1.0, 100.0)
        w = truth.get("fundamental", truth["freqs"][0])
        assert w == float(np.exp(rng.uniform(np.log(lo_w), np.log(hi_w))))
        assert truth["phase"] == float(rng.uniform(0.0, 2 * np.pi))
    assert len(set(drawn)) == len(drawn)


@pytest.mark.parametrize("k", [2, 4, 8])
def test_multitone_fft_finds_every_frequency(k: int) -> None:
    task = get_task(f"multitone[k={k}]", seed=4)
    x, y = view_of(task).data()
    truth = np.asarray(task.truth()["freqs"])
    bin_width = 2 * np.pi / 200
    assert np.all(np.diff(truth) >= 4 * bin_width - 1e-12)
    found = np.sort(fft_peaks(x, y, k, cells=2**14))
    assert np.all(np.abs(found - truth) < bin_width), (found, truth)


@pytest.mark.parametrize("task_id", FAMILY_IDS["wave"])
def test_wave_spectrum_sits_on_harmonics_of_the_truth(task_id: str) -> None:
    task = get_task(task_id, seed=2)
    x, y = view_of(task).data()
    w = task.truth()["fundamental"]
    bin_width = 2 * np.pi / (x.max() - x.min())
    peaks = fft_peaks(x, y, 4, cells=2**14, min_rel=0.1)
    ratio = peaks / w
    # Strong peaks lie on whole multiples of the fundamental, the strongest on w or 2w
    # ((1 + sin u) sin 2u peaks at its second harmonic).
    assert np.all(np.abs(ratio - np.round(ratio)) * w < bin_width), ratio
    assert round(ratio[0]) in (1, 2), ratio
    # The domain holds between 20 and 21 periods each side (drawn per seed); the extrapolation
    # set reaches 3R.
    lo, hi = task.domain
    periods = task.truth()["periods_per_side"]
    assert 20 <= periods < 21 and hi == -lo == pytest.approx(periods * 2 * np.pi / w)
    xe = task.eval_sets()["extrapolation"][0]
    assert np.all(np.abs(xe) > hi) and np.all(np.abs(xe) <= 3 * hi)


@pytest.mark.parametrize("snr_db", [-10, 0, 20])
def test_noisy_tone_periodogram_finds_the_frequency(snr_db: int) -> None:
    task = get_task(f"noisy-tone[snr_db={snr_db}]", seed=6)
    x, y = view_of(task).data()
    assert len(x) == 10_000 and not view_of(task).infinite
    w_hat = fft_peaks(x, y, 1, cells=2**17, pad=4)[0]
    assert abs(w_hat - task.truth()["freqs"][0]) < 2 * np.pi / 2000
    noise = y - np.sin(task.truth()["freqs"][0] * x + task.truth()["phase"])
    assert np.std(noise) == pytest.approx(np.sqrt(0.5 / 10 ** (snr_db / 10)), rel=0.05)


@pytest.mark.parametrize(
    "dataset,band,expected,tol",
    [
        ("sunspots", (5, 30), 11.0, 0.15),
        ("co2", (0.2, 5), 1.0, 0.03),
        ("seattle-temps", (6, 72), 24.0, 0.03),
    ],
)
def test_real_data_dominant_period(
    dataset: str, band: tuple[float, float], expected: float, tol: float
) -> None:
    task = get_task(f"real[dataset={dataset}]", seed=0)
    x, y = view_of(task).data()
    assert x.dtype == np.float64 and np.all(np.diff(x) > 0) and np.all(np.isfinite(y))
    # Least-squares periodogram over the band, after removing a quadratic trend: it works on
    # the gaps the series has, and looks only at the data.
    r = y - np.polyval(np.polyfit(x - x.mean(), y, 2), x - x.mean())
    periods = np.linspace(*band, 1500)
    w = 2 * np.pi / periods
    power = np.abs(np.exp(-1j * np.outer(w, x)) @ r)
    assert task.truth()["period"] == pytest.approx(expected, rel=1e-6)
    assert abs(periods[np.argmax(power)] - expected) / expected < tol
    xe, _ = task.eval_sets()["extrapolation"]
    assert xe.min() > x.max()


@pytest.mark.parametrize("dataset", ["sunspots", "co2", "seattle-temps", "taylor", "nile"])
def test_real_data_rolling_origin_and_horizon(dataset: str) -> None:
    """The stated split (README, real.py's docstring): seed s takes the origin at the s-th
    radical-inverse point of the last 30% of the series, training on everything before it,
    the series' horizon after it; ten seeds are ten distinct origins."""
    real = module_of("real[dataset=co2]")
    series, horizon = real.load(dataset), real.SOURCES[dataset].horizon
    origins = []
    for seed in range(10):
        task = get_task(f"real[dataset={dataset}]", seed=seed)
        x, _ = task.train_set()
        xe, _ = task.eval_sets()["extrapolation"]
        assert len(x) >= real.FIRST_ORIGIN * series.x.size
        np.testing.assert_array_equal(x, series.x[: len(x)])
        # The horizon is every sample on the grid within the horizon after the origin.
        pos = series.positions
        last = pos[len(x) - 1]
        inside = (pos > last) & (pos <= last + horizon)
        np.testing.assert_array_equal(xe, series.x[inside])
        assert xe.size >= 0.9 * horizon
        assert task.record_extras()["horizon_samples"] == xe.size
        origins.append(len(x))
    assert len(set(origins)) == 10
    assert origins[0] == min(origins)  # seed 0 is the earliest origin, seed 1 the middle one
    assert [real.radical_inverse(k) for k in range(5)] == [0, 0.5, 0.25, 0.75, 0.125]


def test_real_series_cover_what_a_forecaster_meets() -> None:
    """At least 12 series and the control, from the four packages, at every sampling rate;
    the control has no season and its bar is the last value."""
    real = module_of("real[dataset=co2]")
    sources = real.SOURCES
    assert len(sources) >= 13
    assert {s.package for s in sources.values()} == {
        "statsmodels",
        "pmdarima",
        "sktime",
        "vega_datasets",
    }
    rates = {s.sampling for s in sources.values()}
    assert {"half-hourly", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly"} <= rates
    assert any(len(s.calendar) >= 2 for s in sources.values())  # two seasons at once
    nile = get_task("real[dataset=nile]", seed=0)
    assert sources["nile"].season == 1 and nile.truth()["period"] is None
    _, y = nile.train_set()
    np.testing.assert_array_equal(nile.naive_forecast(), np.full(10, y[-1]))
    assert "period_error" not in nile.score(_Constant(float(y[-1])))


class _Constant:
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(x), self.value)


def test_real_tasks_are_built_with_the_seed_index() -> None:
    """The executor hands a task whose seeds are a design its seed index, so origins do not
    depend on the base seed (``Task.seed_is_index``)."""
    from bench.core import registry
    from bench.engine.plan import derive_seed, task_seed

    real = registry.TASKS.get("real[dataset=lynx]")
    tone = registry.TASKS.get("tone[cycles=3]")
    assert task_seed(real, 123, 4) == 4
    assert task_seed(tone, 123, 4) == derive_seed(123, "tone[cycles=3]", 4, 0)


def test_real_data_bar_is_the_seasonal_naive_forecast() -> None:
    """Its own forecast scores rel_mae 1 and fails; a perfect forecast scores 0 and passes; a
    missing week is looked up one season further back."""
    real = module_of("real[dataset=co2]")
    Series, seasonal_naive_forecast = real.Series, real.seasonal_naive_forecast
    task = get_task("real[dataset=co2]", seed=1)
    xe, ye = task.eval_sets()["extrapolation"]
    naive = task.naive_forecast()

    class Fixed:
        def __init__(self, values: np.ndarray) -> None:
            self.values = values

        def predict(self, x: np.ndarray) -> np.ndarray:
            np.testing.assert_array_equal(x, xe)
            return self.values

    m = task.score(Fixed(naive))
    assert m["rel_mae"] == pytest.approx(1.0) and not task.success(m)
    m = task.score(Fixed(ye))
    assert m["rel_mae"] == 0.0 and task.success(m)
    assert m["mase"] == 0.0

    # Season 3, positions 0..7 with 4 missing: position 7 repeats 4, which is missing, so 1.
    s = Series(np.arange(8.0), np.arange(8.0) * 10, np.arange(8))
    keep = np.array([0, 1, 2, 3, 5])
    gappy = Series(s.x[keep], s.y[keep], s.positions[keep])
    np.testing.assert_array_equal(
        seasonal_naive_forecast(gappy, 5, 3, np.array([6, 7, 8])), [30.0, 10.0, 50.0]
    )


def test_real_data_seasonal_naive_scale() -> None:
    from bench.lib.metrics import mase, seasonal_naive_scale

    y = np.array([1.0, 2.0, 3.0, 2.0, 4.0, 5.0])
    assert seasonal_naive_scale(y, 2) == pytest.approx(np.mean([2.0, 0.0, 1.0, 3.0]))
    # A missing sample (position 2) drops the pairs it belongs to instead of shifting the lag.
    assert seasonal_naive_scale(y[[0, 1, 3, 4, 5]], 2, np.array([0, 1, 3, 4, 5])) == pytest.approx(
        np.mean([0.0, 3.0])
    )
    assert mase(np.array([1.0, 1.0]), np.array([2.0, 3.0]), 1.5) == pytest.approx(1.0)
    co2 = get_task("real[dataset=co2]", seed=0)
    assert 0 < co2.naive_scale() < 5  # ppm: one year's trend plus noise


def test_real_data_period_error_uses_the_dominant_frequency() -> None:
    task = get_task("real[dataset=seattle-temps]", seed=0)

    class Seasonal:
        freqs_ = np.array([2 * np.pi / 8760, 2 * np.pi / 24.5])
        amplitudes_ = np.array([0.1, 5.0])

        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.full(x.shape, 50.0)

    m = task.score(Seasonal())
    assert m["period_error"] == pytest.approx(0.5 / 24)
    assert "period_error" not in task.score(Zeros(task))


# -- frequency error: the dominant reported frequencies, matched one to one ---------------------


class Reporting(Oracle):
    """A perfect predictor that reports the given frequencies (and amplitudes, if any)."""

    def __init__(self, task: Any, freqs: list[float], amplitudes: list[float] | None = None):
        super().__init__(task, freqs)
        if amplitudes is not None:
            self.amplitudes_ = np.asarray(amplitudes)


def test_noisy_tone_is_judged_on_the_dominant_reported_frequency() -> None:
    task = get_task("noisy-tone[snr_db=20]", seed=0)
    w = task.truth()["freqs"][0]
    wrong = w * 1.5
    listed = task.score(Reporting(task, [wrong, w]))  # the truth, listed second
    assert listed["freq_error"] == pytest.approx(abs(wrong - w))
    assert task.success(listed) is False
    first = task.score(Reporting(task, [w, wrong]))
    assert first["freq_error"] == 0.0 and task.success(first) is True
    # With amplitudes beside them, the largest amplitude marks the dominant frequency.
    assert task.success(task.score(Reporting(task, [wrong, w], [0.1, 1.0]))) is True
    assert task.success(task.score(Reporting(task, [w, wrong], [0.1, 1.0]))) is False
    # Reporting an empty list is judged (and fails); not reporting is not judged.
    assert task.success(task.score(Reporting(task, []))) is False
    assert task.success(task.score(Oracle(task))) is None


@pytest.mark.parametrize("task_id", ["sin31", "tone[cycles=10]", "wave[shape=sawtooth]"])
def test_freq_error_is_the_same_rule_on_every_task(task_id: str) -> None:
    task = get_task(task_id, seed=0)
    w = task.truth()["freqs"][0]
    assert task.score(Reporting(task, [w, 3 * w]))["freq_error"] == 0.0
    assert task.score(Reporting(task, [3 * w, w]))["freq_error"] == pytest.approx(2 * w)


def test_freq_error_matches_one_to_one() -> None:
    from bench.lib.metrics import freq_error

    class R:
        def __init__(self, freqs: list[float], amplitudes: list[float] | None = None):
            self.freqs_ = np.asarray(freqs)
            if amplitudes is not None:
                self.amplitudes_ = np.asarray(amplitudes)

    truth = [10.0, 20.0]
    # Two reported frequencies near one true one: only one of them may claim it.
    assert freq_error(R([10.0, 10.5]), truth)["freq_error"] == pytest.approx(9.5)
    # The order of the truth and of the matched pair does not matter; signs do not either.
    assert freq_error(R([20.0, -10.0]), truth)["freq_error"] == 0.0
    # Only the k dominant count: a third, exact one earns nothing ...
    assert freq_error(R([10.0, 30.0, 20.0]), truth)["freq_error"] == pytest.approx(10.0)
    # ... unless its amplitude makes it one of the k dominant.
    assert freq_error(R([10.0, 30.0, 20.0], [1.0, 0.1, 0.5]), truth)["freq_error"] == 0.0
    # Zero frequencies (a constant term) are not tones; too few tones is an infinite error.
    assert freq_error(R([0.0, 10.0, 20.0]), truth)["freq_error"] == 0.0
    assert freq_error(R([10.0]), truth)["freq_error"] == float("inf")
    assert freq_error(R([10.0, np.nan]), truth)["freq_error"] == float("inf")
    assert freq_error(object(), truth) == {}


# -- the Cramer-Rao bound ---------------------------------------------------------------------


def test_crlb_matches_the_textbook_forms() -> None:
    from bench.lib.metrics import tone_crlb_std

    # Uniform grid: 12 / (eta N (N^2 - 1) d^2), eta = A^2 / (2 s^2).
    n, d, s, w = 4001, 0.5, 0.7, 3.3
    xg = (np.arange(n) - n // 2) * d
    eta = 1.0 / (2 * s**2)
    grid_var = 12 / (eta * n * (n**2 - 1) * d**2)
    assert tone_crlb_std(xg, w, 1.0, 0.4, s) ** 2 == pytest.approx(grid_var, rel=0.01)
    # The task's own random positions: 2 s^2 / (A^2 sum (x - mean)^2).
    task = get_task("noisy-tone[snr_db=0]", seed=2)
    x, _ = task.train_set()
    t = task.truth()
    closed = np.sqrt(2 * t["noise_std"] ** 2 / np.sum((x - x.mean()) ** 2))
    assert t["crlb_std"] == pytest.approx(closed, rel=0.02)
    assert task.score(Zeros(task))["crlb_std"] == t["crlb_std"]


def test_crlb_full_profile_matches_the_anchor_figure() -> None:
    """The bound in closed form: N = 1e6 over [-1000, 1000] at 0 dB gives std(w_hat) >= 1.7e-6
    (6 s^2 / (A^2 N (L/2)^2) with A^2 / (2 s^2) = 1)."""
    task = get_task("noisy-tone[snr_db=0]", seed=0, profile="full")
    assert len(task.train_set()[0]) == 1_000_000
    assert task.truth()["crlb_std"] == pytest.approx(1.7e-6, rel=0.05)


@pytest.mark.parametrize("snr_db", [-10, 0, 20])
def test_crlb_against_monte_carlo_of_an_efficient_estimator(snr_db: int) -> None:
    """Non-linear least squares started near the truth is asymptotically efficient: over many
    noise draws its RMSE must sit at the task's bound, neither well below (a wrong bound) nor
    well above."""
    from scipy.optimize import least_squares

    task = get_task(f"noisy-tone[snr_db={snr_db}]", seed=7)
    x, _ = task.train_set()
    t = task.truth()
    w0, ph0, a0, s = t["freqs"][0], t["phase"], t["amplitude"], t["noise_std"]
    xc = x - x.mean()  # centre x so that phase and frequency decouple and LM converges fast
    ph_c = ph0 + w0 * x.mean()
    clean = a0 * np.sin(w0 * xc + ph_c)
    rng = np.random.default_rng(123)

    def resid(p: np.ndarray, y: np.ndarray) -> np.ndarray:
        return p[0] * np.sin(p[1] * xc + p[2]) - y

    def jac(p: np.ndarray, y: np.ndarray) -> np.ndarray:
        arg = p[1] * xc + p[2]
        c = np.cos(arg)
        return np.stack([np.sin(arg), p[0] * xc * c, p[0] * c], axis=1)

    errs = []
    start = np.array([a0, w0, ph_c])
    for _ in range(200):
        y = clean + s * rng.standard_normal(x.size)
        fit = least_squares(resid, start, jac=jac, args=(y,), method="lm", xtol=1e-12)
        errs.append(fit.x[1] - w0)
    rmse = float(np.sqrt(np.mean(np.square(errs))))
    assert rmse == pytest.approx(t["crlb_std"], rel=0.25), (rmse, t["crlb_std"])


def test_noisy_tone_efficiency_and_success() -> None:
    task = get_task("noisy-tone[snr_db=20]", seed=0)
    t = task.truth()

    class Estimator(Oracle):
        pass

    near = Estimator(task, [t["freqs"][0] + 2 * t["crlb_std"]])
    m = task.score(near)
    assert m["efficiency"] == pytest.approx(2.0) and task.success(m) is True
    far = Estimator(task, [t["freqs"][0] - 4 * t["crlb_std"]])
    assert task.success(task.score(far)) is False


# -- the Clock Problem ----------------------------------------------------------------------------

#: 120 Julian years of seconds (about 3.79e9 s), centred on the epoch, both ends
#: included: 3,786,912,000 s, so 3,786,912,001 whole seconds.
SPAN_120Y = 120 * 36_525 * 86_400 // 100
assert SPAN_120Y == 3_786_912_000


def calendar_hms(t: np.ndarray) -> np.ndarray:
    """HH, MM, SS of whole seconds since 1970-01-01, read by numpy's calendar (``datetime64``
    floors to the day), not by the task's own arithmetic: the independent reference clock."""
    when = np.asarray(t, dtype=np.int64).astype("datetime64[s]")
    of_day = (when - when.astype("datetime64[D]")).astype(np.int64)
    return np.stack([of_day // 3600, of_day // 60 % 60, of_day % 60], axis=1)


def test_reference_clock_reads_like_the_standard_library() -> None:
    """The reference clock itself, against ``datetime`` (both ends of the 120-year span, a
    negative second, a plain afternoon)."""
    t = np.array([-1, 3_661, -SPAN_120Y // 2, SPAN_120Y // 2, 1_234_567_890])
    epoch = dt.datetime(1970, 1, 1)
    for ti, row in zip(t.tolist(), calendar_hms(t).tolist(), strict=True):
        when = epoch + dt.timedelta(seconds=ti)
        assert (when.hour, when.minute, when.second) == tuple(row), ti


def test_clock_floor_mod_semantics() -> None:
    labels = module_of("clock[encoding=int64,span=1d]").clock_labels
    t = np.array([-1, 0, 86_399, 86_400, -86_400, -86_401, 3_661, -3_661])
    expected = [
        (23, 59, 59),
        (0, 0, 0),
        (23, 59, 59),
        (0, 0, 0),
        (0, 0, 0),
        (23, 59, 59),
        (1, 1, 1),
        (22, 58, 59),
    ]
    assert [tuple(r) for r in labels(t).tolist()] == expected


@pytest.mark.parametrize("span", ["120y", "1d"])
def test_clock_labels_agree_with_the_calendar(span: str) -> None:
    task = get_task(f"clock[encoding=int64,span={span}]", seed=0)
    x, y = view_of(task).sample(4096)
    np.testing.assert_array_equal(y, calendar_hms(x))
    for t, y in task.eval_sets().values():
        np.testing.assert_array_equal(y, calendar_hms(t))


@pytest.mark.parametrize("encoding", ["float32", "float64", "int64"])
@pytest.mark.parametrize("span", ["120y", "1d"])
def test_clock_inputs_are_in_the_encoding(encoding: str, span: str) -> None:
    task = get_task(f"clock[encoding={encoding},span={span}]", seed=0)
    view = view_of(task)
    assert view.input_dtype == encoding
    x, y = view.sample(1000)
    assert x.dtype == np.dtype(encoding)
    assert y.shape == (1000, 3) and y.dtype == np.int64
    length = SPAN_120Y if span == "120y" else 86_400
    lo, hi = view.domain
    # Training covers the first 110 of 120 parts; the final tenth-and-a-bit (the final decade of
    # the 120-year span) is for extrapolation.
    assert lo == -length / 2 and hi - lo == pytest.approx(length * 110 / 120, abs=1)
    xe = task.eval_sets()["extrapolation"][0].astype(np.float64)
    assert np.all(xe > hi) and np.all(xe <= length / 2)
    xt = task.eval_sets()["test"][0].astype(np.float64)
    assert np.all(xt >= lo) and np.all(xt <= hi)


def test_clock_held_out_instants_are_never_sampled() -> None:
    task = get_task("clock[encoding=int64,span=1d]", seed=0)
    held = task.eval_sets()["test"][0]
    x, _ = view_of(task).sample(task.budget.max_samples)
    assert not np.isin(x, held).any()
    assert len(np.unique(held)) == len(held)


@pytest.mark.parametrize(
    "encoding,span,representable",
    [
        ("float32", "120y", False),
        ("float32", "1d", True),
        ("float64", "120y", True),
        ("float64", "1d", True),
        ("int64", "120y", True),
        ("int64", "1d", True),
    ],
)
def test_clock_representability_flag(encoding: str, span: str, representable: bool) -> None:
    task = get_task(f"clock[encoding={encoding},span={span}]", seed=0)
    ex = task.record_extras()
    assert ex["representable"] is representable
    assert (ex["distinct_inputs"] == ex["distinct_seconds"]) is representable
    assert ex["exact_match_ceiling"] == pytest.approx(
        ex["distinct_inputs"] / ex["distinct_seconds"]
    )
    desc = type(task).describe(dict(task.params))
    assert ("NOT representable" in desc) is (not representable)
    # Closed form: a span centred on the epoch with both ends included.
    assert ex["distinct_seconds"] == (SPAN_120Y if span == "120y" else 86_400) + 1
    if representable:
        assert ex["exact_match_ceiling"] == 1.0
    else:  # 147,025,763 distinct inputs for 3,786,912,001 seconds: about 3.9%
        assert ex["exact_match_ceiling"] == pytest.approx(0.039, abs=0.001)


def test_float32_collides_at_120_years() -> None:
    task = get_task("clock[encoding=float32,span=120y]", seed=0)
    ex = task.record_extras()
    # Of the 3,786,912,001 whole seconds in a 120-year span centred on the epoch, 147,025,763
    # (3.9%) map to distinct float32 values (spacing 128 s at the edges): the slow exhaustive
    # count below establishes it by casting every second.
    assert ex["distinct_seconds"] == 3_786_912_001
    assert ex["distinct_inputs"] == 147_025_763
    # Closed form: |t| = 60 years = 1.89e9 s lies in [2**30, 2**31), where float32's 24-bit
    # significand leaves a spacing of 2**(30 - 23) = 128 s.
    assert 2**30 <= SPAN_120Y // 2 < 2**31
    assert ex["input_spacing_s"] == 2.0 ** (30 - 23)
    t = np.int64(1_800_000_000)
    assert np.float32(t) == np.float32(t + 1)


@pytest.mark.parametrize(
    "lo,hi",
    [
        (2**24 - 5000, 2**24 + 300_000),
        (-(2**25) - 1000, -(2**24) + 77),
        (-3_000_000, 50_000_000),
        (-(2**25) - 5, 2**25 + 9),
        (0, 0),
        (-7, 7),
        (2**25 + 1, 2**25 + 1001),  # starts inside a group of colliding seconds
        (-(2**25) - 1001, -(2**25) - 1),
    ],
)
def test_distinct_float32_count_matches_brute_force(lo: int, hi: int) -> None:
    distinct = module_of("clock[encoding=float32,span=1d]").distinct_values
    brute = len(np.unique(np.arange(lo, hi + 1, dtype=np.int64).astype(np.float32)))
    assert distinct(lo, hi, "float32") == brute
    assert distinct(lo, hi, "float64") == hi - lo + 1


@pytest.mark.slow
def test_distinct_float32_count_exhaustive_over_120_years() -> None:
    """Every whole second of the 120-year span, cast and compared in chunks (about 8-15 s):
    the brute-force source of the 147,025,763 the task reports."""
    task = get_task("clock[encoding=float32,span=120y]", seed=0)
    lo, hi = -SPAN_120Y // 2, SPAN_120Y // 2
    count, prev, step = 0, None, 2**24
    for start in range(lo, hi + 1, step):
        f = np.arange(start, min(start + step, hi + 1), dtype=np.int64).astype(np.float32)
        count += int(np.count_nonzero(f[1:] != f[:-1])) + int(prev is None or f[0] != prev)
        prev = f[-1]
    assert count == 147_025_763
    assert count == task.record_extras()["distinct_inputs"]


def test_clock_extrapolation_is_judged_only_where_training_shows_every_label() -> None:
    for span, judged in (("120y", True), ("1d", False)):
        task = get_task(f"clock[encoding=int64,span={span}]", seed=0)
        assert task.record_extras()["extrap_judged"] is judged
        lo, hi = task.domain
        grid = np.arange(int(lo), int(min(hi, lo + 2 * 86_400)) + 1, 600)
        train_hours = set(calendar_hms(grid)[:, 0].tolist())
        ext_hours = set(task.eval_sets()["extrapolation"][1][:, 0].tolist())
        assert (ext_hours <= train_hours) is judged
        metrics = {"exact_match": 1.0, "extrap_exact_match": 0.0}
        assert task.success(metrics) is (not judged)


def test_clock_scoring_fields() -> None:
    task = get_task("clock[encoding=int64,span=1d]", seed=0)

    class OffBySecond:
        def predict(self, t: np.ndarray) -> np.ndarray:
            return calendar_hms(t + 1)

    m = task.score(OffBySecond())
    assert m["acc_second"] == 0.0 and m["exact_match"] == 0.0
    assert m["acc_hour"] > 0.9 and m["acc_minute"] > 0.9
    assert task.success(m) is False


# -- real data without a network ---------------------------------------------------------------


@pytest.mark.slow
def test_real_data_loads_with_networking_disabled() -> None:
    """Every real series, in a fresh interpreter with sockets disabled before anything is
    imported (about 10 s, most of it importing torch, scipy and sktime)."""
    code = """
import socket
def _refuse(*args, **kwargs):
    raise OSError("networking disabled by the test")
class _Offline(socket.socket):  # a subclass, so libraries that subclass socket still import
    connect = connect_ex = sendto = sendall = send = _refuse
socket.socket = _Offline
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
from bench import get_task
from bench.core import registry
registry.load_plugins()  # strict: a built-in that fails to load fails this test too
from bench.builtin.tasks.real import SOURCES
for d in SOURCES:
    t = get_task(f"real[dataset={d}]", seed=0)
    x, y = t.train_set()
    xe, ye = t.eval_sets()["extrapolation"]
    assert len(x) >= 70 and len(xe) >= 8, d
print("ok")
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]


def test_co2_missing_values_are_dropped() -> None:
    task = get_task("real[dataset=co2]", seed=0)
    x, y = task.train_set()
    xe, ye = task.eval_sets()["extrapolation"]
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(ye))
    # Weekly from 1958-03-29 to 2001-12-29 is 2,284 weeks, 59 of them missing;
    # statsmodels' co2.NOTE gives the 2,225 observations that remain.
    weeks = (dt.date(2001, 12, 29) - dt.date(1958, 3, 29)).days // 7 + 1
    assert weeks == 2284
    assert weeks - 59 == 2225 == module_of("real[dataset=co2]").load("co2").x.size


def test_wave_frequency_truth_is_its_strongest_component() -> None:
    # (1 + sin u) sin 2u = sin 2u + (cos u - cos 3u) / 2: the 2w component dominates, so the
    # dominant reported frequency is judged against 2w, and against w for the other shapes.
    am = get_task("wave[shape=am]", seed=3)
    assert am.truth()["freqs"] == [pytest.approx(2 * am.truth()["fundamental"])]
    saw = get_task("wave[shape=sawtooth]", seed=3)
    assert saw.truth()["freqs"] == [saw.truth()["fundamental"]]
