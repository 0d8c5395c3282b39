"""What the dead-connection checks and the per-statement timeout cost, per request.

    uv run python scripts/bench_pool_checks.py

Figures, not assertions. Each pair runs side by side in one process, alternating in rounds,
so a busy machine slows both alike: a check that costs nothing shows the same figure on both
lines. Uses DATABASE_URL if set, else an embedded PostgreSQL in a temporary directory.
"""

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from {{ cookiecutter.package_name }}.db import psycopg2_pool as sync_db
from {{ cookiecutter.package_name }}.db.asyncpg_pool import live_connection
from {{ cookiecutter.package_name }}.db.psycopg2_pool import Psycopg2Pool
from {{ cookiecutter.package_name }}.dev.embedded_postgres import embedded_postgres

ROUNDS = 5
CALLS = 2000


def per_call_us(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    for _ in range(CALLS):
        run()
    return (time.perf_counter() - started) / CALLS * 1e6


async def per_call_us_async(run: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    for _ in range(CALLS):
        await run()
    return (time.perf_counter() - started) / CALLS * 1e6


def row(name: str, figures: list[float]) -> None:
    print(f"{name:<62} median {statistics.median(figures):7.1f} us  (min {min(figures):.1f})")


def psycopg2_pairs(url: str) -> None:
    with_timeout = Psycopg2Pool(
        url, min_size=1, max_size=1, acquire_timeout=5, statement_timeout=30
    )
    without = Psycopg2Pool(url, min_size=1, max_size=1, acquire_timeout=5)
    checked: list[float] = []
    unchecked: list[float] = []
    prefixed: list[float] = []
    plain: list[float] = []

    def borrow() -> None:
        with without.connection():
            pass

    def select(pool: Psycopg2Pool) -> Callable[[], None]:
        def run() -> None:
            with pool.connection() as conn:
                conn.autocommit = True
                with conn.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    cursor.fetchone()
                conn.autocommit = False

        return run

    real_check, recheck_after = sync_db.looks_alive, sync_db.RECHECK_AFTER
    try:
        for _ in range(ROUNDS):
            # Each borrow follows a return at once: without this, the pool would trust the
            # connection (RECHECK_AFTER) and never poll.
            sync_db.RECHECK_AFTER = 0.0
            checked.append(per_call_us(borrow))
            sync_db.RECHECK_AFTER = recheck_after
            sync_db.looks_alive = lambda conn: not conn.closed  # the check switched off
            unchecked.append(per_call_us(borrow))
            sync_db.looks_alive = real_check
            prefixed.append(per_call_us(select(with_timeout)))
            plain.append(per_call_us(select(without)))
    finally:
        sync_db.looks_alive, sync_db.RECHECK_AFTER = real_check, recheck_after
        with_timeout.close()
        without.close()
    row("psycopg2 borrow + return, socket checked (idle connections)", checked)
    row("psycopg2 borrow + return, not checked", unchecked)
    row("psycopg2 SELECT 1 with SET LOCAL statement_timeout (this service)", prefixed)
    row("psycopg2 SELECT 1 alone", plain)


async def asyncpg_pair(url: str) -> None:
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
        for _ in range(ROUNDS):
            checked.append(await per_call_us_async(live))
            unchecked.append(await per_call_us_async(plain))
    finally:
        await pool.close()
    row("asyncpg acquire + release, socket checked (this service)", checked)
    row("asyncpg acquire + release, not checked", unchecked)


def main() -> None:
    url = os.environ.get("DATABASE_URL")
    if url:
        run(url)
        return
    with (
        tempfile.TemporaryDirectory(prefix="bench-pgdata-") as scratch,
        embedded_postgres(Path(scratch) / "pgdata") as embedded,
    ):
        run(embedded)


def run(url: str) -> None:
    print(f"{CALLS} calls x {ROUNDS} rounds, microseconds per call")
    psycopg2_pairs(url)
    asyncio.run(asyncpg_pair(url))


if __name__ == "__main__":
    main()
