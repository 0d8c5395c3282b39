"""asyncpg pool helpers: a borrowed connection the server has not already ended.

asyncpg replaces a connection once the event loop has read the server's goodbye on its
socket. Between the goodbye's arrival and that read (a loop busy with other requests, or a
request arriving in the same instant), the pool can still hand the connection out, and the
statement fails. So, as for psycopg2 (sync_db.py), one non-blocking poll of the socket
before use: no round trip, no cost in the steady state. asyncpg keeps the socket private
(`Connection._transport`); this module is the one place the service reaches for it.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from .sync_db import socket_readable

# A string: asyncpg's proxy class is generic only in its type stubs.
Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"


def server_said_goodbye(conn: Connection) -> bool:
    transport = getattr(getattr(conn, "_con", None), "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    # Without a socket to look at (a future asyncpg), trust asyncpg's own check.
    return sock is not None and socket_readable(sock.fileno())


async def acquire_live(pool: Pool) -> Connection:
    """Borrow a connection whose server has not ended it. The caller bounds the wait."""
    for _ in range(pool.get_max_size()):
        conn = await pool.acquire()
        if not server_said_goodbye(conn):
            return conn
        # Dead: close it, and asyncpg opens a new one in its slot on the next acquire.
        conn.terminate()
        await pool.release(conn)
    # Every slot was dead and has been replaced: the next connection is a new one.
    return await pool.acquire()


@asynccontextmanager
async def live_connection(pool: Pool) -> AsyncIterator[Connection]:
    conn = await acquire_live(pool)
    try:
        yield conn
    finally:
        # pool.release shields itself from cancellation: the connection always goes back.
        await pool.release(conn)
