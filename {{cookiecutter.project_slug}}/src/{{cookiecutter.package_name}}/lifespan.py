"""Everything the service holds open: created once at start-up, closed at shutdown.

The lifespan runs inside the event loop that serves requests, which matters twice: asyncpg
pools and httpx clients belong to the loop that made them, and AnyIO's thread limiter exists
per loop (setting it at import time would raise).
"""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypedDict

import anyio
import anyio.to_thread
from fastapi import FastAPI
from opentelemetry.trace import TracerProvider

{% if cookiecutter.database != "psycopg2" %}
from .db.asyncpg_pool import (
    AsyncpgPool,
    asyncpg_gauges,
    asyncpg_readiness,
    close_asyncpg_pool,
    open_asyncpg_pool,
    traced_asyncpg_statements,
)
{% endif %}
from .db.migrate import schema_revisions
{% if cookiecutter.database != "asyncpg" %}
from .db.psycopg2_pool import (
    Psycopg2Pool,
    open_psycopg2_pool,
    psycopg2_gauges,
    psycopg2_readiness,
)
{% endif %}
from .db.readiness import ReadinessCheck
{% if cookiecutter.outbound_http == "yes" %}
from .dev.upstream_stub import stub_in_background
{% endif %}
from .observability.metrics import Metrics, monitor_loop_lag, thread_token_gauges
from .observability.tracing import export_of, flush, start_exporting
{% if cookiecutter.outbound_http == "yes" %}
from .outbound.client import Upstream, build_http_client
{% endif %}
from .settings import Settings

logger = logging.getLogger(__name__)

Closing = Callable[[], Coroutine[Any, Any, object]]


@dataclass(frozen=True, slots=True)
class Resources:
    settings: Settings
    metrics: Metrics
    # What /readyz asks, one check per pool, all at once (routes/health.py).
    readiness: dict[str, ReadinessCheck]
{% if cookiecutter.database != "psycopg2" %}
    asyncpg_pool: AsyncpgPool
{% endif %}
{% if cookiecutter.database != "asyncpg" %}
    psycopg2_pool: Psycopg2Pool
    # One place per psycopg2 connection, for `def` routes to wait on the loop (see
    # dependencies.wait_for_a_psycopg2_connection).
    psycopg2_places: anyio.Semaphore
{% endif %}
{% if cookiecutter.outbound_http == "yes" %}
    upstream: Upstream
{% endif %}


class State(TypedDict):
    resources: Resources


def size_thread_pools(settings: Settings) -> None:
    """Make both thread budgets explicit instead of inheriting two different defaults."""
    # `def` routes, `def` dependencies, sync background tasks and run_in_threadpool share
    # this limiter.
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.anyio_thread_tokens
    # asyncio.to_thread uses the loop's default executor instead (settings.py says why it
    # is replaced). The loop owns the executor from here on: asyncio.run() (which uvicorn
    # uses) joins its threads when the loop closes.
    executor = ThreadPoolExecutor(
        max_workers=settings.to_thread_max_workers, thread_name_prefix="to_thread"
    )
    asyncio.get_running_loop().set_default_executor(executor)


async def close_at_once(closes: list[Closing]) -> None:
    # All pools at once, so shutdown waits one grace period, not one per pool. Past it,
    # each pool ends what still runs (its close function says how): bounded, whatever a
    # query was doing.
    async with asyncio.TaskGroup() as group:
        for close in closes:
            group.create_task(close())


async def open_resources(settings: Settings, metrics: Metrics, stack: AsyncExitStack) -> Resources:
    database_url = settings.database_url
    if database_url is None:
        raise RuntimeError(
            "DATABASE_URL is not set. `python -m {{ cookiecutter.package_name }}` starts an "
            "embedded PostgreSQL for you; a server started any other way needs DATABASE_URL."
        )
    # First in, so last out: after the pools have closed, this worker leaves the live sums.
    stack.callback(metrics.forget_this_process)
    size_thread_pools(settings)
    export = export_of(settings)
    tracer_provider: TracerProvider | None = None
    if export is not None:
        # Before anything connects, so every statement and call is traced. Starting the
        # exporter opens an HTTP session: a thread. At exit, after the pools have closed,
        # the last spans are sent (bounded), while the process still has them.
        tracer_provider = await asyncio.to_thread(start_exporting, export)
        stack.push_async_callback(asyncio.to_thread, flush, settings.shutdown_timeout)
{% if cookiecutter.database != "psycopg2" %}
        stack.enter_context(traced_asyncpg_statements(tracer_provider))
{% endif %}
    metrics.watch(thread_token_gauges)
    schema = await asyncio.to_thread(schema_revisions)
    readiness: dict[str, ReadinessCheck] = {}
    # Filled as each pool opens; closed from here if a later one fails to open.
    pool_closes: list[Closing] = []
    stack.push_async_callback(close_at_once, pool_closes)
{% if cookiecutter.database != "psycopg2" %}

    asyncpg_pool = await open_asyncpg_pool(settings, database_url)
    pool_closes.append(partial(close_asyncpg_pool, asyncpg_pool, settings.shutdown_timeout))
    readiness["asyncpg"] = partial(
        asyncpg_readiness, asyncpg_pool, settings.asyncpg_acquire_timeout, schema
    )
    metrics.watch(partial(asyncpg_gauges, asyncpg_pool))
{% endif %}
{% if cookiecutter.database != "asyncpg" %}

    # Opening psycopg2 connections blocks: do it in a thread, not on the loop.
    psycopg2_pool = await asyncio.to_thread(
        open_psycopg2_pool, settings, database_url, tracer_provider
    )
    pool_closes.append(partial(asyncio.to_thread, psycopg2_pool.close, settings.shutdown_timeout))
    readiness["psycopg2"] = partial(psycopg2_readiness, psycopg2_pool, schema)
    metrics.watch(partial(psycopg2_gauges, psycopg2_pool))
{% endif %}
{% if cookiecutter.outbound_http == "yes" %}

    upstream_url = str(settings.upstream_url or "")
    if settings.upstream_url is None:
        # Development: no upstream configured, so the stub this package ships stands in.
        upstream_url = await stack.enter_async_context(stub_in_background())
        logger.info("upstream stub serving on %s (UPSTREAM_URL unset)", upstream_url)
    # One client for the whole process: it owns the connection pool to upstreams. Building
    # it loads the CA bundle from disk, so that happens in a thread.
    http_client = await asyncio.to_thread(build_http_client, settings, tracer_provider)
    stack.push_async_callback(http_client.aclose)
{% endif %}

    lag_monitor = asyncio.create_task(monitor_loop_lag(metrics), name="loop-lag-monitor")
    stack.callback(lag_monitor.cancel)
    return Resources(
        settings=settings,
        metrics=metrics,
        readiness=readiness,
{% if cookiecutter.database != "psycopg2" %}
        asyncpg_pool=asyncpg_pool,
{% endif %}
{% if cookiecutter.database != "asyncpg" %}
        psycopg2_pool=psycopg2_pool,
        psycopg2_places=anyio.Semaphore(settings.psycopg2_pool_max_size),
{% endif %}
{% if cookiecutter.outbound_http == "yes" %}
        upstream=Upstream(upstream_url, http_client),
{% endif %}
    )


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
                "ready: %d thread tokens, %d to_thread workers",
                settings.anyio_thread_tokens,
                settings.to_thread_max_workers,
            )
            # Starlette copies this state into every request: request.state.resources.
            yield {"resources": resources}

    return lifespan
