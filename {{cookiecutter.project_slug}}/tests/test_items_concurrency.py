"""The item routes' concurrency, pool and failure choices, each proven on a real PostgreSQL.

The requests wait inside PostgreSQL on a lock the test holds (tests/table_lock.py), so the
proofs count, server-side, how many statements wait at the same moment; the heartbeat
samples the thread tokens, and shows harm (a loop that stood still). Time appears only as
lower bounds.
"""

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import psycopg2
import psycopg2.pool
import pytest
from fastapi import APIRouter

from {{ cookiecutter.package_name }}.dependencies import Psycopg2PoolDep
from {{ cookiecutter.package_name }}.items import sync_repository
from {{ cookiecutter.package_name }}.items.http import ItemId, found
from {{ cookiecutter.package_name }}.items.schemas import Item
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.sync_db import PoolTimeoutError, Psycopg2Pool

from .harness import Service, counted_app, pool_sizes, running_app
from .proofs import Burst, Heartbeat, burst, timed
from .table_lock import ItemsTableLock

PREFIXES = ["/async/items", "/sync/items"]
HOLD = 0.3  # how long the lock stays once the expected statements wait on it
POOL = 10  # both pools' default size
BURST = 128  # more than the 40 thread tokens and the pools together


@dataclass
class Seeded(Service):
    """The service on a database of its own, with one item in it."""

    url: str
    item_id: int


@pytest.fixture(scope="module")
async def service(
    make_database: Callable[[], str], make_settings: Callable[..., Settings]
) -> AsyncIterator[Seeded]:
    url = await asyncio.to_thread(make_database)
    settings = make_settings(database_url=url, cpu_workers=1)
    async with counted_app(settings, [blocking_router]) as counted:
        created = await counted.client.post(
            "/async/items", json={"name": "kettle", "price": "12.50"}
        )
        yield Seeded(counted.client, counted.in_flight, url, created.json()["id"])


async def burst_while_locked(
    client: httpx.AsyncClient, lock: ItemsTableLock, urls: list[str], *, waiting: int
) -> tuple[Burst, Heartbeat]:
    """Send every request at once; release the lock HOLD seconds after `waiting` of them
    wait on it together. The heartbeat samples the thread tokens over those HOLD seconds:
    the claim is about how the requests wait while the database works."""
    async with asyncio.TaskGroup() as group:
        requests = group.create_task(burst(client, urls))
        try:
            await lock.until_waiting(waiting)
            async with Heartbeat() as heartbeat:
                await asyncio.sleep(HOLD)
        finally:
            lock.release()
    return requests.result(), heartbeat


async def test_asyncpg_requests_wait_in_postgresql_together_on_the_loop_without_threads(
    fresh: Seeded,
) -> None:
    urls = [f"/async/items/{fresh.item_id}"] * BURST
    async with ItemsTableLock(fresh.url) as lock:
        result, heartbeat = await burst_while_locked(fresh.client, lock, urls, waiting=POOL)
    # Every pooled connection waited in PostgreSQL at once; the other requests waited for
    # a connection, on the loop. All of it without a single worker thread.
    assert lock.peak == POOL
    assert fresh.in_flight.peak == BURST
    assert heartbeat.peak_tokens_in_use == 0
    assert result.statuses == [200] * BURST


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
    settings = make_settings(database_url=service.url, cpu_workers=1, anyio_thread_tokens=tokens)
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


OPERATIONS = {
    "create": ("POST", "", 201),
    "list": ("GET", "", 200),
    "read": ("GET", "/{id}", 200),
    "replace": ("PUT", "/{id}", 200),
    "delete": ("DELETE", "/{id}", 204),
}


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
async def test_each_item_statement_is_its_own_transaction_with_no_begin_round_trip(
    fresh: Seeded, prefix: str, operation: tuple[str, str, int]
) -> None:
    method, path, expected = operation
    target = await fresh.client.post(prefix, json={"name": "target", "price": 1})
    url = prefix + path.format(id=target.json()["id"])
    body = {"name": "kettle", "price": 2} if method in {"POST", "PUT"} else None
    async with ItemsTableLock(fresh.url) as lock, asyncio.TaskGroup() as group:
        request = group.create_task(fresh.client.request(method, url, json=body))
        await lock.until_waiting(1)
        lock.release()
    (waiter,) = lock.waiters.values()
    # The statement's transaction began with the statement itself: no BEGIN went first.
    assert waiter.own_transaction, waiter
    assert request.result().status_code == expected


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


@pytest.fixture(scope="module")
async def small(
    make_database: Callable[[], str], make_settings: Callable[..., Settings]
) -> AsyncIterator[Seeded]:
    """One connection per pool and short timeouts: exhaustion and timeouts on demand."""
    url = await asyncio.to_thread(make_database)
    settings = make_settings(
        database_url=url,
        cpu_workers=1,
        **pool_sizes(1, 1),
        asyncpg_acquire_timeout=0.2,
        asyncpg_command_timeout=1.0,
        psycopg2_statement_timeout=1.0,
        psycopg2_acquire_timeout=0.2,
    )
    async with counted_app(settings) as counted:
        created = await counted.client.post("/async/items", json={"name": "kettle", "price": "1"})
        yield Seeded(counted.client, counted.in_flight, url, created.json()["id"])


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_a_statement_past_its_timeout_answers_503_instead_of_hanging(
    small: Seeded, prefix: str
) -> None:
    url = f"{prefix}/{small.item_id}"
    async with ItemsTableLock(small.url) as lock:
        response, seconds = await timed(lambda: small.client.get(url))
        still_locked = lock.locked
    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable"}
    assert seconds >= 0.9 * 1.0  # ASYNCPG_COMMAND_TIMEOUT / PSYCOPG2_STATEMENT_TIMEOUT
    assert still_locked  # it gave up on its own; nobody released it
    # The statement was cancelled and the only connection went back, usable.
    assert (await small.client.get(url)).status_code == 200


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_acquire_timeout_answers_503_while_every_connection_is_busy(
    small: Seeded, prefix: str
) -> None:
    url = f"{prefix}/{small.item_id}"
    async with ItemsTableLock(small.url) as lock, asyncio.TaskGroup() as group:
        holder = group.create_task(small.client.get(url))
        await lock.until_waiting(1)
        response, seconds = await timed(lambda: small.client.get(url))
        lock.release()
    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable"}
    assert seconds >= 0.9 * 0.2  # ASYNCPG_ACQUIRE_TIMEOUT / PSYCOPG2_ACQUIRE_TIMEOUT
    assert holder.result().status_code == 200


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_connections_go_back_to_the_pool_after_404s_and_cancelled_requests(
    small: Seeded, prefix: str
) -> None:
    # One connection per pool and a 0.2 s acquire timeout: had any of these kept it, the
    # next request would answer 503.
    missing = f"{prefix}/{2**63 - 1}"
    for response in (
        await small.client.get(missing),
        await small.client.put(missing, json={"name": "kettle", "price": 1}),
        await small.client.delete(missing),
    ):
        assert response.status_code == 404
    url = f"{prefix}/{small.item_id}"
    async with ItemsTableLock(small.url) as lock:
        request = asyncio.create_task(small.client.get(url))
        await lock.until_waiting(1)
        # Cancelled in flight, as the server cancels a request task (what a disconnect
        # becomes for an `async def` route is the lesson of its own).
        request.cancel()
        lock.release()
        await asyncio.gather(request, return_exceptions=True)
    assert (await small.client.get(url)).status_code == 200
    metrics = (await small.client.get("/metrics")).text
    assert "asyncpg_pool_connections_in_use 0.0" in metrics
    assert "psycopg2_pool_connections_in_use 0.0" in metrics


def terminate_backends(url: str) -> set[int]:
    """End every other session on this database, as a restart or a failover would."""
    conn = psycopg2.connect(url)
    conn.autocommit = True  # each query sees a fresh pg_stat_activity
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            ended = {pid for pid, _ in cursor.fetchall()}
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # until they are gone for good
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", (list(ended),))
                if not cursor.fetchall():
                    return ended
                time.sleep(0.01)
            raise AssertionError(f"backends {ended} outlived pg_terminate_backend")
    finally:
        conn.close()
