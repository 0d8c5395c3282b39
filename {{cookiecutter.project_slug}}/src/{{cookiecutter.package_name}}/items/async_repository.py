"""Items on asyncpg, for `async def` routes: every wait for PostgreSQL is an `await`, so one
thread serves every other request meanwhile.

All the SQL asyncpg runs for items is here. Values travel as parameters ($1, $2), never in
the SQL text. Each operation is one statement, which PostgreSQL makes atomic on its own, and
asyncpg opens a transaction only when asked to (`conn.transaction()`): no BEGIN or COMMIT
round trips. The statements are prepared once per connection and cached by asyncpg.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import asyncpg

from ..db.asyncpg_pool import FAILURES, AsyncpgPool, Connection, acquire_live
from ..errors import DatabaseUnavailable
from .schemas import Item, ItemIn, ItemPage

T = TypeVar("T")

INSERT = """
    INSERT INTO items (name, price) VALUES ($1, $2)
    RETURNING id, name, price, created_at
"""
SELECT_ONE = """
    SELECT id, name, price, created_at FROM items WHERE id = $1
"""
# One row more than the page: whether a next page exists, without a count(*) round trip.
SELECT_PAGE = """
    SELECT id, name, price, created_at FROM items ORDER BY id LIMIT $1 OFFSET $2
"""
UPDATE = """
    UPDATE items SET name = $2, price = $3 WHERE id = $1
    RETURNING id, name, price, created_at
"""
DELETE = """
    DELETE FROM items WHERE id = $1
"""


@asynccontextmanager
async def connection(pool: AsyncpgPool, acquire_timeout: float) -> AsyncIterator[Connection]:
    """Borrow a live connection (db/asyncpg_pool.py), waiting at most `acquire_timeout`.

    It goes back to the pool on every path. Failures that mean the database cannot serve us
    become DatabaseUnavailable (503); anything else is a bug and stays a 500.
    """
    borrowed = False
    try:
        async with asyncio.timeout(acquire_timeout):
            conn = await acquire_live(pool)
        borrowed = True
        try:
            yield conn
        finally:
            await pool.release(conn)
    except Exception as exc:
        # Before we hold a connection, every failure is about getting one: the pool is
        # exhausted (TimeoutError) or (re)connecting failed.
        if not borrowed or FAILURES.unavailable(exc):
            raise FAILURES.as_503(exc) from exc
        raise


async def read(
    pool: AsyncpgPool,
    acquire_timeout: float,
    query: Callable[[Connection], Awaitable[T]],
) -> T:
    """Run an idempotent read; if its connection died under it, once more on a fresh one.

    A connection can die while a statement runs on it (the server restarts, a failover, an
    administrator ends the session). Running a read twice changes nothing, so the client
    gets its answer instead of a 503. Writes are never retried: the first attempt
    may have reached the server and committed.
    """
    try:
        async with connection(pool, acquire_timeout) as conn:
            return await query(conn)
    except DatabaseUnavailable as exc:
        if exc.__cause__ is None or not FAILURES.connection_broken(exc.__cause__):
            raise
    async with connection(pool, acquire_timeout) as conn:
        return await query(conn)


def to_item(row: asyncpg.Record) -> Item:
    return Item(id=row["id"], name=row["name"], price=row["price"], created_at=row["created_at"])


async def insert_item(conn: Connection, new: ItemIn) -> Item:
    row = await conn.fetchrow(INSERT, new.name, new.price)
    assert row is not None  # INSERT ... RETURNING always returns the row
    return to_item(row)


async def get_item(conn: Connection, item_id: int) -> Item | None:
    row = await conn.fetchrow(SELECT_ONE, item_id)
    return None if row is None else to_item(row)


async def list_items(conn: Connection, limit: int, offset: int) -> ItemPage:
    rows = await conn.fetch(SELECT_PAGE, limit + 1, offset)
    return ItemPage(
        items=[to_item(row) for row in rows[:limit]],
        next_offset=offset + limit if len(rows) > limit else None,
    )


async def replace_item(conn: Connection, item_id: int, new: ItemIn) -> Item | None:
    row = await conn.fetchrow(UPDATE, item_id, new.name, new.price)
    return None if row is None else to_item(row)


async def delete_item(conn: Connection, item_id: int) -> bool:
    status = await conn.execute(DELETE, item_id)
    return status == "DELETE 1"
