"""SIGTERM to a real server process under load: what a rollout does to every pod.

The service runs as `python -m {{ cookiecutter.package_name }}` (uvicorn, its signal
handling, the real lifespan) in a process of its own, against a throwaway database. Its item
reads are held inside PostgreSQL by a table lock while the signal arrives, so they are truly
in flight. In-process tests cannot show any of this: ASGITransport has no listening socket
to close, no signal, no grace period. What each optional part adds in flight (uploads,
waits, outbound calls) is proven with that part: tests/*/test_shutdown.py.
"""

import asyncio
import signal
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx

from .support.database import connections_left
from .support.parts import ITEM_PREFIXES
from .support.processes import CLOSE_MARGIN, serving, until_refused
from .support.table_lock import ItemsTableLock

READS_PER_DRIVER = 2


async def test_sigterm_under_load_completes_every_request_in_the_grace_and_leaves_nothing(
    service_database: str, tmp_path: Path
) -> None:
    grace = 8.0
    async with serving(service_database, tmp_path, grace) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            created = await client.post(ITEM_PREFIXES[0], json={"name": "kept", "price": "1.00"})
            item = created.json()["id"]
            reads = {
                f"{prefix} read {index}": f"{prefix}/{item}"
                for prefix in ITEM_PREFIXES
                for index in range(READS_PER_DRIVER)
            }
            # The reads wait inside PostgreSQL until the lock goes (after the signal).
            async with ItemsTableLock(service_database) as lock:
                tasks = {name: asyncio.create_task(client.get(url)) for name, url in reads.items()}
                await lock.until_waiting(len(tasks))
                await server.until_in_progress(client, len(tasks))
                signalled = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                refused_after = await until_refused(server.port, patience=grace)
                # Still owed when the door closed: every one was truly in flight.
                pending_at_refusal = sum(not task.done() for task in tasks.values())
                lock.release()
            statuses = {name: (await task).status_code for name, task in tasks.items()}
            answered_after = time.monotonic() - signalled
        await server.exited()
        exit_seconds = time.monotonic() - signalled
        left = await asyncio.to_thread(connections_left, service_database)

    print(
        f"\nSIGTERM with {len(tasks)} reads in flight: {statuses}; new connections refused "
        f"after {refused_after:.2f} s; last answer after {answered_after:.2f} s; exit after "
        f"{exit_seconds:.2f} s (grace {grace} s); {left} database connections left"
    )
    assert statuses == dict.fromkeys(reads, 200), server.log
    assert pending_at_refusal == len(tasks)
    # uvicorn re-raises the signal once it has shut down, so a clean exit reads "killed by
    # SIGTERM" (the default handler): what an orchestrator expects of a stopped process.
    assert server.process.returncode == -signal.SIGTERM, server.log
    assert exit_seconds < grace + CLOSE_MARGIN
    assert left == 0
    assert "Traceback" not in server.log, server.log


async def test_a_sub_second_grace_ends_the_process_while_statements_still_wait(
    service_database: str, tmp_path: Path
) -> None:
    # Sub-second on purpose: SHUTDOWN_TIMEOUT is a float, and 0.9 s must not become 0 s.
    grace = 0.9
    async with serving(service_database, tmp_path, grace) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            created = await client.post(ITEM_PREFIXES[0], json={"name": "kept", "price": "1.00"})
            item = created.json()["id"]
            async with ItemsTableLock(service_database) as lock:
                calls: dict[str, Coroutine[Any, Any, httpx.Response]] = {
                    f"{prefix} read past the grace": client.get(f"{prefix}/{item}")
                    for prefix in ITEM_PREFIXES
                }
                tasks = {name: asyncio.create_task(call) for name, call in calls.items()}
                await lock.until_waiting(len(tasks))
                await server.until_in_progress(client, len(tasks))
                signalled = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                # The statements still wait when the grace ends, and the lock stays until
                # the process is gone: closing the pools must cut them (psycopg2: cancelled
                # on the server; asyncpg: terminated) instead of waiting for them.
                await server.exited()
                exit_seconds = time.monotonic() - signalled
            outcomes = await asyncio.gather(*tasks.values(), return_exceptions=True)
        left = await asyncio.to_thread(connections_left, service_database)

    results = {
        name: getattr(outcome, "status_code", type(outcome).__name__)
        for name, outcome in zip(tasks, outcomes, strict=True)
    }
    print(f"\ngrace {grace} s: {results}; exit after {exit_seconds:.2f} s; {left} left")
    # Cut at the grace: a 500 (uvicorn cancels the task) or the connection closes.
    assert all(result != 200 for result in results.values()), results
    assert server.process.returncode == -signal.SIGTERM, server.log
    assert exit_seconds < grace + CLOSE_MARGIN
    assert left == 0
