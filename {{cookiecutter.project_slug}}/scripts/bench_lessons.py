"""Benchmarks of the lessons: the /lesson routes under uvicorn, over real HTTP.

    uv run python scripts/bench_lessons.py              # every scenario
    uv run python scripts/bench_lessons.py lesson       # one of them

Figures, not assertions: the tests in tests/lessons/ prove the behaviour; this script shows
it at full size on this machine, each figure beside what the lesson expects. `lesson`: waits
that overlap and waits that do not, the anti-pattern stalling /healthz, and the thread hop of
a `def` route; `cpu`: threads sharing the GIL against the process pool; `route-order`: what a
route costs for coming after the service's own (FastAPI tries them one by one), beside /healthz
and bare FastAPI. The service runs with ENABLE_LESSONS and ENABLE_ANTIPATTERNS on.

The harness is scripts/bench.py's: the same load, flags and database (DATABASE_URL if set,
else an embedded PostgreSQL in a temporary directory).
"""

import asyncio
import time
from collections.abc import Awaitable
from contextlib import nullcontext

import aiohttp
from bench import (  # scripts/ is on sys.path when a script in it runs
    TRIVIAL,
    Bench,
    Burst,
    Scenario,
    alternate,
    burst,
    closed_loop_row,
    report,
    row,
    run_scenarios,
    serving_bare,
)

# The lessons, and the deliberately wrong route `lesson` measures too.
LESSONS_ON = {"ENABLE_LESSONS": "true", "ENABLE_ANTIPATTERNS": "true"}


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


async def lesson_bursts(base: str) -> None:
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


def lesson(bench: Bench) -> None:
    asyncio.run(lesson_bursts(bench.service))
    for name, url in [
        ("/lesson/async, 64 connections (no thread hop)", "async"),
        ("/lesson/sync, 64 connections (a thread hop each)", "sync"),
    ]:
        closed_loop_row(name, f"{bench.service}/lesson/{url}", bench.seconds)


async def cpu_bursts(base: str) -> None:
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


def cpu(bench: Bench) -> None:
    asyncio.run(cpu_bursts(bench.service))


def route_order(bench: Bench) -> None:
    # FastAPI tries the routes one by one, in the order app.py includes them: /healthz is
    # among the first, /lesson/async comes after the service's own routes. Both do nothing
    # else, so what separates them is the routes passed over; bare FastAPI's hello is the
    # floor. The three take turns, `--rounds` times.
    with serving_bare(bench.database_url) as bare:
        first, late, floor = alternate(
            [f"{bench.service}/healthz", f"{bench.service}/lesson/async", f"{bare}/hello"],
            bench.rounds,
            64,
            bench.seconds,
        )
    print(f"{'route':<58} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")
    report(f"{TRIVIAL}: /healthz (first)", first)
    late_share = late.requests_per_second / first.requests_per_second
    report(f"{TRIVIAL}: /lesson/async (late)", late, f"{late_share:.2f} of /healthz")
    report("bare FastAPI: /hello", floor)


SCENARIOS: dict[str, Scenario] = {"lesson": lesson, "cpu": cpu, "route-order": route_order}


if __name__ == "__main__":
    run_scenarios(__doc__ or "", SCENARIOS, environment=lambda: nullcontext(LESSONS_ON))
