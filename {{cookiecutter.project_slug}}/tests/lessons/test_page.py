"""The lesson page (GET /lesson/) without a browser: what it is served with, what it names.

The page itself runs in a real browser in the template's own tests (tests/test_lesson_page.py
there). Here: the HTML, the script and the assets it references are served, under a
Content-Security-Policy that allows no inline code and no other site; every route the page
runs exists; /lesson/status says what the page draws beside its requests; and only the page
may read the routes' answers across the names it spreads its requests over.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from html.parser import HTMLParser

import httpx
import pytest

from {{ cookiecutter.package_name }}.lessons.cross_origin import is_the_lesson_page
from {{ cookiecutter.package_name }}.lessons.page import CONTENT_SECURITY_POLICY, MAX_REQUESTS
from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import running_app


class Markup(HTMLParser):
    """What the page's HTML loads and runs: every tag with its attributes, inline code."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_code: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = tag

    def handle_data(self, data: str) -> None:
        if self._in in {"script", "style"} and data.strip():
            self.inline_code.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def parsed(html: str) -> Markup:
    markup = Markup()
    markup.feed(html)
    return markup


def directives(policy: str) -> dict[str, list[str]]:
    parts = [directive.split() for directive in policy.split(";") if directive.strip()]
    return {name: sources for name, *sources in parts}


@pytest.fixture(scope="module")
async def client(
    database_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url=database_url, enable_antipatterns=True)
    async with running_app(settings) as client:
        yield client


async def test_the_page_is_html_under_a_policy_that_allows_no_inline_code_and_no_other_site(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/lesson/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = directives(page.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    # Its own origin, and the names under localhost it spreads requests over: nothing else.
    assert policy["connect-src"] == ["'self'", "http://*.localhost:*"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "unsafe" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"

    markup = parsed(page.text)
    assert markup.inline_code == []
    for tag, attributes in markup.tags:
        # No inline style or event handler either: the policy would block them.
        assert "style" not in attributes, tag
        assert not any(name.startswith("on") for name in attributes), (tag, attributes)
    assert [a["src"] for tag, a in markup.tags if tag == "script"] == ["assets/lesson.js"]


async def test_the_script_and_every_asset_the_page_references_are_served(
    client: httpx.AsyncClient,
) -> None:
    markup = parsed((await client.get("/lesson/")).text)
    referenced = {
        attributes.get("src") or attributes.get("href")
        for tag, attributes in markup.tags
        if tag in {"script", "link"}
    }
    expected_types = {
        "assets/lesson.js": "text/javascript",
        "assets/lesson.css": "text/css",
        "assets/icon.svg": "image/svg+xml",
    }
    assert referenced == set(expected_types)
    for path, media_type in expected_types.items():
        asset = await client.get(f"/lesson/{path}")
        assert asset.status_code == 200, path
        assert asset.headers["content-type"].startswith(media_type), path
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert asset.content
    assert (await client.get("/lesson/assets/../page.py")).status_code == 404
    assert (await client.get("/lesson/assets/index.html")).status_code == 404


@pytest.mark.allow_blocking  # /lesson/blocking calls time.sleep, for 0 s here
async def test_every_route_the_page_runs_is_mounted(client: httpx.AsyncClient) -> None:
    markup = parsed((await client.get("/lesson/")).text)
    routes = [
        route
        for _, attributes in markup.tags
        for route in (attributes.get("data-routes") or "").split()
    ]
    assert routes == ["slow", "sync-slow", "offload", "blocking", "cpu", "cpu-offload"]
    for route in routes:
        parameter = "steps=1" if route.startswith("cpu") else "delay=0"
        assert (await client.get(f"/lesson/{route}?{parameter}")).status_code == 200, route
    script = (await client.get("/lesson/assets/lesson.js")).text
    # What it asks beside the experiments, relative to /lesson/.
    assert "'../healthz'" in script
    assert "status?since=" in script


@pytest.mark.allow_blocking  # the anti-pattern, run to be seen by the loop's watch
async def test_status_gives_the_thread_budgets_and_when_the_loop_stood_still(
    client: httpx.AsyncClient,
) -> None:
    before = (await client.get("/lesson/status")).json()
    assert before["thread_tokens"] == 40
    assert before["to_thread_workers"] == 40
    assert before["antipatterns"] is True
    assert before["bounds"] == {"max_delay": 5, "max_steps": 30_000_000, "max_requests": 100}
    assert before["bounds"]["max_requests"] == MAX_REQUESTS
    await asyncio.sleep(0.2)  # the watch's probe is asleep, due back in at most 50 ms

    # In-process, the route blocks this very loop: the watch wakes 0.35 s late or more.
    assert (await client.get("/lesson/blocking?delay=0.4")).status_code == 200
    await asyncio.sleep(0.1)
    after = (await client.get(f"/lesson/status?since={before['now']}")).json()
    late = after["loop_lag"]["late"]
    assert late, after
    assert all(before["now"] < woke <= after["now"] for woke, _ in late)
    assert max(lag for _, lag in late) >= 0.3
    assert after["loop_lag"]["seconds"] - before["loop_lag"]["seconds"] >= 0.3
    assert after["loop_lag"]["probes"] > before["loop_lag"]["probes"]
    # Past wake-ups only once: asked from now on, none of these comes back.
    again = (await client.get(f"/lesson/status?since={after['now']}")).json()
    assert not {tuple(x) for x in again["loop_lag"]["late"]} & {tuple(x) for x in late}


@pytest.mark.asyncio(loop_scope="function")  # thread settings of its own: a loop of its own
async def test_status_reports_the_configured_thread_tokens(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=database_url, anyio_thread_tokens=3, cpu_workers=1)
    async with running_app(settings) as client:
        status = (await client.get("/lesson/status")).json()
    assert status["thread_tokens"] == 3
    assert status["cpu_workers"] == 1
    assert status["antipatterns"] is False


@pytest.mark.allow_blocking  # /lesson/blocking calls time.sleep, for 0 s here
async def test_the_waits_report_when_they_began_on_the_clock_of_status(
    client: httpx.AsyncClient,
) -> None:
    before = (await client.get("/lesson/status")).json()["now"]
    for route in ("slow", "sync-slow", "offload", "blocking"):
        started = (await client.get(f"/lesson/{route}?delay=0")).json()["started"]
        assert before <= started, route
        before = started
    assert before <= (await client.get("/lesson/status")).json()["now"]


@pytest.mark.parametrize(
    ("origin", "host", "readable"),
    [
        ("http://127.0.0.1:8000", "slow-0.localhost:8000", True),
        ("http://localhost:8000", "cpu-3.localhost:8000", True),
        ("http://[::1]:8000", "slow-0.localhost:8000", True),
        ("http://slow-0.localhost:8000", "slow-1.localhost:8000", True),
        ("http://127.0.0.1:9999", "slow-0.localhost:8000", False),  # another port's page
        ("https://127.0.0.1:8000", "slow-0.localhost:8000", False),
        ("http://evil.example:8000", "slow-0.localhost:8000", False),
        ("http://localhost.evil.example:8000", "slow-0.localhost:8000", False),
        ("http://127.0.0.1:x", "slow-0.localhost:8000", False),
        ("null", "slow-0.localhost:8000", False),
    ],
)
def test_only_a_page_of_this_service_on_a_loopback_name_reads_across_names(
    origin: str, host: str, readable: bool
) -> None:
    assert is_the_lesson_page(origin, host) is readable


async def test_the_timed_routes_allow_the_page_and_nobody_else(client: httpx.AsyncClient) -> None:
    for route in ("slow?delay=0", "sync-slow?delay=0", "offload?delay=0", "cpu?steps=1"):
        asked = {"Host": "slow-0.localhost:8000"}
        by_the_page = await client.get(
            f"/lesson/{route}", headers={**asked, "Origin": "http://127.0.0.1:8000"}
        )
        assert by_the_page.headers["access-control-allow-origin"] == "http://127.0.0.1:8000"
        assert by_the_page.headers["vary"] == "Origin"
        by_another_site = await client.get(
            f"/lesson/{route}", headers={**asked, "Origin": "http://evil.example"}
        )
        assert "access-control-allow-origin" not in by_another_site.headers
    # The routes the page does not time stay as they were.
    untimed = await client.get("/lesson/async", headers={"Origin": "http://127.0.0.1"})
    assert "access-control-allow-origin" not in untimed.headers


def test_the_policy_is_one_line_of_known_directives() -> None:
    assert "\n" not in CONTENT_SECURITY_POLICY
    assert set(directives(CONTENT_SECURITY_POLICY)) == {
        "default-src",
        "script-src",
        "style-src",
        "img-src",
        "connect-src",
        "base-uri",
        "form-action",
        "frame-ancestors",
    }


@pytest.mark.asyncio(loop_scope="function")
async def test_no_page_while_the_lessons_are_off(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=database_url, enable_lessons=False)
    async with running_app(settings) as client:
        for path in ("/lesson/", "/lesson/status", "/lesson/assets/lesson.js"):
            assert (await client.get(path)).status_code == 404, path
