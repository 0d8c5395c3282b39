"""SIGTERM while lesson routes wait: an `async def` wait is a task uvicorn can cancel, a `def`
wait is a thread nobody can, and the process must not wait for it past the grace."""

import asyncio
import signal
import time
from pathlib import Path

import httpx

from ..support.processes import CLOSE_MARGIN, serving, until_refused

ONE_CPU_WORKER = {"CPU_WORKERS": "1"}


async def test_sigterm_completes_the_waits_in_flight_within_the_grace(
    service_database: str, tmp_path: Path
) -> None:
    grace = 8.0
    async with serving(service_database, tmp_path, grace, ONE_CPU_WORKER) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            urls = {
                f"{style} wait {index}": f"/lesson/{route}?delay=2"
                for style, route in (("async", "slow"), ("def", "sync-slow"))
                for index in range(3)
            }
            tasks = {name: asyncio.create_task(client.get(url)) for name, url in urls.items()}
            await server.until_in_progress(client, len(tasks))
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            await until_refused(server.port, patience=grace)
            pending_at_refusal = sum(not task.done() for task in tasks.values())
            statuses = {name: (await task).status_code for name, task in tasks.items()}
        await server.exited()
        exit_seconds = time.monotonic() - signalled
    assert statuses == dict.fromkeys(urls, 200), server.log
    assert pending_at_refusal == len(tasks)
    assert server.process.returncode == -signal.SIGTERM, server.log
    assert exit_seconds < grace + CLOSE_MARGIN
    assert "Traceback" not in server.log, server.log


async def test_a_sub_second_grace_answers_the_wait_that_fits_and_leaves_the_thread_behind(
    service_database: str, tmp_path: Path
) -> None:
    grace = 0.9
    cut_wait = 5.0  # the longest /lesson/sync-slow accepts
    async with (
        serving(service_database, tmp_path, grace, ONE_CPU_WORKER) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as client,
    ):
        calls = {
            "async wait in the grace": client.get("/lesson/slow?delay=0.5"),
            "def wait past the grace": client.get(f"/lesson/sync-slow?delay={cut_wait}"),
        }
        tasks = {name: asyncio.create_task(call) for name, call in calls.items()}
        await server.until_in_progress(client, len(tasks))
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        await server.exited()
        exit_seconds = time.monotonic() - signalled
        outcomes = await asyncio.gather(*tasks.values(), return_exceptions=True)
    results = {
        name: getattr(outcome, "status_code", type(outcome).__name__)
        for name, outcome in zip(tasks, outcomes, strict=True)
    }
    assert results["async wait in the grace"] == 200, server.log
    # Cut at the grace: a 500 (uvicorn cancels the task) or the connection closes.
    assert results["def wait past the grace"] != 200
    assert server.process.returncode == -signal.SIGTERM, server.log
    # A `def` thread cannot be cancelled, and the exit does not wait for it: the process
    # is gone long before the 5 s wait would have ended (expected: about grace + 0.5 s).
    assert exit_seconds < cut_wait
