"""Helpers the tests share: running the app in-process, and database URLs."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import httpx
from asgi_lifespan import LifespanManager
from fastapi import APIRouter

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings

from .proofs import InFlight


def url_with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@asynccontextmanager
async def running_app(
    settings: Settings,
    in_flight: InFlight | None = None,
    test_routers: Sequence[APIRouter] = (),
) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan and yield a client that calls it in-process; `in_flight`,
    if given, counts the requests inside the app; `test_routers` are mounted on this app
    only (routes that exist to be measured, never shipped).

    The lifespan sizes the thread budgets of the running loop. A test that passes thread
    settings other than the defaults must run in a loop of its own:
    `@pytest.mark.asyncio(loop_scope="function")`.
    """
    app = create_app(settings)
    for router in test_routers:
        app.include_router(router)
    # manager.app carries the lifespan state (request.state.resources) into requests.
    async with (
        LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=in_flight.wrap(manager.app) if in_flight else manager.app
            ),
            base_url="http://service.test",
        ) as client,
    ):
        yield client
