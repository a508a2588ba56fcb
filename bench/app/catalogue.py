"""``list``: what can be run, one entry per registered method and task, with what a user must
know before naming it (an on-demand variant is not in ``--all``; a tunable method runs with
settings tuned per task family)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.app.errors import UsageError
from bench.core import registry

WHAT = ("methods", "tasks", "all")


@dataclass(frozen=True)
class Item:
    id: str
    description: str
    #: Empty, or what sets this entry apart, starting with a space.
    note: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    items: list[Item]


def catalogue(what: str = "all") -> list[Section]:
    """The registered ``methods``, ``tasks`` or both (``all``), each in registry order."""
    from bench.engine import tuning

    if what not in WHAT:
        raise UsageError(f"list: say methods, tasks or all, not {what!r}")
    registry.load_plugins()
    sections = []
    if what in ("methods", "all"):
        sections.append(("methods", registry.METHODS))
    if what in ("tasks", "all"):
        sections.append(("tasks", registry.TASKS))
    out = []
    for title, reg in sections:
        items = []
        for i in reg.ids():
            e = reg.get(i)
            note = "" if e.in_all else " (on demand: not in --all)"
            if tuning.tunable(e) and "settings" not in e.params:
                knobs = ", ".join(k for k in e.cls.search_space if k not in e.params)
                note += f" [run tunes {knobs} per task family: bench/tuned.json]"
            items.append(Item(i, e.description, note))
        out.append(Section(title, items))
    return out
