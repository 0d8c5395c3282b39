"""Benchmark of the fan-out: /async/upstream/fanout under uvicorn, calling a real upstream.

    uv run python scripts/bench_fanout.py

Figures, not assertions: tests/outbound/ proves the behaviour; this script shows it at full
size on this machine, each figure beside what concurrent calls should take. The upstream is
the stub the service ships (`python -m {{ cookiecutter.package_name }}.dev.upstream_stub`), in
a process of its own as in production: the stub the lifespan serves when UPSTREAM_URL is unset
runs in the service's process and would share its GIL. Which transport the shared client uses
is scripts/bench_transports.py's question.

The harness is scripts/bench.py's: the same flags and database (DATABASE_URL if set, else an
embedded PostgreSQL in a temporary directory).
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from bench import Bench, Scenario, burst, row, run_scenarios  # scripts/ is on sys.path
from bench_transports import serving_stub


@contextmanager
def upstream_stub() -> Iterator[dict[str, str]]:
    with serving_stub() as upstream:
        yield {"UPSTREAM_URL": upstream}


async def fanout_bursts(base: str) -> None:
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


def fanout(bench: Bench) -> None:
    asyncio.run(fanout_bursts(bench.service))


SCENARIOS: dict[str, Scenario] = {"fanout": fanout}


if __name__ == "__main__":
    run_scenarios(__doc__ or "", SCENARIOS, environment=upstream_stub)
