"""asyncpg's pair for scripts/bench_pool_checks.py: the socket check on acquire
(live_connection) against a plain acquire."""

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg

from {{ cookiecutter.package_name }}.db.asyncpg_pool import live_connection


async def per_call_us(run: Callable[[], Awaitable[None]], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await run()
    return (time.perf_counter() - started) / calls * 1e6


async def measure(url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    checked: list[float] = []
    unchecked: list[float] = []

    async def live() -> None:
        async with live_connection(pool):
            pass

    async def plain() -> None:
        async with pool.acquire():
            pass

    try:
        for _ in range(rounds):
            checked.append(await per_call_us(live, calls))
            unchecked.append(await per_call_us(plain, calls))
    finally:
        await pool.close()
    return {
        "asyncpg acquire + release, socket checked (this service)": checked,
        "asyncpg acquire + release, not checked": unchecked,
    }


def pairs(url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    return asyncio.run(measure(url, calls, rounds))
