"""The tests' own hand on the test server: databases, sessions, locks, counts.

Blocking calls, for sync fixtures and threads, never for the loop the service runs on. The
connection is whichever driver the bake has (admin.py); SQL takes `%s` placeholders.
"""

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .admin import Admin, Error

# Admin and Error too: the tests that need a connection of their own take it from here.
__all__ = [
    "Admin",
    "Error",
    "admin",
    "connections_left",
    "connections_to",
    "fetch",
    "quoted",
    "sessions_named",
    "terminate_backends",
]


@contextmanager
def admin(url: str, *, autocommit: bool = True) -> Iterator[Admin]:
    connection = Admin(url, autocommit=autocommit)
    try:
        yield connection
    finally:
        connection.close()


def quoted(identifier: str) -> str:
    """A name as an SQL identifier (CREATE DATABASE takes no placeholder)."""
    return '"' + identifier.replace('"', '""') + '"'


def fetch(url: str, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    with admin(url) as conn:
        return conn.fetch(statement, *args)


def connections_to(database_url: str) -> int:
    """Backends connected to the service's own throwaway database, this one excepted."""
    rows = fetch(
        database_url,
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    return int(rows[0][0])


def connections_left(database_url: str, patience: float = 10) -> int:
    """A backend ends a moment after its client's socket closes: poll, then report."""
    deadline = time.monotonic() + patience
    while (left := connections_to(database_url)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def terminate_backends(url: str, pids: Sequence[int] | None = None) -> set[int]:
    """End every other session on this database (or those of `pids`), as a restart or a
    failover would; return once they are gone for good."""
    with admin(url) as conn:
        rows = conn.fetch(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND (%s::int[] IS NULL OR pid = ANY(%s::int[]))",
            None if pids is None else list(pids),
            None if pids is None else list(pids),
        )
        ended = {pid for pid, _ in rows}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not conn.fetch("SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", list(ended)):
                return ended
            time.sleep(0.01)
    raise AssertionError(f"backends {ended} outlived pg_terminate_backend")


def sessions_named(server_url: str, application_name: str, *, within: float) -> int:
    """Sessions with this application_name, polled until none is left or `within` passed
    (a session ends on the server a moment after its client closes the socket)."""
    deadline = time.monotonic() + within
    with admin(server_url) as conn:  # autocommit: each poll sees a fresh pg_stat_activity
        while True:
            count = int(
                conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    application_name,
                )
            )
            if count == 0 or time.monotonic() > deadline:
                return count
            time.sleep(0.05)
