"""Which transport the shared client should use: measured, side by side, in one run.

    uv run python scripts/bench_transports.py
    uv run python scripts/bench_transports.py --calls 200 --runs 5 --loop asyncio

Starts the upstream stub (`python -m {{ cookiecutter.package_name }}.dev.upstream_stub`) on a free
port, then sends `--calls` concurrent GETs to it through each candidate client, after one
warm-up burst that opens the connections. Each client gets the service's own limits and
timeouts (Settings from the environment, a pool of at least `--calls` connections). The
figures are seconds per burst, min - max over `--runs`. Figures, not assertions: the tests
prove behaviour; this script reports speed on this machine. The choice it informs is
written down in src/{{ cookiecutter.package_name }}/outbound/client.py and docs/concurrency.md.
"""

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from typing import Any, Protocol

import aiohttp
import httpx
import httpx2
from bench import PACKAGE, serving  # scripts/ is on sys.path when a script in it runs
from httpx_aiohttp import AiohttpTransport as HttpxAiohttpTransport

from {{ cookiecutter.package_name }}.outbound.client import build_http_client
from {{ cookiecutter.package_name }}.settings import Settings

TARGET_SECONDS = 0.45  # for 100 concurrent calls of 0.3 s
Get = Callable[[str], Coroutine[Any, Any, None]]


class Response(Protocol):
    def raise_for_status(self) -> object: ...
    def json(self) -> object: ...


class Client(Protocol):
    async def get(self, url: str) -> Response: ...


def checked_get(client: Client) -> Get:
    """One GET as the service makes it: the status checked, the JSON body parsed."""

    async def get(url: str) -> None:
        response = await client.get(url)
        response.raise_for_status()
        response.json()

    return get


def serving_stub() -> AbstractContextManager[str]:
    """The upstream stub the service ships, in a process of its own; yields its URL."""
    return serving(["-m", f"{PACKAGE}.dev.upstream_stub"], "/delay/0")


def candidates(settings: Settings) -> dict[str, Callable[[], AbstractAsyncContextManager[Get]]]:
    pool = settings.http_max_connections
    timeout = settings.http_read_timeout

    @asynccontextmanager
    async def service_client() -> AsyncIterator[Get]:
        # Exactly what the lifespan builds.
        async with build_http_client(settings) as client:
            yield checked_get(client)

    @asynccontextmanager
    async def httpx_default() -> AsyncIterator[Get]:
        # Keep-alive for the whole pool: the fairest setting for the default transport.
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            yield checked_get(client)

    @asynccontextmanager
    async def httpx_over_aiohttp() -> AsyncIterator[Get]:
        # The service's client before httpx2: the same transport, on httpx 0.28.
        transport = HttpxAiohttpTransport(limits=httpx.Limits(max_connections=pool))
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
            yield checked_get(client)

    @asynccontextmanager
    async def httpx2_default() -> AsyncIterator[Get]:
        limits = httpx2.Limits(max_connections=pool, max_keepalive_connections=pool)
        async with httpx2.AsyncClient(limits=limits, timeout=timeout) as client:
            yield checked_get(client)

    @asynccontextmanager
    async def aiohttp_session() -> AsyncIterator[Get]:
        connector = aiohttp.TCPConnector(limit=pool)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def get(url: str) -> None:
                async with session.get(url) as response:
                    response.raise_for_status()
                    await response.json()

            yield get

    return {
        f"httpx.AsyncClient {httpx.__version__}, default transport": httpx_default,
        f"httpx.AsyncClient {httpx.__version__} + AiohttpTransport": httpx_over_aiohttp,
        f"httpx2.AsyncClient {httpx2.__version__}, its own pool": httpx2_default,
        f"httpx2.AsyncClient {httpx2.__version__} + AiohttpTransport (the service's)": service_client,
        f"aiohttp.ClientSession {aiohttp.__version__} (the floor)": aiohttp_session,
    }


async def burst(get: Get, url: str, calls: int) -> float:
    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(calls):
            group.create_task(get(url))
    return time.perf_counter() - started


async def measure(base: str, calls: int, runs: int, delays: list[float]) -> None:
    settings = Settings(http_max_connections=max(calls, Settings().http_max_connections))
    header = "".join(f"{f'{calls} x /delay/{d:g}':>20}" for d in delays)
    print(f"{'client':<64}{header}")
    for name, make in candidates(settings).items():
        async with make() as get:
            await burst(get, f"{base}/delay/0", calls)  # warm-up: opens the connections
            cells = []
            for delay in delays:
                seconds = [await burst(get, f"{base}/delay/{delay:g}", calls) for _ in range(runs)]
                cells.append(f"{min(seconds):.3f} - {max(seconds):.3f} s")
        print(f"{name:<64}{''.join(f'{cell:>20}' for cell in cells)}", flush=True)
    print(f"\ntarget: 100 calls of 0.3 s in under {TARGET_SECONDS} s through the shared client")


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        import uvloop  # noqa: PLC0415 (uvicorn[standard] installs it on Linux and macOS only)

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100, help="concurrent calls per burst")
    parser.add_argument("--runs", type=int, default=3, help="bursts per figure")
    parser.add_argument(
        "--delays", type=float, nargs="+", default=[0.0, 0.3], help="stub delays, seconds"
    )
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="event loop of the clients (uvicorn runs the service on uvloop)",
    )
    args: Any = parser.parse_args(argv)
    if args.calls < 1 or args.runs < 1 or any(delay < 0 for delay in args.delays):
        parser.error("--calls and --runs must be at least 1, and --delays not negative")
    with serving_stub() as base:
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.loop}, stub {base}")
        with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
            runner.run(measure(base, args.calls, args.runs, args.delays))


if __name__ == "__main__":
    main()
