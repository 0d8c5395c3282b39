"""Many connections at once: the service takes the open files the host grants, and the
kernel queues as many unaccepted ones for it as SERVER_BACKLOG says.

Each connection holds a file descriptor, and a process started with a soft limit of 1,024
drops connections past it without a log line (__main__.raise_open_file_limit).
"""

import resource
import select
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import psutil
import pytest

from .support.processes import SERVICE, json_lines, logged_run

# The soft limit many hosts start a process with.
HOST_DEFAULT = 1024


@pytest.fixture
def low_soft_limit() -> Iterator[int]:
    """This process's soft open-file limit lowered while the test runs (a child inherits it);
    yields the hard limit, which stays."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard <= HOST_DEFAULT:
        pytest.fail(f"the hard open-file limit here is {hard}: raise it above {HOST_DEFAULT}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (HOST_DEFAULT, hard))
    try:
        yield hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# Small, so that a stopped server's accept queue fills with few connections; uvicorn's own
# default is 2048.
BACKLOG = 8
# Connections attempted while the server accepts none: far more than BACKLOG queues.
ATTEMPTS = 64
# How long the attempts get: a handshake over loopback takes microseconds, and a dropped one
# is tried again only after a second, into a queue still full.
HANDSHAKES = 2.0


@dataclass
class Listening:
    open_files: int  # the soft open-file limit
    queued: int  # connections the kernel completed while the server accepted none


def queued_while_stopped(server: psutil.Process, port: int) -> int:
    """Connections the kernel completes for `server` while it is stopped (SIGSTOP): what its
    accept queue holds, the listen backlog plus one on Linux; the next handshakes are dropped."""
    sockets = []
    server.suspend()
    try:
        for _ in range(ATTEMPTS):
            attempt = socket.socket()
            attempt.setblocking(False)
            attempt.connect_ex(("127.0.0.1", port))
            sockets.append(attempt)
        time.sleep(HANDSHAKES)
        return sum(
            attempt.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            and select.select([], [attempt], [], 0)[1] != []
            for attempt in sockets
        )
    finally:
        server.resume()
        for attempt in sockets:
            attempt.close()


def served(client: httpx.Client) -> Listening:
    """The serving process's (this process's child) soft open-file limit and accept queue."""
    (server,) = [p for p in psutil.Process().children() if p.cmdline()[1:] == SERVICE[1:]]
    soft, _hard = server.rlimit(psutil.RLIMIT_NOFILE)
    port = client.base_url.port
    assert port is not None
    return Listening(int(soft), queued_while_stopped(server, port))


def test_a_service_under_a_soft_limit_of_1024_raises_it_logs_it_and_listens_with_server_backlog(
    low_soft_limit: int, make_database: Callable[[], str]
) -> None:
    environment = {"DATABASE_URL": make_database(), "SERVER_BACKLOG": str(BACKLOG)}
    listening, output = logged_run(environment, served)
    assert listening.open_files == low_soft_limit
    messages = [r["message"] for r in json_lines(output)]
    assert any(m.startswith(f"open-file limit {low_soft_limit}") for m in messages), messages
    # The same run: SERVER_BACKLOG reaches the listening socket (a handshake racing the one
    # before it into the queue may take a place more).
    assert BACKLOG + 1 <= listening.queued <= 2 * (BACKLOG + 1), listening


def healthz_beside_an_open_connection(client: httpx.Client) -> int:
    """/healthz on a connection of its own while `client` holds one open."""
    assert client.get("/healthz").status_code == 200  # the held connection, answered
    return httpx.get(client.base_url.join("/healthz"), timeout=60).status_code


def test_past_server_limit_concurrency_even_healthz_is_refused_with_503(
    make_database: Callable[[], str],
) -> None:
    # Why the limit is off by default: a probe counts against it like any request.
    environment = {"DATABASE_URL": make_database(), "SERVER_LIMIT_CONCURRENCY": "2"}
    status, _output = logged_run(environment, healthz_beside_an_open_connection)
    assert status == 503
