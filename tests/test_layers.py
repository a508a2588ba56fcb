"""The folders are the layers (README, "Architecture"). ``lint-imports`` (in the README's test
command) checks that no layer imports one above it; these tests add what a layers contract
cannot see: no import cycle anywhere in ``bench``, and a floor that imports nothing else of
``bench``, not even the package's own ``__init__``."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

import bench

ROOT = Path(bench.__file__).resolve().parent


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("bench", cache_dir=None)


def test_no_import_cycle(graph: grimp.ImportGraph) -> None:
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycles.append(" -> ".join([importer, *back[1:]]))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("floor", ["core", "lib"])
def test_the_floor_names_no_module_of_bench_above_it(floor: str) -> None:
    allowed = {"core": ("bench.core",), "lib": ("bench.core", "bench.lib")}[floor]
    bad = []
    for path in sorted((ROOT / floor).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if (name == "bench" or name.startswith("bench.")) and not name.startswith(allowed):
                    bad.append(f"{path.name}:{node.lineno} imports {name}")
    assert not bad, bad
