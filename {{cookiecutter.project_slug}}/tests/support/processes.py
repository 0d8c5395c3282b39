"""The service as its own process: `python -m {{ cookiecutter.package_name }}` on a real port.

For what in-process tests cannot show: uvicorn's signal handling, its listening socket, the
grace period, worker processes.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil

from {{ cookiecutter.package_name }}.settings import DRIVERS

from .harness import free_port

T = TypeVar("T")

SERVICE = [sys.executable, "-m", "{{ cookiecutter.package_name }}"]

# A connection attempt the server did not accept. Reset: the kernel had completed the
# handshake, then the listening socket closed before the server accepted it (seen under
# load). A name rather than `except (A, B):`, which ruff formats for 3.14 into syntax that
# 3.11 to 3.13 reject.
NOT_ACCEPTED = (ConnectionRefusedError, ConnectionResetError)
# WORKERS for the tests of several worker processes.
WORKERS = 2

# What uvicorn logs when another process took the port between free_port() and its bind
# (tests in other xdist workers start servers too): then a new port is tried.
PORT_TAKEN = "address already in use"
BIND_ATTEMPTS = 3
# Generous on purpose: on a busy machine a process start can take seconds.
START_PATIENCE = 60.0
# Time after the grace for closing pools and stopping what the service started: all of it
# normally takes well under a second; the margin absorbs a loaded machine.
CLOSE_MARGIN = 5.0


def listens_on(pid: int, port: int) -> bool:
    """Whether the process `pid` (or one of its workers, which share its socket) holds the
    socket listening on `port`. A port free_port() found free can be taken by another test's
    server before this one binds it: an answer on the port is then that server's, and this
    one has failed to start."""
    try:
        tree = {pid} | {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return False
    return any(
        connection.pid in tree and connection.status == psutil.CONN_LISTEN
        for connection in psutil.net_connections(kind="tcp4")
        if connection.laddr and connection.laddr.port == port
    )


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


async def until_ready(process: asyncio.subprocess.Process, port: int) -> bool:
    """Wait until the service answers /readyz from its own socket on `port`; False if it
    exited because another process took the port first (anything else fails the test)."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probe:
        deadline = time.monotonic() + START_PATIENCE
        while process.returncode is None:
            try:
                ready = (await probe.get("/readyz")).status_code == 200
            except httpx.TransportError:
                ready = False
            if ready and await asyncio.to_thread(listens_on, process.pid, port):
                return True
            assert time.monotonic() < deadline, "the service did not become ready"
            await asyncio.sleep(0.1)
    assert process.stderr is not None
    log = (await process.stderr.read()).decode(errors="replace")
    assert PORT_TAKEN in log, f"the service exited during start-up:\n{log}"
    return False


@asynccontextmanager
async def serving(
    database_url: str,
    workdir: Path,
    shutdown_timeout: float,
    environment: dict[str, str] | None = None,
) -> AsyncIterator[Server]:
    """`python -m` the service on a free port, from `workdir` (no .env there), against
    `database_url`; yield it once /readyz says ready; SIGKILL its process group if the test
    left it running. `environment` adds to (or overrides) the settings below."""
    for _attempt in range(BIND_ATTEMPTS):
        port = free_port()
        settings = {
            name: value
            for name, value in os.environ.items()
            if name not in {"DATABASE_URL", "TEST_DATABASE_URL"}
        } | {
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "SHUTDOWN_TIMEOUT": str(shutdown_timeout),
            "LOG_LEVEL": "warning",
            **{f"{driver.upper()}_POOL_MIN_SIZE": "2" for driver in DRIVERS},
            **(environment or {}),
        }
        # cwd: a directory without the project's .env, so only the settings above apply.
        process = await asyncio.create_subprocess_exec(
            *SERVICE,
            env=settings,
            cwd=workdir,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            # A group of its own, so a failed test can end the CPU worker processes too.
            start_new_session=True,
        )
        try:
            ready = await until_ready(process, port)
        except BaseException:
            # Not yet the caller's to stop: end it and the worker processes it started.
            if process.returncode is None:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
            raise
        if ready:
            break
    else:
        raise AssertionError(f"every one of {BIND_ATTEMPTS} free ports was taken first")
    server = Server(process, f"http://127.0.0.1:{port}", port)
    try:
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


def two_workers(workdir: Path) -> dict[str, str]:
    # TMPDIR: a test ends a failed server with SIGKILL, which leaves the metrics directory
    # behind; then it is left in pytest's temporary directory, not in /tmp.
    return {"WORKERS": str(WORKERS), "TMPDIR": str(workdir)}


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


def logged_run(environment: dict[str, str], requests: Callable[[httpx.Client], T]) -> tuple[T, str]:
    """Serve with LOG_FORMAT=json and `environment`, send `requests`, stop with SIGINT; return
    what `requests` returned and everything the process (and its children) wrote."""
    for _attempt in range(BIND_ATTEMPTS):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = {**os.environ, "PORT": str(port), "LOG_FORMAT": "json", **environment}
        process = subprocess.Popen(
            SERVICE, env=settings, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 90
        while process.poll() is None and time.monotonic() < deadline:
            with suppress(httpx.TransportError):
                httpx.get(f"{url}/healthz", timeout=2)
                if listens_on(process.pid, port):
                    break
            time.sleep(0.1)
        if process.poll() is None and time.monotonic() < deadline:
            break
        process.kill()
        output = process.communicate()[0]
        assert PORT_TAKEN in output, f"the service never answered:\n{output}"
    else:
        raise AssertionError(f"every one of {BIND_ATTEMPTS} free ports was taken first")
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            answers = requests(client)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    return answers, output


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every line must be one JSON object: a plain-text line would break a log pipeline."""
    records = []
    for line in output.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        records.append(record)
    return records


def ruff_async(path: Path) -> subprocess.CompletedProcess[str]:
    """ruff's ASYNC rules (flake8-async) alone on `path`."""
    return subprocess.run(
        # The interpreter's own ruff: found whether or not the venv's bin is on PATH.
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--select",
            "ASYNC",
            "--output-format",
            "concise",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
