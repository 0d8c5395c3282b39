"""WORKERS=2: `python -m {{ cookiecutter.package_name }}` serves one port with two processes.

The real command in a subprocess (support/processes.py). Each request opens a connection of
its own, so the kernel may hand each one to either worker; the tests go on until both have
answered (a bound, not a measurement). A scrape of /metrics names the worker that answered
it (the `pid` label of its scrape-time gauges).
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

from {{ cookiecutter.package_name }}.settings import DRIVERS, Settings
from {{ cookiecutter.package_name }}.workers import worker_environment

from .support.database import connections_left, connections_to
from .support.parts import ITEM_PREFIXES
from .support.processes import (
    CLOSE_MARGIN,
    WORKERS,
    fresh_connections,
    serving,
    two_workers,
    worker_pids,
)
from .support.table_lock import ItemsTableLock

# support/processes.py's `serving` opens this many connections per pool in each process.
POOL_MIN_SIZE = 2
ROUTE = "/healthz"
COUNTED = 'http_requests_total{method="GET",route="' + ROUTE + '",status="200"} '
# Enough tries that both workers answer some of them once both have started.
PATIENCE = 400
BATCH = 8


def test_workers_are_spawned_with_what_python_m_resolved_and_a_fresh_metrics_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The embedded database exists only in `python -m`'s process, as resolved settings: the
    # workers build theirs from the environment.
    for name in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)
    resolved = Settings(
        _env_file=None, database_url="postgresql://postgres@/postgres?host=/tmp/pgdata"
    )
    with worker_environment(resolved):
        in_a_worker = Settings(_env_file=None)
        directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert list(directory.iterdir()) == []
    assert in_a_worker.database_url == resolved.database_url
    assert not directory.exists()
    for name in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"):
        assert name not in os.environ


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
    service_database: str, tmp_path: Path
) -> None:
    async with serving(service_database, tmp_path, 5.0, two_workers(tmp_path)) as server:
        workers = await asyncio.to_thread(worker_pids, server)
        async with httpx.AsyncClient(
            base_url=server.url, limits=fresh_connections(), timeout=30
        ) as client:
            # Batches at once, then scrapes, until each worker has answered a scrape: while
            # one worker is busy, the other accepts. (The server was ready when one worker
            # was: the other may still be starting.)
            scrapes: dict[int, str] = {}
            sent = tries = 0
            while len(scrapes) < WORKERS:
                assert tries < PATIENCE, f"only {set(scrapes)} answered {tries} scrapes"
                batch = await asyncio.gather(*(client.get(ROUTE) for _ in range(BATCH)))
                assert {response.status_code for response in batch} == {200}
                sent += BATCH
                for _ in range(BATCH):
                    text = (await client.get("/metrics")).text
                    tries += 1
                    # Whichever worker answers, it reports every worker's requests.
                    assert sample(text, COUNTED) == sent, text
                    # Its own scrape only: the live sum over both workers.
                    assert sample(text, "http_requests_in_progress ") == 1, text
                    scrapes[scraped_by(text)] = text
            # Both have answered: both lifespans have opened their pools.
            connections = await asyncio.to_thread(connections_to, service_database)

    print(
        f"\n{sent} requests counted whole in {tries} scrapes answered by workers "
        f"{sorted(scrapes)}; {connections} database connections"
    )
    assert set(scrapes) == workers
    # Each worker its own pools, opened by its own lifespan.
    assert connections == WORKERS * len(DRIVERS) * POOL_MIN_SIZE


async def test_sigterm_drains_every_worker_and_removes_the_metrics_directory(
    service_database: str, tmp_path: Path
) -> None:
    grace = 8.0
    async with serving(service_database, tmp_path, grace, two_workers(tmp_path)) as server:
        workers = await asyncio.to_thread(worker_pids, server)
        metrics_dir, mode = await asyncio.to_thread(metrics_directory, workers)
        async with httpx.AsyncClient(
            base_url=server.url, limits=fresh_connections(), timeout=30
        ) as client:
            created = await client.post(ITEM_PREFIXES[0], json={"name": "kept", "price": "1.00"})
            url = f"{ITEM_PREFIXES[0]}/{created.json()['id']}"
            # The reads wait inside PostgreSQL, on whichever worker took them, until the
            # lock goes after the signal.
            async with ItemsTableLock(service_database) as lock:
                tasks = [asyncio.create_task(client.get(url)) for _ in range(6)]
                await lock.until_waiting(len(tasks))
                # Summed over both workers, whichever answers the scrape.
                await server.until_in_progress(client, len(tasks))
                signalled = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(1)
                lock.release()
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
