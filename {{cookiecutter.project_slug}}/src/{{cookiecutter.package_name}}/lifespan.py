"""Everything the service holds open: created once at start-up, closed at shutdown.

The lifespan runs inside the event loop that serves requests, which matters twice: asyncpg
pools and httpx clients belong to the loop that made them, and AnyIO's thread limiter exists
per loop (setting it at import time would raise).
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TypedDict

import anyio.to_thread
import asyncpg
import httpx
from fastapi import FastAPI

from .settings import Settings
from .sync_db import Psycopg2Pool

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    asyncpg_pool: "asyncpg.Pool[asyncpg.Record]"
    psycopg2_pool: Psycopg2Pool
    http_client: httpx.AsyncClient


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


async def open_resources(settings: Settings, stack: AsyncExitStack) -> Resources:
    if settings.database_url is None:
        raise RuntimeError(
            "DATABASE_URL is not set. `python -m {{ cookiecutter.package_name }}` starts an "
            "embedded PostgreSQL for you; a server started any other way needs DATABASE_URL."
        )
    size_thread_pools(settings)

    asyncpg_pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.asyncpg_pool_min_size,
        max_size=settings.asyncpg_pool_max_size,
        command_timeout=settings.asyncpg_command_timeout,
    )
    stack.push_async_callback(close_asyncpg_pool, asyncpg_pool, settings.shutdown_timeout)

    # Opening psycopg2 connections blocks: do it in a thread, not on the loop.
    psycopg2_pool = await asyncio.to_thread(
        Psycopg2Pool,
        settings.database_url,
        min_size=settings.psycopg2_pool_min_size,
        max_size=settings.psycopg2_pool_max_size,
        acquire_timeout=settings.psycopg2_acquire_timeout,
        connect_timeout=settings.psycopg2_connect_timeout,
    )
    stack.push_async_callback(asyncio.to_thread, psycopg2_pool.close)

    # One client for the whole process: it owns the connection pool to upstreams, and
    # building one loads the CA bundle from disk.
    http_client = httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=settings.http_connect_timeout,
            read=settings.http_read_timeout,
            write=settings.http_write_timeout,
            pool=settings.http_pool_timeout,
        ),
        limits=httpx.Limits(
            max_connections=settings.http_max_connections,
            max_keepalive_connections=settings.http_max_keepalive_connections,
        ),
    )
    stack.push_async_callback(http_client.aclose)

    return Resources(
        settings=settings,
        asyncpg_pool=asyncpg_pool,
        psycopg2_pool=psycopg2_pool,
        http_client=http_client,
    )


def build_lifespan(
    settings: Settings,
) -> Callable[[FastAPI], AbstractAsyncContextManager[State]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[State]:
        async with AsyncExitStack() as stack:
            resources = await open_resources(settings, stack)
            logger.info(
                "ready: %d thread tokens, %d to_thread workers, asyncpg pool %d-%d, "
                "psycopg2 pool %d-%d",
                settings.anyio_thread_tokens,
                settings.to_thread_max_workers,
                settings.asyncpg_pool_min_size,
                settings.asyncpg_pool_max_size,
                settings.psycopg2_pool_min_size,
                settings.psycopg2_pool_max_size,
            )
            # Starlette copies this state into every request: request.state.resources.
            yield {"resources": resources}

    return lifespan
