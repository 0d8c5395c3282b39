"""asyncpg's own faults: a read whose connection dies under it runs again on a fresh one; a
write never does (it may have committed). Its statement cache left on behind PgBouncer in
transaction mode is a 503 and one log line naming the setting, not 500s.

The PgBouncer proof is here, not in test_pgbouncer.py (which every bake runs): only asyncpg
prepares statements, and a bake without it has nothing to prove.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .support.database import fetch, terminate_backends
from .support.faults import App, start_app, unique_name
from .support.harness import database_name, pool_sizes, url_with_database
from .support.pgbouncer import SERVER_POOL_SIZE
from .support.processes import json_lines, serving
from .support.proofs import burst
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


# Client connections well over PgBouncer's SERVER_POOL_SIZE: each transaction of a client
# connection lands on any of the few server connections, seldom the one it prepared on.
MISSED_POOL = 10
READS = 64
# Bursts until one meets a lost statement (the first nearly always does; the cap keeps a
# fault in the proof from running forever).
BURSTS = 5


async def test_asyncpg_statements_lost_behind_pgbouncer_answer_503_json_and_log_the_setting_once(
    pgbouncer_url: str, make_database: Callable[..., str], tmp_path: Path
) -> None:
    assert MISSED_POOL > SERVER_POOL_SIZE
    # Migrated and filled directly; served through PgBouncer with ASYNCPG_STATEMENT_CACHE_SIZE
    # left at its default: the one line of docs/deployment.md a user missed.
    direct = await asyncio.to_thread(make_database)
    ((item_id,),) = await asyncio.to_thread(
        fetch, direct, "INSERT INTO items (name, price) VALUES ('kettle', 1) RETURNING id"
    )
    environment = {
        "ASYNCPG_POOL_MIN_SIZE": str(MISSED_POOL),
        "ASYNCPG_POOL_MAX_SIZE": str(MISSED_POOL),
        "LOG_FORMAT": "json",
    }
    through = url_with_database(pgbouncer_url, database_name(direct))
    reads = [f"/async/items/{item_id}"] * (READS * 3 // 4) + ["/async/items?limit=5"] * (READS // 4)
    answers: list[httpx.Response] = []
    async with serving(through, tmp_path, 5.0, environment) as server:
        # Read while it runs: a traceback per request (the fault this proves absent) would
        # fill the pipe and stall the service's loop on a log write.
        assert server.process.stderr is not None
        log = asyncio.create_task(server.process.stderr.read())
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            for _ in range(BURSTS):
                answers += (await burst(client, reads)).responses
                if any(answer.status_code == 503 for answer in answers):
                    break
        server.process.terminate()
        records = json_lines((await asyncio.wait_for(log, 60)).decode())
        await server.process.wait()
    statuses = {answer.status_code for answer in answers}
    assert statuses <= {200, 503}, statuses
    failed = [answer for answer in answers if answer.status_code == 503]
    assert failed, "no read met a lost statement: the proof proved nothing"
    assert all(answer.json() == {"detail": "database unavailable"} for answer in failed)
    # The reads that succeeded read the right row.
    item = f"/async/items/{item_id}"
    read = [answer for answer in answers if answer.status_code == 200 and answer.url.path == item]
    assert read
    assert all(answer.json()["name"] == "kettle" for answer in read)
    # One line for the operator, however many requests met it (LOG_LEVEL warning: no access log).
    errors = [record for record in records if record["level"] == "ERROR"]
    assert len(errors) == 1, errors
    assert "ASYNCPG_STATEMENT_CACHE_SIZE=0" in errors[0]["message"]
