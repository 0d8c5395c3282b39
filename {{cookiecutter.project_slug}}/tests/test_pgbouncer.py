"""Every driver through a real PgBouncer 1.18 in transaction mode (support/pgbouncer.py): the
items, the statement timeouts and the recovery proofs, with fewer server connections than
the service's pools hold, so statements of different clients share server connections.

What it takes is in docs/deployment.md (support/parts.py's `through_pgbouncer`).
"""

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .support.database import Admin, terminate_backends
from .support.faults import App, all_succeeded, every_kind_of_request, unique_name
from .support.harness import database_name, pool_sizes, running_app, url_with_database
from .support.parts import ITEM_PREFIXES as PREFIXES
from .support.parts import through_pgbouncer, timeouts
from .support.pgbouncer import SERVER_POOL_SIZE
from .support.proofs import burst, timed
from .support.table_lock import ItemsTableLock

POOL = 5  # per driver: more client connections than PgBouncer's SERVER_POOL_SIZE
# The statement timeouts: long enough that a statement queueing for one of PgBouncer's few
# server connections on a loaded machine does not reach them.
TIMEOUT = 3.0


@pytest.fixture(scope="module")
async def bounced(
    pgbouncer_url: str, make_database: Callable[..., str], make_settings: Callable[..., Settings]
) -> AsyncIterator[App]:
    # Migrated directly (a migration holds session state), served through PgBouncer.
    direct = await asyncio.to_thread(make_database)
    through = url_with_database(pgbouncer_url, database_name(direct))
    settings = make_settings(
        database_url=through,
        **through_pgbouncer(),
        **pool_sizes(POOL, POOL),
        **timeouts(statement=TIMEOUT),
        database_application_name=unique_name("bounced"),
    )
    async with running_app(settings) as client:
        created = await client.post(PREFIXES[0], json={"name": "kettle", "price": "1"})
        assert created.status_code == 201, created.text
        # `url` is the direct one: the proofs lock and terminate on the server itself.
        yield App(client, direct, created.json()["id"], settings.database_application_name)


async def test_every_driver_serves_items_through_pgbouncer_in_transaction_mode(
    bounced: App,
) -> None:
    assert (await bounced.client.get("/readyz")).json()["status"] == "ready"
    assert all_succeeded(await every_kind_of_request(bounced.client, bounced.item_id))
    # Concurrent statements of every pool interleave on SERVER_POOL_SIZE server connections:
    # a statement prepared on one and executed on another would fail here.
    urls = [f"{prefix}/{bounced.item_id}" for prefix in PREFIXES for _ in range(4 * POOL)]
    result = await burst(bounced.client, urls)
    assert result.statuses == [200] * len(urls)


def server_statement_timeouts(pgbouncer_database_url: str) -> set[str]:
    """statement_timeout as each PgBouncer server connection has it, for a plain client."""
    # All at once, each inside a transaction: every server connection is asked once.
    connections = [Admin(pgbouncer_database_url, autocommit=False) for _ in range(SERVER_POOL_SIZE)]
    try:
        return {str(conn.fetchval("SHOW statement_timeout")) for conn in connections}
    finally:
        for conn in connections:
            conn.close()


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_the_statement_timeout_holds_through_pgbouncer_and_leaves_nothing_behind(
    bounced: App, prefix: str, pgbouncer_url: str
) -> None:
    url = f"{prefix}/{bounced.item_id}"
    async with ItemsTableLock(bounced.url) as lock:
        response, seconds = await timed(lambda: bounced.client.get(url))
        still_locked = lock.locked
    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable"}
    assert seconds >= 0.9 * TIMEOUT
    assert still_locked  # it gave up on its own
    # A statement that succeeds (one that fails takes its settings with it), then every
    # server connection is asked: the timeout was set inside the statement's own
    # transaction, so none of them, shared with other clients, kept it. (Nothing else may
    # run in between: asyncpg's RESET ALL on release would wipe a leak from sight.)
    assert (await bounced.client.get(url)).status_code == 200
    through = url_with_database(pgbouncer_url, database_name(bounced.url))
    assert await asyncio.to_thread(server_statement_timeouts, through) == {"0"}


async def test_server_connections_ended_behind_pgbouncer_cost_no_request(bounced: App) -> None:
    # Busy enough that PgBouncer holds its server connections, then the server ends them.
    urls = [f"{prefix}/{bounced.item_id}" for prefix in PREFIXES for _ in range(2 * POOL)]
    assert (await burst(bounced.client, urls)).statuses == [200] * len(urls)
    ended = await asyncio.to_thread(terminate_backends, bounced.url)
    assert ended
    assert all_succeeded(await every_kind_of_request(bounced.client, bounced.item_id))
