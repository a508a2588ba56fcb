"""The static results site (``bench.report.site``): built over a tiny results folder made by the
runner itself, checked for its structure, and opened in headless Chromium (no console error,
every image loaded)."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import html5lib
import pytest

from bench.cli import main
from bench.core import registry
from bench.report import read, summarise
from bench.report.site import (
    KINDS,
    Facts,
    method_kind,
    rate_colour,
    readme_abouts,
    write_site,
)

CHROMIUM = Path("/usr/bin/chromium")
#: Set by .ci/run, which installs Chromium: there a missing browser fails the test.
REQUIRE_CHROMIUM = os.environ.get("BENCH_REQUIRE_CHROMIUM") == "1"
#: Flags for a headless Chromium as root on a machine with no network: no sandbox, and none of
#: the background connections a fresh profile would otherwise try.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


def registry_kind(family: str) -> str:
    """A method family's kind from its registered class, as the app layer passes it."""
    try:
        return method_kind(family, registry.METHODS.get(family).cls)
    except registry.RegistryError:
        return method_kind(family)


def _run(out: Path, methods: list[str], seeds: int) -> None:
    args = ["run", "--methods", *methods, "--tasks", "tone[cycles=3]", "--seeds", str(seeds)]
    assert main([*args, "--out", str(out), "--jobs", "1", "--no-report", "--quiet"]) == 0


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two published folders made by the runner, one folder without records, and a README
    whose folder table says what one of them answers."""
    root = tmp_path_factory.mktemp("results")
    _run(root / "tones", ["fft", "sgd-sin", "periodic-hybrid"], seeds=2)
    assert main(["report", str(root / "tones"), "--plots", "--publish", "--no-svg"]) == 0
    _run(root / "single", ["fft"], seeds=1)
    (root / "single" / "README.md").write_text("# Single\n\nOne tone, one seed.\nNothing more.\n")
    (root / "notes").mkdir()
    (root / "notes" / "README.md").write_text("# Not a results folder\n")
    (root / "README.md").write_text(
        "# Results\n\n| folder | device | what it answers | records from |\n|---|---|---|---|\n"
        "| [`tones/`](tones/README.md) | cpu | three kinds of method on one `tone` | now |\n"
    )
    return root


@pytest.fixture(scope="module")
def site(results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_site(results, tmp_path_factory.mktemp("site"), kind_of=registry_kind)


class _Page(HTMLParser):
    """What the tests look at in a page: links, images, grid cells and headers, sections."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.cells: list[dict[str, str]] = []
        self.kinds: list[tuple[str, int]] = []
        self.methods: list[str] = []
        self.sections: list[str] = []
        self._in: str | None = None
        self._section = ""
        self.image_sections: dict[str, str] = {}
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a":
            self.links.append(a["href"])
        elif tag == "img":
            self.images.append(a["src"])
            self.image_sections[a["src"]] = self._section
        elif tag == "section":
            self._section = a["id"]
            self.sections.append(a["id"])
        elif tag == "td" and "data-rate" in a:
            self.cells.append(a)
        elif tag == "th" and a.get("class") == "kind":
            self.kinds.append(("", int(a["colspan"])))
            self._in = "kind"
        elif tag == "th" and a.get("class") == "method":
            self._in = "method"

    def handle_data(self, data: str) -> None:
        if self._in == "kind":
            self.kinds[-1] = (data, self.kinds[-1][1])
        elif self._in == "method":
            self.methods.append(data)
        self._in = None


def _page(path: Path) -> _Page:
    return _Page(path.read_text(encoding="utf-8"))


# -- structure ----------------------------------------------------------------------------------


def test_index_links_each_folder_with_records(site: Path) -> None:
    index = _page(site)
    assert index.links == ["single/index.html", "tones/index.html"]  # natural order; no notes/
    for link in index.links:
        assert (site.parent / link).is_file()
    text = site.read_text(encoding="utf-8")
    # What each answers: the README's folder table, else the folder README's first paragraph.
    assert "three kinds of method on one <code>tone</code>" in text
    assert "One tone, one seed. Nothing more." in text
    assert "6 records · commit " in text and "1 record · commit " in text
    assert "(CPU)" in text  # the machine


def test_the_plans_word_on_a_folder_is_on_the_index(results: Path, tmp_path: Path) -> None:
    index = write_site(results, tmp_path, status={"tones": "From earlier commit(s) `abc`"})
    assert "From earlier commit(s) <code>abc</code>" in index.read_text()


def test_about_given_wins_over_the_readmes(results: Path, tmp_path: Path) -> None:
    index = write_site(results, tmp_path / "site", about={"single": "Told by the caller."})
    text = index.read_text(encoding="utf-8")
    assert "Told by the caller." in text and "One tone, one seed" not in text
    assert "three kinds of method" in text


def test_what_a_folder_answers_is_read_from_the_readme_table(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "Intro.\n\n| folder | what it answers |\n|---|---|\n"
        "| [`a/`](a/README.md) | the first \\| with a bar |\n| [b](b/README.md) | the second |\n"
        "| not a folder | ignored |\n\nText.\n"
    )
    assert readme_abouts(readme) == {"a": "the first | with a bar", "b": "the second"}
    assert readme_abouts(tmp_path / "missing.md") == {}


def test_matrix_cells_carry_rate_and_interval(results: Path, site: Path) -> None:
    page = _page(site.parent / "tones" / "index.html")
    # Methods grouped by kind, in the kinds' order, each group over its own methods.
    assert page.kinds == [("original learners", 1), ("estimators", 1), ("hybrid", 1)]
    assert page.methods == ["sgd-sin", "fft", "periodic-hybrid"]
    expected = {s.method: s for s in summarise(read([results / "tones"]).records)}
    assert len(page.cells) == 3
    for cell in page.cells:
        method = cell["title"].split(" on ", 1)[0]
        s = expected[method]
        assert float(cell["data-rate"]) == pytest.approx(s["success_rate"])
        assert float(cell["data-low"]) == pytest.approx(s["ci_low"])
        assert float(cell["data-high"]) == pytest.approx(s["ci_high"])
        assert f"success rate {round(100 * s['success_rate'])}%" in cell["title"]
        assert "95% interval [" in cell["title"]
        assert cell["style"] == f"background:{rate_colour(s['success_rate'])}"


def test_provenance_is_one_line_with_the_detail_folded(site: Path) -> None:
    text = (site.parent / "tones" / "index.html").read_text(encoding="utf-8")
    line = text.split('<p class="provenance">', 1)[1].split("</p>", 1)[0]
    assert line.startswith("6 records · commit ") and "(CPU)" in line
    assert "different" not in line  # one commit, one machine
    detail = text.split('<details class="detail">', 1)[1].split("</details>", 1)[0]
    assert "Produced by: <code>" in detail and "Environment E1: python" in detail


def test_facts_say_plainly_when_commits_or_machines_differ() -> None:
    env = {"git_commit": "a" * 40, "device": "cpu", "cpu": "Test CPU", "cpu_count": 2}
    recs = [
        {"env": env, "finished": "2026-01-01T10:00:00+0000"},
        {"env": {**env, "git_commit": "b" * 40 + "-dirty"}, "finished": "2026-01-03T10:00:00"},
        {"env": {**env, "device": "cuda", "device_name": "Test GPU"}, "finished": ""},
    ]
    facts = Facts.of(recs)
    assert facts.line() == "3 records · 2 different commits · 2 different machines · " + (
        "2026-01-01 to 2026-01-03"
    )
    assert facts.commits == ("aaaaaaa", "bbbbbbb-dirty")
    assert (
        Facts.of(recs[:1]).line() == "1 record · commit aaaaaaa · Test CPU × 2 (CPU) · 2026-01-01"
    )


def test_figures_are_copied_files_beside_their_tables(results: Path, site: Path) -> None:
    page_dir = site.parent / "tones"
    text = (page_dir / "index.html").read_text(encoding="utf-8")
    assert "data:image" not in text  # referenced, never inlined
    page = _page(page_dir / "index.html")
    drawn = sorted(p.name for p in (results / "tones" / "plots").glob("*.png"))
    assert drawn and sorted(Path(src).name for src in page.images) == drawn
    for src in page.images:
        assert (page_dir / src).is_file()
    sections = page.image_sections
    assert sections["plots/convergence_tone_cycles_3.png"] == "convergence"
    assert sections["plots/performance_profile.png"] == "aggregate"
    assert page.sections[0] == "matrix" and "accuracy" in page.sections
    assert not _page(site.parent / "single" / "index.html").images  # a folder with no plots/


def test_pages_are_valid_html5_and_fetch_nothing(site: Path) -> None:
    for path in [site, *sorted(site.parent.glob("*/index.html"))]:
        text = path.read_text(encoding="utf-8")
        html5lib.HTMLParser(strict=True).parse(text)  # raises on any parse error
        assert "http://" not in text and "https://" not in text, path


def test_method_kinds_from_the_registry() -> None:
    expected = {
        "sgd-sin": "original learners",
        "sgd-sinusoid": "original learners",
        "siren": "networks",
        "kan": "networks",
        "fft": "estimators",
        "esprit": "estimators",
        "grid-warm-start": "estimators",
        "sf-autoets": "forecasters",
        "prophet": "forecasters",
        "periodic-hybrid": "hybrid",
        "no-such-method": "other",
    }
    assert {f: registry_kind(f) for f in expected} == expected
    assert set(expected.values()) == set(KINDS)


def test_a_plugin_declares_its_kind() -> None:
    from bench import Method

    class Finder(Method):  # a third-party period finder with no estimator base class
        kind = "estimators"

    assert method_kind("finder", Finder) == "estimators"
    assert method_kind("finder", type("Plain", (Method,), {})) == "other"


def test_rate_colour_runs_from_red_to_blue() -> None:
    assert rate_colour(0.0) == "#d6604d"
    assert rate_colour(0.5) == "#f7f7f7"
    assert rate_colour(1.0) == "#4393c3"


# -- in a browser -------------------------------------------------------------------------------


def _moved_up(fd: int) -> int:
    """The same pipe end on a descriptor number of 10 or more; ``fd`` itself is closed."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe
    (``--remote-debugging-pipe``: commands in on fd 3, answers and events out on fd 4, each a
    JSON message ended by a NUL byte); no driver, no network."""

    def __init__(self, profile: Path, log: Path) -> None:
        to_browser, self._send_fd = os.pipe()
        self._recv_fd, from_browser = os.pipe()
        # The browser's ends moved above 9 first, so that bash's "3<&" and "4>&" can never
        # overwrite one another (dash takes single-digit descriptors only: bash it is).
        to_browser, from_browser = (_moved_up(fd) for fd in (to_browser, from_browser))
        script = f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}'
        args = [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe"]
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                ["bash", "-c", script, str(CHROMIUM), *args],
                pass_fds=(to_browser, from_browser),
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
            )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._ids = iter(range(1, 10**9))
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=self.session)

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._recv_fd], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._recv_fd, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer, keeping the events met on the way."""
        msg: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._send_fd, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            reply = self._message(deadline)
            if reply.get("id") == msg["id"]:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def open(self, url: str) -> None:
        """Load ``url`` and wait for its load event (images included)."""
        self.events.clear()
        self.call("Page.navigate", session=self.session, url=url)
        deadline = time.monotonic() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._message(deadline))

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", session=self.session, expression=expression, returnByValue=True
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads since the last :meth:`open`."""
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(str(params["exceptionDetails"]))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(str(params.get("args")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                out.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
        return out

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", session=self.session, format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._send_fd)
        os.close(self._recv_fd)


@pytest.fixture
def chromium(tmp_path: Path):
    if not CHROMIUM.exists():
        if REQUIRE_CHROMIUM:
            pytest.fail(f"BENCH_REQUIRE_CHROMIUM=1 but {CHROMIUM} is missing")
        pytest.skip(
            f"needs a headless Chromium at {CHROMIUM} (apt-get install chromium; "
            "with BENCH_REQUIRE_CHROMIUM=1 this fails instead)"
        )
    browser = Chromium(tmp_path / "profile", tmp_path / "chromium.log")
    try:
        yield browser
    finally:
        browser.close()


IMAGES = "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"


def test_pages_load_in_chromium_without_errors(chromium: Chromium, site: Path, tmp_path: Path):
    pages = [site, *sorted(site.parent.glob("*/index.html"))]
    for path in pages:
        chromium.open(path.as_uri())
        assert chromium.errors() == [], path
        images = chromium.evaluate(IMAGES)
        assert all(done and width > 0 for _, done, width in images), (path, images)
        name = "index" if path == site else path.parent.name
        chromium.screenshot(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    assert chromium.evaluate("document.images.length") > 0  # the last page, tones, has figures


def test_tables_sort_in_chromium(chromium: Chromium, site: Path) -> None:
    chromium.open((site.parent / "tones" / "index.html").as_uri())
    header = "document.querySelector('#accuracy th[data-col=\"1\"]')"
    methods = (
        "Array.from(document.querySelectorAll('#accuracy tbody tr'))"
        ".map(r => r.cells[1].textContent)"
    )
    chromium.evaluate(f"{header}.click()")
    assert chromium.evaluate(f"{header}.getAttribute('aria-sort')") == "ascending"
    assert chromium.evaluate(methods) == ["fft", "periodic-hybrid", "sgd-sin"]
    chromium.evaluate(f"{header}.click()")
    assert chromium.evaluate(f"{header}.getAttribute('aria-sort')") == "descending"
    assert chromium.evaluate(methods) == ["sgd-sin", "periodic-hybrid", "fft"]
    assert chromium.errors() == []


def test_report_over_a_results_tree_writes_the_site(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "site"
    assert main(["report", str(results), "--format", "html", "--out", str(out)]) == 0
    assert "site: " in capsys.readouterr().out
    assert {"tones", "single"} <= {p.parent.name for p in out.glob("*/index.html")}
    # The other formats are per folder: one line, exit code 2.
    assert main(["report", str(results), "--format", "md"]) == 2
    assert "folder of result folders" in capsys.readouterr().err
