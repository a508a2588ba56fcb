"""The published folders against the publication plan: each folder one commit, checked, or
marked in the plan as an earlier commit's with why (so the plan cannot go stale either)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.app.publish import PLAN, load_plan
from bench.engine.provenance import record_commit

RESULTS = Path(__file__).resolve().parent.parent / "results"
FOLDERS = load_plan(RESULTS / PLAN)


def _envs(name: str) -> list[dict]:
    manifest = json.loads((RESULTS / name / "manifest.json").read_text())
    return list(manifest["environments"].values())


def test_the_plan_lists_exactly_the_published_folders() -> None:
    on_disk = {p.parent.name for p in RESULTS.glob("*/manifest.json")}
    assert {f.name for f in FOLDERS} == on_disk


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_each_folder_comes_from_one_checked_commit_or_says_why_not(folder) -> None:
    envs = _envs(folder.name)
    commits = sorted({record_commit(e) for e in envs})
    if folder.earlier is None:
        assert len(commits) == 1, f"{folder.name} mixes commits {commits}"
        assert not commits[0].endswith("-dirty")
        assert all(e.get("verified_commit") == commits[0] for e in envs), (
            f"{folder.name}: not made by `bench publish` (no checked code hash)"
        )
    else:
        named = sorted(c.strip() for c in folder.earlier.commit.split(","))
        assert named == sorted(c[: len(named[0])] for c in commits), (
            f"{folder.name}: the plan says it comes from {named}; its records say {commits}"
        )
        assert folder.earlier.why.strip()


def test_a_scripts_measurements_come_from_the_commit_of_the_folders_records() -> None:
    """What a plan folder's script wrote (``scripts``: the period search's cost, the speed
    figures) names the environment it measured in; in a remade folder that is its records'
    commit and code."""
    for folder in FOLDERS:
        if folder.earlier is not None or not folder.scripts:
            continue
        envs = _envs(folder.name)
        commits = {record_commit(e) for e in envs}
        hashes = {e.get("code_hash") for e in envs}
        made = [
            p
            for p in (RESULTS / folder.name).glob("*.json")
            if p.name not in ("manifest.json", "tuned.json")
        ]
        assert made, f"{folder.name}: its scripts wrote no JSON file"
        for path in made:
            env = json.loads(path.read_text()).get("environment") or {}
            assert record_commit(env) in commits, f"{path}: measured at another commit"
            assert env.get("code_hash") in hashes, f"{path}: measured with other code"


def test_the_results_readme_lists_the_plan_as_generated() -> None:
    from bench.app.publish import TABLE_END, TABLE_START, plan_table

    text = (RESULTS / "README.md").read_text()
    block = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip().splitlines()
    assert block == plan_table(FOLDERS, RESULTS), "regenerate it: python -m bench publish --table"


def _made_by() -> list[tuple[str, dict]]:
    """Every (method, made_by) of the package's tuned settings."""
    settings = json.loads((RESULTS.parent / "bench" / "tuned.json").read_text())
    found = []
    for profile in settings["profiles"].values():
        for method, entry in profile.items():
            for part in ("families", "tasks"):
                found += [(method, one["made_by"]) for one in entry.get(part, {}).values()]
    return found


def test_tuned_settings_name_the_published_trials_they_came_from() -> None:
    """Each tuned setting names the results folder of its trials; where that folder was made
    by publish, the setting's commit is the one the trials were made at."""
    by_name = {f.name: f for f in FOLDERS}
    for method, made_by in _made_by():
        name = Path(made_by["records"]).name
        assert made_by["records"] == f"results/{name}" and name in by_name, (method, made_by)
        if by_name[name].earlier is None:
            commits = {record_commit(e) for e in _envs(name)}
            assert commits == {made_by["commit"]}, (method, made_by["commit"], commits)
