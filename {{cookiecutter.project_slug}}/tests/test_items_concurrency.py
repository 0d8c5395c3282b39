"""The item routes' choices every driver shares, each proven on a real PostgreSQL: one
statement one transaction, timeouts that answer 503, connections back on every path.

The requests wait inside PostgreSQL on a lock the test holds (support/table_lock.py), so the
proofs count, server-side, how many statements wait at the same moment. Time appears only
as lower bounds. Each driver's own concurrency: tests/test_asyncpg_concurrency.py,
tests/test_psycopg2_concurrency.py.
"""

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from {{ cookiecutter.package_name }}.settings import DRIVERS, Settings

from .support.harness import counted_app, pool_sizes
from .support.locked import Seeded
from .support.parts import ITEM_PREFIXES as PREFIXES
from .support.parts import timeouts
from .support.proofs import timed
from .support.table_lock import ItemsTableLock


@pytest.fixture(scope="module")
async def service(
    make_database: Callable[[], str], make_settings: Callable[..., Settings]
) -> AsyncIterator[Seeded]:
    url = await asyncio.to_thread(make_database)
    async with counted_app(make_settings(database_url=url)) as counted:
        created = await counted.client.post(PREFIXES[0], json={"name": "kettle", "price": "12.50"})
        yield Seeded(counted.client, counted.in_flight, url, created.json()["id"])


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


@pytest.fixture(scope="module")
async def small(
    make_database: Callable[[], str], make_settings: Callable[..., Settings]
) -> AsyncIterator[Seeded]:
    """One connection per pool and short timeouts: exhaustion and timeouts on demand."""
    url = await asyncio.to_thread(make_database)
    settings = make_settings(
        database_url=url, **pool_sizes(1, 1), **timeouts(acquire=0.2, statement=1.0)
    )
    async with counted_app(settings) as counted:
        created = await counted.client.post(PREFIXES[0], json={"name": "kettle", "price": "1"})
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
    assert seconds >= 0.9 * 1.0  # the driver's statement timeout
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
    assert seconds >= 0.9 * 0.2  # the driver's acquire timeout
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
    for driver in DRIVERS:
        assert f"{driver}_pool_connections_in_use 0.0" in metrics
