"""Cost of the integer period search against the longest period it searches:
``python benchmarks/period_search.py --out DIR``.

``bench.lib.periods.find_periods`` searches up to half the observed span. Two curves, on one
core, each point the median of ``--repeats`` timings on fresh samples (``--samples`` of them,
the 120-year clock's pool at the quick profile by default):

- **nothing to find**: random labels over a span ``S``; the search runs to ``S / 2``, so this is
  the whole scan's cost for that largest period searched;
- **a period found**: a digit with 24 equal arcs, period ``P`` drawn near each point and a random
  phase, over the 120-year span; the search stops at ``P`` (and narrows it to the integer).

Writes ``period-search.json`` (the points, the machine) and ``period-search.png`` (both curves,
log-log) into ``--out``; prints the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from bench.engine.store import environment
from bench.lib.periods import circular, find_periods

SPAN_120Y = int(round(120 * 365.25 * 86_400))


def _time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(samples: int, repeats: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    empty, found = [], []
    for span in np.logspace(4, np.log10(SPAN_120Y), 7).astype(np.int64):
        t = rng.integers(0, int(span), size=samples)
        y = rng.integers(0, 24, size=samples)
        z = circular(y, 24)
        res = find_periods(t, [z], labels=[y])[0]
        secs = _time(lambda t=t, z=z, y=y: find_periods(t, [z], labels=[y]), repeats)
        empty.append({"largest_period_searched": res.searched, "seconds": secs})
    for target in np.logspace(2, 7, 11):
        period = int(target) + int(rng.integers(0, 24))
        period -= period % 24  # 24 equal arcs
        t = rng.integers(-SPAN_120Y // 2, SPAN_120Y // 2, size=samples)
        y = np.mod(t + int(rng.integers(period)), period) // (period // 24)
        z = circular(y, 24)
        res = find_periods(t, [z], labels=[y])[0]
        secs = _time(lambda t=t, z=z, y=y: find_periods(t, [z], labels=[y]), repeats)
        found.append(
            {
                "period": period,
                "found": res.period,
                "exact": bool(res.exact and res.period == period),
                "seconds": secs,
            }
        )
    return {
        "samples": samples,
        "repeats": repeats,
        "span_found_curve": SPAN_120Y,
        "nothing_to_find": empty,
        "period_found": found,
        "environment": environment("cpu"),
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    e = result["nothing_to_find"]
    ax.loglog(
        [p["largest_period_searched"] for p in e],
        [p["seconds"] for p in e],
        "o-",
        label="nothing to find: scan to half the span",
    )
    f = result["period_found"]
    ax.loglog(
        [p["period"] for p in f],
        [p["seconds"] for p in f],
        "s-",
        label="period found (120-year span), exact" if all(p["exact"] for p in f) else "found",
    )
    ax.set_xlabel("largest period searched (units of the input)")
    ax.set_ylabel("seconds, one core")
    ax.set_title(f"Integer period search, {result['samples']:,} samples")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=2**17)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    result = measure(args.samples, args.repeats)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "period-search.json").write_text(text + "\n")
        plot(result, args.out / "period-search.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
