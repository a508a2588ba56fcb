"""Renderers: one function per format, each printing a :class:`~.document.Report`.

Markdown is README-ready, HTML one self-contained page (styles inline, images as data URIs),
LaTeX ``booktabs`` tables ready to ``\\input``.
"""

from __future__ import annotations

import base64
import html
import re

from bench.report.cost_tables import LOWER_BOUND
from bench.report.document import Report
from bench.report.tables import CEILING, MIXED, NEAR, UNTUNED, Table

#: The heading of a Markdown report's last section, its figures (kept by a rewrite without
#: plots: ``bench.report.publish``).
FIGURES_HEADING = "## Figures"


def _with_headline(rep: Report) -> list[Table]:
    """The tables in print order: the success matrix first, unless it is already one of them."""
    lead = rep.headline
    return [lead, *rep.tables] if lead is not None and lead not in rep.tables else rep.tables


def render_markdown(rep: Report, plots_rel: str = "plots") -> str:
    """A README-ready summary: intro, the success matrix, each table with how to read it,
    notes, figure links."""
    out = ["# Results", "", *[line + "  " for line in rep.intro], ""]
    for t in _with_headline(rep):
        out += [f"## {t.title}", "", t.about, "", markdown_table(t), ""]
    for title, items in rep.notes:
        out += [f"## {title}", "", *[f"- {i}" for i in items], ""]
    if rep.figures:
        out += [FIGURES_HEADING, ""]
        for f in rep.figures:
            out += [
                f"### {f.title}",
                "",
                f.caption,
                "",
                f"![{f.title}]({plots_rel}/{f.png.name})",
                "",
            ]
    return "\n".join(out)


def markdown_table(t: Table) -> str:
    def cell(c: str) -> str:
        return c.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in t.columns) + " |"]
    lines.append("|" + "|".join("---" for _ in t.columns) + "|")
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.25em .55em;text-align:left;vertical-align:top;
white-space:nowrap}td.wrap{white-space:normal;min-width:18em}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}
.about{color:#555;font-size:.9em;max-width:70em}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}code{background:#f3f3f3;padding:0 .2em}
details{margin:.6em 0}summary{cursor:pointer;color:#333}
""".strip()


def render_html(rep: Report) -> str:
    """One self-contained page: styles inline and images as base64 data URIs (opens offline).
    It leads with the task x method success matrix; the long per-pair success table is folded
    below it."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>periodic-bench results</title><style>{_CSS}</style></head><body>",
        "<h1>periodic-bench results</h1>",
        *[f"<p>{_inline_code(e(line))}</p>" for line in rep.intro],
    ]
    lead = [rep.headline] if rep.headline is not None else []
    toc = [f'<a href="#{t.key}">{e(t.title)}</a>' for t in [*lead, *rep.tables]]
    if rep.figures:
        toc.append('<a href="#figures">Figures</a>')
    parts.append("<p>" + " &middot; ".join(toc) + "</p>")
    for t in [*lead, *rep.tables]:
        parts += [f'<h2 id="{t.key}">{e(t.title)}</h2>', f'<p class="about">{e(t.about)}</p>']
        if lead and t.key == "success":
            # The matrix above says it at a glance; the long table is there for the detail.
            parts += [
                f"<details><summary>One row per (task, method): runs, status, successes, rate "
                f"and interval ({len(t.rows)} rows)</summary>",
                html_table(t),
                "</details>",
            ]
        else:
            parts.append(html_table(t))
    for title, items in rep.notes:
        parts += [f"<h2>{e(title)}</h2>", "<ul>", *[f"<li>{e(i)}</li>" for i in items], "</ul>"]
    if rep.figures:
        parts.append('<h2 id="figures">Figures</h2>')
        for f in rep.figures:
            data = base64.b64encode(f.png.read_bytes()).decode("ascii")
            parts += [
                f'<figure id="fig-{e(f.name)}"><img alt="{e(f.title)}" '
                f'src="data:image/png;base64,{data}">',
                f"<figcaption><b>{e(f.title)}.</b> {e(f.caption)}</figcaption></figure>",
            ]
    parts.append("</body></html>")
    return "\n".join(parts)


def _inline_code(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def html_table(t: Table) -> str:
    e = html.escape
    head = "<tr>" + "".join(f"<th>{e(c)}</th>" for c in t.columns) + "</tr>"
    wrap = [' class="wrap"' if c == "note" else "" for c in t.columns]
    body = "\n".join(
        "<tr>" + "".join(f"<td{w}>{e(c)}</td>" for w, c in zip(wrap, row, strict=True)) + "</tr>"
        for row in t.rows
    )
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    MIXED: r"\textsuperscript{\dag}",
    LOWER_BOUND: r"$\geq$",
    CEILING: r"\ddag{}",
    NEAR: r"$\approx$",
    UNTUNED: r"\S{}",
    "·": r"$\cdot$",
    "–": "--",
    "×": r"$\times$",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters; a leading ``[`` is braced so that it is never read as
    the optional argument of the previous row's ``\\\\``."""
    out = "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)
    return "{[}" + out[1:] if out.startswith("[") else out


_NUMERIC = re.compile(r"^[-+0-9.,e%/\[\] ]*$|^inf$")


def _latex_align(t: Table, i: int) -> str:
    """Numbers right-aligned, text left; free text (notes) wraps in a paragraph column."""
    if t.columns[i] == "note":
        return r"p{0.28\linewidth}"
    cells = [row[i] for row in t.rows]
    return "r" if cells and all(_NUMERIC.match(c) or c == "-" for c in cells) else "l"


#: Tables longer than this become ``longtable`` so that they break across pages.
LONG_TABLE_ROWS = 30


def render_latex(rep: Report) -> str:
    """Tables for a paper, ready to ``\\input``: ``booktabs`` rules, a ``table`` float each, or a
    ``longtable`` (which breaks across pages, header repeated) when a table is long."""
    out = [
        "% periodic-bench results, generated by `python -m bench report --format latex`.",
        "% Needs \\usepackage{booktabs} and \\usepackage{longtable} in the preamble.",
        *[f"% {line}" for line in rep.intro],
        "",
    ]
    for t in _with_headline(rep):
        out += latex_table(t) + [""]
    for title, items in rep.notes:
        out += [f"% {title}:", *[f"%   {i}" for i in items]]
    return "\n".join(out) + "\n"


def latex_table(t: Table) -> list[str]:
    spec = "".join(_latex_align(t, i) for i in range(len(t.columns)))
    caption = f"\\caption{{{latex_escape(t.title)}. {latex_escape(t.about)}}}"
    label = f"\\label{{tab:bench-{t.key}}}"
    head = " & ".join(latex_escape(c) for c in t.columns) + " \\\\"
    body = [" & ".join(latex_escape(c) for c in row) + " \\\\" for row in t.rows]
    if len(t.rows) > LONG_TABLE_ROWS:
        return [
            "{\\footnotesize",
            f"\\begin{{longtable}}{{{spec}}}",
            f"{caption}{label} \\\\",
            "\\toprule",
            head,
            "\\midrule",
            "\\endfirsthead",
            "\\toprule",
            head,
            "\\midrule",
            "\\endhead",
            "\\bottomrule",
            "\\endfoot",
            *body,
            "\\end{longtable}}",
        ]
    return [
        "\\begin{table}[htbp]",
        "\\centering",
        "\\footnotesize",
        caption,
        label,
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        head,
        "\\midrule",
        *body,
        "\\bottomrule",
        "\\end{tabular}",
        "\\end{table}",
    ]
