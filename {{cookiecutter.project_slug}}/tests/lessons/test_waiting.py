"""The lesson's claims, each proven by counting and by the loop's heartbeat.

A free loop is shown by what it did meanwhile: requests admitted and counted at once,
answers that arrived in order. The heartbeat shows harm only (the loop stood still for the
whole delay), a lower bound that no load can fake. Time is only ever a lower bound.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio.to_thread
import httpx
import pytest
from blockbuster import BlockingError

from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import Service, counted_app, running_app
from ..support.proofs import Burst, Heartbeat, burst
from ..support.served import Served, serving_app

DELAY = 0.4
STEPS = 10_000_000  # about 0.3 s of CPU on a 2-core CI machine


@pytest.fixture(scope="module")
async def service(
    database_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[Service]:
    settings = make_settings(database_url=database_url, enable_antipatterns=True)
    async with counted_app(settings) as service:
        yield service


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
    # 50 waits of 0.3 s one after another would take 15 s.
    assert result.seconds < n * DELAY / 5


async def test_blocking_def_requests_overlap_in_worker_threads(fresh: Service) -> None:
    n = 30  # below the 40 default thread tokens
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/sync-slow?delay={DELAY}"] * n)
    assert result.statuses == [200] * n
    assert heartbeat.peak_tokens_in_use == n
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


async def test_depends_max_concurrency_queues_requests_on_the_loop_without_thread_tokens(
    fresh: Service,
) -> None:
    # The resource's places (SCARCE_PLACES), stated here: a proof that read them from the
    # route would follow a wrong value.
    places = 2
    n = 4 * places
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/limited?delay={DELAY}"] * n)
    assert result.statuses == [200] * n
    # Every request was inside the app at once...
    assert fresh.in_flight.peak == n
    # ...but only those holding a place had a thread: the rest waited on the loop, without
    # a token, and not even in the queue for one (compare /lesson/sync-slow above).
    assert heartbeat.peak_tokens_in_use == places
    assert heartbeat.peak_tasks_waiting_for_token == 0
    # In waves of two.
    assert result.seconds >= n / places * DELAY * 0.9


async def test_offloaded_blocking_calls_keep_the_loop_free_and_overlap(fresh: Service) -> None:
    n = 20  # over three times the 6 threads Python's default executor has on 2 cores
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/offload?delay={DELAY}"] * n)
    assert result.statuses == [200] * n
    assert fresh.in_flight.peak == n
    # asyncio.to_thread does not take AnyIO's thread tokens: it has its own executor...
    assert heartbeat.peak_tokens_in_use == 0
    # ...in which every call waited in a thread of its own, all at once (a busy executor
    # thread takes no second call), because the lifespan sized it to 40.
    threads = {r.json()["thread"] for r in result.responses}
    assert len(threads) == n
    assert all(thread.startswith("to_thread") for thread in threads)


@pytest.mark.asyncio(loop_scope="function")
async def test_offload_capacity_is_the_configured_executor_size(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    workers = 3
    settings = make_settings(database_url=database_url, to_thread_max_workers=workers)
    async with running_app(settings) as client:
        result = await burst(client, [f"/lesson/offload?delay={DELAY}"] * (workers + 1))
    assert result.statuses == [200] * (workers + 1)
    # Exactly `workers` threads waited (more would mean a larger executor, fewer a smaller
    # one), and the extra call waited for one of them to come free: a second wave.
    threads = {r.json()["thread"] for r in result.responses}
    assert len(threads) == workers
    assert all(thread.startswith("to_thread") for thread in threads)
    assert result.seconds >= 2 * DELAY * 0.9


def overlap(first: dict[str, Any], second: dict[str, Any]) -> tuple[bool, float]:
    """Whether two timed runs overlapped, and the wall time the pair took."""
    overlapped = first["started"] < second["finished"] and second["started"] < first["finished"]
    span = max(first["finished"], second["finished"]) - min(first["started"], second["started"])
    return overlapped, span


async def healthz_during(service: Service, urls: list[str]) -> tuple[Burst, bool]:
    """Send `urls` at once and, once all of them are inside the app, GET /healthz. Returns
    their results, and whether /healthz answered while they were all still being served:
    the loop was free to serve it (it competes for the same cores as they do, so a busy
    machine slows both alike)."""
    async with asyncio.TaskGroup() as group:
        requests = group.create_task(burst(service.client, urls))
        async with asyncio.timeout(10):
            while service.in_flight.now < len(urls):  # noqa: ASYNC110 (counted, no event)
                await asyncio.sleep(0.001)
        health = await service.client.get("/healthz")
        answered_meanwhile = health.status_code == 200 and not requests.done()
    return requests.result(), answered_meanwhile


async def test_cpu_work_in_def_keeps_the_loop_answering_but_threads_share_the_gil(
    fresh: Service,
) -> None:
    result, answered_meanwhile = await healthz_during(fresh, [f"/lesson/cpu?steps={STEPS}"] * 2)
    first, second = (r.json() for r in result.responses)
    overlapped, span = overlap(first, second)
    assert first["pid"] == second["pid"]
    assert first["thread"] != second["thread"]
    assert overlapped
    # The GIL lets one thread run Python at a time, so together the two threads got at most
    # one core: their CPU seconds add up to no more than the time they took. (True under
    # any load; more load only lowers it.)
    assert first["cpu_seconds"] + second["cpu_seconds"] <= 1.1 * span
    # Yet the loop got its turns: /healthz answered while both threads crunched.
    assert answered_meanwhile


async def test_cpu_work_in_a_process_pool_runs_in_other_processes_at_once(
    fresh: Service,
) -> None:
    result, answered_meanwhile = await healthz_during(
        fresh, [f"/lesson/cpu-offload?steps={STEPS}"] * 2
    )
    first, second = (r.json() for r in result.responses)
    overlapped, _ = overlap(first, second)
    # Two processes other than this one (the app runs in the test's process), each with
    # its own GIL, crunching at the same time: nothing makes them take turns, so on two
    # free cores they run in parallel. How much faster that is depends on what else the
    # cores run, so a benchmark measures it (scripts/bench.py cpu), not this test.
    assert os.getpid() not in {first["pid"], second["pid"]}
    assert first["pid"] != second["pid"]
    assert overlapped
    assert answered_meanwhile  # the loop only awaited


async def test_blockbuster_catches_time_sleep_inside_async_def(fresh: Service) -> None:
    with pytest.raises(BlockingError, match="sleep"):
        await fresh.client.get("/lesson/blocking?delay=0.01")


@pytest.mark.allow_blocking
async def test_time_sleep_inside_async_def_serialises_requests_and_stalls_the_loop(
    fresh: Service,
) -> None:
    n = 3
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/blocking?delay={DELAY}"] * n)
    assert result.statuses == [200] * n
    assert fresh.in_flight.peak == 1  # each request ran alone: the loop could not switch
    assert result.seconds >= 0.9 * n * DELAY
    assert heartbeat.stood_still_for(DELAY), heartbeat


# Thread budgets belong to the event loop: tests that change them get a loop of their own.
@pytest.mark.asyncio(loop_scope="function")
async def test_healthz_answers_while_every_thread_token_is_taken(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    tokens = 2
    settings = make_settings(database_url=database_url, anyio_thread_tokens=tokens, cpu_workers=1)
    async with running_app(settings) as client, asyncio.TaskGroup() as group:
        busy = [
            group.create_task(client.get(f"/lesson/sync-slow?delay={DELAY}")) for _ in range(tokens)
        ]
        limiter = anyio.to_thread.current_default_thread_limiter()
        while limiter.borrowed_tokens < tokens:  # noqa: ASYNC110 (AnyIO offers no event)
            await asyncio.sleep(0.001)
        sync_route = group.create_task(client.get("/lesson/sync"))
        health = await client.get("/healthz")
        # Answered while both tokens were still taken; a `def` route had to wait.
        assert health.status_code == 200
        assert not any(task.done() for task in busy)
        assert not sync_route.done()
    assert sync_route.result().status_code == 200


@pytest.fixture(scope="module")
def served(database_url: str, make_settings: Callable[..., Settings]) -> Iterator[Served]:
    """The app on a real socket: its loop runs in another thread, so this test's client
    keeps running while that loop is blocked."""
    settings = make_settings(database_url=database_url, enable_antipatterns=True, cpu_workers=1)
    with serving_app(settings) as served:
        yield served


async def answer_order(served: Served, url: str) -> list[str]:
    """Send `url`, then /healthz once `url` is inside the app; return the paths in the
    order their answers arrived."""
    order: list[str] = []
    path = url.split("?", maxsplit=1)[0]
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:

        async def get(target: str) -> None:
            response = await client.get(target)
            assert response.status_code == 200
            order.append(target.split("?", maxsplit=1)[0])

        async with asyncio.TaskGroup() as group:
            group.create_task(get(url))
            await served.until(lambda: served.inside.now[path] > 0, patience=10)
            group.create_task(get("/healthz"))
    return order


@pytest.mark.allow_blocking
async def test_the_blocking_route_delays_an_unrelated_healthz(served: Served) -> None:
    # Control: sent while an awaiting request waits, /healthz answers first.
    assert await answer_order(served, f"/lesson/slow?delay={DELAY}") == [
        "/healthz",
        "/lesson/slow",
    ]
    # Sent while time.sleep holds the loop, /healthz is not even read until it returns.
    assert await answer_order(served, f"/lesson/blocking?delay={DELAY}") == [
        "/lesson/blocking",
        "/healthz",
    ]


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
