"""Box least squares: the period of narrow pulses, where a periodogram of tones falls short
(Kovacs, Zucker and Mazeh, "A box-fitting algorithm in the search for periodic transits",
A&A 391, 369, 2002).

At each trial frequency the samples are folded, their phases binned (``np.bincount``) and a
box slid round the fold; the statistic is the least-squares gain of a two-level model (box
and baseline) over a constant, ``s^2 N / (n (N - n))`` for a box of ``n`` samples summing to
``s`` (mean removed). A box is the matched filter of a transit-like pulse, and a fold at a
harmonic or sub-harmonic halves it, so the fundamental wins. BLS rather than AoV / PDM: those
split the fold into fixed cells, which a pulse a few percent wide dilutes (``1 / q`` cells,
a parameter each); BLS spends one parameter on the pulse whatever its width.

The search is derived from the data (span ``L``, ``N`` samples), not fixed:

- lowest frequency ``2 / L``: two whole cycles, so two pulses lie in the span whatever the
  phase (one pulse fits every longer period alike: no period to find);
- duty bands ``q_j = q_lo 2^j`` below ``Q_MAX = 0.25`` (wider pulses are a few tones: a
  periodogram's job), each trying boxes ``q_j`` and ``sqrt(2) q_j`` wide (a factor ``sqrt(2)``
  apart: at most 16% of the signal-to-noise lost) on ``SUB = 4`` or more phase bins per
  ``q_j``; ``q_lo = max(0.005, 10 / N)``: a box holds some ten samples, to measure its level
  against the noise (0.005 caps the fold at 1024 bins);
- highest frequency of band ``j``: ``q_j N / (m L)``, the pulse lasting at least ``m`` mean
  gaps between samples (``min_pulse_samples`` 0.5: every other pulse holds a sample), and
  below the Nyquist frequency ``1 / (2 dt)`` of regular samples. Random times do not alias:
  this bounds the cost, it is not a limit of the information;
- frequency step of band ``j``: ``q_j / (2 L)``: the nearest trial frequency drifts the fold
  by at most a quarter of the band's narrowest box across the span.

A band's grid then holds about ``2 N / m`` frequencies whatever its duty, each a fold of ``N``
samples: ``bands x 2 N^2 / m`` sample-frequency pairs in all (1e8 for N = 2000, about a
second). Beyond ``max_evals``, ``m`` is raised until the grid fits (recorded). The peak is
refined (grid 16 times finer, bins twice as fine, every width ``q_j .. 2 q_j``) to the middle
of its 1-sigma interval. The predictor is the fitted box at that period; ``freqs_`` the
frequency; ``searched_`` the range, grid, cost and Kovacs' signal detection efficiency
``sde`` (the peak above the periodogram's mean, in standard deviations).

On a fixed data set it searches every sample; from a sampler it draws ``n_samples`` (2048) at
once, not the 65536 the tone estimators draw: the search's cost grows as the square of the
samples (above), and at 65536 the cost cap would leave only pulses some hundred mean gaps long.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from bench import Budget, BudgetExceeded, Logger, Method, TaskView, register_method
from bench.kit.methods import draw_samples, forget
from bench.lib.sampling import search_band

Q_MIN, Q_MAX, SQRT2 = 0.005, 0.25, math.sqrt(2.0)
#: Samples a box holds on average (sets the narrowest duty; a search needs ``MIN_SEARCH``);
#: a box with fewer than ``MIN_IN`` is not scored.
BOX_SAMPLES, MIN_IN = 10, 5
MIN_SEARCH = int(BOX_SAMPLES / Q_MAX) + 1
#: Phase bins per narrowest box of a band; drift of the nearest trial frequency, in boxes;
#: refinement points per coarse step, each side of the peak; frequencies x samples per chunk.
SUB, DRIFT, REFINE, CHUNK = 4, 0.25, 16, 2**21


class Band(NamedTuple):
    duty: float
    freqs: np.ndarray  # cycles per unit of x


class Box(NamedTuple):
    power: float  # share of the variance the box explains
    freq: float
    start: float  # phase where the box begins
    width: float  # duty cycle


def search_grid(x: np.ndarray, min_pulse_samples: float = 0.5, max_evals: float = 5e8) -> dict:
    """The search the samples ``x`` allow: duty bands and their frequency grids, the lowest and
    highest frequency (cycles per unit), the ``m`` used and the cost in sample-frequency pairs."""
    x = np.asarray(x, dtype=np.float64)
    n, span = x.size, float(np.ptp(x)) if x.size else 0.0
    _, _, dt = search_band(x)
    f_nyq = 0.5 / dt if dt else math.inf
    q_lo = max(Q_MIN, BOX_SAMPLES / max(n, 1))
    duties = [q_lo * 2.0**j for j in range(16) if q_lo * 2.0**j < Q_MAX]
    if span <= 0 or not duties:
        raise ValueError(f"too few samples for a pulse search ({n} over a span of {span:g})")
    f_lo = 2.0 / span
    m = float(min_pulse_samples)

    def grids(m: float) -> list[Band]:
        out = []
        for q in duties:
            top = min(q * n / (m * span), f_nyq)
            if top > f_lo:
                out.append(Band(q, np.arange(f_lo, top, 2 * DRIFT * q / span)))
        return out

    bands = grids(m)
    cost = n * sum(b.freqs.size for b in bands)
    while cost > max_evals:  # the grid scales as 1 / m: widen the shortest pulse until it fits
        m *= max(cost / max_evals, 1.1)
        bands = grids(m)
        cost = n * sum(b.freqs.size for b in bands)
    if not bands:
        raise ValueError(f"no frequency to search: {n} samples over a span of {span:g}")
    top = max(float(b.freqs[-1]) for b in bands)
    return {"bands": bands, "f_lo": f_lo, "f_hi": top, "m": m, "evals": float(cost)}


def bls(
    t: np.ndarray, y: np.ndarray, freqs: np.ndarray, duty: float, sub: int = SUB, fine: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The best box per trial frequency: its power (share of ``sum y^2`` it explains; ``y``
    mean-removed), start bin and width in bins, and the number of phase bins ``nb`` (a power
    of two, at least ``sub / duty``: a mask replaces a slow modulo). Boxes ``w0`` and
    ``sqrt(2) w0`` bins wide, ``w0 = floor(duty nb)`` (every width ``w0 .. 2 w0 - 1`` if
    ``fine``): with the next band's ``2 w0``, widths a factor ``sqrt(2)`` apart."""
    n = t.size
    nb = 1 << math.ceil(math.log2(sub / duty))
    w0 = int(duty * nb)
    widths = np.arange(w0, 2 * w0) if fine else np.unique(np.rint([w0, w0 * SQRT2]).astype(int))
    # 1 / (n_in (n - n_in)) by count; 0 where a box holds too few samples (or too many).
    inv = np.zeros(n + 1)
    ok = np.arange(MIN_IN, n - MIN_IN + 1)
    inv[ok] = 1.0 / (ok * (n - ok.astype(np.float64)))
    total = float(np.dot(y, y)) or 1.0
    power = np.zeros(freqs.size)
    start = np.zeros(freqs.size, dtype=np.int64)
    width = np.zeros(freqs.size, dtype=np.int64)
    rows = max(1, CHUNK // max(n, 1))
    # One bincount for sums and counts: weights y + K, K a power of two above 2 sum |y|, so a
    # bin's total is its count times K plus its sum of y (|sum| < K / 2; rounding ulp(K)).
    big = 2.0 ** math.ceil(math.log2(2 * float(np.abs(y).sum()) + 1.0))
    yw, buf = np.tile(y + big, rows), np.empty((rows, n))
    for lo in range(0, freqs.size, rows):
        f = freqs[lo : lo + rows]
        k = f.size
        idx = np.multiply.outer(f * nb, t, out=buf[:k]).astype(np.int64)
        idx &= nb - 1  # the phase bin: the integer part of f nb t, modulo nb
        idx |= (np.arange(k) * nb)[:, None]  # one block of nb bins per frequency
        flat = idx.ravel()
        both = np.bincount(flat, weights=yw[: flat.size], minlength=k * nb).reshape(k, nb)
        c = np.rint(both / big).astype(np.int64)
        s = both - c * big
        ext = widths[-1]  # cumulative sums once round the fold and on, for every width
        cs = np.zeros((k, nb + ext + 1))
        cn = np.zeros((k, nb + ext + 1), dtype=np.int64)
        np.cumsum(np.hstack([s, s[:, :ext]]), axis=1, out=cs[:, 1:])
        np.cumsum(np.hstack([c, c[:, :ext]]), axis=1, out=cn[:, 1:])
        best = np.empty((k, widths.size))
        where = np.empty((k, widths.size), dtype=np.int64)
        rk = np.arange(k)
        for i, w in enumerate(widths):  # a box of w bins, starting at every bin
            si = cs[:, w : w + nb] - cs[:, :nb]
            gain = si * si * inv[cn[:, w : w + nb] - cn[:, :nb]]
            where[:, i] = np.argmax(gain, axis=1)
            best[:, i] = gain[rk, where[:, i]]
        i_w = np.argmax(best, axis=1)
        power[lo : lo + k] = best[rk, i_w] * n / total
        start[lo : lo + k] = where[rk, i_w]
        width[lo : lo + k] = widths[i_w]
    return power, start, width, nb


def refine(t: np.ndarray, y: np.ndarray, freq: float, step: float, duty: float) -> Box:
    """The best box within two grid steps of ``freq``, on a grid ``REFINE`` times finer with
    twice the phase bins and every width of the band. The frequency is the middle of the
    run of trial frequencies round the peak whose squared error is within one noise variance
    of the best (a drop of 1 in chi-square: the 1-sigma interval), not the peak's first point:
    the error is flat while the same samples stay in the box."""
    fine = freq + step * np.linspace(-2.0, 2.0, 4 * REFINE + 1)
    fine = fine[fine > 0]
    power = bls(t, y, fine, duty, 2 * SUB, fine=True)[0]
    i = j = int(np.argmax(power))
    top = power[i] - (1 - power[i]) / max(t.size - 4, 1)  # power: share of sum y^2
    while i > 0 and power[i - 1] >= top:
        i -= 1
    while j < fine.size - 1 and power[j + 1] >= top:
        j += 1
    mid = np.array([0.5 * (fine[i] + fine[j])])
    p, start, width, nb = bls(t, y, mid, duty, 2 * SUB, fine=True)
    return Box(float(p[0]), float(mid[0]), start[0] / nb, width[0] / nb)


@register_method("pulse-period", base=False, on_demand=[{}])
class PulsePeriod(Method):
    """Box least squares period search (Kovacs, Zucker and Mazeh 2002), search range derived
    from the samples; the predictor is the fitted box at the period found."""

    description = (
        "Estimator: box least squares (BLS) period search for narrow pulses, frequency range, "
        "grid and duty cycles derived from the samples; predicts the fitted box"
    )
    reference = "Kovacs, Zucker and Mazeh, A&A 391, 369 (2002)"
    handles_multi_output = False
    handles_classification = False
    handles_fixed_data = True
    input_dtypes = ("float32", "float64", "int64")

    def __init__(
        self, n_samples: int = 2048, min_pulse_samples: float = 0.5, max_evals: float = 5e8
    ) -> None:
        self.n_samples = n_samples
        self.min_pulse_samples = min_pulse_samples
        self.max_evals = max_evals

    def fit(self, task: TaskView, budget: Budget, seed: int, device: str, log: Logger) -> Any:
        forget(self)
        if task.infinite and task.samples_left < MIN_SEARCH:  # q_lo would reach Q_MAX
            raise BudgetExceeded(
                f"a pulse search needs {MIN_SEARCH} samples; the budget leaves {task.samples_left}"
            )
        x, y = draw_samples(task, self.n_samples)
        grid = search_grid(x, float(self.min_pulse_samples), float(self.max_evals))
        self.origin_ = float(np.min(x))
        t, r = x - self.origin_, y - float(np.mean(y))
        found, peaks = [], []
        with log.phase("estimate"):
            for band in grid["bands"]:
                power = bls(t, r, band.freqs, band.duty)[0]
                found.append((float(power.max()), float(band.freqs[np.argmax(power)]), band))
                peaks.append(power)
                log.check()
            _, f_best, band = max(found, key=lambda pfb: pfb[0])
            box = refine(t, r, f_best, 2 * DRIFT * band.duty / float(np.ptp(x)), band.duty)
        self.box_ = box
        inside = self._inside(x)
        out = float(np.mean(y[~inside])) if np.any(~inside) else float(np.mean(y))
        self.levels_ = np.array([out, float(np.mean(y[inside])) if np.any(inside) else out])
        self.freqs_ = np.array([2 * np.pi * box.freq])
        self.period_ = 1.0 / box.freq
        self.n_params_ = 5  # frequency, start, width and two levels
        allp = np.concatenate(peaks)
        sde = (box.power - allp.mean()) / allp.std() if allp.std() > 0 else 0.0
        self.searched_ = {
            "min_freq_searched": 2 * np.pi * grid["f_lo"],
            "max_freq_searched": 2 * np.pi * grid["f_hi"],
            "grid_size": float(sum(b.freqs.size for b in grid["bands"])),
            "finest_freq_step": 2 * np.pi * 2 * DRIFT * grid["bands"][0].duty / float(np.ptp(x)),
            "duty_min_searched": grid["bands"][0].duty,
            "duty_max_searched": SQRT2 * grid["bands"][-1].duty,
            "min_pulse_samples": grid["m"],
            "fold_evals": grid["evals"],
            "bls_power": float(box.power),
            "sde": float(sde),
            "duty_found": float(box.width),
        }
        return self

    def _inside(self, x: np.ndarray) -> np.ndarray:
        b = self.box_
        phase = np.mod((np.asarray(x, dtype=np.float64) - self.origin_) * b.freq - b.start, 1.0)
        return phase < b.width

    def predict(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self.levels_
        return np.where(self._inside(x), hi, lo)
