"""``bench publish``: the publication plan run, each folder of ``results/`` made from scratch.

The plan (``results/plan.toml``) lists every published folder: the commands that make it (as
typed after ``python -m bench``), the device kind it needs and what it answers. ``publish``
runs a folder's commands into a staging folder (``runs/publish/<folder>/``, resumable), checks
that every record came from this checkout's commit and its code (``bench.engine.provenance``),
and only then replaces ``results/<folder>`` with the records, their report, plots and README.

Provenance is checked, not explained: a working tree with uncommitted changes to the code is
refused before anything runs, and a staged folder whose records name another commit, mix
commits, or carry a code hash other than the commit's is refused before it is published.
"""

from __future__ import annotations

import gzip
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.app.errors import Terminated, UsageError
from bench.core import defaults
from bench.engine.lock import hold
from bench.engine.provenance import (
    SOURCE_COMMIT_ENV,
    CodeState,
    code_state,
    commit_code_hash,
    record_commit,
    source_commit,
)
from bench.engine.store import ARCHIVE, MANIFEST, RECORDS, load_records

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

PLAN = "plan.toml"
#: Where a folder's records are made before they are checked and published.
STAGING = Path(defaults.RUNS_DIR) / "publish"
#: The commands a plan may name, and the options ``publish`` sets itself.
COMMANDS = ("run", "tune")
OWN_OPTIONS = ("--out", "--resume", "--no-report", "--settings", "--dry-run")
DEVICES = ("cpu", "cuda")
#: The keys of one folder in the plan.
KEYS = {"name", "answers", "device", "commands", "scripts", "earlier"}
#: Where a folder's scripts write their files in its staging folder; they are published beside
#: its records.
FILES = "files"


@dataclass(frozen=True)
class Earlier:
    """A folder the plan keeps from an earlier commit for now: which, why, and how to remake
    it (a GPU folder while no GPU is at hand)."""

    commit: str
    why: str


@dataclass(frozen=True)
class Folder:
    """One published folder of the plan."""

    name: str
    answers: str
    device: str
    commands: tuple[str, ...]
    earlier: Earlier | None = None
    #: Scripts of the checkout run after the commands, as typed after ``python`` (a
    #: measurement that is not a bench run: ``benchmarks/period_search.py``); each is given
    #: ``--out`` and the files it writes there are published in the folder.
    scripts: tuple[str, ...] = ()

    def argv(self, command: str, out: Path, jobs: int | None) -> list[str]:
        """The arguments of ``python -m bench`` for ``command`` into ``out``."""
        words = shlex.split(command)
        extra = ["--out", str(out)]
        if words[0] == "run":
            extra += ["--resume", "--no-report"]
        else:
            extra += ["--settings", str(out / "tuned.json")]
        if not _sets(words, "--device"):
            extra += ["--device", self.device]
        if jobs is not None and not _sets(words, "--jobs"):
            extra += ["--jobs", str(jobs)]
        return [*words, *extra]


def _sets(words: Sequence[str], option: str) -> bool:
    """Whether a command's words set ``option`` (``--jobs 3`` or ``--jobs=3``)."""
    return any(w == option or w.startswith(option + "=") for w in words)


def _words(command: str, name: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"publish: {name}: {command!r} cannot be read: {exc}") from None


def load_plan(path: Path) -> list[Folder]:
    """The folders of the plan at ``path``, checked: ``UsageError`` naming the folder and what
    is wrong with it (unknown key, missing field, unknown command or device, an option that
    ``publish`` sets itself)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"publish: no publication plan at {path}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"publish: {path} cannot be read as TOML: {exc}") from None
    entries = raw.get("folder")
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"publish: {path} lists no [[folder]]")
    folders, seen = [], set()
    for i, entry in enumerate(entries, 1):
        folder = _folder(entry, f"{path}, folder {i}")
        if folder.name in seen:
            raise UsageError(f"publish: {path} lists {folder.name} twice")
        seen.add(folder.name)
        folders.append(folder)
    return folders


def _folder(entry: dict[str, Any], where: str) -> Folder:
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise UsageError(f"publish: {where}: unknown key(s) {', '.join(unknown)}")
    for key in ("name", "answers", "device", "commands"):
        if key not in entry:
            raise UsageError(f"publish: {where}: no {key}")
    name, device = str(entry["name"]), str(entry["device"])
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"publish: {where}: {name!r} is not a folder name")
    if device not in DEVICES:
        raise UsageError(f"publish: {name}: device {device!r} is not one of {', '.join(DEVICES)}")
    commands = entry["commands"]
    if not isinstance(commands, list) or not commands:
        raise UsageError(f"publish: {name}: commands must be a non-empty list")
    for command in commands:
        words = _words(str(command), name)
        if not words or words[0] not in COMMANDS:
            raise UsageError(
                f"publish: {name}: {command!r} is not a {' or '.join(COMMANDS)} command"
            )
        own = [w for w in words if w.split("=")[0] in OWN_OPTIONS]
        if own:
            raise UsageError(f"publish: {name}: {command!r} sets {own[0]}, which publish sets")
    kinds = {_words(str(c), name)[0] for c in commands}
    if len(kinds) > 1:
        raise UsageError(f"publish: {name}: one folder holds runs or tuning trials, not both")
    earlier = None
    if "earlier" in entry:
        e = entry["earlier"]
        if not isinstance(e, dict) or set(e) != {"commit", "why"}:
            raise UsageError(f"publish: {name}: earlier must be {{commit = ..., why = ...}}")
        earlier = Earlier(str(e["commit"]), str(e["why"]))
    scripts = entry.get("scripts", [])
    if not isinstance(scripts, list):
        raise UsageError(f"publish: {name}: scripts must be a list")
    for script in scripts:
        _script_path(str(script), name)
    return Folder(
        name,
        str(entry["answers"]),
        device,
        tuple(map(str, commands)),
        earlier,
        tuple(map(str, scripts)),
    )


def _script_path(script: str, name: str) -> str:
    """The file a plan's script runs: a Python file of the checkout, named by its path from
    the checkout's root, which ``publish`` gives its ``--out``."""
    words = _words(script, name)
    path = words[0] if words else ""
    if not path.endswith(".py") or Path(path).is_absolute() or ".." in Path(path).parts:
        raise UsageError(
            f"publish: {name}: script {script!r} does not name a Python file of the checkout "
            "by its path from the checkout's root (benchmarks/period_search.py)"
        )
    if _sets(words, "--out"):
        raise UsageError(f"publish: {name}: script {script!r} sets --out, which publish sets")
    return path


# -- provenance of a folder's records ----------------------------------------------------------


def provenance_problems(
    records: Sequence[dict[str, Any]], commit: str, hash_of: Callable[[str], str | None]
) -> list[str]:
    """Why records cannot be published from the checkout at ``commit`` (empty: they can).
    They must name one commit, carry that commit's code hash (``hash_of``: no uncommitted
    changes ran), and that code must be the checkout's: records made at an earlier commit
    whose code is the same (only results or parts committed since) are accepted, so a long
    experiment can be committed in parts and resumed."""
    if not records:
        return ["no records"]
    by_commit: dict[str, int] = {}
    for r in records:
        c = record_commit(r.get("env") or {})
        by_commit[c] = by_commit.get(c, 0) + 1
    if len(by_commit) > 1:
        counts = ", ".join(f"{c[:12]} ({n})" for c, n in sorted(by_commit.items()))
        return [f"its records mix commits: {counts}"]
    named = next(iter(by_commit)).removesuffix("-dirty")  # -dirty: a stale or missing .git
    hashes = {(r.get("env") or {}).get("code_hash") for r in records}
    if None in hashes:
        return ["some records carry no code hash (made before records had one)"]
    theirs = hash_of(named)
    if theirs is None:
        return [f"its records name commit {named[:12]}, which this repository does not hold"]
    if hashes != {theirs}:
        found = ", ".join(sorted(str(h) for h in hashes))
        return [
            f"the code that ran ({found}) is not commit {named[:12]}'s ({theirs}): it had "
            "uncommitted changes"
        ]
    if named != commit and theirs != hash_of(commit):
        return [
            f"its records were made at commit {named[:12]}, whose code differs from this "
            f"checkout's ({commit[:12]})"
        ]
    return []


def records_commit(records: Sequence[dict[str, Any]]) -> str:
    """The one commit records that passed :func:`provenance_problems` were made at."""
    return record_commit(records[0].get("env") or {}).removesuffix("-dirty")


# -- running the plan --------------------------------------------------------------------------


@dataclass
class Outcome:
    """What ``publish`` did with one folder."""

    folder: Folder
    state: str  # published, staged, skipped
    lines: list[str] = field(default_factory=list)
    #: FINDINGS quotes of the folder that its new records do not give (left as they were).
    unresolved: list[str] = field(default_factory=list)


#: Writes a published folder's report (and what FINDINGS draws from it); returns the FINDINGS
#: quotes of the folder that its records do not give, or ``None``.
Reporter = Callable[[Path], list[str] | None]


@dataclass(frozen=True)
class PublishPlan:
    """The folders to publish now, where, and from which commit."""

    results: Path
    folders: tuple[Folder, ...]
    skipped: tuple[tuple[Folder, str], ...]
    commit: str | None
    resume: bool
    jobs: int | None
    write: bool  # False where no git checkout can check the records: stage only
    changed: tuple[str, ...] = ()  # uncommitted changes to the code (a dry run only)
    staging: Path = STAGING  # where each folder's records are made: staging / FOLDER
    run: bool = True  # False: publish what is staged (brought from another machine), run nothing

    @property
    def summary(self) -> str:
        where = self.commit[:12] if self.commit else "no commit (not a git checkout: stage only)"
        names = ", ".join(f.name for f in self.folders) or "nothing"
        dirty = (
            f" (with {len(self.changed)} uncommitted change(s) to the code, which publish refuses)"
            if self.changed
            else ""
        )
        return f"publish: {len(self.folders)} folder(s) from {where}{dirty}: {names}"

    def lines(self) -> list[str]:
        """The plan in words: each folder, its device, commands and state."""
        out = []
        for f in self.folders:
            out.append(f"{f.name} ({f.device}): {f.answers[:100]}")
            out += [f"    python -m bench {c}" for c in f.commands]
            out += [f"    python {s} --out <its staging folder>/{FILES}" for s in f.scripts]
            out.append(f"    now: {published_state(self.results / f.name)}")
            if f.earlier is not None:
                out.append(f"    earlier: {f.earlier.why}")
        for f, why in self.skipped:
            out.append(f"{f.name} ({f.device}): not now, {why}")
        return out


def published_state(folder: Path) -> str:
    """One line on what ``folder`` holds now: records, commits, or nothing."""
    if not folder.is_dir():
        return "not published"
    envs = _manifest_envs(folder)
    commits = sorted({record_commit(e)[:12] for e in envs})
    return f"published from {', '.join(commits) or 'no commit'}"


def _manifest_envs(folder: Path) -> list[dict[str, Any]]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return list((manifest.get("environments") or {}).values())


def plan_publish(
    results: Path,
    only: Sequence[str] | None = None,
    device: str | None = None,
    resume: bool = False,
    jobs: int | None = None,
    dry_run: bool = False,
    cuda_present: Callable[[], bool] | None = None,
    staging: Path | None = None,
    run: bool = True,
) -> PublishPlan:
    """Which folders of ``results``' plan to publish now and from which commit. Refuses
    (``UsageError``) a folder name the plan lacks, a device other than cpu or cuda, and, unless
    ``dry_run``, a checkout with uncommitted changes to the code a run executes."""
    folders = load_plan(results / PLAN)
    names = {f.name for f in folders}
    unknown = sorted(set(only or ()) - names)
    if unknown:
        raise UsageError(
            f"publish: {', '.join(unknown)} not in {results / PLAN} "
            f"(it lists {', '.join(sorted(names))})"
        )
    if device is not None and device not in DEVICES:
        raise UsageError(f"publish: --device {device!r} is not one of {', '.join(DEVICES)}")
    chosen, skipped = [], []
    has_cuda = cuda_present or _cuda_present
    for f in folders:
        if only and f.name not in only:
            continue
        if device is not None and f.device != device:
            skipped.append((f, f"it runs on {f.device}, not {device}"))
        elif f.device == "cuda" and device is None and not has_cuda():
            skipped.append((f, "it needs a CUDA device, which this machine lacks"))
        else:
            chosen.append(f)
    try:
        told = source_commit(strict=True)
    except ValueError as exc:
        raise UsageError(f"publish: {exc}") from None
    outside = [v for v in ("BENCH_PLUGIN_PATH", "BENCH_TUNED") if os.environ.get(v)]
    if outside and not dry_run:
        raise UsageError(
            f"publish: ${outside[0]} is set: a publication runs the checkout's own plugins and "
            "settings, whose code hash it checks; unset it"
        )
    if told:
        # A copy on another machine, told which commit it was taken from: it stages the
        # records; the checkout checks their code hash against that commit and publishes them.
        state, write = CodeState(told, ()), False
    else:
        scripts = [Path(_script_path(s, f.name)) for f in chosen for s in f.scripts]
        # A script's folder too: what it runs beside it (benchmarks/ and their conftest).
        also = {str(p) for p in scripts} | {str(p.parent) for p in scripts if p.parent.parts}
        state = code_state(also=sorted(also))
        write = state.commit is not None
    if not dry_run and state.changed:
        shown = ", ".join(state.changed[:5]) + (" ..." if len(state.changed) > 5 else "")
        raise UsageError(
            f"publish: the working tree has uncommitted changes to code a run executes "
            f"({shown}): commit or stash them first"
        )
    return PublishPlan(
        results,
        tuple(chosen),
        tuple(skipped),
        state.commit,
        resume,
        jobs,
        write,
        state.changed,
        staging or STAGING,
        run,
    )


def _cuda_present() -> bool:
    import torch

    return torch.cuda.is_available()


#: Written into a staging folder once every command of its folder has finished: only such a
#: folder is published (with ``--no-run`` too), never one a time limit cut short.
COMPLETE = ".complete"


def publish(
    plan: PublishPlan,
    say: Callable[[str], None] = print,
    runner: Callable[[list[str], dict[str, str]], int] | None = None,
    report: Reporter | None = None,
) -> list[Outcome]:
    """Run each folder of ``plan``: its commands into its staging folder, then the provenance
    check, then ``results/<folder>`` replaced by the checked records and their report
    (``report(folder)`` writes it, and returns the FINDINGS quotes its records do not give,
    which do not stop the folder: :attr:`Outcome.unresolved`). ``runner(argv, env)`` runs one
    bench command (default: a child ``python -m bench``) with ``env`` added to its environment
    and returns its exit code; a command that fails stops ``publish`` with the folder's records
    kept in staging for ``--resume``. The plan's table in ``results/README.md`` follows every
    folder published, even when a later one fails."""
    run = runner or _run_child
    outcomes: list[Outcome] = []
    try:
        for i, f in enumerate(plan.folders, 1):
            if len(plan.folders) > 1:
                say(f"publish: [{i}/{len(plan.folders)}] {f.name}")
            outcome = _one_folder(f, plan, say, run, report)
            outcomes.append(outcome)
            for line in outcome.lines:
                say(f"{f.name}: {outcome.state}: {line}")
    finally:
        if any(o.state == "published" for o in outcomes) and (plan.results / "README.md").is_file():
            update_results_readme(plan.results)
    return outcomes


def _one_folder(
    f: Folder,
    plan: PublishPlan,
    say: Callable[[str], None],
    run: Callable[[list[str], dict[str, str]], int],
    report: Reporter | None,
) -> Outcome:
    stage = plan.staging / f.name
    if not plan.run:
        if not plan.write:
            raise UsageError(
                "publish: --no-run checks staged records against the repository and "
                "publishes them: run it in a git checkout, without BENCH_SOURCE_COMMIT"
            )
        if not any((stage / n).is_file() for n in (RECORDS, ARCHIVE)):
            raise UsageError(f"publish: nothing staged for {f.name} in {stage}")
        if not (stage / COMPLETE).is_file():
            raise UsageError(
                f"publish: {stage} holds part of {f.name} only (its commands did not all "
                "finish there): go on with --resume where they run, then publish"
            )
        return _publish_stage(f, stage, plan, report)
    made_at = _prepare_stage(stage, f, plan)
    # Records staged at an earlier commit with the same code: the new runs say that commit
    # too, so that the folder names one commit (its code hash is checked all the same).
    env = {} if made_at is None else {SOURCE_COMMIT_ENV: made_at}
    (stage / COMPLETE).unlink(missing_ok=True)
    steps = [("python -m bench", c, f.argv(c, stage, plan.jobs)) for c in f.commands] + [
        ("python", s, [*_words(s, f.name), "--out", str(stage / FILES)]) for s in f.scripts
    ]
    for how, typed, argv in steps:
        say(f"publish {f.name}: {how} {' '.join(shlex.quote(a) for a in argv)}")
        code = run(argv, env)
        if code != 0:
            raise PublishFailed(
                f"publish: {f.name}: `{how} {typed}` exited with {code}; its records so far "
                f"are in {stage}: `python -m bench publish --only {f.name} --resume` goes on"
            )
    (stage / COMPLETE).write_text("\n".join(f.commands + f.scripts) + "\n", encoding="utf-8")
    if not plan.write or plan.commit is None:
        why = (
            f"copy of commit {plan.commit[:12]}: bring {stage} into that commit's checkout "
            f"as {STAGING / f.name} and run `python -m bench publish --only {f.name} "
            "--no-run` there to check and publish them"
            if plan.commit
            else "no git checkout here to check them"
        )
        return Outcome(f, "staged", [f"records in {stage}; {why}"])
    return _publish_stage(f, stage, plan, report)


class PublishFailed(RuntimeError):
    """A folder's command failed: its records stay in staging."""


def _run_child(argv: list[str], env: dict[str, str]) -> int:
    """``python -m bench ARGV`` in a child (``python ARGV`` where ARGV starts with a script's
    path); Ctrl-C and SIGTERM reach it and it is given time to record what finished and stop
    its workers before this process goes on stopping."""
    module = [] if argv and argv[0].endswith(".py") else ["-m", "bench"]
    child = subprocess.Popen([sys.executable, *module, *argv], env={**os.environ, **env})
    try:
        return child.wait()
    except BaseException as exc:
        if child.poll() is None:
            # A terminal's Ctrl-C reached the child already. A SIGTERM (kill, timeout) did not,
            # and a child started in the background ignores SIGINT, as its parent does: pass
            # the SIGTERM on, which every bench command handles as its own Ctrl-C.
            term = isinstance(exc, Terminated) or signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            child.send_signal(signal.SIGTERM if term else signal.SIGINT)
            try:
                child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        raise


def _prepare_stage(stage: Path, folder: Folder, plan: PublishPlan) -> str | None:
    """Make ``stage`` ready for ``folder``'s commands; the commit the records already there
    were made at, where that is not this checkout's but its code is (``None`` otherwise)."""
    has_records = any((stage / n).exists() for n in (RECORDS, ARCHIVE))
    if has_records and not plan.resume:
        raise UsageError(
            f"publish: {stage} holds records of an earlier publish of {folder.name}: add "
            "--resume to go on with them (or move them away to start over)"
        )
    stage.mkdir(parents=True, exist_ok=True)
    if not has_records or plan.commit is None:
        return None
    commits = {record_commit(e).removesuffix("-dirty") for e in _manifest_envs(stage)}
    if commits <= {plan.commit}:  # this commit's, or none said (the final check will)
        return None
    here = commit_code_hash(plan.commit) if plan.write else None
    same = {c for c in commits if here is not None and commit_code_hash(c) == here}
    if len(commits) == 1 and same:
        return next(iter(same))
    raise UsageError(
        f"publish: {stage} holds records of commit(s) {', '.join(sorted(commits))}, not all of "
        f"them with this checkout's code ({plan.commit[:12]}): a folder comes from one commit; "
        "publish it from that commit, or move the records away to start over"
    )


def _publish_stage(f: Folder, stage: Path, plan: PublishPlan, report: Reporter | None) -> Outcome:
    """Check the staged records and, if they pass, make them ``results/<f.name>``: the old
    folder is set aside while the new one is written, and put back if writing fails."""
    assert plan.commit is not None
    with hold(stage):  # no run may still be writing there (another terminal's --resume)
        outcome = _check_and_write(f, stage, plan, report)
    shutil.rmtree(stage, ignore_errors=True)  # published: the records live in results/ now
    return outcome


def _check_and_write(f: Folder, stage: Path, plan: PublishPlan, report: Reporter | None) -> Outcome:
    assert plan.commit is not None
    records = list(load_records([stage]))
    problems = provenance_problems(records, plan.commit, commit_code_hash)
    if problems:
        raise UsageError(
            f"publish: {f.name} refused: {'; '.join(problems)} (the records stay in {stage}; "
            "a folder is published from one commit's code, run at a clean checkout)"
        )
    target = plan.results / f.name
    old = plan.results / f".{f.name}.old"
    if old.exists():
        raise UsageError(
            f"publish: {old} is there: an earlier publish of {f.name} was stopped while it "
            f"replaced the folder, and that is the folder as it was before; check it against "
            f"{target}, keep the good one as {target}, remove the other, and publish again"
        )
    if target.exists():
        target.rename(old)
    unresolved: list[str] = []
    try:
        target.mkdir(parents=True)
        _write_manifest(stage, target, records_commit(records))
        _write_records(stage, target)
        for made in sorted((stage / FILES).glob("*")):
            if made.is_file():  # a script's output, published beside the records
                shutil.copy2(made, target / made.name)
        if (stage / "tuned.json").is_file():
            _write_settings(stage / "tuned.json", target, records_commit(records))
        if report is not None:
            unresolved = report(target) or []
        _add_plan_to_readme(target, f)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        if old.exists():
            old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    lines = [f"{len(records)} records from {records_commit(records)[:12]} -> {target}"]
    if (target / "tuned.json").is_file():
        lines.append(
            f"the settings it chose are in {target / 'tuned.json'}: `python -m bench publish "
            f"--adopt {target.name}` merges them into bench/tuned.json; commit, and publish "
            "the folders that run with them again"
        )
    if f.earlier is not None:
        lines.append(
            f"remove its `earlier` mark from {plan.results / PLAN} and run `python -m bench "
            "publish --table` (the results check fails until then)"
        )
    if unresolved:
        lines.append(
            f"{len(unresolved)} quote(s) of {f.name} in {plan.results / 'FINDINGS.md'} kept "
            "their old text, as its new records do not give them: revise that prose (the "
            "findings check fails until then)"
        )
        lines += [f"  {u}" for u in unresolved]
    return Outcome(f, "published", lines, unresolved)


def _write_settings(chosen: Path, target: Path, commit: str) -> None:
    """The settings a tune chose, each naming the published trials and their commit as its
    provenance (``made_by``), wherever and from whichever copy the trials were made."""
    data = json.loads(chosen.read_text(encoding="utf-8"))

    def mark(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("made_by"), dict):
                node["made_by"].update(records=f"results/{target.name}", commit=commit)
            for value in node.values():
                mark(value)

    mark(data)
    (target / "tuned.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _add_plan_to_readme(target: Path, f: Folder) -> None:
    """Put what the folder answers and the command that remakes it under the README's title."""
    readme = target / "README.md"
    lines = (
        readme.read_text(encoding="utf-8").splitlines()
        if readme.is_file()
        else [f"# Published run: {f.name}"]
    )
    made = [
        "",
        f"What it answers: {f.answers}",
        "",
        f"Made by `python -m bench publish --only {f.name}` from the plan in `../{PLAN}`, "
        "which ran:",
        "",
        *[f"    python -m bench {c}" for c in f.commands],
        *[f"    python {s} --out {f.name}" for s in f.scripts],
    ]
    readme.write_text("\n".join([lines[0], *made, *lines[1:]]) + "\n", encoding="utf-8")


def _write_manifest(stage: Path, out: Path, commit: str) -> None:
    """The staged manifest, each environment marked with the commit its code hash was checked
    against (``verified_commit``)."""
    manifest = json.loads((stage / MANIFEST).read_text(encoding="utf-8"))
    for env in (manifest.get("environments") or {}).values():
        env["verified_commit"] = commit
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _write_records(stage: Path, out: Path) -> None:
    """The staged records gzipped into ``out`` (no timestamp in the archive: the same records
    give the same bytes)."""
    parts = [stage / ARCHIVE, stage / RECORDS]
    with (
        open(out / ARCHIVE, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as gz,
    ):
        for p in parts:
            if p.is_file():
                opener = gzip.open if p.name.endswith(".gz") else open
                with opener(p, "rb") as src:
                    shutil.copyfileobj(src, gz)


def write_folder_report(folder: Path) -> list[str]:
    """The published report of ``folder`` (report.md, summary.csv, plots, README), and what
    the results' ``FINDINGS.md`` draws from it (its blocks and quoted numbers), if anything.
    Returns the quotes of ``folder`` its records do not give (a method or task it no longer
    holds): each keeps its text, and every other is written."""
    from bench.app.report import report
    from bench.report.publish import findings_folders, update_findings

    report([folder], None, ["md"], plots=True, publish=True)
    findings = folder.parent / "FINDINGS.md"
    text = findings.read_text(encoding="utf-8") if findings.is_file() else ""
    unresolved: list[str] = []
    if folder.name in {f.name for f in findings_folders(text, folder.parent)}:
        try:
            update_findings(findings, [folder], unresolved)
        except (OSError, ValueError) as exc:
            raise UsageError(f"publish: {exc}") from exc
    return unresolved


#: The block of ``results/README.md`` that lists the plan's folders (regenerated by publish).
TABLE_START = "<!-- plan-table:start -->"
TABLE_END = "<!-- plan-table:end -->"


def plan_table(folders: Sequence[Folder], results: Path) -> list[str]:
    """The plan as a Markdown table: each folder, its device, what it answers and the commit
    its records come from now (or that it is not published yet)."""
    lines = ["| folder | device | what it answers | records from |", "|---|---|---|---|"]
    for f in folders:
        link = f"[`{f.name}/`]({f.name}/README.md)"
        if f.earlier is not None:
            made = f"earlier commit(s) {f.earlier.commit}: {f.earlier.why}"
        else:
            made = published_state(results / f.name).removeprefix("published from ")
        lines.append(f"| {link} | {f.device} | {f.answers} | {made} |")
    return lines


def update_results_readme(results: Path) -> Path:
    """Regenerate the plan's table in ``results/README.md`` (between its markers)."""
    from bench.report.publish import replace_block

    try:
        return replace_block(
            results / "README.md",
            TABLE_START,
            TABLE_END,
            plan_table(load_plan(results / PLAN), results),
        )
    except (OSError, ValueError) as exc:
        raise UsageError(f"publish: {exc}") from exc
