"""psycopg2's concurrency: `def` routes in threads, each waiting for a connection on the loop
first, the pool that waits instead of raising, and the bridge from `async def`.

The requests wait inside PostgreSQL on a lock the test holds (support/table_lock.py); the
heartbeat samples the thread tokens, and shows harm (a loop that stood still).
"""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

import psycopg2
import psycopg2.pool
import pytest
from fastapi import APIRouter

from {{ cookiecutter.package_name }}.db.psycopg2_pool import PoolTimeoutError, Psycopg2Pool
from {{ cookiecutter.package_name }}.dependencies import Psycopg2PoolDep
from {{ cookiecutter.package_name }}.items import sync_repository
from {{ cookiecutter.package_name }}.items.http import ItemId, found
from {{ cookiecutter.package_name }}.items.schemas import Item
from {{ cookiecutter.package_name }}.settings import Settings

from .support.harness import counted_app, running_app
from .support.locked import HOLD, Seeded, burst_while_locked
from .support.proofs import Heartbeat
from .support.settings import refusal
from .support.table_lock import ItemsTableLock

POOL = 10  # the pool's default size
BURST = 128  # more than the 40 thread tokens and the pool together


@pytest.fixture(scope="module")
async def service(
    make_database: Callable[[], str], make_settings: Callable[..., Settings]
) -> AsyncIterator[Seeded]:
    url = await asyncio.to_thread(make_database)
    async with counted_app(make_settings(database_url=url), [blocking_router]) as counted:
        created = await counted.client.post(
            "/sync/items", json={"name": "kettle", "price": "12.50"}
        )
        yield Seeded(counted.client, counted.in_flight, url, created.json()["id"])


async def test_psycopg2_requests_beyond_the_pool_wait_on_the_loop_without_a_thread_token(
    fresh: Seeded,
) -> None:
    urls = [f"/sync/items/{fresh.item_id}"] * BURST
    async with ItemsTableLock(fresh.url) as lock:
        result, heartbeat = await burst_while_locked(fresh.client, lock, urls, waiting=POOL)
    # All the requests are inside the app; POOL of them talk to PostgreSQL, each in its
    # thread. The others wait for a connection on the loop (the router's dependency): no
    # thread parked on the pool, no token taken from the other `def` routes, none of them
    # even queued for a token. (psycopg2's own pool would raise PoolError: 500s.)
    assert fresh.in_flight.peak == BURST
    assert lock.peak == POOL
    assert heartbeat.peak_tokens_in_use == POOL
    assert heartbeat.peak_tasks_waiting_for_token == 0
    assert result.statuses == [200] * BURST


# Thread budgets belong to the event loop: a test that changes them gets a loop of its own.
@pytest.mark.asyncio(loop_scope="function")
async def test_psycopg2_overlap_is_capped_by_thread_tokens_below_the_pool_size(
    make_settings: Callable[..., Settings], service: Seeded
) -> None:
    tokens = 4
    settings = make_settings(database_url=service.url, anyio_thread_tokens=tokens)
    urls = [f"/sync/items/{service.item_id}"] * (2 * tokens)
    async with running_app(settings) as client, ItemsTableLock(service.url) as lock:
        result, heartbeat = await burst_while_locked(client, lock, urls, waiting=tokens)
    assert lock.peak == tokens  # not the pool's 10: the threads are the limit here
    assert heartbeat.peak_tokens_in_use == tokens
    assert result.statuses == [200] * len(urls)


async def test_the_bridge_waits_in_an_executor_thread_while_the_loop_keeps_serving(
    fresh: Seeded,
) -> None:
    n = 5
    urls = [f"/bridge/items/{fresh.item_id}"] * n
    async with ItemsTableLock(fresh.url) as lock:
        result, heartbeat = await burst_while_locked(fresh.client, lock, urls, waiting=n)
    assert lock.peak == n
    # n statements waited at once, each in a thread of the loop's executor: not one of
    # AnyIO's thread tokens was taken.
    assert heartbeat.peak_tokens_in_use == 0
    assert result.statuses == [200] * n


# The negative control: what the bridge avoids. A test-only route, so that the wrong way
# never ships, calling the real psycopg2 repository straight from `async def`.
blocking_router = APIRouter(prefix="/test-only")


@blocking_router.get("/blocking/items/{item_id}")
async def read_item_blocking_the_loop(item_id: ItemId, pool: Psycopg2PoolDep) -> Item:
    # WRONG on purpose: psycopg2 blocks the loop's own thread while PostgreSQL works.
    return found(sync_repository.get_item(pool, item_id))


async def test_psycopg2_inside_async_def_stalls_the_loop_and_only_the_heartbeat_sees_it(
    fresh: Seeded,
) -> None:
    # The lock releases itself: while the route blocks the loop, no test code can run.
    async with (
        ItemsTableLock(fresh.url, release_after=(1, HOLD)) as lock,
        Heartbeat() as heartbeat,
    ):
        response = await fresh.client.get(f"/test-only/blocking/items/{fresh.item_id}")
    # blockbuster is active here and raised nothing: psycopg2 waits inside libpq (C), where
    # it cannot look, and ruff's ASYNC rules know nothing of database drivers either. The
    # heartbeat is the only guard: the loop stood still for the whole wait.
    assert response.status_code == 200
    assert lock.peak == 1
    assert heartbeat.stood_still_for(HOLD), heartbeat


async def test_the_control_psycopg2_default_mode_sends_begin_before_a_read(
    fresh: Seeded,
) -> None:
    # Proves the measurement above can fail: without autocommit, the same SELECT's
    # transaction started earlier, at the BEGIN psycopg2 sent first.
    def read_in_default_mode() -> None:
        with psycopg2.connect(fresh.url) as conn, conn.cursor() as cursor:
            cursor.execute(sync_repository.SELECT_ONE, (fresh.item_id,))
        conn.close()

    async with ItemsTableLock(fresh.url) as lock, asyncio.TaskGroup() as group:
        group.create_task(asyncio.to_thread(read_in_default_mode))
        await lock.until_waiting(1)
        lock.release()
    (waiter,) = lock.waiters.values()
    assert not waiter.own_transaction


def bare_pool_raises_at_once(url: str) -> float:
    pool = psycopg2.pool.ThreadedConnectionPool(1, 1, url)
    try:
        pool.getconn()
        started = time.perf_counter()
        with pytest.raises(psycopg2.pool.PoolError, match="exhausted"):
            pool.getconn()
        return time.perf_counter() - started
    finally:
        pool.closeall()


def our_pool_waits_for_a_connection(url: str, hold: float) -> tuple[float, float]:
    """One thread holds the only connection for `hold` s; how long others wait, and fail."""
    pool = Psycopg2Pool(url, min_size=1, max_size=1, acquire_timeout=5, connect_timeout=5)
    short = Psycopg2Pool(url, min_size=1, max_size=1, acquire_timeout=hold / 2, connect_timeout=5)
    held = threading.Event()

    def holder(pool: Psycopg2Pool) -> None:
        with pool.connection():
            held.set()
            time.sleep(hold)

    try:
        waits = []
        for each in (pool, short):
            held.clear()
            thread = threading.Thread(target=holder, args=(each,))
            thread.start()
            held.wait()
            started = time.perf_counter()
            try:
                with each.connection():
                    pass
            except PoolTimeoutError:
                assert each is short
            else:
                assert each is pool
            waits.append(time.perf_counter() - started)
            thread.join()
        return waits[0], waits[1]
    finally:
        pool.close()
        short.close()


async def test_psycopg2s_own_pool_raises_when_empty_where_ours_waits_up_to_a_timeout(
    service: Seeded,
) -> None:
    assert await asyncio.to_thread(bare_pool_raises_at_once, service.url) < HOLD / 2
    waited, gave_up = await asyncio.to_thread(our_pool_waits_for_a_connection, service.url, HOLD)
    assert waited >= 0.9 * HOLD  # it got the connection once the holder gave it back
    assert gave_up >= 0.9 * HOLD / 2  # PSYCOPG2_ACQUIRE_TIMEOUT, then PoolTimeoutError


def backend_pids_seen_twice(url: str) -> tuple[set[int], set[int]]:
    pool = Psycopg2Pool(url, min_size=1, max_size=3, acquire_timeout=5, connect_timeout=5)
    try:
        rounds = []
        for _ in range(2):
            with pool.connection() as a, pool.connection() as b, pool.connection() as c:
                rounds.append({conn.get_backend_pid() for conn in (a, b, c)})
        return rounds[0], rounds[1]
    finally:
        pool.close()


async def test_the_psycopg2_pool_keeps_connections_opened_above_its_minimum(
    service: Seeded,
) -> None:
    # psycopg2's pool would close two of the three on return (it keeps `minconn`), and the
    # next burst would pay for two new connections.
    first, second = await asyncio.to_thread(backend_pids_seen_twice, service.url)
    assert len(first) == 3
    assert second == first


def test_a_pool_larger_than_the_threads_that_could_use_it_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only threads call psycopg2: `def` routes (thread tokens) and the bridges (executor
    # threads). A connection beyond their sum would only take a server slot.
    environment = {
        "PSYCOPG2_POOL_MAX_SIZE": "21",
        "ANYIO_THREAD_TOKENS": "10",
        "TO_THREAD_MAX_WORKERS": "10",
    }
    assert "PSYCOPG2_POOL_MAX_SIZE" in refusal(monkeypatch, environment)
