"""The README's snippets run as written: the plugin examples, the conformance call, the usage
lines. A newcomer copies them first."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from bench.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def snippet(name: str) -> str:
    m = re.search(rf"<!-- snippet: {name} -->\s*```(\w+)\n(.*?)```", README, re.S)
    assert m, f"README has no snippet {name!r}"
    return m.group(2)


def test_plugin_snippets_pass_conformance_and_run(tmp_path: Path) -> None:
    plugins = tmp_path / "my_plugins"
    plugins.mkdir()
    (plugins / "my_method.py").write_text(snippet("method-plugin"))
    (plugins / "my_task.py").write_text(snippet("task-plugin"))
    env = {**os.environ, "BENCH_PLUGIN_PATH": str(plugins), "OMP_NUM_THREADS": "1"}
    check = snippet("conformance") + "\nfrom bench.kit.conformance import check_task\n"
    check += 'check_task("my-square[cycles=5]")\nprint("conformant")\n'
    r = subprocess.run([sys.executable, "-c", check], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0 and "conformant" in r.stdout, r.stderr
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--methods", "my-tone", "--tasks",
         "my-square[cycles=5]", "tone[cycles=10]", "--seeds", "1", "--jobs", "1",
         "--out", str(out), "--no-report"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {r["task"]: r["status"] for r in recs} == {
        "my-square[cycles=5]": "ok",
        "tone[cycles=10]": "ok",
    }
    tone = next(r for r in recs if r["task"] == "tone[cycles=10]")
    assert tone["success"] is True  # the example method does find a clean tone


def test_usage_lines_parse() -> None:
    block = README.split("## Using it", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    parser = build_parser()
    lines = [ln for ln in block.splitlines() if ln.strip().startswith("python -m bench")]
    assert len(lines) >= 5
    for line in lines:
        words = shlex.split(line, comments=True)[3:]
        parser.parse_args(words)  # raises (exit 2) on an option the CLI does not have
