"""Everything the service holds open: created once at start-up, closed at shutdown.

The lifespan runs inside the event loop that serves requests, which matters twice: asyncpg
pools and httpx clients belong to the loop that made them, and AnyIO's thread limiter exists
per loop (setting it at import time would raise).
"""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TypedDict

import anyio
import anyio.to_thread
import asyncpg
import httpx
from fastapi import FastAPI
from prometheus_client.core import GaugeMetricFamily

from .cpu_pool import CpuPool
from .http_client import build_http_client
from .metrics import Metrics, monitor_loop_lag, thread_token_gauges
from .migrate import SchemaRevisions, schema_revisions
from .settings import Settings
from .sync_db import Psycopg2Pool

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    metrics: Metrics
    asyncpg_pool: "asyncpg.Pool[asyncpg.Record]"
    psycopg2_pool: Psycopg2Pool
    # One place per psycopg2 connection, for `def` routes to wait on the loop (see
    # dependencies.wait_for_a_psycopg2_connection).
    psycopg2_places: anyio.Semaphore
    # What /readyz compares the database's schema with.
    schema: SchemaRevisions
    http_client: httpx.AsyncClient
    cpu_pool: CpuPool


class State(TypedDict):
    resources: Resources


def size_thread_pools(settings: Settings) -> None:
    """Make both thread budgets explicit instead of inheriting two different defaults."""
    # `def` routes, `def` dependencies, sync background tasks and run_in_threadpool share
    # this limiter.
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.anyio_thread_tokens
    # asyncio.to_thread does not use the limiter above but the loop's default executor,
    # which Python sizes min(32, cpus + 4): 6 on two cores, far below the 40 `def` routes get.
    # The loop owns the executor from here on: asyncio.run() (which uvicorn uses) joins its
    # threads when the loop closes. Both budgets belong to the loop, not to the process.
    executor = ThreadPoolExecutor(
        max_workers=settings.to_thread_max_workers, thread_name_prefix="to_thread"
    )
    asyncio.get_running_loop().set_default_executor(executor)


async def close_asyncpg_pool(pool: "asyncpg.Pool[asyncpg.Record]", grace_seconds: float) -> None:
    # close() waits for every borrowed connection; a stuck request must not hang shutdown.
    try:
        await asyncio.wait_for(pool.close(), grace_seconds)
    except TimeoutError:
        logger.warning("asyncpg pool did not close within %s s; terminating it", grace_seconds)
        pool.terminate()


async def close_pools(
    asyncpg_pool: "asyncpg.Pool[asyncpg.Record]", psycopg2_pool: Psycopg2Pool, grace: float
) -> None:
    # Both at once, so shutdown waits one grace period, not one per pool. Past it, psycopg2's
    # running statements are cancelled (the server stops them, and the connections close)
    # and asyncpg's connections are terminated: bounded, whatever a query was doing.
    async with asyncio.TaskGroup() as group:
        group.create_task(close_asyncpg_pool(asyncpg_pool, grace))
        group.create_task(asyncio.to_thread(psycopg2_pool.close, grace))


def pool_gauges(resources: "Resources") -> Iterator[GaugeMetricFamily]:
    asyncpg_pool = resources.asyncpg_pool
    yield GaugeMetricFamily(
        "asyncpg_pool_connections", "Connections open in the asyncpg pool.", asyncpg_pool.get_size()
    )
    yield GaugeMetricFamily(
        "asyncpg_pool_connections_in_use",
        "asyncpg connections borrowed right now.",
        asyncpg_pool.get_size() - asyncpg_pool.get_idle_size(),
    )
    yield GaugeMetricFamily(
        "psycopg2_pool_connections_in_use",
        "psycopg2 connections borrowed right now.",
        resources.psycopg2_pool.in_use,
    )


async def open_resources(settings: Settings, metrics: Metrics, stack: AsyncExitStack) -> Resources:
    if settings.database_url is None:
        raise RuntimeError(
            "DATABASE_URL is not set. `python -m {{ cookiecutter.package_name }}` starts an "
            "embedded PostgreSQL for you; a server started any other way needs DATABASE_URL."
        )
    # First in, so last out: after the pools have closed, this worker leaves the live sums.
    stack.callback(metrics.forget_this_process)
    size_thread_pools(settings)

    schema = await asyncio.to_thread(schema_revisions)
    asyncpg_pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.asyncpg_pool_min_size,
        max_size=settings.asyncpg_pool_max_size,
        command_timeout=settings.asyncpg_command_timeout,
        statement_cache_size=settings.asyncpg_statement_cache_size,
        # A startup parameter PgBouncer passes on: every connection names its service.
        server_settings={"application_name": f"{settings.database_application_name}/asyncpg"},
    )
    try:
        # Opening psycopg2 connections blocks: do it in a thread, not on the loop.
        psycopg2_pool = await asyncio.to_thread(
            Psycopg2Pool,
            settings.database_url,
            min_size=settings.psycopg2_pool_min_size,
            max_size=settings.psycopg2_pool_max_size,
            acquire_timeout=settings.psycopg2_acquire_timeout,
            max_lifetime=settings.psycopg2_max_lifetime,
            # Sent with each statement (SET LOCAL), not as the `options` startup parameter,
            # which PgBouncer refuses: see sync_db.py.
            statement_timeout=settings.psycopg2_statement_timeout,
            connect_timeout=settings.psycopg2_connect_timeout,
            application_name=f"{settings.database_application_name}/psycopg2",
        )
    except BaseException:
        await close_asyncpg_pool(asyncpg_pool, settings.shutdown_timeout)
        raise
    stack.push_async_callback(close_pools, asyncpg_pool, psycopg2_pool, settings.shutdown_timeout)

    # One client for the whole process: it owns the connection pool to upstreams. Building
    # it loads the CA bundle from disk, so that happens in a thread.
    http_client = await asyncio.to_thread(build_http_client, settings)
    stack.push_async_callback(http_client.aclose)

    cpu_pool = await asyncio.to_thread(CpuPool, settings)
    stack.push_async_callback(asyncio.to_thread, cpu_pool.shutdown)

    lag_monitor = asyncio.create_task(monitor_loop_lag(metrics), name="loop-lag-monitor")
    stack.callback(lag_monitor.cancel)

    resources = Resources(
        settings=settings,
        metrics=metrics,
        asyncpg_pool=asyncpg_pool,
        psycopg2_pool=psycopg2_pool,
        psycopg2_places=anyio.Semaphore(settings.psycopg2_pool_max_size),
        schema=schema,
        http_client=http_client,
        cpu_pool=cpu_pool,
    )
    metrics.watch(thread_token_gauges)
    metrics.watch(lambda: pool_gauges(resources))
    return resources


def build_lifespan(
    settings: Settings, metrics: Metrics
) -> Callable[[FastAPI], AbstractAsyncContextManager[State]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[State]:
        async with AsyncExitStack() as stack:
            resources = await open_resources(settings, metrics, stack)
            # Start-up made ~130,000 long-lived objects (modules, routes, models) that every
            # full garbage collection would scan again: tens of ms with the loop stopped,
            # every few seconds under load. Frozen, they are skipped (refcounting still
            # frees them).
            gc.freeze()
            logger.info(
                "ready: %d thread tokens, %d to_thread workers, %d CPU processes, "
                "asyncpg pool %d-%d, psycopg2 pool %d-%d",
                settings.anyio_thread_tokens,
                settings.to_thread_max_workers,
                settings.cpu_workers,
                settings.asyncpg_pool_min_size,
                settings.asyncpg_pool_max_size,
                settings.psycopg2_pool_min_size,
                settings.psycopg2_pool_max_size,
            )
            # Starlette copies this state into every request: request.state.resources.
            yield {"resources": resources}

    return lifespan
