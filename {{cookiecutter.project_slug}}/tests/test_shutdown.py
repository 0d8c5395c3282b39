"""SIGTERM to a real server process under load: what a rollout does to every pod.

The service runs as `python -m {{ cookiecutter.package_name }}` (uvicorn, its signal
handling, the real lifespan) in a subprocess of its own, against a throwaway database and
the upstream stub. In-process tests cannot show any of this: ASGITransport has no listening
socket to close, no signal, no grace period.
"""

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg2

from .harness import free_port
from .stub import Stub
from .table_lock import ItemsTableLock

# Generous on purpose: on a busy machine a process start can take seconds.
START_PATIENCE = 60.0
# Time after the grace for closing pools and stopping the CPU worker: all of it normally
# takes well under a second; the margin absorbs a loaded machine.
CLOSE_MARGIN = 5.0
# A connection attempt the server did not accept. Reset: the kernel had completed the
# handshake, then the listening socket closed before the server accepted it (seen under
# load). A name rather than `except (A, B):`, as in file_store.py.
NOT_ACCEPTED = (ConnectionRefusedError, ConnectionResetError)

Call = Callable[[], Coroutine[Any, Any, httpx.Response]]


@dataclass
class Server:
    process: asyncio.subprocess.Process
    url: str
    port: int
    stderr: bytes = b""

    async def in_progress(self, client: httpx.AsyncClient) -> int:
        """Requests inside the app, from its own gauge (the scrape itself excluded)."""
        text = (await client.get("/metrics")).text
        for line in text.splitlines():
            if line.startswith("http_requests_in_progress "):
                return int(float(line.split()[1])) - 1
        raise AssertionError("http_requests_in_progress is missing from /metrics")

    async def until_in_progress(self, client: httpx.AsyncClient, expected: int) -> None:
        deadline = time.monotonic() + 20
        while (now := await self.in_progress(client)) < expected:
            assert time.monotonic() < deadline, f"{now} requests in flight, expected {expected}"
            await asyncio.sleep(0.02)

    async def exited(self) -> None:
        assert self.process.stderr is not None
        self.stderr = await asyncio.wait_for(self.process.stderr.read(), 60)
        await asyncio.wait_for(self.process.wait(), 60)

    @property
    def log(self) -> str:
        return self.stderr.decode(errors="replace")


@asynccontextmanager
async def serving(
    database_url: str,
    files_dir: Path,
    upstream_url: str,
    shutdown_timeout: float,
    extra_environment: dict[str, str] | None = None,
) -> AsyncIterator[Server]:
    port = free_port()
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "TEST_DATABASE_URL"}
    } | {
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "FILES_DIR": str(files_dir),
        "UPSTREAM_URL": upstream_url,
        "SHUTDOWN_TIMEOUT": str(shutdown_timeout),
        "LOG_LEVEL": "warning",
        "CPU_WORKERS": "1",
        "ASYNCPG_POOL_MIN_SIZE": "2",
        "PSYCOPG2_POOL_MIN_SIZE": "2",
        **(extra_environment or {}),
    }
    # cwd: a directory without the project's .env, so only the settings above apply.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "{{ cookiecutter.package_name }}",
        env=environment,
        cwd=files_dir.parent,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        # A group of its own, so a failed test can end the CPU worker processes too.
        start_new_session=True,
    )
    server = Server(process, f"http://127.0.0.1:{port}", port)
    try:
        async with httpx.AsyncClient(base_url=server.url) as probe:
            deadline = time.monotonic() + START_PATIENCE
            while True:
                assert process.returncode is None, "the service exited during start-up"
                try:
                    if (await probe.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the service did not become ready"
                await asyncio.sleep(0.1)
        yield server
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def connection_refused(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except NOT_ACCEPTED:
        return True
    writer.close()
    with suppress(ConnectionResetError):  # accepted, then reset by the closing server
        await writer.wait_closed()
    return False


async def until_refused(port: int, patience: float) -> float:
    """Seconds until a new connection to `port` is refused."""
    started = time.monotonic()
    while not await connection_refused(port):
        assert time.monotonic() - started < patience, "new connections are still accepted"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def connections_to(database_url: str) -> int:
    """Backends connected to the service's own throwaway database, this one excepted."""
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
    finally:
        conn.close()
    assert row is not None
    return int(row[0])


def connections_left(database_url: str, patience: float = 10) -> int:
    """A backend ends a moment after its client's socket closes: poll, then report."""
    deadline = time.monotonic() + patience
    while (left := connections_to(database_url)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def stored_files(files_dir: Path) -> list[str]:
    """Everything in FILES_DIR, a partial upload's temporary file included."""
    return sorted(path.name for path in files_dir.iterdir())


async def slow_body(chunks: int, pause: float) -> AsyncIterator[bytes]:
    for _ in range(chunks):
        yield b"x" * 16384
        await asyncio.sleep(pause)


async def test_sigterm_under_load_completes_every_request_in_the_grace_and_leaves_nothing(
    service_database: str, files_dir: Path, stub: Stub
) -> None:
    grace = 8.0
    async with serving(service_database, files_dir, stub.url, grace) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            created = await client.post("/async/items", json={"name": "kept", "price": "1.00"})
            item = created.json()["id"]

            def upload(name: str) -> Call:
                # 8 chunks 0.25 s apart: the body is still arriving at the signal.
                return lambda: client.put(f"/sync/files/{name}", content=slow_body(8, 0.25))

            work: dict[str, Call] = {}
            for index in range(3):
                work[f"async wait {index}"] = lambda: client.get("/lesson/slow?delay=2")
                work[f"def wait {index}"] = lambda: client.get("/lesson/sync-slow?delay=2")
            for index in range(2):
                work[f"asyncpg read {index}"] = lambda: client.get(f"/async/items/{item}")
                work[f"psycopg2 read {index}"] = lambda: client.get(f"/sync/items/{item}")
                work[f"upload {index}"] = upload(f"upload-{index}.bin")
            work["fan-out"] = lambda: client.get("/async/upstream/fanout?n=5&delay=2")
            # The item reads wait inside PostgreSQL until the lock goes (after the signal).
            async with ItemsTableLock(service_database) as lock:
                tasks = {name: asyncio.create_task(call()) for name, call in work.items()}
                await lock.until_waiting(4)
                await server.until_in_progress(client, len(tasks))
                signalled = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                refused_after = await until_refused(server.port, patience=grace)
                # Still owed when the door closed: every one was truly in flight.
                pending_at_refusal = sum(not task.done() for task in tasks.values())
                lock.release()
            responses = {name: await task for name, task in tasks.items()}
            answered_after = time.monotonic() - signalled
        await server.exited()
        exit_seconds = time.monotonic() - signalled
        left = await asyncio.to_thread(connections_left, service_database)

    statuses = {name: response.status_code for name, response in responses.items()}
    expected = {name: 201 if name.startswith("upload") else 200 for name in work}
    print(
        f"\nSIGTERM with {len(tasks)} requests in flight: "
        f"{sum(status == expected[name] for name, status in statuses.items())} completed "
        f"normally; new connections refused after {refused_after:.2f} s; last answer after "
        f"{answered_after:.2f} s; exit after {exit_seconds:.2f} s (grace {grace} s); "
        f"{left} database connections left"
    )
    assert statuses == expected, server.log
    assert pending_at_refusal == len(tasks)
    # uvicorn re-raises the signal once it has shut down, so a clean exit reads "killed by
    # SIGTERM" (the default handler): what an orchestrator expects of a stopped process.
    assert server.process.returncode == -signal.SIGTERM, server.log
    assert exit_seconds < grace + CLOSE_MARGIN
    assert left == 0
    assert stored_files(files_dir) == ["upload-0.bin", "upload-1.bin"]
    assert "Traceback" not in server.log, server.log


async def test_a_sub_second_grace_completes_what_fits_and_cuts_the_rest_cleanly(
    service_database: str, files_dir: Path, stub: Stub
) -> None:
    # Sub-second on purpose: SHUTDOWN_TIMEOUT is a float, and 0.9 s must not become 0 s.
    grace = 0.9
    cut_wait = 5.0  # the longest /lesson/sync-slow accepts
    async with serving(service_database, files_dir, stub.url, grace) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            created = await client.post("/sync/items", json={"name": "kept", "price": "1.00"})
            item = created.json()["id"]
            async with ItemsTableLock(service_database) as lock:
                calls = {
                    "async wait in the grace": client.get("/lesson/slow?delay=0.5"),
                    "def wait past the grace": client.get(f"/lesson/sync-slow?delay={cut_wait}"),
                    # 40 chunks 0.25 s apart: cut 1 s in, a partial file on disk.
                    "upload past the grace": client.put(
                        "/sync/files/cut.bin", content=slow_body(40, 0.25)
                    ),
                    "psycopg2 read past the grace": client.get(f"/sync/items/{item}"),
                }
                tasks = {name: asyncio.create_task(call) for name, call in calls.items()}
                await lock.until_waiting(1)
                await server.until_in_progress(client, len(tasks))
                signalled = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                exit_task = asyncio.create_task(server.exited())
                # The statement still runs when the grace ends: the pool's close must
                # wait for it, or the thread that owns the connection breaks midway.
                await asyncio.sleep(grace + 0.5)
                lock.release()
                await exit_task
                exit_seconds = time.monotonic() - signalled
            outcomes = await asyncio.gather(*tasks.values(), return_exceptions=True)
        left = await asyncio.to_thread(connections_left, service_database)

    results = {
        name: getattr(outcome, "status_code", type(outcome).__name__)
        for name, outcome in zip(tasks, outcomes, strict=True)
    }
    print(
        f"\ngrace {grace} s, work up to {cut_wait} s: {results}; exit after "
        f"{exit_seconds:.2f} s; {left} database connections left; files: "
        f"{stored_files(files_dir)}"
    )
    assert results["async wait in the grace"] == 200, server.log
    # Cut at the grace: a 500 (uvicorn cancels the task) or the connection closes.
    for name in ("def wait past the grace", "upload past the grace"):
        assert results[name] != 200
        assert results[name] != 201
    assert server.process.returncode == -signal.SIGTERM, server.log
    # A `def` thread cannot be cancelled, and the exit does not wait for it: the process
    # is gone long before the 5 s wait would have ended (expected: about grace + 0.5 s).
    assert exit_seconds < cut_wait
    assert left == 0
    assert stored_files(files_dir) == []
