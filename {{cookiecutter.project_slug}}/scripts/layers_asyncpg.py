"""The asyncpg read's ladder for scripts/bench_layers.py: from bare FastAPI's read
(scripts/bare_asyncpg.py) to the service's GET /async/items/{id}, one layer at a time, and the
same with traces exported."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import asyncpg
from fastapi import APIRouter, Request
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.trace import TracerProvider

from {{ cookiecutter.package_name }}.db.asyncpg_pool import AsyncpgPool, traced_asyncpg_statements
from {{ cookiecutter.package_name }}.dependencies import AsyncpgPoolDep, SettingsDep, resources_of
from {{ cookiecutter.package_name }}.items import async_repository
from {{ cookiecutter.package_name }}.items.http import ItemId
from {{ cookiecutter.package_name }}.items.schemas import Item
from {{ cookiecutter.package_name }}.routes import async_items

if TYPE_CHECKING:  # bench_layers.py runs as __main__: importing it again would load a copy
    from bench_layers import Step

# Declared on the service's app by bench_layers.py, ahead of the service's routes.
rungs = APIRouter(prefix="/rung")


def pool_of(request: Request) -> AsyncpgPool:
    return resources_of(request).asyncpg_pool


@rungs.get("/bare/{item_id}")
async def bare_read(item_id: int, request: Request) -> dict[str, Any]:
    # scripts/bare_asyncpg.py's route, inside the service's app.
    async with pool_of(request).acquire() as conn:
        row = await conn.fetchrow(async_repository.SELECT_ONE, item_id)
    return dict(row) if row is not None else {}


@rungs.get("/model/{item_id}")
async def typed_read(item_id: int, request: Request) -> Item:
    async with pool_of(request).acquire() as conn:
        row = await conn.fetchrow(async_repository.SELECT_ONE, item_id)
    assert row is not None
    return async_repository.to_item(row)


@rungs.get("/dependencies/{item_id}")
async def injected_read(item_id: ItemId, pool: AsyncpgPoolDep, settings: SettingsDep) -> Item:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(async_repository.SELECT_ONE, item_id)
    assert row is not None
    return async_repository.to_item(row)


# The service's own endpoint function, declared on the app instead of in its router.
rungs.add_api_route("/read/{item_id}", async_items.read_async_item)


# asyncpg's instrumentation patches asyncpg's classes for the process, and the traced copy of
# the service switched it on at start-up: it would give every other rung's statements spans
# too. So it is off between rungs and on for the traced one.
while_traced = traced_asyncpg_statements


@contextmanager
def untraced_between_rungs(provider: TracerProvider) -> Iterator[None]:
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.uninstrument()
    try:
        yield
    finally:
        instrumentor.instrument(tracer_provider=provider)  # as the traced lifespan left it


async def an_item(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        item_id: int = await conn.fetchval(
            "INSERT INTO items (name, price) VALUES ('bench', 1) RETURNING id"
        )
        return item_id
    finally:
        await conn.close()


async def ladder(database_url: str) -> tuple[str, list["Step"]]:
    """The ladder's title and rungs, on an item written for it."""
    item = f"/{await an_item(database_url)}"
    return "asyncpg read by id", [
        ("bare FastAPI: GET /asyncpg/items/{id}", "bare", "/asyncpg/items" + item),
        (
            "the same route declared on the service's app, no middleware",
            "no middleware",
            "/rung/bare" + item,
        ),
        ("  + response model (Item)", "no middleware", "/rung/model" + item),
        (
            "  + dependencies (ItemId, AsyncpgPoolDep, SettingsDep)",
            "no middleware",
            "/rung/dependencies" + item,
        ),
        (
            "  + acquire timeout, live connection, retry: the service's route",
            "no middleware",
            "/rung/read" + item,
        ),
        (
            "  + reached through its included router: GET /async/items/{id}",
            "no middleware",
            "/async/items" + item,
        ),
        ("  + X-Request-ID middleware", "request id", "/async/items" + item),
        ("  + request metrics middleware", "full", "/async/items" + item),
        ("  + FastAPI's entry, tracing off: the service", "entry", "/async/items" + item),
        (
            "  + traces exported (OTEL_EXPORTER_OTLP_ENDPOINT set)",
            "traced",
            "/async/items" + item,
        ),
    ]
