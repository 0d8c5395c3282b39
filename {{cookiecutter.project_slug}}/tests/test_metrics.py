"""The runtime proof: /metrics shows loop lag rise only when something blocks the loop."""

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.types import Message

from {{ cookiecutter.package_name }}.metrics import (
    KNOWN_METHODS,
    LAG_PROBE_INTERVAL,
    OTHER_METHOD,
    UNMATCHED_ROUTE,
)
from {{ cookiecutter.package_name }}.settings import Settings

from .harness import request_scope, running_app, started_app
from .proofs import burst

STALL = 0.3
# A lag above 1 s: what the anti-pattern's 1.2 s sleep records, what even a crowded machine
# does not pause a healthy loop for (0.3 s seen at ten runnable processes per core, once 0.9).
BLOCK, LAG_BOUND = 1.2, "1.0"


def lag_observations_above(metrics_text: str, bound: str) -> float:
    """Observations greater than `bound` seconds: the +Inf count minus the `bound` bucket."""
    counts = {}
    for line in metrics_text.splitlines():
        if line.startswith("event_loop_lag_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            counts[le] = float(line.rsplit(" ", 1)[1])
    return counts["+Inf"] - counts[bound]


@pytest.fixture(scope="module")
async def antipattern_client(
    database_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url=database_url, enable_antipatterns=True)
    async with running_app(settings) as client:
        yield client


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


async def test_loop_lag_stays_low_under_a_burst_of_correct_routes(
    antipattern_client: httpx.AsyncClient,
) -> None:
    before = lag_observations_above(await scrape(antipattern_client), LAG_BOUND)
    urls = [f"/lesson/{route}?delay={STALL}" for route in ("slow", "sync-slow", "offload")] * 10
    result = await burst(antipattern_client, urls)
    await asyncio.sleep(3 * LAG_PROBE_INTERVAL)
    after = lag_observations_above(await scrape(antipattern_client), LAG_BOUND)
    assert result.statuses == [200] * len(urls)
    assert after == before


@pytest.mark.allow_blocking
async def test_loop_lag_rises_when_the_anti_pattern_runs(
    antipattern_client: httpx.AsyncClient,
) -> None:
    before = lag_observations_above(await scrape(antipattern_client), LAG_BOUND)
    response = await antipattern_client.get(f"/lesson/blocking?delay={BLOCK}")
    await asyncio.sleep(3 * LAG_PROBE_INTERVAL)  # the probe wakes late once, then records
    after = lag_observations_above(await scrape(antipattern_client), LAG_BOUND)
    assert response.status_code == 200
    assert after >= before + 1


async def test_metrics_expose_thread_tokens_pools_and_requests(
    antipattern_client: httpx.AsyncClient,
) -> None:
    await antipattern_client.get("/lesson/sync")
    text = await scrape(antipattern_client)
    for family in (
        "anyio_thread_tokens 40.0",
        "anyio_thread_tokens_in_use",
        "anyio_thread_tokens_waiting",
        "asyncpg_pool_connections 10.0",
        "asyncpg_pool_connections_in_use",
        "psycopg2_pool_connections_in_use",
        'http_requests_total{method="GET",route="/lesson/sync",status="200"}',
    ):
        assert family in text


async def test_an_answer_is_counted_and_no_longer_in_progress_before_its_last_byte_leaves(
    settings: Settings,
) -> None:
    # Over a socket, the client can read the answer and scrape again (perhaps another worker)
    # before the server's code after the last write runs: the scrape must not depend on it.
    # So this scrapes at the moment the last body message is handed to the server.
    async with started_app(settings) as (app, client):
        scraped: list[str] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body"):
                scraped.append(await scrape(client))

        await app(request_scope("GET", "/healthz"), receive, send)
    (text,) = scraped
    assert 'http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    # The scrape itself is the one request in progress.
    assert "http_requests_in_progress 1.0" in text


def label_values(metrics_text: str, family: str, label: str) -> set[str]:
    pattern = re.compile("^" + family + r"\{[^}]*\b" + label + r'="([^"]*)"', re.MULTILINE)
    return set(pattern.findall(metrics_text))


async def test_metrics_answer_200_at_the_path_prometheus_scrapes_by_default(
    antipattern_client: httpx.AsyncClient,
) -> None:
    response = await antipattern_client.get("/metrics")
    assert response.status_code == 200  # not a 307 to /metrics/
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE event_loop_lag_seconds histogram" in response.text


async def test_invented_methods_and_unmatched_paths_collapse_to_one_label_value_each(
    antipattern_client: httpx.AsyncClient,
) -> None:
    # h11 (and many servers other than uvicorn's httptools) pass any method token through,
    # so a client can send these for real; each would otherwise be a new series for ever.
    for index in range(100):
        await antipattern_client.request(f"INVENTED{index}", "/lesson/async")
        await antipattern_client.get(f"/no/such/path/{index}")
    text = await scrape(antipattern_client)
    methods = label_values(text, "http_requests_total", "method")
    assert OTHER_METHOD in methods
    assert methods <= KNOWN_METHODS | {OTHER_METHOD}
    routes = label_values(text, "http_requests_total", "route")
    assert UNMATCHED_ROUTE in routes
    assert not any(route.startswith("/no/") for route in routes)
    series = [line for line in text.splitlines() if line.startswith("http_requests_total{")]
    assert len(series) < 30


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it",
)
async def test_prometheus_linter_accepts_the_exposition(
    antipattern_client: httpx.AsyncClient,
) -> None:
    await antipattern_client.get("/lesson/sync")
    await antipattern_client.get("/no/such/path")
    text = await scrape(antipattern_client)
    assert PROMTOOL is not None
    linter = await asyncio.create_subprocess_exec(
        PROMTOOL,
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await linter.communicate(text.encode())
    assert linter.returncode == 0, output.decode()
    assert output.decode().strip() == ""
