"""Helpers the tests share: the app in-process, free ports, database URLs.

On a real socket: served.py (the service in a thread), processes.py (the service as its own
process).
"""

import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from starlette.types import ASGIApp

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import DRIVERS, Settings

from .proofs import InFlight


def free_port() -> int:
    """A port nothing listens on now (for a server started next, or a refused connection)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def pool_sizes(least: int, most: int) -> dict[str, int]:
    """Settings for every pool of this bake: `least` to `most` connections each."""
    sizes = {}
    for driver in DRIVERS:
        sizes[f"{driver}_pool_min_size"] = least
        sizes[f"{driver}_pool_max_size"] = most
    return sizes


def request_scope(method: str, path: str) -> dict[str, Any]:
    """An HTTP scope as uvicorn passes it, for calling the app's ASGI interface directly."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"service.test")],
        "client": ("127.0.0.1", 50000),
        "server": ("service.test", 80),
    }


def url_with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@asynccontextmanager
async def started_app(
    settings: Settings,
    in_flight: InFlight | None = None,
    test_routers: Sequence[APIRouter] = (),
) -> AsyncIterator[tuple[ASGIApp, httpx.AsyncClient]]:
    """Start the app's lifespan; yield it (for raw ASGI calls) and a client that calls it
    in-process. `in_flight`, if given, counts the requests inside the app; `test_routers`
    are mounted on this app only (routes that exist to be measured, never shipped).

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
        yield manager.app, client


@asynccontextmanager
async def running_app(
    settings: Settings,
    in_flight: InFlight | None = None,
    test_routers: Sequence[APIRouter] = (),
) -> AsyncIterator[httpx.AsyncClient]:
    """`started_app`'s client only."""
    async with started_app(settings, in_flight, test_routers) as (_, client):
        yield client


@dataclass
class Service:
    """The app in-process (`running_app`) and the count of the requests inside it."""

    client: httpx.AsyncClient
    in_flight: InFlight


@asynccontextmanager
async def counted_app(
    settings: Settings, test_routers: Sequence[APIRouter] = ()
) -> AsyncIterator[Service]:
    in_flight = InFlight()
    async with running_app(settings, in_flight, test_routers) as client:
        yield Service(client, in_flight)
