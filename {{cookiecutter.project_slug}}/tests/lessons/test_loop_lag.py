"""The runtime proof: /metrics shows loop lag rise only when something blocks the loop."""

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from {{ cookiecutter.package_name }}.observability.metrics import LAG_PROBE_INTERVAL
from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import running_app
from ..support.proofs import burst

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
