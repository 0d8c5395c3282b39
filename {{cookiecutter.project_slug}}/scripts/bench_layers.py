"""What each layer of the service costs per request: CPU time, rung by rung from bare FastAPI.

    uv run python scripts/bench_layers.py
    uv run python scripts/bench_layers.py --calls 1000 --rounds 3

In process, without sockets: each rung is called through its ASGI interface by 16 concurrent
callers, and the figure is this process's CPU time per request (median over `--rounds`,
the rungs taking turns in every round, so a busy machine slows them alike). Over HTTP
(scripts/bench.py compare), uvicorn's parsing and the socket writes add the same to both
sides; what differs is measured here. Figures, not assertions; docs/performance.md explains
them. Uses DATABASE_URL if set, else an embedded PostgreSQL in a temporary directory.

Each ladder goes from scripts/bare_fastapi.py's route to the service's, one layer added at a
time. The lower rungs are routes that exist in this script only, declared on the service's
app itself (as bare FastAPI declares its routes) and matched first, so they run inside the
service's own lifespan and pool. The service's routes live in one APIRouter per concern,
included into the app; the rung "reached through its included router" measures what that
costs, against the same endpoint function declared on the app.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from asgi_correlation_id import CorrelationIdMiddleware
from asgi_lifespan import LifespanManager
from bare_fastapi import app as bare_app  # the baseline bench.py compares with
from bench import migrated_database  # scripts/ is on sys.path when a script in it runs
from fastapi import APIRouter, FastAPI, Request
from starlette.types import ASGIApp, Message

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.db.asyncpg_pool import AsyncpgPool
from {{ cookiecutter.package_name }}.dependencies import AsyncpgPoolDep, SettingsDep, resources_of
from {{ cookiecutter.package_name }}.items import async_repository
from {{ cookiecutter.package_name }}.items.http import ItemId
from {{ cookiecutter.package_name }}.items.schemas import Item
from {{ cookiecutter.package_name }}.routes import async_items, health
from {{ cookiecutter.package_name }}.settings import Settings

# The project root, for the scope the tests call the app with (one definition of "a request as
# uvicorn passes it"): scripts/ alone is on sys.path when a script in it runs.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.harness import request_scope

CALLERS = 16
rungs = APIRouter(prefix="/rung")


def pool_of(request: Request) -> AsyncpgPool:
    return resources_of(request).asyncpg_pool


@rungs.get("/bare/{item_id}")
async def bare_read(item_id: int, request: Request) -> dict[str, Any]:
    # scripts/bare_fastapi.py's route, inside the service's app.
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


# The service's own endpoint functions, declared on the app instead of in their routers.
rungs.add_api_route("/healthz", health.healthz)
rungs.add_api_route("/read/{item_id}", async_items.read_async_item)


def middleware_stack(app: FastAPI, keep: Callable[[type], bool]) -> ASGIApp:
    """The app's ASGI stack with only the middleware `keep` accepts (FastAPI's own stays)."""
    every = app.user_middleware
    app.user_middleware = [entry for entry in every if keep(entry.cls)]  # type: ignore[arg-type]
    try:
        return app.build_middleware_stack()
    finally:
        app.user_middleware = every


async def cpu_us_per_request(app: ASGIApp, path: str, state: dict[str, Any], calls: int) -> float:
    async def call() -> None:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        await app({**request_scope("GET", path), "state": state.copy()}, receive, send)
        if sent[0]["status"] != 200:
            raise RuntimeError(f"{path} answered {sent[0]['status']}")

    async def caller(count: int) -> None:
        for _ in range(count):
            await call()

    started = time.process_time()
    await asyncio.gather(*(caller(calls // CALLERS) for _ in range(CALLERS)))
    return (time.process_time() - started) / (calls // CALLERS * CALLERS) * 1e6


Rung = tuple[str, ASGIApp, str, dict[str, Any]]


async def measure(rungs_to_run: list[Rung], calls: int, rounds: int) -> None:
    figures: dict[str, list[float]] = {name: [] for name, *_ in rungs_to_run}
    for _name, app, path, state in rungs_to_run:  # warm-up: connections, statement caches
        await cpu_us_per_request(app, path, state, CALLERS * 20)
    for _ in range(rounds):
        for name, app, path, state in rungs_to_run:
            figures[name].append(await cpu_us_per_request(app, path, state, calls))
    previous: float | None = None
    for name, *_ in rungs_to_run:
        median = statistics.median(figures[name])
        step = "" if previous is None else f"{median - previous:+7.1f}"
        print(f"{name:<70} {median:7.1f} us {step}")
        previous = median


async def an_item(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        item_id: int = await conn.fetchval(
            "INSERT INTO items (name, price) VALUES ('bench', 1) RETURNING id"
        )
        return item_id
    finally:
        await conn.close()


async def run(database_url: str, calls: int, rounds: int) -> None:
    os.environ["DATABASE_URL"] = database_url  # bare_fastapi.py reads it at start-up
    app = create_app(Settings(database_url=database_url))
    app.router.routes[:0] = rungs.routes
    none = middleware_stack(app, lambda _cls: False)
    request_id_only = middleware_stack(app, lambda cls: cls is CorrelationIdMiddleware)
    full = app.build_middleware_stack()
    item = f"/{await an_item(database_url)}"
    async with LifespanManager(bare_app) as bare, LifespanManager(app) as service:
        # What asgi-lifespan puts in each request's scope: the lifespans' resources.
        bare_state, state = bare._state, service._state
        print(f"CPU per request: {CALLERS} callers, median of {rounds} rounds of {calls} calls")
        print("\ntrivial `async def`")
        await measure(
            [
                ("bare FastAPI: GET /hello", bare_app, "/hello", bare_state),
                (
                    "the service's /healthz declared on the app, no middleware",
                    none,
                    "/rung/healthz",
                    state,
                ),
                ("  + reached through its included router: GET /healthz", none, "/healthz", state),
                ("  + X-Request-ID middleware", request_id_only, "/healthz", state),
                ("  + request metrics middleware: the service", full, "/healthz", state),
            ],
            calls,
            rounds,
        )
        print("\nasyncpg read by id")
        await measure(
            [
                ("bare FastAPI: GET /items/{id}", bare_app, "/items" + item, bare_state),
                (
                    "the same route declared on the service's app, no middleware",
                    none,
                    "/rung/bare" + item,
                    state,
                ),
                ("  + response model (Item)", none, "/rung/model" + item, state),
                (
                    "  + dependencies (ItemId, AsyncpgPoolDep, SettingsDep)",
                    none,
                    "/rung/dependencies" + item,
                    state,
                ),
                (
                    "  + acquire timeout, live connection, retry: the service's route",
                    none,
                    "/rung/read" + item,
                    state,
                ),
                (
                    "  + reached through its included router: GET /async/items/{id}",
                    none,
                    "/async/items" + item,
                    state,
                ),
                ("  + X-Request-ID middleware", request_id_only, "/async/items" + item, state),
                ("  + request metrics middleware: the service", full, "/async/items" + item, state),
            ],
            calls,
            rounds,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000, help="requests per rung per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, rungs taking turns")
    options = parser.parse_args()
    if options.calls < CALLERS or options.rounds < 1:
        parser.error(f"--calls must be at least {CALLERS} (the callers) and --rounds at least 1")
    with migrated_database() as database_url:
        uvloop.run(run(database_url, options.calls, options.rounds))


if __name__ == "__main__":  # the CPU pool's processes import this module again
    main()
