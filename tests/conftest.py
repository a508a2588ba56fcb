"""Shared test set-up: one torch thread (small machines crawl otherwise), plugins loaded once,
strictly, and no silent skips.

A skip is allowed only for a reason listed in ``ALLOWED_SKIPS`` (today: no CUDA device, or a
conformance check that does not apply). Any other skip, such as a ``skipif`` on a built-in
plugin being absent, is reported as an error: a built-in that fails to load must fail the run,
and known failures are listed as expected failures with a reason
(``bench.kit.conformance.KNOWN_FAILURES``), never skipped.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Sweeps in tests learn expected run times from their own folder only, not from ./results
# (bench.engine.cost): fast, and the same wherever the suite runs.
os.environ.setdefault("BENCH_COSTS", "")

import pytest
import torch

torch.set_num_threads(1)

from bench.core import plugins, registry  # noqa: E402

registry.load_plugins()  # strict: the first broken plugin raises, and collection stops
assert not plugins.load_errors, plugins.load_errors

GPU_SKIP = "needs a CUDA device"
#: A conformance check that does not apply to the plugin it is given (``NotApplicable`` in
#: ``bench.kit.conformance``): the method declines the probe task, with its own ``supports()``
#: answer as the reason, or declares no ``search_space`` to check. Shown as SKIPPED rather than
#: a PASSED that ran nothing; test_conformance.py fails a method fitted on no probe task.
NOT_APPLICABLE_SKIP = "does not apply: "
#: Substrings of the only skip reasons the suite accepts. Add one here, with a comment saying
#: why, rather than skipping quietly in a test file.
#: The results site's browser test where Debian's chromium is not installed (CI installs it and
#: sets BENCH_REQUIRE_CHROMIUM=1, which turns this skip into a failure).
BROWSER_SKIP = "needs a headless Chromium"
ALLOWED_SKIPS = (GPU_SKIP, NOT_APPLICABLE_SKIP, BROWSER_SKIP)


def pytest_collection_modifyitems(config, items):  # pytest hook
    """GPU tests skip themselves where torch sees no CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason=GPU_SKIP)
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def _refuse_unlisted_skip(report) -> None:
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    if not any(allowed in reason for allowed in ALLOWED_SKIPS):
        report.outcome = "failed"
        report.longrepr = (
            f"skipped without an allowed reason ({reason}); a built-in plugin that is missing "
            "must fail, and a known failure belongs in KNOWN_FAILURES (see tests/conftest.py)"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # pytest hook
    """A test (or its set-up) skipped for a reason not in ``ALLOWED_SKIPS`` fails."""
    outcome = yield
    _refuse_unlisted_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):  # pytest hook
    """So does a whole module skipped at import (``pytest.importorskip`` at the top)."""
    outcome = yield
    _refuse_unlisted_skip(outcome.get_result())
