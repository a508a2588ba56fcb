"""``landscape``: the expected loss of ``sin(w x)`` against ``sin(t x)`` and its gradient,
drawn from the closed form (``bench.report.landscape``): why gradient descent misses ``t``.

:func:`plan_landscape` checks the request and the output folder; :func:`draw` does the drawing,
which takes a while, so a caller can say what is coming in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.app.errors import UsageError
from bench.app.folders import writable


@dataclass(frozen=True)
class Landscape:
    """A checked request: the figures' folder, the true frequency ``target``, the half width
    ``R`` of ``x ~ U[-R, R]``, the samples averaged per ``w``, the small batch whose gradient
    noise is shaded, and the seed of the samples."""

    out: Path
    target: float = 31.0
    half_width: float = 1000.0
    batch: int = 100_000
    sgd_batch: int = 32
    seed: int = 0

    @property
    def announce(self) -> str:
        return f"drawing the landscape over {self.batch:,} samples of x ..."


@dataclass
class LandscapeResult:
    """The figures written, the closed form drawn and the key numbers of the drawing."""

    written: list[Path]
    formula: str
    key_numbers: str


def plan_landscape(out: Path, **numbers: float) -> Landscape:
    """Check the numbers (``Landscape``'s fields) and that ``out`` takes files; a bad one is a
    :class:`UsageError`."""
    request = Landscape(out, **numbers)  # type: ignore[arg-type]
    if request.target <= 0 or request.half_width <= 0:
        raise UsageError("landscape: --target and --half-width must be positive")
    if request.batch < 1 or request.sgd_batch < 1:
        raise UsageError("landscape: --batch and --sgd-batch must be at least 1")
    writable(out)
    return request


def draw(request: Landscape) -> LandscapeResult:
    """Draw the landscape's figures into the request's folder."""
    from bench.report.landscape import FORMULA, draw_landscape, key_numbers

    r = request
    written = draw_landscape(r.out, r.target, r.half_width, r.batch, r.sgd_batch, r.seed)
    return LandscapeResult(list(written), FORMULA, key_numbers(r.half_width))
