"""The lesson beyond route functions: dependencies, background tasks, streaming responses,
clients that go away, and start-up. Each gets the home its style gives it, proven by counting
thread tokens and requests and by the loop's heartbeat.

What happens after the response, or when a client leaves, is proven against the app served
for real by uvicorn (tests/served.py): an in-process transport cannot show either.

That a correct version leaves the loop free is shown by overlap, counts and order (n requests
in far less than n times one; a request answered while another's work still runs), not by a
tight bound on the heartbeat: on two saturated cores a healthy loop's longest gap reached
0.4 s in stress runs. The heartbeat bounds only the harm of the wrong versions, from below.
"""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass

import anyio.to_thread
import httpx
import pytest
from blockbuster import BlockingError
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }}.lessons import process_pool
from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import Service, counted_app, pool_sizes, running_app
from ..support.parts import ASYNC_PROVIDERS_ROUTE
from ..support.proofs import Heartbeat, burst, timed
from ..support.served import Served, serving_app

DELAY = 0.3
# These apps barely touch the database: small pools leave the server's connections to others.
SMALL_POOLS = pool_sizes(1, 2)


@pytest.fixture(scope="module")
async def service(
    database_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[Service]:
    settings = make_settings(database_url=database_url, enable_antipatterns=True, **SMALL_POOLS)
    async with counted_app(settings) as service:
        yield service


@pytest.fixture(scope="module")
def served(database_url: str, make_settings: Callable[..., Settings]) -> Iterator[Served]:
    settings = make_settings(database_url=database_url, enable_antipatterns=True, **SMALL_POOLS)
    with serving_app(settings) as served:
        yield served


@pytest.fixture
async def server(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        yield client


# Dependencies


# Thread budgets belong to the event loop: a test that changes them gets a loop of its own.
@pytest.mark.asyncio(loop_scope="function")
async def test_async_dependencies_are_served_while_every_thread_token_is_held(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=database_url, anyio_thread_tokens=1, **SMALL_POOLS)
    hold = 1.5
    async with running_app(settings) as client:
        limiter = anyio.to_thread.current_default_thread_limiter()
        asked = time.perf_counter()
        holder = asyncio.create_task(client.get(f"/lesson/sync-slow?delay={hold}"))
        async with asyncio.timeout(10):
            while limiter.borrowed_tokens < 1:  # noqa: ASYNC110 (sampling, like the heartbeat)
                await asyncio.sleep(0.005)
        # The only token is taken: whatever needs one now waits for /lesson/sync-slow.
        async with Heartbeat() as heartbeat:
            async_dependency = await client.get("/lesson/depends/async?delay=0")
            # The service's own providers are async def.
            providers = await client.get(ASYNC_PROVIDERS_ROUTE)
        # Nothing queued for the token: a `def` provider would have waited for the holder
        # (counted, so a loaded machine that slows the holder's exit cannot hide it).
        assert heartbeat.peak_tasks_waiting_for_token == 0
        assert not holder.done()
        sync_dependency = await client.get("/lesson/depends/sync?delay=0")
        # The def dependency could only start once the holder's thread gave the token back,
        # the whole hold after the holder was asked for. (Not `holder.done()`: the holder takes
        # the token once more, to check its response model in a thread, and may get it second.)
        assert time.perf_counter() - asked >= hold
        assert (await holder).status_code == 200
    assert async_dependency.status_code == 200
    assert async_dependency.json()["opened_in"].startswith("MainThread")
    assert providers.status_code == 200
    assert sync_dependency.status_code == 200
    assert not sync_dependency.json()["opened_in"].startswith("MainThread")
    assert sync_dependency.json()["route_ran_in"].startswith("MainThread")


async def test_an_async_dependency_waits_on_the_loop_without_threads(fresh: Service) -> None:
    n = 20
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/depends/async?delay={DELAY}"] * n)
    assert result.statuses == [200] * n
    assert fresh.in_flight.peak == n
    assert heartbeat.peak_tokens_in_use == 0
    assert {r.json()["opened_in"].split()[0] for r in result.responses} == {"MainThread"}
    # Setup and teardown each waited (the in-process call ends after the teardown), all at
    # once: had only the setups run one after another, they alone would take n * DELAY.
    assert 2 * DELAY * 0.9 <= result.seconds < n * DELAY / 2


async def test_a_def_dependency_holds_a_thread_token_under_an_async_route(fresh: Service) -> None:
    n = 10
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/depends/sync?delay={DELAY}"] * n)
    assert result.statuses == [200] * n
    assert heartbeat.peak_tokens_in_use == n
    bodies = [r.json() for r in result.responses]
    assert len({body["opened_in"] for body in bodies}) == n
    assert not any(body["opened_in"].startswith("MainThread") for body in bodies)
    assert all(body["route_ran_in"].startswith("MainThread") for body in bodies)
    # The blocking teardown ran too, after the response, also off the loop: all at once.
    assert 2 * DELAY * 0.9 <= result.seconds < n * DELAY


async def test_blockbuster_catches_a_blocking_async_dependency(fresh: Service) -> None:
    with pytest.raises(BlockingError, match="sleep"):
        await fresh.client.get("/lesson/depends/blocking?delay=0.01")


@pytest.mark.allow_blocking
async def test_a_blocking_async_dependency_stalls_the_loop_at_setup_and_teardown(
    fresh: Service,
) -> None:
    n, delay = 2, 0.2
    async with Heartbeat() as heartbeat:
        result = await burst(fresh.client, [f"/lesson/depends/blocking?delay={delay}"] * n)
    assert result.statuses == [200] * n
    assert heartbeat.stood_still_for(delay), heartbeat
    # Setup and teardown of each request held the loop: nothing overlapped.
    assert result.seconds >= 0.9 * n * 2 * delay


# Streaming responses


def lines(response: httpx.Response) -> list[str]:
    return response.text.splitlines()


async def test_a_sync_stream_is_advanced_in_worker_threads_a_token_per_chunk(
    fresh: Service,
) -> None:
    n, chunks = 10, 2
    async with Heartbeat() as heartbeat:
        result = await burst(
            fresh.client, [f"/lesson/stream/sync?chunks={chunks}&delay={DELAY}"] * n
        )
    assert result.statuses == [200] * n
    produced_in = [line for r in result.responses for line in lines(r)]
    assert len(produced_in) == n * chunks
    assert not any(thread.startswith("MainThread") for thread in produced_in)
    # One token per stream while it produces a chunk, never more: n streams, n tokens.
    assert heartbeat.peak_tokens_in_use == n
    assert result.seconds < n * chunks * DELAY / 2  # the streams overlapped


async def test_an_async_stream_runs_on_the_loop_without_threads(fresh: Service) -> None:
    n, chunks = 20, 2
    async with Heartbeat() as heartbeat:
        result = await burst(
            fresh.client, [f"/lesson/stream/async?chunks={chunks}&delay={DELAY}"] * n
        )
    assert result.statuses == [200] * n
    produced_in = {line.split()[0] for r in result.responses for line in lines(r)}
    assert produced_in == {"MainThread"}
    assert fresh.in_flight.peak == n
    assert heartbeat.peak_tokens_in_use == 0
    assert result.seconds < n * chunks * DELAY / 2  # the streams overlapped on the loop


async def test_blockbuster_catches_a_blocking_async_stream(fresh: Service) -> None:
    with pytest.raises(BlockingError, match="sleep"):
        await fresh.client.get("/lesson/stream/blocking?chunks=1&delay=0.01")


@pytest.mark.allow_blocking
async def test_a_blocking_async_stream_stalls_the_loop_at_every_chunk(fresh: Service) -> None:
    n, chunks, delay = 2, 2, 0.2
    async with Heartbeat() as heartbeat:
        result = await burst(
            fresh.client, [f"/lesson/stream/blocking?chunks={chunks}&delay={delay}"] * n
        )
    assert result.statuses == [200] * n
    assert heartbeat.stood_still_for(delay), heartbeat
    assert result.seconds >= 0.9 * n * chunks * delay


# Background tasks: after the response, so against the real server


@dataclass
class AfterTheResponse:
    task_ran_for: float  # from the answer to the end of the request (its task)
    healthz_answered_meanwhile: bool
    peak_tokens_in_use: int


async def after_the_response(
    served: Served, server: httpx.AsyncClient, path: str, delay: float
) -> AfterTheResponse:
    """GET `path`, whose background task runs for `delay`; then /healthz while it runs."""
    async with served.heartbeat() as heartbeat:
        response = await server.get(path, params={"delay": delay})
        answered_at = time.perf_counter()
        assert response.status_code == 200
        assert served.inside.now[path] == 1  # the client has its answer; the task runs
        assert (await server.get("/healthz")).status_code == 200
        healthz_answered_meanwhile = served.inside.now[path] == 1
        await served.until(lambda: served.inside.now[path] == 0, patience=10)
    return AfterTheResponse(
        time.perf_counter() - answered_at,
        healthz_answered_meanwhile,
        heartbeat.peak_tokens_in_use,
    )


async def test_a_def_background_task_runs_in_a_worker_thread_after_the_response(
    served: Served, server: httpx.AsyncClient
) -> None:
    delay = 0.8
    after = await after_the_response(served, server, "/lesson/background/sync", delay)
    assert after.task_ran_for >= 0.5 * delay
    assert after.peak_tokens_in_use == 1  # in a worker thread
    assert after.healthz_answered_meanwhile  # the loop stayed free


async def test_an_async_background_task_runs_on_the_loop_after_the_response(
    served: Served, server: httpx.AsyncClient
) -> None:
    delay = 0.8
    after = await after_the_response(served, server, "/lesson/background/async", delay)
    assert after.task_ran_for >= 0.5 * delay
    assert after.peak_tokens_in_use == 0  # on the loop
    assert after.healthz_answered_meanwhile  # which it only awaited


async def test_blockbuster_catches_a_blocking_async_background_task(fresh: Service) -> None:
    # In process, the ASGI call includes the background task, so its error reaches the test.
    with pytest.raises(BlockingError, match="sleep"):
        await fresh.client.get("/lesson/background/blocking?delay=0.01")


def lag_observations_over(metrics: str, bound: str) -> float:
    """Loop-lag probes that woke more than `bound` seconds late, from the Prometheus text."""
    for family in text_string_to_metric_families(metrics):
        if family.name == "event_loop_lag_seconds":
            buckets = {
                sample.labels["le"]: sample.value
                for sample in family.samples
                if sample.name.endswith("_bucket")
            }
            return buckets["+Inf"] - buckets[bound]
    raise AssertionError("no event_loop_lag_seconds in /metrics")


@pytest.mark.allow_blocking
async def test_a_blocking_async_background_task_stalls_the_worker_after_the_client_has_its_answer(
    served: Served, server: httpx.AsyncClient
) -> None:
    delay = 0.5
    lagging_before = lag_observations_over((await server.get("/metrics")).text, "0.25")
    async with served.heartbeat() as heartbeat:
        answer = await server.get(f"/lesson/background/blocking?delay={delay}")
        assert served.inside.now["/lesson/background/blocking"] == 1  # the task runs now
        health, health_took = await timed(lambda: server.get("/healthz"))
    assert answer.status_code == 200
    assert health.status_code == 200
    # The client had its answer (the task was running when it came), then the server's
    # loop stood still and the next request waited for it.
    assert heartbeat.stood_still_for(delay), heartbeat
    assert health_took >= 0.5 * delay
    await served.until(lambda: served.inside.now["/lesson/background/blocking"] == 0, 10)
    # The lag monitor saw it too (it probes every 50 ms, so give it a few probes).
    await asyncio.sleep(0.2)
    lagging_after = lag_observations_over((await server.get("/metrics")).text, "0.25")
    assert lagging_after > lagging_before


# A client that goes away


async def open_and_send(port: int, path: str) -> asyncio.StreamWriter:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    return writer


async def test_a_client_that_leaves_cancels_streams_and_watching_routes_only(
    served: Served,
) -> None:
    long = 2.0
    runs_to_the_end = {
        "/lesson/slow": f"delay={long}",  # async def
        "/lesson/sync-slow": f"delay={long}",  # def: a worker thread
        "/lesson/offload": f"delay={long}",  # async def awaiting asyncio.to_thread
    }
    cancelled = {
        "/lesson/stream/async": "chunks=10&delay=0.15",
        "/lesson/stream/sync": "chunks=10&delay=0.15",
        "/lesson/cancellable": f"delay={long}",
    }
    requests = {**runs_to_the_end, **cancelled}
    writers = [await open_and_send(served.port, f"{p}?{q}") for p, q in requests.items()]
    await served.until(lambda: all(served.inside.now[p] == 1 for p in requests), patience=10)
    closed_at = time.perf_counter()
    for writer in writers:
        writer.close()
    # Well before the plain routes end, everything that can be cancelled has been.
    await served.until(lambda: all(served.inside.now[p] == 0 for p in cancelled), patience=1)
    still_running = {p for p in runs_to_the_end if served.inside.now[p] == 1}
    tokens_held = await served.tokens_in_use()
    assert still_running == set(runs_to_the_end)
    assert tokens_held == 1  # the def route's thread, which nothing can stop
    # ...and they do finish, for a client that is no longer there.
    await served.until(lambda: all(served.inside.now[p] == 0 for p in requests), patience=10)
    ended = {p: served.inside.left_at[p] - closed_at for p in requests}
    assert all(ended[p] > ended[q] for p in runs_to_the_end for q in cancelled)
    for writer in writers:
        await writer.wait_closed()


# Start-up


@pytest.mark.asyncio(loop_scope="function")
async def test_start_up_opens_its_blocking_resources_off_the_loop(
    database_url: str, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(database_url=database_url, **SMALL_POOLS)
    loop_thread = threading.get_ident()
    pools_started_on: list[int] = []
    start_process_pool = process_pool.start_process_pool

    def recorded(settings: Settings) -> ProcessPoolExecutor:
        pools_started_on.append(threading.get_ident())
        return start_process_pool(settings)

    monkeypatch.setattr(process_pool, "start_process_pool", recorded)
    async with AsyncExitStack() as stack:
        async with Heartbeat() as heartbeat:
            started = time.perf_counter()
            client = await stack.enter_async_context(running_app(settings))
            start_up = time.perf_counter() - started
        assert (await client.get("/healthz")).status_code == 200
    # Starting processes, asked by thread: how long it holds the loop depends on whether
    # multiprocessing's fork server already runs in this process (an earlier test may have
    # started it), so a time alone cannot tell it from the loop's ordinary gaps.
    assert len(pools_started_on) == 1
    assert pools_started_on[0] != loop_thread
    # The rest (connecting psycopg2, loading the CA bundle) blockbuster, active here, would
    # have failed at its first blocking call on the loop; and a start-up that held the loop
    # throughout would show one gap as long as itself.
    assert heartbeat.max_gap < start_up


@pytest.mark.parametrize(
    "url",
    [
        "/lesson/depends/async?delay=-1",
        "/lesson/depends/sync?delay=5.01",
        "/lesson/depends/blocking?delay=nan",
        "/lesson/background/async?delay=inf",
        "/lesson/background/sync?delay=6",
        "/lesson/background/blocking?delay=-0.1",
        "/lesson/stream/async?chunks=0&delay=0",
        "/lesson/stream/sync?chunks=11&delay=0",
        "/lesson/stream/sync?chunks=1&delay=0.51",
        "/lesson/stream/blocking?chunks=1.5&delay=0",
        "/lesson/cancellable?delay=5.5",
        "/lesson/cancellable?delay=soon",
    ],
)
async def test_out_of_range_parameters_are_refused_with_422(fresh: Service, url: str) -> None:
    assert (await fresh.client.get(url)).status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "/lesson/depends/blocking?delay=0",
        "/lesson/background/blocking?delay=0",
        "/lesson/stream/blocking?chunks=1&delay=0",
    ],
)
async def test_the_anti_patterns_are_not_mounted_by_default(
    client: httpx.AsyncClient, url: str
) -> None:
    assert (await client.get(url)).status_code == 404
