import asyncio
import gc
import threading
from collections.abc import Callable

import anyio.to_thread
import pytest

from {{ cookiecutter.package_name }}.settings import DRIVERS, Settings

from .support.database import connections_left, connections_to
from .support.harness import running_app


async def test_lifespan_opens_every_pool_and_closes_every_connection_at_shutdown(
    make_database: Callable[[], str], make_settings: Callable[..., Settings]
) -> None:
    url = await asyncio.to_thread(make_database)
    # A size of its own for each pool (3, 2): each pool's minimum is honoured, not a sum.
    sizes = {driver: 3 - index for index, driver in enumerate(DRIVERS)}
    pools = {}
    for driver, size in sizes.items():
        pools[f"{driver}_pool_min_size"] = pools[f"{driver}_pool_max_size"] = size
    settings = make_settings(database_url=url, **pools)
    async with running_app(settings) as client:
        assert (await client.get("/readyz")).status_code == 200
        # Pre-warmed pools: every connection is open before the first request needs it.
        during = await asyncio.to_thread(connections_to, url)
    after = await asyncio.to_thread(connections_left, url)
    assert during == sum(sizes.values())
    assert after == 0


# Thread budgets belong to the event loop: a test that changes them gets a loop of its own.
@pytest.mark.asyncio(loop_scope="function")
async def test_thread_budgets_come_from_settings(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    workers = 12  # twice what Python's default executor gives asyncio.to_thread on 2 cores
    settings = make_settings(
        database_url=database_url, anyio_thread_tokens=7, to_thread_max_workers=workers
    )
    # A barrier of `workers` parties only opens if that many calls run at the same time,
    # so it proves the executor size; with the default executor it would time out.
    barrier = threading.Barrier(workers, timeout=10)
    async with running_app(settings):
        assert anyio.to_thread.current_default_thread_limiter().total_tokens == 7
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(asyncio.to_thread(barrier.wait))
    assert barrier.n_waiting == 0
    assert not barrier.broken


async def test_start_up_objects_are_left_out_of_later_garbage_collections(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    # Whatever an earlier test froze goes back to the collector, so only this start-up counts.
    gc.unfreeze()
    async with running_app(make_settings(database_url=database_url)):
        frozen = gc.get_freeze_count()
    gc.unfreeze()
    # Every object tracked at the end of start-up: imports, routes, models, the pools.
    assert frozen > 10_000
