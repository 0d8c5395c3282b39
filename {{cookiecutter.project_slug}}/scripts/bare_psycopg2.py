"""bare FastAPI's read on psycopg2 (scripts/bare_fastapi.py): a primary-key read in a plain
`def` route (FastAPI runs it in its thread pool), on a pool of the service's default size,
and nothing else.

psycopg2's own ThreadedConnectionPool raises PoolError when every connection is out instead
of waiting, and FastAPI's thread pool (40 threads) outnumbers the connections (10): the
semaphore is the least a `def` app on it needs, or a burst becomes 500s. The read runs in
autocommit mode, as the service's do: one round trip, no BEGIN and ROLLBACK around it.
"""

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypedDict

import psycopg2.extras
import psycopg2.pool
from fastapi import HTTPException, Request

PATH = "/psycopg2/items/{item_id}"
SELECT_ONE = "SELECT id, name, price, created_at FROM items WHERE id = %s"


class State(TypedDict):
    psycopg2_pool: psycopg2.pool.ThreadedConnectionPool
    psycopg2_places: threading.BoundedSemaphore


@asynccontextmanager
async def pool() -> AsyncIterator[State]:
    # The service's default pool: ten connections, opened at start-up (in a thread: connecting
    # blocks).
    size = int(os.environ.get("PSYCOPG2_POOL_MAX_SIZE", "10"))
    opened = await asyncio.to_thread(
        psycopg2.pool.ThreadedConnectionPool, size, size, os.environ["DATABASE_URL"]
    )
    try:
        yield {"psycopg2_pool": opened, "psycopg2_places": threading.BoundedSemaphore(size)}
    finally:
        await asyncio.to_thread(opened.closeall)


def read_item(item_id: int, request: Request) -> dict[str, Any]:
    connections = request.state.psycopg2_pool
    with request.state.psycopg2_places:
        conn = connections.getconn()
        try:
            conn.autocommit = True
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
                cursor.execute(SELECT_ONE, (item_id,))
                row = cursor.fetchone()
        finally:
            connections.putconn(conn)
    if row is None:
        raise HTTPException(404, "item not found")
    return dict(row)
