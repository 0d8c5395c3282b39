"""The upstream stub served for real: uvicorn on a free 127.0.0.1 port, in a thread.

Mocks (respx, pytest-httpx) replace the client's connection pool, so limits, pool waits and
timeouts are only exercised against a real server. The stub runs its own event loop in its
own thread; the counters below are touched from that loop only.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from {{ cookiecutter.package_name }}.dev.threaded_server import serve_in_background
from {{ cookiecutter.package_name }}.dev.upstream_stub import app as stub_app

from ..support.proofs import InFlight


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
def running_stub() -> Iterator[Stub]:
    in_flight = InFlight()
    traffic = Traffic(in_flight.wrap(stub_app))
    with serve_in_background(traffic) as url:
        yield Stub(url, in_flight, traffic)
