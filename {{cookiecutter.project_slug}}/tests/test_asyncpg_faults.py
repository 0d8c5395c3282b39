"""asyncpg's own fault: a read whose connection dies under it runs again on a fresh one; a
write never does (it may have committed)."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .support.database import terminate_backends
from .support.faults import App, start_app, unique_name
from .support.harness import pool_sizes
from .support.table_lock import ItemsTableLock


@pytest.fixture
async def one_connection(
    make_database: Callable[..., str], make_settings: Callable[..., Settings]
) -> AsyncIterator[App]:
    url = await asyncio.to_thread(make_database)
    settings = make_settings(
        database_url=url, **pool_sizes(1, 1), database_application_name=unique_name("one")
    )
    async for app in start_app(settings):
        yield app


async def end_the_session_under(
    app: App, method: str, path: str, body: object = None
) -> httpx.Response:
    """Send the request; once its statement waits in PostgreSQL, end its session; release
    the lock once the request is answered or a second statement (a retry) waits."""
    async with ItemsTableLock(app.url) as lock, asyncio.TaskGroup() as group:
        request = group.create_task(app.client.request(method, path, json=body))
        await lock.until_waiting(1)
        (first,) = lock.waiters
        await asyncio.to_thread(terminate_backends, app.url, [first])
        deadline = time.monotonic() + 10
        while not request.done() and set(lock.waiters) == {first}:
            assert time.monotonic() < deadline, "neither answered nor retried"
            await asyncio.sleep(0.01)
        lock.release()
    return request.result()


async def test_a_read_whose_connection_dies_under_it_runs_again_and_a_write_does_not(
    one_connection: App,
) -> None:
    before = (await one_connection.client.get("/async/items?limit=100")).json()["items"]
    read = await end_the_session_under(
        one_connection, "GET", f"/async/items/{one_connection.item_id}"
    )
    write = await end_the_session_under(
        one_connection, "POST", "/async/items", {"name": "maybe", "price": "1"}
    )
    after = (await one_connection.client.get("/async/items?limit=100")).json()["items"]
    assert read.status_code == 200  # it ran again on a fresh connection
    # The write is not run again: in general it may have committed before the connection
    # died (here it had not, so nothing was written).
    assert write.status_code == 503
    assert write.json() == {"detail": "database unavailable"}
    assert after == before
