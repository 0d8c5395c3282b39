"""WORKERS=2: `python -m {{ cookiecutter.package_name }}` serves one port with two processes.

The real command in a subprocess, as tests/test_shutdown.py runs it. Each request opens a
connection of its own, so the kernel may hand each one to either worker; the tests go on
until both have answered (a bound, not a measurement).
"""

import asyncio
import os
import re
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.workers import worker_environment

from .stub import Stub
from .test_shutdown import CLOSE_MARGIN, Server, connections_left, connections_to, serving

WORKERS = 2
# tests/test_shutdown.py's `serving` opens this many connections per pool in each process.
POOL_MIN_SIZE = 2
ROUTE = "/lesson/request-id"
COUNTED = 'http_requests_total{method="GET",route="' + ROUTE + '",status="200"} '
# Enough tries that both workers answer some of them once both have started.
PATIENCE = 400
BATCH = 8


def test_workers_are_spawned_with_what_python_m_resolved_and_a_fresh_metrics_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The embedded database and the development stub exist only in `python -m`'s process,
    # as resolved settings: the workers build theirs from the environment.
    for name in ("DATABASE_URL", "UPSTREAM_URL", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)
    resolved = Settings(
        _env_file=None,
        database_url="postgresql://postgres@/postgres?host=/tmp/pgdata",
        upstream_url="http://127.0.0.1:40123/",
    )
    with worker_environment(resolved):
        in_a_worker = Settings(_env_file=None)
        directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert list(directory.iterdir()) == []
    assert in_a_worker.database_url == resolved.database_url
    assert in_a_worker.upstream_url == resolved.upstream_url
    assert not directory.exists()
    for name in ("DATABASE_URL", "UPSTREAM_URL", "PROMETHEUS_MULTIPROC_DIR"):
        assert name not in os.environ


def two_workers(files_dir: Path) -> dict[str, str]:
    # TMPDIR: a test ends a failed server with SIGKILL, which leaves the metrics directory
    # behind; then it is left in pytest's temporary directory, not in /tmp.
    return {"WORKERS": str(WORKERS), "TMPDIR": str(files_dir.parent)}


def fresh_connections() -> httpx.Limits:
    """No keep-alive: each request is a new connection, which either worker may accept."""
    return httpx.Limits(max_keepalive_connections=0)


def worker_pids(server: Server) -> set[int]:
    """uvicorn's workers: the supervisor's spawned children (its other child is
    multiprocessing's resource tracker)."""
    supervisor = psutil.Process(server.process.pid)
    return {
        child.pid
        for child in supervisor.children()
        if any("multiprocessing.spawn" in part for part in child.cmdline())
    }


def parents(pids: set[int]) -> dict[int, int]:
    return {pid: psutil.Process(pid).ppid() for pid in pids}


def metrics_directory(workers: set[int]) -> tuple[Path, int]:
    """The PROMETHEUS_MULTIPROC_DIR every worker was started with, and its permissions."""
    (directory,) = {psutil.Process(pid).environ()["PROMETHEUS_MULTIPROC_DIR"] for pid in workers}
    return Path(directory), Path(directory).stat().st_mode & 0o777


def sample(text: str, prefix: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(line.removeprefix(prefix))


def scraped_by(text: str) -> int:
    """The pid label of the scrape-time gauges: the worker that answered this scrape."""
    (pid,) = set(re.findall(r'^anyio_thread_tokens\{pid="(\d+)"\}', text, re.MULTILINE))
    return int(pid)


async def test_two_workers_answer_with_their_own_pools_and_metrics_count_every_request(
    service_database: str, files_dir: Path, stub: Stub
) -> None:
    async with serving(
        service_database, files_dir, stub.url, 5.0, two_workers(files_dir)
    ) as server:
        workers = await asyncio.to_thread(worker_pids, server)
        async with httpx.AsyncClient(
            base_url=server.url, limits=fresh_connections(), timeout=30
        ) as client:
            # Which worker answered, and which process of its own CPU pool ran the work.
            # Batches at once: while one worker is busy, the other accepts. (The server
            # was ready when one worker was: the other may still be starting.)
            answered: dict[int, set[int]] = {}
            sent = 0
            while len(answered) < WORKERS:
                assert sent < PATIENCE, f"only {set(answered)} answered {sent} requests"
                batch = await asyncio.gather(*(client.get(ROUTE) for _ in range(BATCH)))
                sent += BATCH
                for response in batch:
                    pid = {place["place"]: place["pid"] for place in response.json()["places"]}
                    answered.setdefault(pid["async def route"], set()).add(pid["process pool"])
            # Both have started: both lifespans have opened their pools.
            connections = await asyncio.to_thread(connections_to, service_database)

            scrapes: dict[int, str] = {}
            tries = 0
            while len(scrapes) < WORKERS:
                assert tries < PATIENCE, f"only {set(scrapes)} answered {tries} scrapes"
                text = (await client.get("/metrics")).text
                tries += 1
                # Whichever worker answers, it reports every worker's requests.
                assert sample(text, COUNTED) == sent, text
                # Its own scrape only: the live sum over both workers.
                assert sample(text, "http_requests_in_progress ") == 1, text
                scrapes[scraped_by(text)] = text
        pools = {pool for pool_pids in answered.values() for pool in pool_pids}
        pool_parents = await asyncio.to_thread(parents, pools)

    print(
        f"\n{sent} requests answered by workers {sorted(answered)}, counted whole in "
        f"{tries} scrapes; {connections} database connections"
    )
    assert set(answered) == workers
    # Each worker its own process pool (CPU_WORKERS=1 in each): the pool's process is the
    # worker's child, not the supervisor's, and not shared.
    for worker, pool in answered.items():
        (pool_pid,) = pool
        assert pool_parents[pool_pid] == worker
    # Each worker its own two pools, opened by its own lifespan.
    assert connections == WORKERS * 2 * POOL_MIN_SIZE
    for worker, text in scrapes.items():
        assert sample(text, "asyncpg_pool_connections{" + f'pid="{worker}"' + "} ") == POOL_MIN_SIZE


async def test_sigterm_drains_every_worker_and_removes_the_metrics_directory(
    service_database: str, files_dir: Path, stub: Stub
) -> None:
    grace = 8.0
    async with serving(
        service_database, files_dir, stub.url, grace, two_workers(files_dir)
    ) as server:
        workers = await asyncio.to_thread(worker_pids, server)
        metrics_dir, mode = await asyncio.to_thread(metrics_directory, workers)
        async with httpx.AsyncClient(
            base_url=server.url, limits=fresh_connections(), timeout=30
        ) as client:
            tasks = [asyncio.create_task(client.get("/lesson/slow?delay=2")) for _ in range(6)]
            # Summed over both workers, whichever answers the scrape.
            await server.until_in_progress(client, len(tasks))
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            responses = await asyncio.gather(*tasks)
        await server.exited()
        exit_seconds = time.monotonic() - signalled
        left = await asyncio.to_thread(connections_left, service_database)

    print(f"\nSIGTERM to {WORKERS} workers: exit after {exit_seconds:.2f} s (grace {grace} s)")
    assert [response.status_code for response in responses] == [200] * len(tasks), server.log
    # The supervisor forwards the signal, waits for its workers, and then returns: exit 0.
    assert server.process.returncode == 0, server.log
    assert exit_seconds < grace + CLOSE_MARGIN
    assert left == 0
    assert mode == 0o700  # private to the service's user
    assert not await asyncio.to_thread(metrics_dir.exists)
    assert "Traceback" not in server.log, server.log
