"""Benchmarks over real HTTP: the service under uvicorn, load from aiohttp.

    uv run python scripts/bench.py              # every scenario
    uv run python scripts/bench.py lesson       # one group

Figures, not assertions: the tests prove the behaviour; this script reports how fast it is
on this machine, every comparison taken side by side in one run. The load comes from
aiohttp because an httpx client is itself the bottleneck at these concurrencies
(encode/httpx#3215). The service uses DATABASE_URL if set, else its embedded PostgreSQL in a
temporary directory; the upstream is the stub it ships (`python -m <package>.upstream_stub`).
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

PACKAGE = "{{ cookiecutter.package_name }}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running(module: str, ready_path: str, **environment: str) -> Iterator[str]:
    """Start `python -m <module>` on a free port; yield its base URL; stop it."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", module],
            cwd=workdir,
            env={**os.environ, "PORT": str(port), "LOG_LEVEL": "warning", **environment},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(wait_until_ready(f"{base}{ready_path}"))
            yield base
        finally:
            process.terminate()
            process.wait(timeout=60)


async def wait_until_ready(url: str, patience: float = 120) -> None:
    deadline = time.monotonic() + patience
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} never answered 200")


@dataclass
class Burst:
    seconds: float
    statuses: dict[int, int]


async def burst(session: aiohttp.ClientSession, urls: list[str]) -> Burst:
    """All requests at once; wall time until the last answer."""

    async def fetch(url: str) -> int:
        async with session.get(url) as response:
            await response.read()
            return response.status

    started = time.perf_counter()
    statuses = await asyncio.gather(*(fetch(url) for url in urls))
    seconds = time.perf_counter() - started
    return Burst(seconds, {s: statuses.count(s) for s in set(statuses)})


@dataclass
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


async def closed_loop(
    session: aiohttp.ClientSession, url: str, connections: int = 64, seconds: float = 3.0
) -> Load:
    """`connections` clients, each sending its next request when the last one is answered."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return Load(len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000, errors)


async def slowest_healthz_during(
    session: aiohttp.ClientSession, base: str, work: Awaitable[Burst]
) -> tuple[Burst, float]:
    """Probe /healthz back to back while `work` runs; return the work and the slowest probe."""
    task = asyncio.ensure_future(work)
    slowest = 0.0
    while not task.done():
        started = time.perf_counter()
        async with session.get(f"{base}/healthz") as response:
            await response.read()
        slowest = max(slowest, time.perf_counter() - started)
    return await task, slowest


def row(name: str, figure: str, expectation: str) -> None:
    print(f"{name:<66} {figure:<26} {expectation}")


async def lesson(base: str) -> None:
    connector = aiohttp.TCPConnector(limit=0)  # no client-side cap: the server is measured
    async with aiohttp.ClientSession(connector=connector) as session:
        for name, url, n, expectation in [
            ("100 x /lesson/slow?delay=0.3 (async def, asyncio.sleep)", "slow", 100, "< 0.9 s"),
            (
                "60 x /lesson/sync-slow?delay=0.3 (def, 40 tokens)",
                "sync-slow",
                60,
                "2 waves: ~0.6 s",
            ),
            ("20 x /lesson/offload?delay=0.3 (asyncio.to_thread)", "offload", 20, "< 0.75 s"),
        ]:
            result = await burst(session, [f"{base}/lesson/{url}?delay=0.3"] * n)
            row(name, f"{result.seconds:.3f} s {result.statuses}", expectation)

        blocking = burst(session, [f"{base}/lesson/blocking?delay=0.25"] * 5)
        result, slowest = await slowest_healthz_during(session, base, blocking)
        row(
            "5 x /lesson/blocking?delay=0.25 (time.sleep in async def)",
            f"{result.seconds:.3f} s {result.statuses}",
            ">= 1.1 s: serialised",
        )
        row("  slowest /healthz meanwhile", f"{slowest * 1000:.0f} ms", ">= 150 ms")

        calm = burst(session, [f"{base}/lesson/slow?delay=0.25"] * 5)
        _, slowest = await slowest_healthz_during(session, base, calm)
        row("  same with /lesson/slow: slowest /healthz", f"{slowest * 1000:.0f} ms", "small")

        for name, url in [
            ("/lesson/async, 64 connections, 3 s (no thread hop)", "async"),
            ("/lesson/sync, 64 connections, 3 s (a thread hop each)", "sync"),
        ]:
            load = await closed_loop(session, f"{base}/lesson/{url}")
            row(
                name,
                f"{load.requests_per_second:,.0f} req/s p99 {load.p99_ms:.1f} ms",
                f"errors {load.errors}",
            )


async def cpu(base: str) -> None:
    steps = 10_000_000  # about 0.3 s of CPU here
    async with aiohttp.ClientSession() as session:
        for route, note in [("cpu", "threads share the GIL: ~2x"), ("cpu-offload", "2 cores: ~1x")]:
            url = f"{base}/lesson/{route}?steps={steps}"
            one = await burst(session, [url])
            two = await burst(session, [url] * 2)
            row(
                f"2 x /lesson/{route} at once vs 1 alone",
                f"{two.seconds:.3f} s / {one.seconds:.3f} s = {two.seconds / one.seconds:.2f}",
                note,
            )


async def items(base: str) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async with session.post(
            f"{base}/async/items", json={"name": "benchmark", "price": "9.99"}
        ) as response:
            assert response.status == 201, await response.text()
            item_id = (await response.json())["id"]
        for name, path in [
            ("/lesson/async (async def, no I/O: the ceiling)", "/lesson/async"),
            (f"/async/items/{item_id} (asyncpg, async def)", f"/async/items/{item_id}"),
            (f"/sync/items/{item_id} (psycopg2, def)", f"/sync/items/{item_id}"),
            (f"/bridge/items/{item_id} (psycopg2 via to_thread)", f"/bridge/items/{item_id}"),
        ]:
            load = await closed_loop(session, f"{base}{path}")
            row(
                f"{name}, 64 connections, 3 s",
                f"{load.requests_per_second:,.0f} req/s p99 {load.p99_ms:.1f} ms",
                f"errors {load.errors}",
            )


async def fanout(base: str) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        url = f"{base}/async/upstream/fanout"
        await burst(session, [f"{url}?n=5&delay=0"])  # open the client's first connections
        result = await burst(session, [f"{url}?n=10&delay=0.3"])
        row(
            "1 fan-out of 10 upstream calls of 0.3 s",
            f"{result.seconds:.3f} s {result.statuses}",
            "< 0.75 s",
        )
        result = await burst(session, [f"{url}?n=5&delay=0.3"] * 20)
        row(
            "20 fan-outs of 5 calls of 0.3 s (100 upstream calls)",
            f"{result.seconds:.3f} s {result.statuses}",
            "< 0.75 s",
        )


SCENARIOS: dict[str, Callable[[str], Coroutine[Any, Any, None]]] = {
    "lesson": lesson,
    "cpu": cpu,
    "items": items,
    "fanout": fanout,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"{', '.join(SCENARIOS)} (default: all)"
    )
    chosen = parser.parse_args().scenarios or list(SCENARIOS)
    if unknown := sorted(set(chosen) - set(SCENARIOS)):
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    with (
        running(f"{PACKAGE}.upstream_stub", "/delay/0") as upstream,
        running(PACKAGE, "/readyz", ENABLE_ANTIPATTERNS="true", UPSTREAM_URL=upstream) as base,
    ):
        print(f"{sys.version.split()[0]}, {os.cpu_count()} CPUs, service at {base}")
        for name in chosen:
            print(f"\n== {name}")
            asyncio.run(SCENARIOS[name](base))


if __name__ == "__main__":
    main()
