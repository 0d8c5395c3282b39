"""Helpers the tests share: running the app in-process or on a real socket, database URLs."""

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import APIRouter
from starlette.types import ASGIApp

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


@contextmanager
def serving(app: ASGIApp, *, lifespan: Literal["on", "off"] = "off") -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in a background thread; yield its base URL.

    For proofs that need real sockets: a client that is not inside the server's loop, so it
    can see the loop stall, and connections that can be closed mid-request.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # ws="none": nothing here serves websockets, and older uvicorn releases import
    # websockets.legacy for them, whose DeprecationWarning the suite turns into an error.
    config = uvicorn.Config(
        app, log_level="warning", lifespan=lifespan, ws="none", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="uvicorn", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 60  # start-up spawns processes: slow on a busy machine
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
