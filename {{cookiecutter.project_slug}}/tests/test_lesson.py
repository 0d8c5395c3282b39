"""The lesson's claims, each proven by counting and by the loop's heartbeat.

Delays are 0.3 s or more, so a healthy loop's heartbeat gap (under 50 ms even with both cores
busy) and a blocked one (the whole delay) are far apart.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from blockbuster import BlockingError

from {{ cookiecutter.package_name }}.routes.lesson import SCARCE_PLACES
from {{ cookiecutter.package_name }}.settings import Settings

from .harness import running_app
from .proofs import Heartbeat, InFlight, burst, to_thread_workers

DELAY = 0.3
STEPS = 10_000_000  # about 0.3 s of CPU on a 2-core CI machine


@dataclass
class Service:
    client: httpx.AsyncClient
    in_flight: InFlight


@pytest.fixture(scope="module")
async def service(
    database_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[Service]:
    in_flight = InFlight()
    settings = make_settings(database_url=database_url, enable_antipatterns=True)
    async with running_app(settings, in_flight) as client:
        yield Service(client, in_flight)


@pytest.fixture
def fresh(service: Service) -> Service:
    service.in_flight.reset()
    return service


async def test_async_route_runs_on_the_loop_and_sync_route_in_a_worker_thread(
    fresh: Service,
) -> None:
    on_loop = (await fresh.client.get("/lesson/async")).json()
    in_thread = (await fresh.client.get("/lesson/sync")).json()
    assert on_loop["thread"].startswith("MainThread")
    assert not in_thread["thread"].startswith("MainThread")


async def test_awaiting_requests_overlap_on_the_loop_without_threads(fresh: Service) -> None:
    n = 50
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/slow?delay={DELAY}"] * n)
    assert result.statuses == [200] * n
    assert fresh.in_flight.peak == n
    assert heartbeat.peak_tokens_in_use == 0
    assert heartbeat.max_gap < DELAY / 2
    # 50 waits of 0.3 s one after another would take 15 s.
    assert result.seconds < n * DELAY / 5


async def test_blocking_def_requests_overlap_in_worker_threads(fresh: Service) -> None:
    n = 30  # below the 40 default thread tokens
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/sync-slow?delay={DELAY}"] * n)
    assert result.statuses == [200] * n
    assert heartbeat.peak_tokens_in_use == n
    assert heartbeat.max_gap < DELAY / 2
    assert len({r.json()["thread"] for r in result.responses}) == n


# Thread budgets belong to the event loop: tests that change them get a loop of their own.
@pytest.mark.asyncio(loop_scope="function")
async def test_the_request_beyond_the_thread_tokens_waits_for_one(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    tokens = 4
    settings = make_settings(database_url=database_url, anyio_thread_tokens=tokens)
    async with running_app(settings) as client, Heartbeat() as heartbeat:
        result = await burst(client, [f"/lesson/sync-slow?delay={DELAY}"] * (tokens + 1))
    assert result.statuses == [200] * (tokens + 1)
    assert heartbeat.peak_tokens_in_use == tokens
    assert heartbeat.peak_tasks_waiting_for_token >= 1
    # The fifth request ran in a second wave.
    assert result.seconds >= 2 * DELAY * 0.9
    assert heartbeat.max_gap < DELAY / 2


async def test_depends_max_concurrency_queues_requests_on_the_loop_without_thread_tokens(
    fresh: Service,
) -> None:
    n = 4 * SCARCE_PLACES
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/limited?delay={DELAY}"] * n)
    assert result.statuses == [200] * n
    # Every request was inside the app at once...
    assert fresh.in_flight.peak == n
    # ...but only those holding a place had a thread: the rest waited on the loop, without
    # a token, and not even in the queue for one (compare /lesson/sync-slow above).
    assert heartbeat.peak_tokens_in_use == SCARCE_PLACES
    assert heartbeat.peak_tasks_waiting_for_token == 0
    # In waves of SCARCE_PLACES.
    assert result.seconds >= n / SCARCE_PLACES * DELAY * 0.9


async def test_offloaded_blocking_calls_keep_the_loop_free_and_overlap(fresh: Service) -> None:
    n = 20  # over three times the 6 threads Python's default executor has on 2 cores
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/offload?delay={DELAY}"] * n)
    assert result.statuses == [200] * n
    assert fresh.in_flight.peak == n
    assert heartbeat.max_gap < DELAY / 2
    # asyncio.to_thread does not take AnyIO's thread tokens: it has its own executor...
    assert heartbeat.peak_tokens_in_use == 0
    # ...which started a thread per waiting call, because the lifespan sized it to 40.
    assert to_thread_workers() >= n
    assert result.seconds < 2 * DELAY  # one wave; the default executor would need four


@pytest.mark.asyncio(loop_scope="function")
async def test_offload_capacity_is_the_configured_executor_size(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    workers = 3
    settings = make_settings(database_url=database_url, to_thread_max_workers=workers)
    async with running_app(settings) as client, Heartbeat() as heartbeat:
        result = await burst(client, [f"/lesson/offload?delay={DELAY}"] * (workers + 1))
    assert result.statuses == [200] * (workers + 1)
    assert result.seconds >= 2 * DELAY * 0.9  # the extra call waited for a thread
    assert heartbeat.max_gap < DELAY / 2


def overlap(first: dict[str, Any], second: dict[str, Any]) -> tuple[bool, float]:
    """Whether two timed runs overlapped, and the wall time the pair took."""
    overlapped = first["started"] < second["finished"] and second["started"] < first["finished"]
    span = max(first["finished"], second["finished"]) - min(first["started"], second["started"])
    return overlapped, span


async def test_cpu_work_in_def_keeps_the_loop_answering_but_threads_share_the_gil(
    fresh: Service,
) -> None:
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/cpu?steps={STEPS}"] * 2)
        health = await fresh.client.get("/healthz")
    first, second = (r.json() for r in result.responses)
    overlapped, span = overlap(first, second)
    assert first["pid"] == second["pid"]
    assert first["thread"] != second["thread"]
    assert overlapped
    # The GIL lets one thread run Python at a time, so together the two threads got at most
    # one core: their CPU seconds add up to no more than the time they took. (True under
    # any load; more load only lowers it.)
    assert first["cpu_seconds"] + second["cpu_seconds"] <= 1.1 * span
    assert health.status_code == 200
    assert heartbeat.max_gap < span  # the loop kept getting turns


async def test_cpu_work_in_a_process_pool_runs_in_parallel(fresh: Service) -> None:
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/cpu-offload?steps={STEPS}"] * 2)
    first, second = (r.json() for r in result.responses)
    overlapped, _ = overlap(first, second)
    # Two processes, each with its own GIL, working at the same time: on two idle cores
    # that is twice the throughput (benchmarks, not tests, measure how much; with both
    # cores busy elsewhere there is nothing to gain).
    assert first["pid"] != second["pid"]
    assert overlapped
    assert heartbeat.max_gap < DELAY / 2  # the loop only awaited


async def test_blockbuster_catches_time_sleep_inside_async_def(fresh: Service) -> None:
    with pytest.raises(BlockingError, match="sleep"):
        await fresh.client.get("/lesson/blocking?delay=0.01")


@pytest.mark.allow_blocking
async def test_time_sleep_inside_async_def_serialises_requests_and_stalls_healthz(
    fresh: Service,
) -> None:
    n, delay = 3, 0.3
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/blocking?delay={delay}"] * n)
    assert result.statuses == [200] * n
    assert fresh.in_flight.peak == 1  # each request ran alone: the loop could not switch
    assert result.seconds >= 0.9 * n * delay
    assert heartbeat.max_gap >= 0.9 * delay


async def slowest_healthz_while(client: httpx.AsyncClient, url: str) -> float:
    """Probe /healthz back to back while `url` is served; return the slowest answer.

    Each probe's clock starts before it yields its turn on the loop, so a probe is always
    timing: a stall of the loop shows up in full in one probe's latency.
    """
    slowest = 0.0
    async with asyncio.TaskGroup() as group:
        request = group.create_task(client.get(url))
        while not request.done():
            started = time.perf_counter()
            await asyncio.sleep(0)  # an in-process call may never yield otherwise
            health = await client.get("/healthz")
            assert health.status_code == 200
            slowest = max(slowest, time.perf_counter() - started)
    assert request.result().status_code == 200
    return slowest


async def test_healthz_stays_fast_while_a_slow_async_request_waits(fresh: Service) -> None:
    assert await slowest_healthz_while(fresh.client, f"/lesson/slow?delay={DELAY}") < DELAY / 2


@pytest.mark.allow_blocking
async def test_the_blocking_route_delays_an_unrelated_healthz(fresh: Service) -> None:
    delay = 0.3
    slowest = await slowest_healthz_while(fresh.client, f"/lesson/blocking?delay={delay}")
    assert slowest >= 0.5 * delay


async def test_the_anti_pattern_is_not_mounted_by_default(client: httpx.AsyncClient) -> None:
    assert (await client.get("/lesson/blocking?delay=0")).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/lesson/slow?delay=-1",
        "/lesson/slow?delay=5.01",
        "/lesson/slow?delay=soon",
        "/lesson/sync-slow?delay=6",
        "/lesson/offload?delay=nan",
        "/lesson/offload?delay=inf",
        "/lesson/cpu?steps=0",
        "/lesson/cpu?steps=30000001",
        "/lesson/cpu-offload?steps=1e9",
        "/lesson/blocking?delay=10",
    ],
)
async def test_out_of_range_parameters_are_refused_with_422(fresh: Service, url: str) -> None:
    assert (await fresh.client.get(url)).status_code == 422
