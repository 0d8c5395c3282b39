"""Typed shortcuts to the lifespan's resources, for route signatures: `<Thing>Dep`.

The providers are `async def` on purpose: a plain `def` dependency would cost a trip through
the thread pool (and a thread token) just to read an attribute. Each reads the request's
state itself rather than depending on `get_resources`: FastAPI spends about 15 us of CPU on
every dependency it resolves, and the data routes take two of these on every request
(docs/performance.md, `scripts/bench_layers.py`).
"""

{% if cookiecutter.database != "asyncpg" %}
from collections.abc import AsyncIterator
{% endif %}
from typing import Annotated, cast

{% if cookiecutter.database != "asyncpg" %}
import anyio
{% endif %}
from fastapi import Depends, Request

{% if cookiecutter.database != "psycopg2" %}
from .db.asyncpg_pool import AsyncpgPool
{% endif %}
{% if cookiecutter.database != "asyncpg" %}
from .db.psycopg2_pool import Psycopg2Pool
from .errors import DatabaseUnavailable
{% endif %}
from .lifespan import Resources
{% if cookiecutter.outbound_http == "yes" %}
from .outbound.client import Upstream
{% endif %}
from .settings import Settings


def resources_of(request: Request) -> Resources:
    return cast(Resources, request.state.resources)


async def get_resources(request: Request) -> Resources:
    return resources_of(request)


async def get_settings(request: Request) -> Settings:
    return resources_of(request).settings


ResourcesDep = Annotated[Resources, Depends(get_resources)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
{% if cookiecutter.database != "psycopg2" %}


async def get_asyncpg_pool(request: Request) -> AsyncpgPool:
    return resources_of(request).asyncpg_pool


AsyncpgPoolDep = Annotated[AsyncpgPool, Depends(get_asyncpg_pool)]
{% endif %}
{% if cookiecutter.database != "asyncpg" %}


async def get_psycopg2_pool(request: Request) -> Psycopg2Pool:
    return resources_of(request).psycopg2_pool


async def wait_for_a_psycopg2_connection(request: Request) -> AsyncIterator[None]:
    """For `def` routes on psycopg2: wait for a free connection here, on the loop, before
    FastAPI gives the route a thread. Waiting inside the route (in the pool) would hold a
    thread token the whole time: with the pool busy, 40 waiting requests would take every
    token and freeze every other `def` route.

    FastAPI's `Depends(..., max_concurrency=n)` waits without a thread too, but n is fixed
    where the route is declared, while the pool's size is a setting read at start-up, and
    it waits without a time limit. This waits at most PSYCOPG2_ACQUIRE_TIMEOUT, then 503,
    like the pool itself.
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


Psycopg2PoolDep = Annotated[Psycopg2Pool, Depends(get_psycopg2_pool)]
# For a router's `dependencies=[...]`. scope="function": the place is given back as soon as
# the route returns, not after the response has been sent.
WAIT_FOR_A_PSYCOPG2_CONNECTION = Depends(wait_for_a_psycopg2_connection, scope="function")
{% endif %}
{% if cookiecutter.outbound_http == "yes" %}


async def get_upstream(request: Request) -> Upstream:
    return resources_of(request).upstream


UpstreamDep = Annotated[Upstream, Depends(get_upstream)]
{% endif %}
