"""How many samples the spectral estimators need to find a tone: ``python
benchmarks/detection_limit.py``.

``bench.lib.estimators.estimate_tones`` (the ``fft`` method's estimator; ``nls``,
``lomb-scargle`` and the hybrid's regression search the same way) keeps a periodogram peak only
above a false-alarm threshold of 1e-6 over the whole band it searches (for few samples, on
their exact small-sample tail: ``bench.lib.dsp.small_sample_ratio``). Random inputs are
searched far above their mean rate, so few random samples face many candidate frequencies and
need a strong tone. This measures where that bites: a
sawtooth of 20 periods on ``[0, 1]`` (its fundamental carries 61% of the variance), from ``n``
random or regularly spaced samples, ``--sets`` sample sets per point; a set counts as found
when the strongest tone lies within one bin (``2 pi``) of the fundamental. Prints a table
and writes nothing.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from bench.lib.estimators import estimate_tones

PERIODS = 20


def sawtooth(x: np.ndarray) -> np.ndarray:
    return (x * PERIODS) % 1.0 - 0.5


def found(x: np.ndarray) -> bool:
    model = estimate_tones(x, sawtooth(x))
    if not model.n_tones:
        return False
    strongest = model.freqs[int(np.argmax(model.amplitudes))]
    return bool(abs(strongest - 2 * np.pi * PERIODS) < 2 * np.pi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=20, help="sample sets per point")
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 48, 64, 96, 128, 192, 256])
    args = ap.parse_args()
    print(f"sawtooth, {PERIODS} periods on [0, 1]: sets (of {args.sets}) where fft finds it")
    print(f"{'samples':>8} {'random':>8} {'regular':>8}")
    for n in args.sizes:
        rand = sum(
            found(np.sort(np.random.default_rng(s).uniform(0.0, 1.0, n))) for s in range(args.sets)
        )
        # Regular: the same grid shifted by a random fraction of its step, per set.
        reg = sum(
            found((np.arange(n) + np.random.default_rng(s).uniform()) / n) for s in range(args.sets)
        )
        print(f"{n:>8} {rand:>8} {reg:>8}")


if __name__ == "__main__":
    main()
