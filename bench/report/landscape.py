"""The figures the original argument rests on: the loss of ``sin(w x)`` against ``sin(t x)`` and
its gradient in ``w``, for ``x ~ U[-R, R]``.

Closed form. With ``S(u) = sin(u) / u`` (``S(0) = 1``) and ``E[cos(a x)] = S(a R)``,

    L(w)  = E[(sin(w x) - sin(t x))^2]
          = 1 - S(2 w R) / 2 - S(2 t R) / 2 - S((w - t) R) + S((w + t) R)
          ~ 1 - S((w - t) R)                      for w, t away from 0 and R large,

    dL/dw = R [ -S'(2 w R) - S'((w - t) R) + S'((w + t) R) ],   S'(u) = (u cos u - sin u) / u^2.

So the loss is flat at about 1 except in a basin of half-width ``pi / R`` around ``t`` (the first
zero of ``S``), and the curvature at the minimum is ``L'' ~ R^2 / 3``: plain gradient descent is
stable only for steps below ``2 / L'' = 6 / R^2``. Away from the basin the expected gradient is
about ``cos((w - t) R) / (w - t)``: it flips sign every ``2 pi / R`` in ``w`` and never points at
``t`` for long, while one batch of 32 adds noise of order ``R / sqrt(32)``.

The figures draw the loss and gradient averaged over one large batch (the same ``x`` for every
``w``, so the curve is smooth), the closed form on top, and the spread of a single SGD batch's
gradient estimate.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from bench.report.plotkit import Figure, legend_outside, pyplot, save

FORMULA = "L(w) = 1 - S(2wR)/2 - S(2tR)/2 - S((w-t)R) + S((w+t)R),  S(u) = sin(u)/u"


def key_numbers(half_width: float) -> str:
    """The three numbers the argument turns on, for a domain of half-width ``R``."""
    r = float(half_width)
    return (
        f"basin half-width pi/R = {math.pi / r:.3g}; curvature at the optimum R^2/3 = "
        f"{r * r / 3:.3g}; plain GD is stable for steps below 6/R^2 = {6 / (r * r):.3g}"
    )


def sinc(u: np.ndarray) -> np.ndarray:
    """Unnormalised sinc, ``sin(u) / u`` (numpy's ``np.sinc`` is ``sin(pi u) / (pi u)``)."""
    return np.sinc(np.asarray(u, dtype=float) / np.pi)


def dsinc(u: np.ndarray) -> np.ndarray:
    """Derivative of :func:`sinc`; its series ``-u / 3`` near 0 avoids 0/0."""
    u = np.asarray(u, dtype=float)
    small = np.abs(u) < 1e-4
    safe = np.where(small, 1.0, u)
    return np.where(small, -u / 3.0, (safe * np.cos(safe) - np.sin(safe)) / safe**2)


def expected_loss(w: np.ndarray, target: float, half_width: float) -> np.ndarray:
    """``E[(sin(w x) - sin(t x))^2]`` for ``x ~ U[-R, R]``, exactly."""
    w, t, r = np.asarray(w, dtype=float), float(target), float(half_width)
    return 1 - sinc(2 * w * r) / 2 - sinc(2 * t * r) / 2 - sinc((w - t) * r) + sinc((w + t) * r)


def expected_grad(w: np.ndarray, target: float, half_width: float) -> np.ndarray:
    """``dL/dw`` of :func:`expected_loss`, exactly."""
    w, t, r = np.asarray(w, dtype=float), float(target), float(half_width)
    return r * (-dsinc(2 * w * r) - dsinc((w - t) * r) + dsinc((w + t) * r))


def sampled(
    w: np.ndarray, target: float, half_width: float, batch: int, seed: int = 0, chunk: int = 32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loss, gradient and per-sample gradient std at each ``w``, on one batch of ``x``.

    The per-sample std divided by ``sqrt(B)`` is the noise of a batch-``B`` SGD gradient.
    """
    x = np.random.default_rng(seed).uniform(-half_width, half_width, size=batch)
    y = np.sin(target * x)
    loss, grad, std = (np.empty(len(w)) for _ in range(3))
    for i in range(0, len(w), chunk):
        wx = np.asarray(w[i : i + chunk], dtype=float)[:, None] * x[None, :]
        d = np.sin(wx) - y
        g = 2 * d * np.cos(wx) * x
        loss[i : i + chunk] = np.mean(d * d, axis=1)
        grad[i : i + chunk] = np.mean(g, axis=1)
        std[i : i + chunk] = np.std(g, axis=1)
    return loss, grad, std


def draw_landscape(
    out: Path,
    target: float = 31.0,
    half_width: float = 1000.0,
    batch: int = 100_000,
    sgd_batch: int = 32,
    seed: int = 0,
    points: int = 2001,
) -> list[Path]:
    """Write ``landscape_wide`` (w from 0 to 2t) and ``landscape_zoom`` (t +- 5 pi / R), each as
    PNG and SVG, into ``out``; returns the paths."""
    plt = pyplot()
    t, r = float(target), float(half_width)
    basin = math.pi / r
    zoom = np.linspace(t - 5 * basin, t + 5 * basin, 601)
    wide = np.unique(np.concatenate([np.linspace(0, 2 * t, points), zoom, [t]]))
    written: list[Path] = []
    for name, w, zoomed in (("landscape_zoom", zoom, True), ("landscape_wide", wide, False)):
        loss, grad, std = sampled(w, t, r, batch, seed)
        fig, (ax_l, ax_g) = plt.subplots(2, 1, figsize=(9, 6.4), sharex=True)
        ax_l.plot(w, loss, color="C0", lw=1, label=f"mean over a batch of {batch:,}")
        ax_l.plot(w, expected_loss(w, t, r), color="k", ls="--", lw=0.9, label="closed form")
        ax_l.set_ylabel("loss L(w)")
        noise = std / math.sqrt(sgd_batch)
        _gradient_panel(ax_g, w, grad, noise, (t, r), zoomed, (batch, sgd_batch))
        _finish(fig, (ax_l, ax_g), (t, r), zoomed)
        written += save(fig, Path(out), name)
    return written


def _gradient_panel(
    ax: Any, w: np.ndarray, grad: np.ndarray, noise: np.ndarray, tr: tuple[float, float],
    zoomed: bool, batches: tuple[int, int],
) -> None:  # fmt: skip
    """The sampled gradient with one SGD batch's spread, and the closed form beside it."""
    (t, r), (batch, sgd_batch) = tr, batches
    ax.fill_between(
        w,
        grad - noise,
        grad + noise,
        color="C1",
        alpha=0.25,
        lw=0,
        label=f"+-1 std of one batch-{sgd_batch} SGD gradient",
    )
    style = {"lw": 1} if zoomed else {"lw": 0, "marker": ".", "ms": 1.5, "rasterized": True}
    ax.plot(w, grad, color="C0", label=f"mean over a batch of {batch:,}", **style)
    if zoomed:
        ax.plot(w, expected_grad(w, t, r), color="k", ls="--", lw=0.9, label="closed form")
    else:
        # The expected gradient flips sign every 2 pi / R: draw it on a grid fine enough to
        # resolve that (it shows as a band), rasterised so the SVG stays small.
        n_fine = min(max(20 * int(2 * t * r / (2 * math.pi)), 1000), 400_000)
        fine = np.linspace(0, 2 * t, n_fine)
        ax.plot(
            fine,
            expected_grad(fine, t, r),
            color="k",
            lw=0.3,
            alpha=0.6,
            rasterized=True,
            label="closed form (sign flips every 2 pi/R)",
        )
    ax.set_ylabel("gradient dL/dw")
    ax.set_xlabel("w")


def _finish(fig: Any, axes: tuple[Any, Any], tr: tuple[float, float], zoomed: bool) -> None:
    """Basin marks or the log scale, grids, legends and the title."""
    (ax_l, ax_g), (t, r) = axes, tr
    basin = math.pi / r
    if zoomed:
        for ax in axes:
            for edge in (t - basin, t + basin):
                ax.axvline(edge, color="0.5", ls=":", lw=1)
        ax_l.text(t, 0.05, "  basin: t +- pi/R", fontsize=8, color="0.3")
    else:
        ax_g.set_yscale("symlog", linthresh=1e-1)
    for ax in axes:
        ax.grid(True, alpha=0.3)
        legend_outside(ax)
    span = "zoomed to t +- 5 pi/R" if zoomed else f"w from 0 to {2 * t:g}"
    fig.suptitle(
        f"Loss of sin(w x) against sin({t:g} x), x ~ U[-{r:g}, {r:g}], {span}\n"
        f"{FORMULA};  L'' at t ~ R^2/3 = {r * r / 3:.3g}, stable GD step < 6/R^2 = "
        f"{6 / (r * r):.2g}",
        fontsize=9,
    )
    fig.tight_layout()


def landscape_figures(out: Path) -> list[Figure]:
    """The landscape figures, when ``bench landscape --out <report>/plots`` drew them there
    (they come from a formula and sampling, not from records, so the report never redraws them).
    """
    caption = (
        "Loss of sin(w x) against the target and its gradient dL/dw, averaged over a large batch "
        "(blue), the closed form (black), and the spread of one SGD batch's gradient (shaded). "
        "Away from the basin the expected gradient is tiny and flips sign every 2 pi/R, far "
        "below the noise of any practical batch. Drawn by python -m bench landscape."
    )
    found = []
    for name, what in (("landscape_wide", "wide range"), ("landscape_zoom", "around the target")):
        png = out / f"{name}.png"
        if png.exists():
            svg = out / f"{name}.svg"
            found.append(
                Figure(name, f"Loss landscape, {what}", caption, png, svg if svg.exists() else None)
            )
    return found
