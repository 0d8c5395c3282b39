"""The lesson page (GET /lesson/) in a real browser, against the default bake served for real.

The bake runs as `make demo` runs it: `python -m my_service` with no DATABASE_URL (so on its
embedded PostgreSQL), here with ENABLE_ANTIPATTERNS=true and few thread tokens, so that the
waves of `def` requests come quickly. Headless Chromium (Debian's, driven by Playwright's
Python package: no browser download) opens the page, clicks each experiment and reads what
the page drew, from the SVG itself: each request's row carries the times it drew. A page that
draws nothing has no rows, ticks or lag marks, and fails every assertion below. The page's
JavaScript must raise no console error. Screenshots of every experiment, of the whole page and
of its first screen (the bake's docs/lesson-page.png is one of those), the captions and the
server's log are written to the artefacts directory the run prints (TEST_ARTEFACTS_DIR, or
.cache/test-artefacts in the template).
"""

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .bakes import TEMPLATE_DIR

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
# Chromium reaches nothing outside this machine here, and must not try.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
ARTEFACTS = (
    Path(os.environ.get("TEST_ARTEFACTS_DIR", TEMPLATE_DIR / ".cache" / "test-artefacts"))
    / "lesson-page"
)
# Few tokens: N = 10 requests of /lesson/sync-slow make three waves in a second and a half.
THREAD_TOKENS = 4
CPU_WORKERS = 2
START_PATIENCE = 180.0  # the embedded PostgreSQL's first start runs initdb
RUN_PATIENCE_MS = 90_000
# Straight to 127.0.0.1, whatever proxy the environment names.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        reason = f"the lesson page's browser test needs {CHROMIUM}; .ci/run installs chromium"
        # CI must run it: a skip there would pass a page nobody opened.
        if on_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Demo:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def demo(default_bake: Path) -> Iterator[Demo]:
    """`python -m my_service` of the default bake, on the embedded PostgreSQL, as the leader
    of a process group of its own (as a terminal would run it)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    # Outside pytest's tmp_path: run as root, the embedded server runs as a user of its own.
    workdir = Path(tempfile.mkdtemp(prefix="lesson-page-demo-"))
    workdir.chmod(0o755)
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "VIRTUAL_ENV"}},
        "PORT": str(port),
        "ENABLE_ANTIPATTERNS": "true",
        "ANYIO_THREAD_TOKENS": str(THREAD_TOKENS),
        "CPU_WORKERS": str(CPU_WORKERS),
        "LOG_LEVEL": "warning",
    }
    log = ARTEFACTS / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(default_bake / ".venv" / "bin" / "python"), "-m", "my_service"],
            cwd=workdir,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_PATIENCE
        while True:
            assert process.poll() is None, f"the service exited:\n{log.read_text()[-4000:]}"
            try:
                with DIRECT.open(f"{url}/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
        yield Demo(url, process, log)
        # Ctrl-C, as a terminal sends it: to the whole group, the CPU workers included.
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        output_text = log.read_text(errors="replace")
        assert process.returncode == 0, output_text[-4000:]
        assert "Traceback" not in output_text, output_text[-4000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Browser:
    page: Any  # playwright.sync_api.Page
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def browser(chromium: Path, demo: Demo) -> Iterator[Browser]:
    # Imported here, after the skip: a machine without the browser never loads it.
    from playwright.sync_api import sync_playwright

    profile = Path(tempfile.mkdtemp(prefix="lesson-page-chromium-"))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.new_page()
            browser = Browser(page)
            page.on(
                "console",
                lambda message: message.type == "error" and browser.errors.append(message.text),
            )
            page.on("pageerror", lambda error: browser.errors.append(f"uncaught: {error}"))
            page.on(
                "requestfailed",
                lambda request: browser.errors.append(f"failed: {request.url}"),
            )
            page.goto(f"{demo.url}/lesson/")
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            yield browser
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Drawn:
    """One timeline as the page drew it; times in ms from the click."""

    requests: list[dict[str, Any]]
    pings: list[dict[str, float]]
    stalls: list[dict[str, float]]
    caption: str

    @property
    def total(self) -> float:
        return max(r["answered"] for r in self.requests) - min(r["sent"] for r in self.requests)

    @property
    def workers(self) -> set[str]:
        return {r["worker"] for r in self.requests}

    def waves(self) -> int:
        """Groups of work that began together: a pause of 200 ms or more starts the next."""
        starts = sorted(r["work_from"] for r in self.requests)
        return 1 + sum(b - a > 200 for a, b in itertools.pairwise(starts))

    def longest_ping_gap(self) -> float:
        answers = sorted(p["answered"] for p in self.pings)
        return max(b - a for a, b in itertools.pairwise(answers))


# What the page drew, read back from its SVG: each panel (one per route) with its rows, ticks
# and lag marks, and whether each row's bar was drawn with a width.
READ_DRAWING = """(section) => [...section.querySelectorAll('svg.timeline g.panel')].map((p) => ({
  route: p.dataset.route,
  requests: [...p.querySelectorAll('g.request')].map((g) => ({
    sent: +g.dataset.sent, answered: +g.dataset.answered,
    work_from: +g.dataset.workFrom, work_to: +g.dataset.workTo, worker: g.dataset.worker,
    bar: +(g.querySelector('rect.work')?.getAttribute('width') || 0),
  })),
  pings: [...p.querySelectorAll('g.ping')].map((g) => ({
    sent: +g.dataset.sent, answered: +g.dataset.answered,
  })),
  stalls: [...p.querySelectorAll('rect.stalled')].map((r) => ({
    from: +r.dataset.from, to: +r.dataset.to, stalled: +r.dataset.stalled,
  })),
}))"""


def run_experiment(browser: Browser, experiment: str, **inputs: float) -> list[Drawn]:
    """Set the inputs, click Run, wait until the page has drawn; read the drawing back."""
    page = browser.page
    section = page.locator(f'section[data-experiment="{experiment}"]')
    chart = section.locator("svg.timeline")
    previous_run = chart.get_attribute("data-run")
    for name, value in inputs.items():
        section.locator(f'input[name="{name}"]').fill(str(value))
    button = section.locator("button[type=submit]")
    assert button.is_enabled(), button.text_content()
    button.click()
    page.wait_for_function(
        """([section, previous]) => {
            const chart = section.querySelector('svg.timeline');
            return chart.dataset.state === 'error'
                || (chart.dataset.state === 'done' && chart.dataset.run !== previous);
        }""",
        arg=[section.element_handle(), previous_run],
        timeout=RUN_PATIENCE_MS,
    )
    caption = section.locator("figcaption").text_content() or ""
    assert chart.get_attribute("data-state") == "done", caption
    section.screenshot(path=ARTEFACTS / f"{experiment}.png")
    with (ARTEFACTS / "captions.txt").open("a", encoding="utf-8") as captions:
        captions.write(f"{experiment}: {caption}\n")
    panels = section.evaluate(READ_DRAWING)
    assert panels, f"{experiment}: the page drew no timeline"
    (ARTEFACTS / f"{experiment}.json").write_text(json.dumps(panels, indent=1), encoding="utf-8")
    drawn = [Drawn(p["requests"], p["pings"], p["stalls"], caption) for p in panels]
    for timeline in drawn:
        assert all(r["bar"] > 0 for r in timeline.requests), "a request's bar is not drawn"
        assert timeline.pings, "no /healthz tick drawn"
    assert browser.errors == []
    return drawn


@pytest.fixture
def artefacts() -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / "captions.txt").write_text("", encoding="utf-8")
    for old in [*ARTEFACTS.glob("*.png"), *ARTEFACTS.glob("*.json")]:
        old.unlink()
    return ARTEFACTS


def overlap_all(drawn: Drawn) -> bool:
    """Some instant at which every request's route was at work."""
    return max(r["work_from"] for r in drawn.requests) < min(r["work_to"] for r in drawn.requests)


def most_at_work_at_once(drawn: Drawn) -> int:
    # At the middle of each request's work: how many were at work then (the two clocks agree
    # to a few ms only, so a wave that ends as the next begins does not count twice).
    middles = [(r["work_from"] + r["work_to"]) / 2 for r in drawn.requests]
    return max(
        sum(r["work_from"] + 20 < at < r["work_to"] - 20 for r in drawn.requests) for at in middles
    )


def check_awaiting_requests_overlap_on_the_loop(browser: Browser) -> None:
    [drawn] = run_experiment(browser, "slow", n=10, delay=1)
    assert len(drawn.requests) == 10
    assert overlap_all(drawn), drawn.requests
    assert drawn.total < 2000, drawn.total  # ten waits of 1 s, all at once
    assert len(drawn.workers) == 1
    assert next(iter(drawn.workers)).startswith("MainThread")
    assert drawn.longest_ping_gap() < 500  # the loop kept answering


def check_blocking_def_requests_come_in_waves_of_the_thread_tokens(browser: Browser) -> None:
    [drawn] = run_experiment(browser, "sync-slow", n=10, delay=0.5)
    assert len(drawn.requests) == 10
    assert drawn.waves() >= 2, drawn.requests
    assert most_at_work_at_once(drawn) <= THREAD_TOKENS, drawn.requests
    assert all(not worker.startswith("MainThread") for worker in drawn.workers)
    assert drawn.longest_ping_gap() < 500


def check_offloaded_waits_overlap_in_the_executors_threads(browser: Browser) -> None:
    [drawn] = run_experiment(browser, "offload", n=10, delay=1)
    assert overlap_all(drawn), drawn.requests
    assert drawn.total < 2000, drawn.total
    assert all(worker.startswith("to_thread") for worker in drawn.workers), drawn.workers
    assert drawn.longest_ping_gap() < 500


def check_the_anti_pattern_runs_requests_one_after_another_and_stops_the_pings(
    browser: Browser,
) -> None:
    delay = 1.0
    [drawn] = run_experiment(browser, "blocking", n=3, delay=delay)
    works = sorted((r["work_from"], r["work_to"]) for r in drawn.requests)
    # One after another: each began once the one before had ended (clocks agree to ~ms).
    assert all(later[0] > earlier[1] - 20 for earlier, later in itertools.pairwise(works)), works
    assert drawn.total > 3 * delay * 1000 * 0.9
    # The pings stopped for about the delay (or longer: they may queue behind the others).
    gap = drawn.longest_ping_gap()
    assert 0.8 * delay * 1000 < gap < (3 * delay + 1) * 1000, gap
    # And the service's probe saw the loop stand still for about the delay, each time.
    assert max(stall["stalled"] for stall in drawn.stalls) > 0.8 * delay * 1000, drawn.stalls


def check_cpu_work_in_def_and_in_the_process_pool(browser: Browser) -> None:
    in_def, in_pool = run_experiment(browser, "cpu", n=4, steps=5_000_000)
    assert len(in_def.requests) == len(in_pool.requests) == 4
    assert all(not w.startswith(("MainThread", "process")) for w in in_def.workers)
    assert {w.split()[0] for w in in_pool.workers} == {"process"}
    assert len(in_pool.workers) == CPU_WORKERS


def test_every_experiment_of_the_lesson_page_draws_what_the_lesson_says(
    browser: Browser, artefacts: Path, record_property: Any
) -> None:
    # One test, the experiments in turn: they share one server and one page (the last
    # screenshot shows every chart), and run one at a time so none disturbs another.
    record_property("lesson_page_artefacts", str(artefacts))
    page = browser.page
    assert f"{THREAD_TOKENS} thread tokens" in (page.text_content("#service") or "")
    buttons = page.locator("section.experiment button[type=submit]")
    assert buttons.count() == 5
    assert all(buttons.nth(i).is_enabled() for i in range(5))  # anti-patterns are on

    check_awaiting_requests_overlap_on_the_loop(browser)
    check_blocking_def_requests_come_in_waves_of_the_thread_tokens(browser)
    check_offloaded_waits_overlap_in_the_executors_threads(browser)
    check_the_anti_pattern_runs_requests_one_after_another_and_stops_the_pings(browser)
    check_cpu_work_in_def_and_in_the_process_pool(browser)

    # All five charts side by side, on one scale: the screenshot the README shows.
    charts = page.locator("svg.timeline[data-state=done]")
    assert charts.count() == 5
    assert len({charts.nth(i).get_attribute("data-scale") for i in range(5)}) == 1
    page.screenshot(path=artefacts / "lesson-page.png", full_page=True)
    # Its first screen, async def and def side by side: docs/lesson-page.png of the bake.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=artefacts / "first-screen.png")
    assert browser.errors == []
