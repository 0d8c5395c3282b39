"""/metrics: what it exposes, where, with which labels, in a format Prometheus accepts.

That its loop lag rises only when something blocks the loop is proven with the lessons
(tests/lessons/test_loop_lag.py), which have something that blocks it on purpose.
"""

import asyncio
import re
import shutil

import httpx
import pytest
from starlette.types import Message

from {{ cookiecutter.package_name }}.observability.metrics import (
    KNOWN_METHODS,
    OTHER_METHOD,
    UNMATCHED_ROUTE,
)
from {{ cookiecutter.package_name }}.settings import DRIVERS, Settings

from .support.harness import request_scope, started_app


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


async def test_metrics_expose_thread_tokens_pools_and_requests(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/healthz")
    text = await scrape(client)
    for family in (
        "anyio_thread_tokens 40.0",
        "anyio_thread_tokens_in_use",
        "anyio_thread_tokens_waiting",
        *(f"{driver}_pool_connections_in_use" for driver in DRIVERS),
        'http_requests_total{method="GET",route="/healthz",status="200"}',
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
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200  # not a 307 to /metrics/
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE event_loop_lag_seconds histogram" in response.text


async def test_invented_methods_and_unmatched_paths_collapse_to_one_label_value_each(
    client: httpx.AsyncClient,
) -> None:
    # h11 (and many servers other than uvicorn's httptools) pass any method token through,
    # so a client can send these for real; each would otherwise be a new series for ever.
    for index in range(100):
        await client.request(f"INVENTED{index}", "/healthz")
        await client.get(f"/no/such/path/{index}")
    text = await scrape(client)
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
    client: httpx.AsyncClient,
) -> None:
    await client.get("/healthz")
    await client.get("/no/such/path")
    text = await scrape(client)
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
