"""The runtime proof: /metrics shows loop lag rise only when something blocks the loop."""

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from {{ cookiecutter.package_name }}.observability.metrics import LAG_PROBE_INTERVAL
from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import running_app
from ..support.proofs import burst

STALL, REPEAT = 0.3, 10
# A lag above 1 s: what the anti-pattern's 1.2 s sleep records.
BLOCK, LAG_BOUND = 1.2, "1.0"


def lag_observations_above(metrics_text: str, bound: str) -> float:
    """Observations greater than `bound` seconds: the +Inf count minus the `bound` bucket."""
    counts = {}
    for line in metrics_text.splitlines():
        if line.startswith("event_loop_lag_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            counts[le] = float(line.rsplit(" ", 1)[1])
    return counts["+Inf"] - counts[bound]


def lag_seconds(metrics_text: str) -> float:
    """All the lag recorded so far: the histogram's sum."""
    line = next(x for x in metrics_text.splitlines() if x.startswith("event_loop_lag_seconds_sum"))
    return float(line.rsplit(" ", 1)[1])


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


async def lag_during_burst(client: httpx.AsyncClient, delay: float) -> float:
    """The lag recorded while REPEAT requests to each correct waiting route run at once."""
    urls = [f"/lesson/{route}?delay={delay}" for route in ("slow", "sync-slow", "offload")]
    before = lag_seconds(await scrape(client))
    result = await burst(client, urls * REPEAT)
    await asyncio.sleep(3 * LAG_PROBE_INTERVAL)  # the probe that woke during it has recorded
    after = lag_seconds(await scrape(client))
    assert result.statuses == [200] * len(urls) * REPEAT
    return after - before


# The metric, not blockbuster, must catch a route that waits on the loop.
@pytest.mark.allow_blocking
async def test_loop_lag_stays_low_under_a_burst_of_correct_routes(
    antipattern_client: httpx.AsyncClient,
) -> None:
    # The control: the same burst with nothing to wait for, so the same work on the loop and
    # whatever pauses a crowded machine gives this process.
    control = await lag_during_burst(antipattern_client, 0)
    waiting = await lag_during_burst(antipattern_client, STALL)
    # Had one of the routes waited on the loop, its REPEAT waits would add REPEAT * STALL.
    assert waiting - control < REPEAT * STALL / 2, f"{control=:.3f} s, {waiting=:.3f} s"


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
