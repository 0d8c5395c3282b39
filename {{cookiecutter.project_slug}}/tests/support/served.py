"""The app served for real: uvicorn on a free 127.0.0.1 port, in a thread, with its lifespan.

An in-process transport cannot show what happens after the response (httpx's ASGITransport
returns only when the whole ASGI call has ended, background tasks included) nor a client
that goes away. Here a real client talks TCP to a real server, and the tests look into the
server's own loop: which requests are still inside the app, its heartbeat, its thread tokens.
"""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.dev.threaded_server import serve_in_background
from {{ cookiecutter.package_name }}.settings import Settings

from .proofs import Heartbeat

T = TypeVar("T")


class Inside:
    """ASGI wrapper that counts the requests inside the app, by path, and remembers the loop
    that serves them. Touched from the server's loop only; the tests only read it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.now: Counter[str] = Counter()
        self.left_at: dict[str, float] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self.loop = asyncio.get_running_loop()
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        self.now[path] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.now[path] -= 1
            self.left_at[path] = time.perf_counter()


@dataclass
class Served:
    url: str
    port: int
    inside: Inside

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self.inside.loop is not None
        return self.inside.loop

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop and await its result from the test's."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    async def tokens_in_use(self) -> int:
        async def read() -> int:
            return anyio.to_thread.current_default_thread_limiter().borrowed_tokens

        return await self.run(read())

    @asynccontextmanager
    async def heartbeat(self) -> AsyncIterator[Heartbeat]:
        """The heartbeat of the server's loop (and its thread tokens), not the test's."""
        heartbeat = Heartbeat()
        await self.run(heartbeat.__aenter__())
        try:
            yield heartbeat
        finally:
            await self.run(heartbeat.__aexit__(None, None, None))

    async def until(self, condition: Callable[[], bool], patience: float) -> float:
        """Poll `condition()` (it reads counters another thread writes) until true; return
        how long that took. A bound on patience, never a measurement."""
        started = time.perf_counter()
        async with asyncio.timeout(patience):
            while not condition():  # noqa: ASYNC110 (state of another thread's loop)
                await asyncio.sleep(0.005)
        return time.perf_counter() - started


@contextmanager
def serving_app(settings: Settings) -> Iterator[Served]:
    inside = Inside(create_app(settings))
    with serve_in_background(inside, lifespan="on") as url:
        yield Served(url, urlsplit(url).port or 0, inside)
