"""The expected loss landscape of the sinusoid model ``a sin(w x + phi) + c`` against
``sin(t x)``, ``x ~ U[-R, R]``, and what it predicts: the basin of attraction of the target
frequency, and the chance that a random start lies in it.

Profile loss. For a fixed ``w`` the best ``a, phi, c`` are a linear least-squares problem in the
basis ``{sin(w x), cos(w x), 1}`` (``a sin(w x + phi) = A sin(w x) + B cos(w x)``). On a
symmetric domain the target is odd while ``cos(w x)`` and ``1`` are even, so only ``sin(w x)``
takes part, and with ``S(u) = sin(u) / u`` and ``E[cos(k x)] = S(k R)``:

    P(w) = E[y^2] - <y, s>^2 / <s, s>,        y = sin(t x), s = sin(w x), <f, g> = E[f g]
    E[y^2]  = (1 - S(2 t R)) / 2
    <y, s>  = (S((w - t) R) - S((w + t) R)) / 2
    <s, s>  = (1 - S(2 w R)) / 2

For many cycles ``P(w) ~ (1 - S((w - t) R)^2) / 2``: a main lobe of half-width ``pi / R``
(the first zero of ``S``), flat at about 1/2 outside. ``P`` is even in ``w`` (``w -> -w`` with
``a -> -a`` is the same function), so ``-t`` is an equally good optimum.

Basin. :func:`basin` walks a fine grid outwards from ``t`` while ``P`` keeps rising; the
interval it covers is where ``P`` decreases monotonically towards ``t``. A start there reaches
the optimum by gradient flow on the profile; a start outside needs luck or noise. The width
is about ``2 pi / R`` once the domain holds a few cycles, and reaches down to ``w = 0`` when it
holds only one or two (then the mirror basin of ``-t`` meets it at 0).

This is a prediction for the profile, not for the joint descent on ``(w, a, phi, c)`` a method
runs; the failure map (``bench.report.failure_map``) puts the two side by side.

Also here: the initial-frequency distributions of the failure map (drawn by the method
``sgd-sinusoid``, integrated by the theory), the chance of a start spread over the band the
samples resolve and of the best of several such starts, and the stable step of plain gradient
descent on the sinusoid model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: The target frequency of the original experiment (``sin(31 x)``).
TARGET = 31.0


def sinc(u: npt.ArrayLike) -> FloatArray:
    """Unnormalised sinc ``sin(u) / u`` with ``S(0) = 1``."""
    return np.sinc(np.asarray(u, dtype=float) / np.pi)


def one_minus_sinc(u: npt.ArrayLike) -> FloatArray:
    """``1 - S(u)`` without cancellation near 0 (series ``u^2/6 - u^4/120`` there)."""
    u = np.asarray(u, dtype=float)
    small = np.abs(u) < 1e-3
    return np.where(small, u * u / 6 - u**4 / 120, 1 - sinc(u))


def profile_loss(w: npt.ArrayLike, target: float, half_width: float) -> FloatArray:
    """``min_{a, phi, c} E[(a sin(w x + phi) + c - sin(t x))^2]``, ``x ~ U[-R, R]``, exactly.

    At ``w = 0`` the value is the limit ``w -> 0`` (projection onto ``x``)."""
    w = np.abs(np.asarray(w, dtype=float))
    t, r = float(target), float(half_width)
    ey2 = one_minus_sinc(2 * t * r) / 2
    ys = (sinc((w - t) * r) - sinc((w + t) * r)) / 2
    ss = one_minus_sinc(2 * w * r) / 2
    # Limit at w = 0: <y, s> / w -> E[x sin(t x)] = (sin(tR) - tR cos(tR)) / (t^2 R) and
    # <s, s> / w^2 -> E[x^2] = R^2 / 3.
    ext = (np.sin(t * r) - t * r * np.cos(t * r)) / (t * t * r)
    at0 = ey2 - ext**2 / (r * r / 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = ey2 - np.where(ss > 0, ys * ys / np.where(ss > 0, ss, 1.0), 0.0)
    return np.where(w == 0, at0, p)


def basin(
    target: float, half_width: float, points_per_lobe: int = 2000, max_lobes: int = 10_000
) -> tuple[float, float]:
    """``(lo, hi)``: the interval of positive ``w`` around ``target`` over which
    :func:`profile_loss` decreases monotonically towards ``target``.

    Computed on a grid of step ``(pi / R) / points_per_lobe`` (at most ``target / 200``),
    walking out from ``target`` until the loss first falls. ``lo`` stops at 0, where the loss is
    stationary by symmetry; ``hi`` stops at ``max_lobes`` lobes (``max_lobes * pi / R``) if the
    loss never falls before (it does, for every domain of at least a fraction of a cycle).
    """
    t, r = float(target), float(half_width)
    if not (t > 0 and r > 0):
        raise ValueError("target and half_width must be positive")
    lobe = math.pi / r
    h = min(lobe / points_per_lobe, t / 200)

    def walk(direction: int, limit: float) -> float:
        block = 4096
        done = 0
        prev = float(profile_loss(t, t, r))
        while done * h < limit:
            k = np.arange(done + 1, done + block + 1)
            k = k[k * h <= limit]
            if k.size == 0:
                break
            vals = profile_loss(t + direction * k * h, t, r)
            steps = np.diff(np.concatenate([[prev], vals]))
            falls = np.nonzero(steps < 0)[0]
            if falls.size:
                return float(t + direction * (done + falls[0]) * h)
            done, prev = int(k[-1]), float(vals[-1])
        return float(t + direction * limit)

    lo = max(walk(-1, t), 0.0)
    hi = walk(+1, max_lobes * lobe)
    return lo, hi


# -- initial-frequency distributions ------------------------------------------------------------


@dataclass(frozen=True)
class InitDistribution:
    """A distribution of the initial frequency ``w0``: ``normal(p1 = mean, p2 = std)`` or
    ``uniform(p1 = low, p2 = high)``."""

    kind: str
    p1: float
    p2: float
    label: str

    def cdf(self, w: float) -> float:
        if self.kind == "normal":
            return 0.5 * math.erfc(-(w - self.p1) / (self.p2 * math.sqrt(2)))
        if self.kind == "uniform":
            return min(max((w - self.p1) / (self.p2 - self.p1), 0.0), 1.0)
        raise ValueError(f"unknown distribution kind {self.kind!r}")

    def mass(self, lo: float, hi: float) -> float:
        """Probability of ``lo < w0 < hi``."""
        return max(self.cdf(hi) - self.cdf(lo), 0.0) if hi > lo else 0.0


#: The starts of the failure map, by the name ``sgd-sinusoid``'s ``init`` takes.
INITS: dict[str, InitDistribution] = {
    # The original experiment's torch.randn(1).
    "randn": InitDistribution("normal", 0.0, 1.0, "w0 ~ N(0, 1) (the original)"),
    # An oracle-informed start: uniform over [0, 2 w*], w* = 31 known to the experimenter.
    "uniform-2x": InitDistribution(
        "uniform", 0.0, 2 * TARGET, "w0 ~ U[0, 2 w*] = U[0, 62] (oracle-informed)"
    ),
}


def init_distribution(name: str) -> InitDistribution:
    try:
        return INITS[name]
    except KeyError:
        raise ValueError(f"init must be one of {', '.join(INITS)}, not {name!r}") from None


def basin_probability(cycles: float, init: str, target: float = TARGET) -> float:
    """Probability that a start drawn from ``INITS[init]`` lies in the basin of ``target`` or in
    its mirror image around ``-target`` (the same fit with ``a -> -a``), for a domain
    ``[-R, R]`` holding ``cycles`` cycles of the target (``R = cycles * pi / target``)."""
    dist = init_distribution(init)
    lo, hi = basin(target, cycles * math.pi / target)
    if lo <= 0:  # the two basins meet at 0: one interval
        return dist.mass(-hi, hi)
    return dist.mass(lo, hi) + dist.mass(-hi, -lo)


def band_basin_probability(cycles: float, w_max: float, target: float = TARGET) -> float:
    """Probability that a start uniform on ``[0, w_max]`` lies in the basin of ``target`` (the
    interval :func:`basin` finds), for a domain ``[-R, R]`` holding ``cycles`` cycles of the
    target. A start on ``[0, w_max]`` is never in the mirror basin around ``-target``.

    The start of ``sgd-sinusoid[init=band]`` and of each of its ``restarts``: ``w_max`` is the
    band the training samples resolve, known to the learner without the target. For random
    samples (``w_max = pi n / 2 R``) and a few cycles or more this is about ``4 / n``."""
    if not w_max > 0:
        raise ValueError(f"w_max must be positive, not {w_max!r}")
    lo, hi = basin(target, cycles * math.pi / target)
    return InitDistribution("uniform", 0.0, float(w_max), "U[0, w_max]").mass(max(lo, 0.0), hi)


def multistart_probability(p: float, starts: int) -> float:
    """``1 - (1 - p)^K``: the chance that at least one of ``K = starts`` independent starts,
    each in the basin with probability ``p``, lies in it; computed as ``-expm1(K log1p(-p))``
    so that a small ``p`` keeps its digits."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability, not {p!r}")
    if starts < 1:
        raise ValueError(f"starts must be 1 or more, not {starts!r}")
    if p == 1.0:
        return 1.0
    return float(-math.expm1(starts * math.log1p(-p)))


# -- the step size of plain gradient descent ----------------------------------------------------


def sinusoid_hessian(domain: tuple[float, float], amplitude: float = 1.0) -> FloatArray:
    """The expected Hessian of the batch MSE of ``a sin(w x + phi) + c`` at a zero-residual
    fit, averaged over many cycles, for ``x ~ U[lo, hi]``; order ``(w, a, phi, c)``.

    At zero residual the Hessian is ``2 E[J J^T]``, ``J = (a x cos, sin, a cos, 1)`` the
    gradient of the prediction. Over many cycles ``sin^2`` and ``cos^2`` average to 1/2 and
    ``sin``, ``cos``, ``sin cos`` (also times ``x``) to 0, leaving
    ``[[a^2 E[x^2], 0, a^2 E[x], 0], [0, 1, 0, 0], [a^2 E[x], 0, a^2, 0], [0, 0, 0, 2]]``.
    """
    lo, hi = float(domain[0]), float(domain[1])
    ex = (lo + hi) / 2
    ex2 = (lo * lo + lo * hi + hi * hi) / 3
    a2 = float(amplitude) ** 2
    return np.array(
        [
            [a2 * ex2, 0.0, a2 * ex, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [a2 * ex, 0.0, a2, 0.0],
            [0.0, 0.0, 0.0, 2.0],
        ]
    )


def sinusoid_stable_step(domain: tuple[float, float]) -> float:
    """``1 / lambda_max`` of :func:`sinusoid_hessian` at ``a = 1``: half the largest step at
    which plain gradient descent is stable at the optimum (``2 / lambda_max``).

    On ``[-R, R]`` this is ``1 / max(R^2 / 3, 2)``: the frequency's curvature ``R^2 / 3`` (as
    for ``sin(w x)`` alone) once the domain is wider than ``sqrt(6)``, else the offset's 2."""
    return float(1.0 / np.linalg.eigvalsh(sinusoid_hessian(domain))[-1])
