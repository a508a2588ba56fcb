"""Command line: ``python -m bench list|run|tune|report|landscape|export|merge|publish``.

This module parses (``bench.cliparser``), calls the application layer (``bench.app``), prints
what it returns and turns exceptions into exit codes; the work is done there. Every user error
(unknown name, bad flag, unwritable folder, malformed value) is one line on stderr and exit
code 2; Ctrl-C exits 130 and SIGTERM 143, both with the hint to ``--resume``; a ``run`` whose
new runs failed as ``--fail-on`` says (by default: any run recorded as ``error``) exits 1.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.app.errors import USER_ERRORS, Terminated, UsageError
from bench.app.execution import Execution
from bench.cliparser import build_parser, split_patterns
from bench.core import defaults

__all__ = ["EXIT_USAGE", "UsageError", "build_parser", "main"]

EXIT_FAILED_RUNS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def _err(line: str) -> None:
    print(line, file=sys.stderr)


def _warn_skipped(problems: Sequence[object]) -> None:
    from bench.engine.store import warn_skipped

    warn_skipped(list(problems))


def _execution(args: argparse.Namespace) -> Execution:
    """The options ``run`` and ``tune`` share, as the application layer takes them."""
    return Execution(
        device=args.device,
        jobs=args.jobs,
        threads=args.threads,
        scheduler=args.scheduler,
        timeout=args.timeout,
        memory_limit=args.memory_limit,
        in_process=args.in_process,
    )


def cmd_list(args: argparse.Namespace) -> int:
    from bench.app.catalogue import catalogue

    sections = catalogue(args.what)
    for section in sections:
        width = max((len(i.id) for i in section.items), default=0)
        if args.what == "all":
            print(f"{section.title} ({len(section.items)}):")
        for i in section.items:
            print(f"  {i.id:<{width}}  {i.description}{i.note}")
    return 0


def _plan_run(args: argparse.Namespace) -> Any:
    """The run that ``args`` (parsed ``run`` options) ask for, planned."""
    from bench.app.run import plan_run

    return plan_run(
        split_patterns(args.methods),
        split_patterns(args.tasks),
        every=args.all,
        exclude_methods=split_patterns(args.exclude_methods),
        exclude_tasks=split_patterns(args.exclude_tasks),
        seeds=args.seeds,
        base_seed=args.base_seed,
        profile=args.profile,
        execution=_execution(args),
        out=args.out,
        resume=args.resume,
        retry=args.retry,
        steps=args.steps,
        no_stop=args.no_stop,
        fleet=not args.no_fleets,
        dry_run=args.dry_run,
    )


def cmd_run(args: argparse.Namespace) -> int:
    from bench.app.report import report_run
    from bench.app.run import ready, run

    plan = _plan_run(args)
    for note in plan.notes:
        _err(note)
    _err(plan.summary)
    if args.dry_run:
        lines = plan.labels if args.list else plan.expected().lines(plan.resolved.device)
        for line in lines:
            print(line)
        return 0
    for line in ready(plan):
        _err(f"warning: {line}")
    result = run(plan, quiet=args.quiet)
    _err(f"done: {result.summary}; records in {result.records_file}")
    if not args.no_report:
        for w in report_run(result.out):
            _err(f"report: {w}")
    failed = result.failures(args.fail_on)
    if failed:
        counts = ", ".join(f"{n} {status}" for status, n in failed.items())
        _err(
            f"failed: {counts} (reasons in {result.records_file}; --resume --retry "
            f"{' '.join(failed)} runs them again); exit code 1 under --fail-on {args.fail_on}"
        )
        return EXIT_FAILED_RUNS
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from bench.app.tune import plan_tune, tune

    plan = plan_tune(
        split_patterns(args.methods),
        split_patterns(args.tasks),
        profile=args.profile,
        execution=_execution(args),
        out=args.out,
        settings=args.settings,
        dry_run=args.dry_run,
        fleet=not args.no_fleets,
    )
    _err(plan.summary)
    if args.dry_run:
        for label in plan.labels:
            print(label)
        return 0
    result = tune(plan, quiet=args.quiet)
    for line in result.lines():
        print(line)
    _err(f"tune: settings written to {result.settings}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bench.app.data import export

    result = export(args.dirs, args.out)
    _warn_skipped(result.problems)
    _err(f"exported {result.n} record(s) -> {result.out}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from bench.app.data import merge

    result = merge(args.dest, args.sources)
    _warn_skipped(result.problems)
    _err(
        f"merged {result.added} run(s) into {result.dest / 'records.jsonl'}; "
        f"{result.duplicates} record(s) left out as already there or repeated"
    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.app.folders import newest_run_folder
    from bench.app.report import is_results_tree, report, site

    dirs = args.dirs
    if len(dirs) == 1 and is_results_tree(dirs[0]):
        if args.format != ["html"]:
            raise UsageError(
                f"report: {dirs[0]} is a folder of result folders: --format html makes its "
                "site; name one folder for the other formats"
            )
        from bench.app.publish import PLAN, load_plan

        plan = dirs[0] / PLAN
        folders = load_plan(plan) if plan.is_file() else []
        about = {f.name: f.answers for f in folders} or None
        status = {
            f.name: f"From earlier commit(s) {f.earlier.commit}: {f.earlier.why}"
            for f in folders
            if f.earlier is not None
        }
        index = site(dirs[0], args.out, about, status)
        print(f"site: {index} (open it in a browser)")
        return 0
    if not dirs:
        dirs = [newest_run_folder()]
        _err(f"report: {dirs[0]} (the newest folder of records under {defaults.RUNS_DIR}/)")
    done = report(
        dirs,
        args.out,
        args.format,
        plots=args.plots,
        svg=args.svg,
        publish=args.publish,
        readme=args.readme,
        findings=args.findings,
        markdown_to=sys.stdout if args.stdout else None,
    )
    for line in done.summary():
        print(line, file=sys.stderr if args.stdout else sys.stdout)
    return 0


def cmd_landscape(args: argparse.Namespace) -> int:
    from bench.app.landscape import draw, plan_landscape

    numbers = ("target", "half_width", "batch", "sgd_batch", "seed")
    request = plan_landscape(args.out, **{k: getattr(args, k) for k in numbers})
    _err(request.announce)
    result = draw(request)
    _err(f"closed form: {result.formula}")
    _err(result.key_numbers)
    for w in result.written:
        _err(f"wrote {w}")
    return 0


def _publish_forecast(folder: Any, plan: Any) -> str:
    """The expected wall time of a folder's run commands (as ``run --dry-run`` forecasts
    them), or why there is none."""
    from bench.engine.cost import format_seconds

    parser, total, runs = build_parser(), 0.0, 0
    for command in folder.commands:
        args = parser.parse_args(folder.argv(command, plan.staging / folder.name, plan.jobs))
        if args.command != "run":
            return "a tune: its trials are listed by `python -m bench tune ... --dry-run`"
        args.dry_run = True
        forecast = _plan_run(args).expected()
        total, runs = (
            total + forecast.wall_seconds,
            runs + sum(n for _, n, _ in forecast.by_method.values()),
        )
    scripts = f", then {len(folder.scripts)} script(s)" if folder.scripts else ""
    return f"expected {format_seconds(total)} for {runs} run(s) here, from earlier records{scripts}"


def _adopt(results: Path, folders: list[str]) -> int:
    """``publish --adopt``: the settings published tunes chose become the ones runs use."""
    from bench.engine.tuning import adopt_settings

    settings = results.resolve().parent / "bench" / "tuned.json"
    if not settings.is_file():
        raise UsageError(
            f"publish --adopt: {settings} does not exist: run it in the checkout whose "
            "results/ folder holds the tunes"
        )
    for name in folders:
        source = results / name / "tuned.json"
        if not source.is_file():
            raise UsageError(
                f"publish --adopt: {source} does not exist (only a published tuning folder "
                "holds the settings its tune chose)"
            )
    for name in folders:
        try:
            lines = adopt_settings(results / name / "tuned.json", settings)
        except ValueError as exc:
            raise UsageError(f"publish --adopt: {exc}") from exc
        for line in lines:
            print(f"{name}: {line}")
    _err(f"publish: merged into {settings}; commit it, then publish the folders that run with it")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from bench.app.publish import (
        PublishFailed,
        plan_publish,
        publish,
        update_results_readme,
        write_folder_report,
    )

    if args.table:
        _err(f"publish: wrote {update_results_readme(args.results)}")
        return 0
    if args.adopt:
        return _adopt(args.results, args.adopt)
    plan = plan_publish(
        args.results,
        only=args.only,
        device=args.device,
        resume=args.resume,
        jobs=args.jobs,
        dry_run=args.dry_run,
        staging=args.staging,
        run=not args.no_run,
    )
    _err(plan.summary)
    if args.dry_run:
        for line in plan.lines():
            print(line)
        for folder in plan.folders:
            print(f"{folder.name}: {_publish_forecast(folder, plan)}")
        return 0
    try:
        outcomes = publish(plan, say=_err, report=write_folder_report)  # says each outcome
    except PublishFailed as exc:
        _err(f"error: {exc}")
        return EXIT_FAILED_RUNS
    stale = [o.folder.name for o in outcomes if o.unresolved]
    if stale:
        _err(
            f"error: published, but FINDINGS quotes what the records of {', '.join(stale)} "
            "no longer hold (listed above): revise that prose"
        )
        return EXIT_FAILED_RUNS
    return 0


COMMANDS = {
    "list": cmd_list,
    "run": cmd_run,
    "report": cmd_report,
    "landscape": cmd_landscape,
    "tune": cmd_tune,
    "export": cmd_export,
    "merge": cmd_merge,
    "publish": cmd_publish,
}


# What an interrupted command leaves and how to go on, by command (others just stop).
_RESUME_HINT = {
    "run": (
        ": every finished run is in records.jsonl; run the same command with --resume to "
        "finish the rest"
    ),
    "tune": (
        ": every finished trial is in records.jsonl; run the same command again and the tune "
        "resumes where it stopped"
    ),
    "publish": (
        ": every finished run is staged in runs/publish/<folder>/ (or under --staging); run the "
        "same command with --resume to finish the rest"
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the process's arguments), run the command, return its exit
    code: 0, 1 for a ``run`` whose runs failed (``--fail-on``), 2 for a usage error, 130 on
    Ctrl-C, 143 on SIGTERM."""
    defaults.limit_threads()  # for the console script; `python -m bench` did it already
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    os.environ["BENCH_COMMAND"] = "python -m bench " + " ".join(shlex.quote(w) for w in words)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    args = None
    try:
        args = parser.parse_args(argv)
        return COMMANDS[args.command](args)
    except USER_ERRORS as exc:
        _warn_skipped(getattr(exc, "problems", ()))
        _err(f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        _err("\ninterrupted" + _RESUME_HINT.get(getattr(args, "command", ""), ""))
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`bench list | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
