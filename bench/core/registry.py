"""Registries of methods and tasks, and selection by pattern.

Plugins register with a decorator (``@register_method("siren")``), in the style of timm's
``@register_model``. A family may declare parameter variants; each gets a readable id such as
``siren[w0=3000]``. Where plugins come from is :mod:`bench.core.plugins`' business.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import itertools
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.core.contracts import Method, Task
from bench.core.naming import natural_key as natural_key


class RegistryError(ValueError):
    """Unknown or duplicate names, malformed variants, plugins that fail to load."""


@dataclass(frozen=True)
class Entry:
    """One selectable item: a family with a fixed set of parameters."""

    id: str
    family: str
    cls: type
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    #: ``False`` for variants that run only when named (too costly for every ``--all``).
    in_all: bool = True
    #: ``True`` for a variant built on the fly from a name such as ``siren[w0=300]``.
    adhoc: bool = False


def format_value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v)) if abs(v) >= 1 else repr(v)
    return str(v)


def variant_id(name: str, params: Mapping[str, Any]) -> str:
    if not params:
        return name
    inner = ",".join(f"{k}={format_value(params[k])}" for k in sorted(params))
    return f"{name}[{inner}]"


class Registry:
    """Name -> :class:`Entry`, with family-level registration and variant expansion."""

    def __init__(self, kind: str, base: type) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, Entry] = {}
        self._families: dict[str, type] = {}

    def register(
        self,
        name: str,
        *,
        variants: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]] | None = None,
        base: bool = True,
        on_demand: Sequence[Mapping[str, Any]] = (),
    ):
        """Class decorator: register ``name`` and, optionally, its parameter variants.

        ``variants`` is either a list of parameter dicts or a grid ``{param: [values]}`` whose
        product is taken. ``base=False`` registers only the variants (for task families whose
        bare name means nothing on its own, such as ``tone``). ``on_demand`` variants are
        listed and selected by any pattern that names them, but left out of ``--all``.
        """
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.\-]*", name):
            raise RegistryError(f"{self.kind} name {name!r}: use lower-case letters, digits, - _ .")

        def deco(cls: type) -> type:
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise RegistryError(f"{self.kind} {name!r} must subclass {self.base.__name__}")
            if name in self._families and self._families[name] is not cls:
                # Re-loading the same file (same qualified name) is not a duplicate.
                old = self._families[name]
                if (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
                    raise RegistryError(
                        f"duplicate {self.kind} name {name!r}: {_where(old)} and {_where(cls)}"
                    )
            self._families[name] = cls
            for params in _expand(variants, base):
                e = Entry(variant_id(name, params), name, cls, dict(params), _describe(cls, params))
                self._entries[e.id] = e
            for params in on_demand:
                desc = _describe(cls, params)
                e = Entry(variant_id(name, params), name, cls, dict(params), desc, in_all=False)
                self._entries[e.id] = e
            return cls

        return deco

    def unregister(self, name: str) -> None:
        """Remove a family and its variants (for tests and interactive sessions)."""
        self._families.pop(name, None)
        self._entries = {k: e for k, e in self._entries.items() if e.family != name}

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def ids(self) -> list[str]:
        """Every id in natural order (``tone[cycles=3]`` before ``tone[cycles=10]``)."""
        return sorted(self._entries, key=natural_key)

    def get(self, key: str) -> Entry:
        """Entry by exact id; ``family[k=v]`` for unregistered values is built on the fly, its
        values checked against the types the family's ``__init__`` declares."""
        if key in self._entries:
            return self._entries[key]
        m = re.fullmatch(r"([^\[\]]+)\[(.*)\]", key)
        if m and m.group(1) in self._families:
            family, cls = m.group(1), self._families[m.group(1)]
            raw = _split_params(m.group(2), self.kind, key, cls)
            check_params(cls, raw, f"{self.kind} {key!r}")
            params = {k: self._value(cls, family, key, k, v) for k, v in raw.items()}
            canonical = variant_id(family, params)
            if canonical in self._entries:  # e.g. siren[w0=3e3] is siren[w0=3000]
                return self._entries[canonical]
            try:
                desc = _describe(cls, params)
            except Exception as exc:
                raise RegistryError(f"{self.kind} {key!r}: {type(exc).__name__}: {exc}") from exc
            return Entry(canonical, family, cls, params, desc, adhoc=True)
        raise RegistryError(unknown_message(self.kind, key, self.ids()))

    def _value(self, cls: type, family: str, key: str, name: str, raw: str) -> Any:
        """``raw`` as the value parameter ``name`` of ``cls`` takes, or an error naming the
        type it takes, its default and the values registered variants give it."""
        param = inspect.signature(cls.__init__).parameters.get(name)
        types = _declared_types(param) if param is not None else None
        value = _coerce_value(raw, types) if raw else _BAD
        if value is not _BAD:
            return value
        seen = {format_value(e.params[name]) for e in self._entries.values()
                if e.family == family and name in e.params}  # fmt: skip
        takes = f"; {name} takes {_type_words(types)}" if types else ""
        if types and param is not None and param.default is not param.empty:
            takes += f", default {param.default!r}"
        shown = f"; registered: {', '.join(sorted(seen, key=natural_key))}" if seen else ""
        got = f"{name}={raw!r} is not {_type_words(types)}" if raw else f"{name} has no value"
        raise RegistryError(f"{self.kind} {key!r}: {got}{takes}{shown}")

    def select(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> list[Entry]:
        """Entries matching any include pattern and no exclude pattern (fnmatch, ``[`` literal).

        No include patterns means everything except on-demand variants (``--all``). A pattern
        that matches nothing is an error naming close matches, so a typo never silently drops
        a method from a sweep.
        """
        everything = not include
        include = list(include or ["*"])
        chosen: dict[str, Entry] = {}
        for pat in include:
            hits = [
                i
                for i in self.ids()
                if _match(i, pat) and (self._entries[i].in_all or not everything)
            ]
            if not hits:
                # An explicit variant of a known family (e.g. siren[w0=100]) is allowed.
                if "*" not in pat and "?" not in pat:
                    e = self.get(pat)
                    chosen[e.id] = e
                    continue
                raise RegistryError(unknown_message(self.kind, pat, self.ids()))
            for i in hits:
                chosen[i] = self._entries[i]
        for pat in exclude or []:
            chosen = {k: v for k, v in chosen.items() if not _match(k, pat)}
        return [chosen[k] for k in sorted(chosen, key=natural_key)]


def _describe(cls: type, params: Mapping[str, Any]) -> str:
    describe = getattr(cls, "describe", None)
    text = describe(dict(params)) if describe else ""
    text = (text or cls.__doc__ or "").strip()
    return text.splitlines()[0] if text else ""


def _where(cls: type) -> str:
    try:
        return f"{cls.__qualname__} in {inspect.getfile(cls)}"
    except TypeError:
        return cls.__qualname__


def _expand(variants: Any, base: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{}] if base else []
    if variants is None:
        return out
    if isinstance(variants, Mapping):
        keys = list(variants)
        for combo in itertools.product(*(variants[k] for k in keys)):
            out.append(dict(zip(keys, combo, strict=True)))
    else:
        out.extend(dict(v) for v in variants)
    if not out:
        raise RegistryError("a registration needs a base entry or at least one variant")
    return out


def _parse_value(text: str) -> Any:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return {"true": True, "True": True, "false": False, "False": False}.get(text, text)


def _split_params(text: str, kind: str, key: str, cls: type) -> dict[str, str]:
    """``k=v,...`` as raw strings; empty brackets, a missing ``=``, an empty name or value and
    a repeated name are errors that name the family's parameters."""
    hint = f"(parameters: {', '.join(_param_names(cls)) or 'none'})"
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise RegistryError(
            f"{kind} {key!r}: empty brackets; give name[key=value,...] {hint} or a registered "
            f"id (see `python -m bench list {kind}s`)"
        )
    params: dict[str, str] = {}
    for part in filter(None, parts):
        k, eq, v = (s.strip() for s in part.partition("="))
        if not eq or not k:
            raise RegistryError(f"{kind} {key!r}: expected key=value, got {part!r} {hint}")
        if k in params:
            raise RegistryError(f"{kind} {key!r}: {k} is given twice")
        params[k] = v
    return params


#: The annotations a parameter's value is checked against; anything else is not checked.
_SIMPLE = frozenset({"int", "float", "str", "bool", "None"})
#: What :func:`_coerce_value` returns for a value its parameter does not take.
_BAD = object()


def _declared_types(param: inspect.Parameter) -> frozenset[str] | None:
    """The simple types (``int``, ``float``, ``str``, ``bool``, ``None``) a parameter takes,
    from its annotation, else from its default's type; ``None`` when that cannot be told."""
    ann = param.annotation
    if ann is param.empty:
        kind = type(param.default)  # a number default takes either kind, as Python allows
        known = {int: {"int", "float"}, float: {"int", "float"}, str: {"str"}, bool: {"bool"}}
        return frozenset(known[kind]) if kind in known else None
    args = typing.get_args(ann) if not isinstance(ann, str | type) else ()
    if isinstance(ann, str):
        names = [a.strip() for a in ann.split("|")]
    else:
        names = [getattr(a, "__name__", repr(a)) for a in (args or (ann,))]
    names = ["None" if n == "NoneType" else n for n in names]
    return frozenset(names) if all(n in _SIMPLE for n in names) else None


def _coerce_value(raw: str, types: frozenset[str] | None) -> Any:
    """The value of ``raw`` for a parameter taking ``types`` (the plain reading of a number or
    ``true``/``false`` where the parameter takes it, else the text), or ``_BAD``."""
    value = _parse_value(raw)
    if types is None:
        return value
    if isinstance(value, bool):
        ok = "bool" in types
    elif isinstance(value, int):
        ok = bool({"int", "float"} & types)
    elif isinstance(value, float):
        ok = "float" in types or ("int" in types and value.is_integer())
        if ok and "float" not in types:
            value = int(value)  # siren[width=2e2] is siren[width=200]
    else:
        ok = "str" in types
    if ok:
        return value
    if "None" in types and raw in ("None", "none"):
        return None
    return raw if "str" in types else _BAD


def _type_words(types: frozenset[str]) -> str:
    words = {"float": "a number", "int": "an integer", "bool": "true or false", "str": "text"}
    said = [w for t, w in words.items() if t in types and not (t == "int" and "float" in types)]
    return " or ".join(said + ["None"] * ("None" in types))


def _param_names(cls: type) -> list[str]:
    sig = inspect.signature(cls.__init__)
    return [
        n for n, p in sig.parameters.items()
        if n not in ("self", "seed", "profile") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]  # fmt: skip


def _match(name: str, pattern: str) -> bool:
    # Brackets in ids are literal (siren[w0=30]); fnmatch would read them as character classes.
    escaped = pattern.replace("[", "\x00").replace("]", "[]]").replace("\x00", "[[]")
    return fnmatch.fnmatchcase(name, escaped)


def unknown_message(kind: str, key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, known, n=4, cutoff=0.5)
    if not close:
        stem = key.split("[")[0].rstrip("*?")
        close = [k for k in known if stem and k.startswith(stem)][:4]
    if close:
        hint = f"; did you mean {', '.join(close)}?"
    else:
        shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        hint = f"; known {kind}s: {shown}" if known else f"; no {kind}s are registered"
    return f"unknown {kind} {key!r}{hint} (see `python -m bench list {kind}s`)"


METHODS = Registry("method", Method)
TASKS = Registry("task", Task)


def register_method(name: str, **kw: Any):
    """Register a :class:`~bench.core.contracts.Method` subclass under ``name``."""
    return METHODS.register(name, **kw)


def register_task(name: str, **kw: Any):
    """Register a :class:`~bench.core.contracts.Task` subclass under ``name``."""
    return TASKS.register(name, **kw)


#: Loads every plugin once; :mod:`bench.core.plugins` installs itself here when imported, so
#: that this module, the leaf every plugin imports, never imports the loader back.
_loader: Callable[..., None] | None = None


def set_loader(loader: Callable[..., None]) -> None:
    """Make ``loader`` the function that lookups call before answering."""
    global _loader
    _loader = loader


def load_plugins(strict: bool = True) -> None:
    """Load every plugin once (see :mod:`bench.core.plugins`)."""
    if _loader is None:
        raise RegistryError("no plugin loader: import bench (or bench.core.plugins) first")
    _loader(strict=strict)


def list_methods(pattern: str = "*") -> list[str]:
    load_plugins()
    return [i for i in METHODS.ids() if _match(i, pattern)]


def list_tasks(pattern: str = "*") -> list[str]:
    load_plugins()
    return [i for i in TASKS.ids() if _match(i, pattern)]


def get_method(key: str, **overrides: Any) -> Method:
    """A fresh method instance for an id such as ``siren`` or ``siren[w0=3000]``."""
    load_plugins()
    e = METHODS.get(key)
    return build(e, overrides)


def get_task(key: str, seed: int = 0, profile: str = "quick", **overrides: Any) -> Task:
    """A task instance for an id such as ``sin31`` or ``tone[cycles=100]``."""
    load_plugins()
    e = TASKS.get(key)
    return build(e, overrides, seed=seed, profile=profile)


def check_params(cls: type, params: Mapping[str, Any], what: str) -> None:
    """Unknown parameter names are an error that lists the known ones."""
    if any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values()):
        return
    known = _param_names(cls)
    bad = [k for k in params if k not in known]
    if bad:
        raise RegistryError(
            f"{what}: unknown parameter(s) {', '.join(bad)}; known: {', '.join(known) or 'none'}"
        )


def build(entry: Entry, overrides: Mapping[str, Any] | None = None, **fixed: Any) -> Any:
    """Instantiate an entry (parameters checked by name first)."""
    params = {**entry.params, **(overrides or {})}
    check_params(entry.cls, params, entry.id)
    return entry.cls(**fixed, **params)
