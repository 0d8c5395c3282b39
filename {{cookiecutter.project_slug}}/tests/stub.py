"""The upstream stub served for real: uvicorn on a free 127.0.0.1 port, in a thread.

Mocks (respx, pytest-httpx) replace the client's connection pool, so limits, pool waits and
timeouts are only exercised against a real server. The stub runs its own event loop in its
own thread; the counters below are touched from that loop only.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from {{ cookiecutter.package_name }}.upstream import app as stub_app

from .proofs import InFlight


class Traffic:
    """ASGI wrapper that counts the requests that reached the app and the TCP connections
    they came on (one client address per connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests = 0
        self.connections: set[tuple[str, int]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests += 1
            if scope.get("client"):
                host, port = scope["client"]
                self.connections.add((host, port))
        await self.app(scope, receive, send)


@dataclass
class Stub:
    url: str
    in_flight: InFlight
    traffic: Traffic

    async def settled(self, patience: float = 5) -> "Stub":
        """Wait until calls abandoned by an earlier test (a timeout does not stop the
        stub's sleep) have ended, then start counting afresh."""
        async with asyncio.timeout(patience):
            # The counter changes on the stub's loop, in another thread: an asyncio.Event
            # of this loop cannot be set from there without more machinery than a poll.
            while self.in_flight.now:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        self.in_flight.reset()
        self.traffic.requests = 0
        self.traffic.connections.clear()
        return self


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 in a background thread; yield its base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # ws="none": the stub serves no websockets, and older uvicorn releases import
    # websockets.legacy for them, whose DeprecationWarning the suite turns into an error.
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", ws="none", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="upstream-stub", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the upstream stub did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


@contextmanager
def running_stub() -> Iterator[Stub]:
    in_flight = InFlight()
    traffic = Traffic(in_flight.wrap(stub_app))
    with serving(traffic) as url:
        yield Stub(url, in_flight, traffic)
