"""asyncpg's concurrency: requests wait for PostgreSQL together on the loop, no thread."""

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .support.harness import counted_app
from .support.locked import Seeded, burst_while_locked
from .support.table_lock import ItemsTableLock

POOL = 10  # the pool's default size
BURST = 128  # many more requests than connections


@pytest.fixture(scope="module")
async def service(
    make_database: Callable[[], str], make_settings: Callable[..., Settings]
) -> AsyncIterator[Seeded]:
    url = await asyncio.to_thread(make_database)
    async with counted_app(make_settings(database_url=url)) as counted:
        created = await counted.client.post(
            "/async/items", json={"name": "kettle", "price": "12.50"}
        )
        yield Seeded(counted.client, counted.in_flight, url, created.json()["id"])


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
