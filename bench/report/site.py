"""A static site over a folder of published results: one index page, one page per results folder.

Layout of the site written by :func:`write_site`::

    index.html                  every results folder: what it answers, records, commit, machine
    <folder>/index.html         provenance in one line (detail folded), the success matrix as a
                                colour-coded grid, then the other report tables
    <folder>/plots/*.png        the folder's figures, copied (pages reference them by path)

The pages are built from the report the other formats print (``build_report``): nothing is
recomputed here, the tables are laid out as HTML. They need no network: styles and the small
sorting script are inline, images are files beside the page, so the site opens from ``file://``.

Which kind a method is (original learner, network, estimator, forecaster, hybrid) is the
plugins' business, which a report may not load; the caller that does passes ``kind_of``, built
with :func:`method_kind` (``bench.app``: ``method_kind(family, registry.METHODS.get(family).cls)``).
Without it only the families named in :data:`ORIGINAL` and :data:`HYBRID` are told apart.
"""

from __future__ import annotations

import html
import re
import shutil
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.naming import natural_key
from bench.engine.store import ARCHIVE, RECORDS
from bench.report.document import Lookups, Report, build_report
from bench.report.records import pct, read
from bench.report.summaries import Summary
from bench.report.tables import Table, bar_text, verdict_cell

#: Method kinds, in the order the success grid shows them.
KINDS = ("original learners", "networks", "estimators", "forecasters", "hybrid", "other")
#: The method families of the original experiment, and the hybrid.
ORIGINAL = frozenset({"sgd-sin", "sgd-sinusoid"})
HYBRID = frozenset({"periodic-hybrid"})
#: A method family -> its kind (one of :data:`KINDS`).
KindOf = Callable[[str], str]

#: Which section a figure illustrates, by the start of its file name (first match wins);
#: ``matrix`` is the success grid. Figures of a section the page lacks go to the end.
FIGURE_SECTIONS = (
    ("success_vs_cycles", "matrix"),
    ("freq_rmse_vs_snr", "crlb"),
    ("convergence", "convergence"),
    ("performance_profile", "aggregate"),
    ("ecdf", "ecdf"),
    ("failure_map", "failure_map"),
    ("landscape", "failure_map"),
)
#: Success rates are coloured from the first colour (0%) through the second (50%) to the third.
RATE_COLOURS = ((214, 96, 77), (247, 247, 247), (67, 147, 195))


# -- method kinds -------------------------------------------------------------------------------


def method_kind(family: str, cls: type | None = None) -> str:
    """The kind of a method family, from its registered class: the kind it declares
    (``Method.kind``); else the original learners and the hybrid by name; networks are tunable
    networks (``NetMethod`` and the other ``Tunable`` plugins); forecasters subclass
    ``ForecastMethod``; estimators fit sinusoids (``SinusoidMethod``) or say ``Estimator:`` in
    their description; the rest is ``other``. Classes are told apart by their bases' names, so
    that no plugin module is imported here."""
    if family in ORIGINAL:
        return "original learners"
    if family in HYBRID:
        return "hybrid"
    if cls is None:
        return "other"
    declared = getattr(cls, "kind", None)
    if declared in KINDS:
        return str(declared)
    bases = {c.__name__ for c in cls.__mro__}
    if bases & {"NetMethod", "Tunable"}:
        return "networks"
    if "ForecastMethod" in bases:
        return "forecasters"
    if "SinusoidMethod" in bases or str(getattr(cls, "description", "")).startswith("Estimator"):
        return "estimators"
    return "other"


def _family(records: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Method id -> its family, as the records name it."""
    return {
        str(r["method"]): str(r.get("method_family") or str(r["method"]).split("[", 1)[0])
        for r in records
    }


# -- what each folder is about ------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row (``\\|`` inside a cell is not a border)."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


def readme_abouts(readme: Path) -> dict[str, str]:
    """Folder name -> what it answers, from the folder table of ``results/README.md``: rows
    whose first cell links the folder (``[`name/`](name/README.md)``), read in the column
    headed "what it answers" (else the last column). Empty when there is no such file."""
    if not readme.is_file():
        return {}
    found: dict[str, str] = {}
    column: int | None = None
    for line in readme.read_text(encoding="utf-8").splitlines():
        if not line.lstrip().startswith("|"):
            column = None  # a table ended
            continue
        cells = _cells(line)
        if column is None:  # the header row
            heads = [c.lower() for c in cells]
            column = heads.index("what it answers") if "what it answers" in heads else -1
            continue
        name = re.fullmatch(r"\[`?([^`\]]+?)/?`?\]\([^)]*\)", cells[0])
        if name and len(cells) > 1:
            found[name[1]] = cells[column]
    return found


def first_paragraph(readme: Path) -> str:
    """The first paragraph of a README that is not a heading (of a list, its first item)."""
    if not readme.is_file():
        return ""
    for block in re.split(r"\n\s*\n", readme.read_text(encoding="utf-8")):
        lines = [line.strip() for line in block.strip().splitlines()]
        if not lines or lines[0].startswith("#"):
            continue
        if lines[0].startswith(("- ", "* ")):
            return lines[0][2:]
        return " ".join(lines)
    return ""


def inline_markdown(text: str) -> str:
    """Markdown text as escaped HTML: `code` kept as code, links reduced to their words (their
    targets are files of the results folder, not pages of the site)."""
    out = html.escape(text, quote=False)
    out = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", out)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", out)


# -- provenance in one line ---------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """Where and when a folder's records were made, read off their environment blocks."""

    records: int
    commits: tuple[str, ...]
    machines: tuple[str, ...]
    first: str
    last: str

    @classmethod
    def of(cls, records: Sequence[dict[str, Any]]) -> Facts:
        envs = [r.get("env") or {} for r in records]
        stamps = sorted(
            str(env.get("timestamp") or r.get("finished") or "")[:10]
            for r, env in zip(records, envs, strict=True)
        )
        stamps = [s for s in stamps if s]
        return cls(
            len(records),
            _by_count(short_commit(env.get("git_commit")) for env in envs),
            _by_count(machine_label(env) for env in envs),
            stamps[0] if stamps else "",
            stamps[-1] if stamps else "",
        )

    def commit_text(self) -> str:
        if len(self.commits) == 1:
            return f"commit {self.commits[0]}"
        return f"{len(self.commits)} different commits"

    def machine_text(self) -> str:
        if len(self.machines) == 1:
            return self.machines[0]
        return f"{len(self.machines)} different machines"

    def dates(self) -> str:
        if not self.first:
            return "date not recorded"
        return self.first if self.first == self.last else f"{self.first} to {self.last}"

    def line(self) -> str:
        """``2,520 records · commit b432db3 · Intel Xeon × 2 (CPU) · 2026-12-06``."""
        count = f"{self.records:,} record{'s' * (self.records != 1)}"
        parts = [count, self.commit_text(), self.machine_text(), self.dates()]
        return " · ".join(parts)


def _by_count(values: Iterable[str]) -> tuple[str, ...]:
    """The distinct values, most frequent first."""
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return tuple(sorted(counts, key=lambda v: (-counts[v], v)))


def short_commit(commit: Any) -> str:
    """A commit hash cut to 7 characters, keeping a ``-dirty`` mark."""
    text = str(commit or "unknown")
    dirty = text.endswith("-dirty")
    text = text.removesuffix("-dirty")
    return (text[:7] if re.fullmatch(r"[0-9a-f]{8,}", text) else text) + ("-dirty" * dirty)


def machine_label(env: Mapping[str, Any]) -> str:
    """A machine in a few words: the CPU and its cores, or the accelerator."""
    cores = env.get("cpu_count", "?")
    if env.get("device", "cpu") == "cpu":
        return f"{env.get('cpu', env.get('device_name', '?'))} × {cores} (CPU)"
    return f"{env.get('device_name', '?')} ({env.get('device')}), {cores} CPU cores"


# -- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteFigure:
    """A figure of a folder, copied into the site: its file name under ``plots/`` and what it
    shows (title and caption from the folder's ``report.md`` where it lists the figure)."""

    name: str
    title: str
    caption: str
    size: tuple[int, int] | None

    @property
    def section(self) -> str:
        return next((key for start, key in FIGURE_SECTIONS if self.name.startswith(start)), "")


def figure_captions(report_md: Path) -> dict[str, tuple[str, str]]:
    """File name -> (title, caption) for every figure ``report.md`` shows (``### title``, the
    caption paragraph, then ``![title](plots/name.png)``)."""
    if not report_md.is_file():
        return {}
    found: dict[str, tuple[str, str]] = {}
    title, caption = "", []
    for line in report_md.read_text(encoding="utf-8").splitlines():
        image = re.fullmatch(r"!\[[^\]]*\]\(plots/([^)]+)\)", line.strip())
        if line.startswith("#"):
            title, caption = line.lstrip("#").strip(), []
        elif image:
            found[image[1]] = (title, " ".join(caption))
        elif line.strip():
            caption.append(line.strip())
    return found


def png_size(path: Path) -> tuple[int, int] | None:
    """Width and height of a PNG, read from its header; ``None`` for anything else."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    return struct.unpack(">II", head[16:24])


def copy_figures(folder: Path, page_dir: Path) -> list[SiteFigure]:
    """Copy the folder's figures (PNG, or SVG where a figure has no PNG) into
    ``page_dir/plots``; in the order ``report.md`` shows them, the rest by name."""
    plots = folder / "plots"
    if not plots.is_dir():
        return []
    by_stem: dict[str, Path] = {}
    for p in sorted(plots.iterdir()):
        if p.suffix == ".png" or (p.suffix == ".svg" and p.stem not in by_stem):
            by_stem[p.stem] = p
    captions = figure_captions(folder / "report.md")
    order = {name: i for i, name in enumerate(captions)}
    files = sorted(
        by_stem.values(), key=lambda p: (order.get(p.name, len(order)), natural_key(p.name))
    )
    (page_dir / "plots").mkdir(parents=True, exist_ok=True)
    figures = []
    for p in files:
        shutil.copyfile(p, page_dir / "plots" / p.name)
        title, caption = captions.get(p.name, (p.stem.replace("_", " "), ""))
        figures.append(
            SiteFigure(p.name, title, caption, png_size(p) if p.suffix == ".png" else None)
        )
    return figures


def figure_html(f: SiteFigure) -> str:
    e = html.escape
    size = f' width="{f.size[0]}" height="{f.size[1]}"' if f.size else ""
    caption = f"<b>{e(f.title)}.</b> {e(f.caption)}" if f.caption else f"<b>{e(f.title)}</b>"
    return (
        f'<figure id="fig-{e(Path(f.name).stem)}"><a href="plots/{e(f.name)}">'
        f'<img src="plots/{e(f.name)}" alt="{e(f.title)}"{size}></a>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def with_figures(content: str, figures: Sequence[SiteFigure]) -> str:
    """A table with the figures that illustrate it beside it (below it on a narrow screen)."""
    if not figures:
        return content
    figs = "\n".join(figure_html(f) for f in figures)
    return f'<div class="beside">{content}\n<div class="figures">\n{figs}\n</div></div>'


# -- tables -------------------------------------------------------------------------------------


def cell_html(text: str) -> str:
    """A table cell's text as HTML: escaped, with its Markdown ``**bold**`` kept bold."""
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", html.escape(text))


def table_html(t: Table) -> str:
    """A report table, sortable by any column, its header row and first column kept in view."""
    e = html.escape
    head = "".join(f'<th data-col="{i}">{e(c)}</th>' for i, c in enumerate(t.columns))
    wrap = [' class="wrap"' if c == "note" else "" for c in t.columns]
    body = "\n".join(
        "<tr>"
        + "".join(f"<td{w}>{cell_html(c)}</td>" for w, c in zip(wrap, row, strict=True))
        + "</tr>"
        for row in t.rows
    )
    return (
        f'<div class="scroll"><table class="data sortable">\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody>\n</table></div>"
    )


def about_html(text: str, what: str = "table") -> str:
    """A table's note on how to read it, folded."""
    return (
        f'<details class="about"><summary>How to read this {what}</summary>'
        f"<p>{inline_markdown(text)}</p></details>"
    )


def rate_colour(rate: float) -> str:
    """The grid's colour for a success rate in [0, 1]: red through near-white to blue."""
    low, mid, high = RATE_COLOURS
    a, b, x = (low, mid, rate * 2) if rate < 0.5 else (mid, high, rate * 2 - 1)
    return "#" + "".join(f"{round(u + (v - u) * x):02x}" for u, v in zip(a, b, strict=True))


def grid_cell(s: Summary | None) -> str:
    """One (task, method) cell: the success count (with its marks) in a cell coloured by the
    rate; the rate, its 95% interval and the median headline in its ``title``."""
    e = html.escape
    if s is None:
        return '<td class="none" data-sort=""></td>'
    where = f"{s.method} on {s.task}"
    if s["representable"] is False:
        return (
            f'<td class="na" data-sort="" title="{e(where)}: impossible by representation">n/a</td>'
        )
    if not s["judged"]:
        word, why = (
            ("skip", s["skip_reason"] or "skipped") if s["n_skipped"] else ("-", "not judged")
        )
        return f'<td class="na" data-sort="" title="{e(where)}: {e(why)}">{word}</td>'
    rate, lo, hi = s["success_rate"], s["ci_low"], s["ci_high"]
    full = verdict_cell(s)
    title = (
        f"{where}: {s['successes']} of {s['judged']} judged seeds met the criterion; "
        f"success rate {pct(rate)}, 95% interval [{pct(lo)}, {pct(hi)}]; cell: {full}"
    )
    count = full.split(" ", 1)[0]
    return (
        f'<td style="background:{rate_colour(rate)}" data-sort="{rate:.6f}" '
        f'data-rate="{rate:.6f}" data-low="{lo if lo is not None else ""}" '
        f'data-high="{hi if hi is not None else ""}" title="{e(title)}">{e(count)}</td>'
    )


def grid_html(summaries: Sequence[Summary], kind_of: KindOf, families: Mapping[str, str]) -> str:
    """The success matrix as a grid: tasks down, methods across grouped by kind."""
    e = html.escape
    kinds = {m: _known_kind(kind_of(families.get(m, m))) for m in {s.method for s in summaries}}
    methods = sorted(kinds, key=lambda m: (KINDS.index(kinds[m]), natural_key(m)))
    tasks = sorted({s.task for s in summaries}, key=natural_key)
    cell = {(s.task, s.method): s for s in summaries}
    groups = []
    for kind in KINDS:
        n = sum(1 for m in methods if kinds[m] == kind)
        if n:
            groups.append(f'<th colspan="{n}" class="kind">{e(kind)}</th>')
    heads = "".join(
        f'<th data-col="{i}" class="method" title="{e(m)} ({e(kinds[m])})"><span>{e(m)}</span></th>'
        for i, m in enumerate(methods, start=1)
    )
    rows = []
    for t in tasks:
        bar = bar_text([s for s in summaries if s.task == t])
        name = f"{e(t)}<small>{e(bar)}</small>" if bar != "-" else e(t)
        cells = "".join(grid_cell(cell.get((t, m))) for m in methods)
        rows.append(f'<tr><th scope="row" data-sort="{e(t)}">{name}</th>{cells}</tr>')
    body = "\n".join(rows)
    corner = '<th rowspan="2" data-col="0" class="corner">task</th>'
    return (
        '<div class="scroll"><table class="grid sortable">\n<thead>'
        f'<tr class="kinds">{corner}{"".join(groups)}</tr>'
        f'<tr class="methods">{heads}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table></div>'
    )


def _known_kind(kind: str) -> str:
    return kind if kind in KINDS else "other"


def legend_html() -> str:
    stops = ", ".join(rate_colour(x / 4) for x in range(5))
    return (
        '<p class="legend"><span class="ramp" style="background:linear-gradient(to right, '
        f'{stops})"></span> success rate 0% to 100%; '
        '<span class="swatch na">skip</span> the method cannot attempt the task, '
        '<span class="swatch na">n/a</span> impossible by representation. '
        "Hover over a cell for its rate and 95% interval; click a header to sort.</p>"
    )


# -- pages --------------------------------------------------------------------------------------

_CSS = """
:root{--line:#d8d8d8;--head:#f1f1f1;--muted:#555}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em auto;
max-width:1600px;padding:0 1.2em;color:#222;line-height:1.45}
h1{margin:.2em 0}h2{border-bottom:1px solid var(--line);padding-bottom:.2em;margin-top:1.8em}
a{color:#1f5f99}code{background:#f3f3f3;padding:0 .2em;font-size:.92em}
.answers{font-size:1.1em;max-width:75em}.provenance{color:var(--muted);margin:.3em 0 .6em}
.facts{color:var(--muted);font-size:.9em;margin:.1em 0 0}
details{margin:.5em 0}summary{cursor:pointer;color:#333}
details.about p,details.detail li{color:var(--muted);font-size:.9em;max-width:75em}
nav.toc{font-size:.9em;margin:1em 0}nav.toc a{margin-right:.9em;white-space:nowrap}
ul.folders{list-style:none;padding:0}ul.folders li{margin:0 0 1.1em}
ul.folders a.name{font-weight:600;font-size:1.05em}
.scroll{overflow:auto;max-height:80vh;border:1px solid var(--line);margin:.5em 0}
table{border-collapse:separate;border-spacing:0;font-size:.82em}
th,td{border-right:1px solid var(--line);border-bottom:1px solid var(--line);
padding:.25em .5em;text-align:left;vertical-align:top;white-space:nowrap}
td.wrap{white-space:normal;min-width:20em}
thead th{position:sticky;top:0;background:var(--head);z-index:2;cursor:pointer}
table.data td:first-child,table.data th:first-child,table.grid tbody th,table.grid th.corner{
position:sticky;left:0;background:#fff;z-index:1}
table.data thead th:first-child,table.grid th.corner{background:var(--head);z-index:3}
table.data tbody tr:nth-child(even) td{background:#fafafa}
table.grid thead tr.kinds th{height:2em;box-sizing:border-box;cursor:default}
table.grid thead tr.methods th{top:2em}
table.grid th.method{vertical-align:bottom;padding:.4em .2em}
table.grid th.method span{writing-mode:vertical-rl;transform:rotate(180deg);display:inline-block;
max-height:15em;overflow:hidden;text-overflow:ellipsis}
table.grid td{text-align:center;vertical-align:middle;min-width:2.6em;padding:.25em .3em}
table.grid tbody th small{display:block;color:var(--muted);font-weight:normal}
table.grid td.na,.swatch.na{background:#e4e4e4;color:#666}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
.legend{font-size:.88em;color:var(--muted)}
.ramp{display:inline-block;width:8em;height:.9em;vertical-align:middle;border:1px solid #bbb}
.swatch{padding:0 .3em;border:1px solid #bbb}
.beside{display:flex;gap:1.2em;align-items:flex-start}
.beside>.scroll{flex:1 1 64%;min-width:0}
.beside>.figures{flex:0 1 36%;max-width:640px;max-height:80vh;overflow:hidden auto;margin:.5em 0}
figure{margin:0 0 1.2em}figure img{display:block;max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:var(--muted);font-size:.85em}
@media (max-width:1000px){.beside{display:block}.beside>.figures{max-height:none}}
""".strip()

#: Sorts a table by the clicked header's column (``data-col``): by a cell's ``data-sort`` where
#: it has one, else by its text; numbers (and ``2/3`` shares) as numbers, words after them.
_SCRIPT = """
(function () {
  function key(cell) {
    var v = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
    v = v.trim();
    var share = /^(\\d+)\\/(\\d+)/.exec(v);
    if (share) return Number(share[2]) ? share[1] / share[2] : -1;
    var n = parseFloat(v.replace(/,/g, ""));
    return isNaN(n) ? v : n;
  }
  function compare(a, b) {
    var na = typeof a === "number", nb = typeof b === "number";
    if (na && nb) return a - b;
    if (na !== nb) return na ? -1 : 1;
    return a.localeCompare(b, undefined, {numeric: true});
  }
  function sortBy(table, th) {
    var col = Number(th.getAttribute("data-col"));
    var up = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th[aria-sort]").forEach(function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      return compare(key(a.cells[col]), key(b.cells[col])) * (up ? 1 : -1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th[data-col]").forEach(function (th) {
      th.addEventListener("click", function () { sortBy(table, th); });
    });
  });
})();
""".strip()


def page(title: str, body: Sequence[str]) -> str:
    """A whole HTML5 page: styles and script inline, nothing fetched."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_CSS}</style></head>",
            "<body>",
            *body,
            f"<script>{_SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )


@dataclass
class Section:
    """One part of a folder's page: a heading, what comes under it, and the element (the last
    part) that its figures sit beside."""

    key: str
    title: str
    parts: list[str]

    def html(self, figures: Sequence[SiteFigure] = ()) -> str:
        *head, main = self.parts or [""]
        return "\n".join(
            [
                f'<section id="{html.escape(self.key)}">',
                f"<h2>{html.escape(self.title)}</h2>",
                *head,
                with_figures(main, figures),
                "</section>",
            ]
        )


def provenance_html(rep: Report, facts: Facts) -> list[str]:
    """The one line at the top, and its detail folded: the report's own provenance lines, the
    commits and machines in full, and the environments (versions)."""
    line = facts.line()
    if len(facts.commits) > 1:
        line += f". The records come from {len(facts.commits)} commits: {', '.join(facts.commits)}"
    if len(facts.machines) > 1:
        line += f". They ran on {len(facts.machines)} machines: {'; '.join(facts.machines)}"
    env = next((items for title, items in rep.notes if title == "Environment"), [])
    detail = [f"<li>{inline_markdown(x)}</li>" for x in rep.intro]
    detail += [f"<li>Environment {inline_markdown(x)}</li>" for x in env]
    return [
        f'<p class="provenance">{html.escape(line)}</p>',
        '<details class="detail"><summary>How these records were made: commands, commits, '
        "machines, versions</summary>",
        "<ul>",
        *detail,
        "</ul></details>",
    ]


def table_section(t: Table) -> Section:
    content = table_html(t)
    if t.key == "success":  # the grid says it at a glance; the long table is the detail
        content = (
            f"<details><summary>One row per (task, method): {len(t.rows)} rows</summary>"
            f"{content}</details>"
        )
    return Section(t.key, t.title, [about_html(t.about), content])


def report_sections(rep: Report, kind_of: KindOf) -> list[Section]:
    """The page's sections in order: the success grid (after the tuning choice, for a folder
    of tuning trials, which the report leads with), then every other table of the report, then
    its notes (the environment note is in the provenance detail)."""
    lead = rep.headline if rep.headline is not None and rep.headline.key != "headline" else None
    sections = [table_section(lead)] if lead is not None else []
    if rep.summaries:
        parts = [legend_html()]
        if rep.headline is not None and rep.headline.key == "headline":
            parts.append(about_html(rep.headline.about, "grid"))
        parts.append(grid_html(rep.summaries, kind_of, _family(rep.records)))
        sections.append(Section("matrix", "Success by method and task", parts))
    sections += [table_section(t) for t in rep.tables if t is not lead]
    notes = [(title, items) for title, items in rep.notes if title != "Environment"]
    for i, (title, items) in enumerate(notes):
        listing = "<ul>" + "".join(f"<li>{inline_markdown(x)}</li>" for x in items) + "</ul>"
        sections.append(Section(f"note-{i}", title, [listing]))
    return sections


def folder_page(
    name: str, about: str, rep: Report, figures: Sequence[SiteFigure], kind_of: KindOf
) -> str:
    """A folder's page: what it answers, provenance, a table of contents, then the sections,
    each with the figures that illustrate it beside it, and the figures no section took."""
    e = html.escape
    sections = report_sections(rep, kind_of)
    keys = {s.key for s in sections}
    left = [f for f in figures if f.section not in keys]
    if left:
        sections.append(Section("figures", "Figures", ["\n".join(figure_html(f) for f in left)]))
    toc = " ".join(f'<a href="#{e(s.key)}">{e(s.title)}</a>' for s in sections)
    body = [
        '<nav><a href="../index.html">All results</a></nav>',
        f"<h1>{e(name)}</h1>",
        f'<p class="answers">{inline_markdown(about)}</p>' if about else "",
        *provenance_html(rep, Facts.of(rep.records)),
        f'<nav class="toc">{toc}</nav>',
        *[s.html([f for f in figures if f.section == s.key]) for s in sections],
    ]
    return page(f"{name}: periodic-bench results", [b for b in body if b])


def index_page(
    entries: Sequence[tuple[str, str, Facts]], status: Mapping[str, str] | None = None
) -> str:
    """The site's front page: each folder, what it answers, its facts in one line, and what
    the publication plan says of its state (``status``: an earlier commit's, and why)."""
    e = html.escape
    status = status or {}
    items = [
        f'<li><a class="name" href="{e(name)}/index.html">{e(name)}</a>'
        + (f'<p class="answers">{inline_markdown(about)}</p>' if about else "")
        + f'<p class="facts">{e(facts.line())}</p>'
        + (f'<p class="facts">{inline_markdown(status[name])}</p>' if name in status else "")
        + "</li>"
        for name, about, facts in entries
    ]
    body = [
        "<h1>periodic-bench results</h1>",
        f"<p>{len(entries)} published results folders. Each page leads with where and when its "
        "records were made, then the success of every method on every task as a colour-coded "
        "grid, then the report's other tables beside their figures. Everything here is "
        "generated from the records; nothing was rerun.</p>",
        '<ul class="folders">',
        *items,
        "</ul>",
    ]
    return page("periodic-bench results", body)


# -- the site -----------------------------------------------------------------------------------


def record_folders(results: Path) -> list[Path]:
    """The subfolders of ``results`` that hold records, in natural order."""
    return sorted(
        (
            p
            for p in results.iterdir()
            if p.is_dir() and ((p / RECORDS).is_file() or (p / ARCHIVE).is_file())
        ),
        key=lambda p: natural_key(p.name),
    )


def write_site(
    results: Path,
    out: Path,
    about: Mapping[str, str] | None = None,
    *,
    kind_of: KindOf | None = None,
    lookups: Lookups | None = None,
    status: Mapping[str, str] | None = None,
) -> Path:
    """Write a static site over the results folders under ``results`` into ``out``: an index,
    one page per folder that holds records, and their figures; returns the index's path.

    What a folder answers is ``about[name]``, else its row in ``results/README.md``'s folder
    table, else the first paragraph of its own README. ``kind_of`` (a method family -> one of
    :data:`KINDS`, see :func:`method_kind`) groups the grid's methods and ``lookups`` supply
    what the records alone cannot (as for :func:`~bench.report.document.build_report`); both
    need the plugins, so the caller that loads them passes them. ``status[name]``, where given,
    is shown under a folder's facts (the publication plan's word on it)."""
    results, out = Path(results), Path(out)
    kind_of = kind_of or method_kind
    told = {**readme_abouts(results / "README.md"), **(about or {})}
    entries = []
    for folder in record_folders(results):
        loaded = read([folder])
        rep = build_report(loaded.records, [folder], loaded.problems, lookups)
        page_dir = out / folder.name
        figures = copy_figures(folder, page_dir)
        text = told.get(folder.name) or first_paragraph(folder / "README.md")
        page_dir.mkdir(parents=True, exist_ok=True)
        html_text = folder_page(folder.name, text, rep, figures, kind_of)
        (page_dir / "index.html").write_text(html_text, encoding="utf-8")
        entries.append((folder.name, text, Facts.of(loaded.records)))
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(index_page(entries, status), encoding="utf-8")
    return index
