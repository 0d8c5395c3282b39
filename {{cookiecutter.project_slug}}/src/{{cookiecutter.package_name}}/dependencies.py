"""Typed shortcuts to the lifespan's resources, for route signatures.

The providers are `async def` on purpose: a plain `def` dependency would cost a trip through
the thread pool (and a thread token) just to read an attribute. Each reads the request's
state itself rather than depending on `get_resources`: FastAPI spends about 15 us of CPU on
every dependency it resolves, and the data routes take two of these on every request
(docs/performance.md, `scripts/bench_layers.py`).
"""

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, TypeAlias, cast

import anyio
import asyncpg
import httpx
from fastapi import Depends, Request

from .cpu_pool import CpuPool
from .errors import DatabaseUnavailable
from .lifespan import Resources
from .settings import Settings
from .sync_db import Psycopg2Pool

if TYPE_CHECKING:
    AsyncpgPoolType: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:
    # FastAPI evaluates these annotations at run time, where asyncpg.Pool is not generic
    # (only its type stubs are).
    AsyncpgPoolType = asyncpg.Pool


def resources_of(request: Request) -> Resources:
    return cast(Resources, request.state.resources)


async def get_resources(request: Request) -> Resources:
    return resources_of(request)


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_settings(request: Request) -> Settings:
    return resources_of(request).settings


async def get_asyncpg_pool(request: Request) -> AsyncpgPoolType:
    return resources_of(request).asyncpg_pool


async def get_psycopg2_pool(request: Request) -> Psycopg2Pool:
    return resources_of(request).psycopg2_pool


async def get_cpu_pool(request: Request) -> CpuPool:
    return resources_of(request).cpu_pool


async def get_http_client(request: Request) -> httpx.AsyncClient:
    return resources_of(request).http_client


async def wait_for_a_psycopg2_connection(request: Request) -> AsyncIterator[None]:
    """For `def` routes on psycopg2: wait for a free connection here, on the loop, before
    FastAPI gives the route a thread. Waiting inside the route (in the pool) would hold a
    thread token the whole time: with the pool busy, 40 waiting requests would take every
    token and freeze every other `def` route.

    FastAPI's `Depends(..., max_concurrency=n)` waits without a thread too (the lesson's
    GET /lesson/limited uses it), but n is fixed where the route is declared, while the
    pool's size is a setting read at start-up, and it waits without a time limit. This
    waits at most PSYCOPG2_ACQUIRE_TIMEOUT, then 503, like the pool itself.
    """
    resources = resources_of(request)
    places = resources.psycopg2_places
    try:
        with anyio.fail_after(resources.settings.psycopg2_acquire_timeout):
            await places.acquire()
    except TimeoutError:
        raise DatabaseUnavailable("database unavailable") from None
    try:
        yield
    finally:
        places.release()


SettingsDep = Annotated[Settings, Depends(get_settings)]
AsyncpgPool = Annotated[AsyncpgPoolType, Depends(get_asyncpg_pool)]
Psycopg2PoolDep = Annotated[Psycopg2Pool, Depends(get_psycopg2_pool)]
# scope="function": the place is given back as soon as the route returns, not after the
# response has been sent.
WAIT_FOR_A_PSYCOPG2_CONNECTION = Depends(wait_for_a_psycopg2_connection, scope="function")
CpuPoolDep = Annotated[CpuPool, Depends(get_cpu_pool)]
HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]
