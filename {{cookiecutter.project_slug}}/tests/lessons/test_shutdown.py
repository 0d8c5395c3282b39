"""SIGTERM while lesson routes wait: an `async def` wait is a task uvicorn can cancel, a `def`
wait is a thread nobody can, and the process must not wait for it past the grace. And Ctrl-C
at a terminal, which signals the CPU worker processes too: the server alone stops them."""

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx

from ..support.processes import CLOSE_MARGIN, json_lines, serving, until_refused

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


async def test_ctrl_c_stops_the_service_and_its_cpu_workers_with_the_shutdown_lines_only(
    service_database: str, tmp_path: Path
) -> None:
    workers = 2
    environment = {
        "CPU_WORKERS": str(workers),
        "LOG_LEVEL": "info",
        "LOG_FORMAT": "json",
        # A token set, so start-up has no warning to give (writes open): INFO lines only.
        "API_TOKENS": "t" * 32,
    }
    async with serving(service_database, tmp_path, 5.0, environment) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            # Until each worker has answered, so each has run the pool's initializer (a
            # worker may still be importing when the server says ready: the one second of
            # start-up in which no initializer can help yet).
            pids: set[int] = set()
            for _ in range(20):
                answers = await asyncio.gather(
                    *(client.get("/lesson/cpu-offload?steps=3000000") for _ in range(workers))
                )
                pids |= {answer.json()["pid"] for answer in answers}
                if len(pids) == workers:
                    break
            assert len(pids) == workers, pids
        # What a terminal does on Ctrl-C: SIGINT to every process of the foreground group
        # (`serving` starts the service as the leader of a group of its own).
        os.killpg(server.process.pid, signal.SIGINT)
        await server.exited()
    assert server.process.returncode == 0, server.log
    # A worker dying of KeyboardInterrupt prints a plain-text traceback: not a JSON line.
    records = json_lines(server.log)
    assert "KeyboardInterrupt" not in server.log
    messages = [record["message"] for record in records]
    # uvicorn's, twice over (the service, and the upstream stub it serves in a thread).
    shutdown_lines = {
        "Shutting down",
        "Waiting for application shutdown.",
        "Application shutdown complete.",
        f"Finished server process [{server.process.pid}]",
    }
    after_the_signal = messages[messages.index("Shutting down") :]
    assert set(after_the_signal) == shutdown_lines, after_the_signal
    assert all(record["level"] == "INFO" for record in records), server.log
