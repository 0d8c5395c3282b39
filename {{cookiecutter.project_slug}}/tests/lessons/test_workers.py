"""WORKERS=2 and the lessons' process pool: each worker starts its own, below it."""

import asyncio
from pathlib import Path

import httpx
import psutil

from ..support.processes import WORKERS, fresh_connections, serving, two_workers, worker_pids

PATIENCE = 400
BATCH = 8


def ancestors(pids: set[int]) -> dict[int, set[int]]:
    return {pid: {parent.pid for parent in psutil.Process(pid).parents()} for pid in pids}


async def test_each_worker_runs_cpu_work_in_a_process_pool_of_its_own(
    service_database: str, tmp_path: Path
) -> None:
    environment = two_workers(tmp_path) | {"CPU_WORKERS": "1"}
    async with serving(service_database, tmp_path, 5.0, environment) as server:
        workers = await asyncio.to_thread(worker_pids, server)
        async with httpx.AsyncClient(
            base_url=server.url, limits=fresh_connections(), timeout=30
        ) as client:
            # Which worker answered, and which process of its own CPU pool ran the work.
            answered: dict[int, set[int]] = {}
            sent = 0
            while len(answered) < WORKERS:
                assert sent < PATIENCE, f"only {set(answered)} answered {sent} requests"
                batch = await asyncio.gather(
                    *(client.get("/lesson/request-id") for _ in range(BATCH))
                )
                sent += BATCH
                for response in batch:
                    pid = {place["place"]: place["pid"] for place in response.json()["places"]}
                    answered.setdefault(pid["async def route"], set()).add(pid["process pool"])
        pools = {pool for pool_pids in answered.values() for pool in pool_pids}
        pool_ancestors = await asyncio.to_thread(ancestors, pools)

    assert set(answered) == workers
    # CPU_WORKERS=1 in each: the pool's process descends from the worker (through the
    # worker's fork server), not from the other worker, and is not shared.
    for worker, pool in answered.items():
        (pool_pid,) = pool
        assert worker in pool_ancestors[pool_pid]
        assert not (workers - {worker}) & pool_ancestors[pool_pid]
