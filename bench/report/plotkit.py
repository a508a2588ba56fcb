"""What every figure shares: the matplotlib backend, saving, one style per method, and the rule
that splits many methods into panels a reader can tell apart.

Readability rules, applied by every figure of a report:
- at most :data:`MAX_LINES` lines per panel (reference lines such as a loss target count);
  more methods are split into panels by kind (gradient-trained, or spectral and hybrid: records
  that time an ``estimate`` phase), then by method family;
- one style per method across all figures: a tab10 colour, a marker and a dash pattern, so
  that two methods differ in at least two ways even beyond ten methods;
- legends outside the data area, and lines that coincide stay visible (markers at staggered
  positions, dash patterns, a little transparency).

matplotlib is imported inside :func:`pyplot` so that ``bench list`` and ``bench run`` never pay
for it. Figures are small (100 dpi) because published results are committed to the repository.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.core.naming import natural_key

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure as MplFigure

DPI = 100
#: Lines one panel may hold, reference lines included.
MAX_LINES = 6
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")  # 9: coprime with the 10 colours
DASHES = ("-", "--", "-.", ":")
KIND_TITLES = {"gradient": "gradient-trained methods", "estimate": "spectral and hybrid methods"}


@dataclass
class Figure:
    """A drawn plot: where its files are and what it shows."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path | None = None


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only Agg backend (no display needed, headless-safe)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def slug(text: str) -> str:
    """A file-name-safe version of a task id: ``tone[cycles=10]`` -> ``tone_cycles_10``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_") or "x"


def save(fig: MplFigure, out: Path, name: str, svg: bool = True) -> tuple[Path, Path | None]:
    """Write ``name.png`` (and ``name.svg`` when ``svg``; the PNGs are what the HTML page
    embeds) and close the figure."""
    plt = pyplot()
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{name}.png"
    fig.savefig(png, dpi=DPI, bbox_inches="tight")
    svg_path = out / f"{name}.svg" if svg else None
    if svg_path is not None:
        fig.savefig(svg_path, bbox_inches="tight")
    plt.close(fig)
    return png, svg_path


@dataclass(frozen=True)
class Style:
    """How one method is drawn in every figure; ``rank`` staggers its markers."""

    colour: Any
    marker: str
    dash: str
    rank: int
    kind: str
    family: str

    def line(self, dense: bool = False, layer: int = 0) -> dict[str, Any]:
        """Keyword arguments for ``plot``/``step``/``errorbar``, so that lines which coincide
        stay visible. A ``dense`` line (many points) gets markers at evenly spaced screen
        positions, shifted per method (otherwise every point is marked). ``layer`` is the
        line's place in its panel: later lines get smaller markers, every other one open, so
        markers drawn at the same point nest instead of covering each other."""
        kw: dict[str, Any] = {
            "color": self.colour,
            "marker": self.marker,
            "ls": self.dash,
            "ms": 6.5 - 0.6 * (layer % MAX_LINES),
            "lw": 1.4,
            "alpha": 0.9,
        }
        if dense:
            kw["markevery"] = (0.02 + 0.013 * (self.rank % 7), 0.1)
        if layer % 2:
            kw.update(mfc="none", mew=1.2)
        return kw


def method_styles(records: Sequence[dict[str, Any]]) -> dict[str, Style]:
    """One fixed style per method across every figure of a report, in :func:`order` order."""
    plt = pyplot()
    tab10 = plt.get_cmap("tab10")
    kinds: dict[str, str] = {}
    families: dict[str, str] = {}
    for r in records:
        m = r["method"]
        families.setdefault(m, str(r.get("method_family") or m.split("[")[0]))
        if "estimate" in (r.get("time") or {}):
            kinds[m] = "estimate"
        kinds.setdefault(m, "gradient")
    names = sorted(families, key=lambda m: _order_key(m, kinds[m], families[m]))
    return {
        m: Style(
            tab10(i % 10), MARKERS[i % len(MARKERS)], DASHES[i % len(DASHES)], i, kinds[m], fam
        )
        for i, m in enumerate(names)
        for fam in [families[m]]
    }


def _order_key(method: str, kind: str, family: str) -> tuple[Any, ...]:
    return (kind != "gradient", natural_key(family), natural_key(method))


def order(methods: Sequence[str], styles: dict[str, Style]) -> list[str]:
    """Methods by kind, then family, then name: the order of legends and panels."""
    return sorted(set(methods), key=lambda m: styles[m].rank)


def panels(
    methods: Sequence[str], styles: dict[str, Style], room: int = MAX_LINES
) -> list[tuple[str, list[str]]]:
    """Split ``methods`` into panels of at most ``room`` lines: ``(title, methods)`` each.

    One panel (untitled) when they fit. Otherwise by kind, and within a kind into panels of
    about equal size that keep a method family together where it fits.
    """
    names = order(methods, styles)
    room = max(room, 1)
    if len(names) <= room:
        return [("", names)]
    out: list[tuple[str, list[str]]] = []
    for kind in dict.fromkeys(styles[m].kind for m in names):
        members = [m for m in names if styles[m].kind == kind]
        chunks = _pack([_family(members, styles, f) for f in _families(members, styles)], room)
        title = KIND_TITLES.get(kind, kind)
        for i, chunk in enumerate(chunks):
            out.append((f"{title} ({i + 1}/{len(chunks)})" if len(chunks) > 1 else title, chunk))
    return out


def _families(members: Sequence[str], styles: dict[str, Style]) -> list[str]:
    return list(dict.fromkeys(styles[m].family for m in members))


def _family(members: Sequence[str], styles: dict[str, Style], fam: str) -> list[str]:
    return [m for m in members if styles[m].family == fam]


def _pack(families: Sequence[list[str]], room: int) -> list[list[str]]:
    """Consecutive families into chunks of about equal size, none over ``room``."""
    total = sum(len(f) for f in families)
    target = math.ceil(total / math.ceil(total / room))
    chunks: list[list[str]] = []
    cur: list[str] = []
    for fam in families:
        if cur and len(cur) + len(fam) > target:
            chunks.append(cur)
            cur = []
        while len(fam) > room:  # a family too large for one panel is split
            chunks.append(fam[:room])
            fam = fam[room:]
        cur += fam
    if cur:
        chunks.append(cur)
    return chunks


def legend_outside(ax: Axes, title: str = "") -> None:
    """The legend to the right of the axes, never over the data."""
    ax.legend(
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        frameon=False,
        title=title or None,
        title_fontsize=7,
    )


def finish_panel(ax: Axes, ylabel: str, title: str = "", minor_grid: bool = False) -> None:
    """What every panel ends with: its y label, a light grid, its group title and the legend."""
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both" if minor_grid else "major", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    legend_outside(ax)
