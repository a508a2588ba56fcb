"""Land folders that `parts/continue.sh` published in a worktree: `python parts/land.py FOLDER...`.

For each FOLDER held in `parts/published/FOLDER/` (published there at one commit, its records'
code hash checked): it replaces `results/FOLDER` with it, removes its part (`parts/publish/`)
and its `earlier` mark in `results/plan.toml`; then it regenerates the plan's table in
`results/README.md`, FINDINGS' blocks and quotes of those folders, and the README's table and
quotes of them, and lists the quotes their records no longer give (prose to revise). A folder
that holds a tune's choice is then adopted by hand (`python -m bench publish --adopt FOLDER`).
Review `git diff`, run the results and findings tests, and commit.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def _git(*args: str) -> None:
    subprocess.run(["git", "-C", str(ROOT), *args], check=True)


def _drop_earlier(plan: str, name: str) -> str:
    """``plan`` without the ``earlier = ...`` line of the folder called ``name``."""
    entries = plan.split("[[folder]]")
    for i, entry in enumerate(entries):
        if re.search(rf'^name = "{re.escape(name)}"$', entry, re.M):
            entries[i] = re.sub(r"^earlier = .*\n", "", entry, flags=re.M)
    return "[[folder]]".join(entries)


def _problem(name: str) -> str | None:
    """Why ``name`` cannot land now (``None``: it can)."""
    published = ROOT / "parts" / "published" / name
    if (RESULTS / f".{name}.landing").exists():
        return (
            f"results/.{name}.landing is there: an earlier land was stopped; it holds the "
            f"published folder: move it back to parts/published/{name} and land again"
        )
    if not published.is_dir():
        return "nothing in parts/published/ for it"
    for needed in ("manifest.json", "records.jsonl.gz", "README.md"):
        if not (published / needed).is_file():
            return f"parts/published/{name} has no {needed}: not a published folder"
    changed = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", f"results/{name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if changed.strip():
        return f"results/{name} has uncommitted changes: commit or restore them first"
    return None


def main(names: list[str]) -> int:
    if not names:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    problems = [f"{n}: {p}" for n in names if (p := _problem(n)) is not None]
    if problems:
        for line in problems:
            print(f"land: {line}", file=sys.stderr)
        return 2
    plan_file = RESULTS / "plan.toml"
    for name in names:
        # Moved, not copied, beside its place first: the published folder is never in two
        # half-states, and the tracked one is removed only once the new one is in reach.
        landing = RESULTS / f".{name}.landing"
        (ROOT / "parts" / "published" / name).rename(landing)
        if (RESULTS / name).exists():
            _git("rm", "-rq", "--ignore-unmatch", f"results/{name}")
            shutil.rmtree(RESULTS / name, ignore_errors=True)
        landing.rename(RESULTS / name)
        if (ROOT / "parts" / "publish" / name).exists():
            _git("rm", "-rq", "--ignore-unmatch", f"parts/publish/{name}")
            shutil.rmtree(ROOT / "parts" / "publish" / name, ignore_errors=True)
        plan_file.write_text(_drop_earlier(plan_file.read_text(encoding="utf-8"), name))
        print(f"land: results/{name} replaced")
    subprocess.run([sys.executable, "-m", "bench", "publish", "--table"], cwd=ROOT, check=True)

    from bench.report import quotes
    from bench.report.publish import findings_folders, update_findings, update_readme

    findings = RESULTS / "FINDINGS.md"
    text = findings.read_text(encoding="utf-8")
    drawn = [RESULTS / n for n in names if n in {f.name for f in findings_folders(text, RESULTS)}]
    unresolved: list[str] = []
    if drawn:
        update_findings(findings, drawn, unresolved)
    readme = ROOT / "README.md"
    for name in names:  # the README's own table, where it is drawn from a landed folder
        if f"python -m bench report results/{name} --readme" in readme.read_text("utf-8"):
            update_readme(readme, [RESULTS / name], link=f"results/{name}/report.md")
            print(f"land: README's table regenerated from results/{name}")
    unresolved_readme: list[str] = []
    readme.write_text(
        quotes.fill(
            readme.read_text(encoding="utf-8"),
            ROOT,
            [f"results/{n}" for n in names],
            unresolved_readme,
        ),
        encoding="utf-8",
    )
    for where, lines in (("FINDINGS", unresolved), ("README", unresolved_readme)):
        for line in lines:
            print(f"land: {where}: {line}")
    for name in names:
        if (RESULTS / name / "tuned.json").is_file():
            print(f"land: {name} holds a tune's choice: python -m bench publish --adopt {name}")
    return 1 if unresolved or unresolved_readme else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
