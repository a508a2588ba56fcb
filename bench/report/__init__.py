"""Reports from records: summaries, tables, renderers, plots and publishing; nothing is rerun.

Reports read records only: what needs the plugins (a method's start, its tuning grid) comes in
as :class:`Lookups` from the caller that loads them (``bench.app.report``).

Layers, each importing only those above it::

    stats                      numbers with a hand-checkable definition (no records)
    records                    reading and vetting records; formatting helpers
    bars                       a task's success bar read off its criterion; near misses
    summaries                  one Summary per (method, task)
    cells                      one (method, task) pair as a table cell
    tables, cost_tables        summaries as rows of text (cost_tables: cost, ERT, profile)
    ecdf                       the fixed-target ECDF (share of targets reached against time)
    document                   the Report every renderer prints
    plotkit                    matplotlib set-up, method styles, panel splitting
    profile_plot               the performance profile's drawing
    render, csvout, plots      Markdown/HTML/LaTeX, CSV, figures
    publish                    writing report folders, run READMEs, README tables
    landscape                  the loss landscape of sin(w x) (from a formula; uses plotkit)
"""

from bench.report.document import Lookups, Report, build_report
from bench.report.plotkit import Figure
from bench.report.publish import (
    FORMATS,
    README_END,
    README_START,
    Outcome,
    publish_folder,
    update_findings,
    update_readme,
    write_report,
    write_reports,
    write_run_readme,
)
from bench.report.records import Loaded, read
from bench.report.render import render_html, render_latex, render_markdown
from bench.report.summaries import Summary, summarise
from bench.report.tables import MIXED, Table

__all__ = [
    "FORMATS",
    "MIXED",
    "README_END",
    "README_START",
    "Figure",
    "Loaded",
    "Lookups",
    "Outcome",
    "Report",
    "Summary",
    "Table",
    "build_report",
    "publish_folder",
    "read",
    "render_html",
    "render_latex",
    "render_markdown",
    "summarise",
    "update_findings",
    "update_readme",
    "write_report",
    "write_reports",
    "write_run_readme",
]
