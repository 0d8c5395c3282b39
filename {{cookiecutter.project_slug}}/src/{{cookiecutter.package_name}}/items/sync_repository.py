"""Items on psycopg2, for `def` routes and the bridge: every call blocks its thread until
PostgreSQL answers, so call it from a worker thread, never from the event loop.

All the SQL psycopg2 runs for items is here. Values travel as parameters (%s), never in the
SQL text. A function borrows its connection itself, so the whole call (waiting for a free
connection included) happens in the caller's thread.

Transactions: psycopg2 sends BEGIN before the first statement unless the connection is in
autocommit mode, so a plain read would cost three round trips (BEGIN, SELECT, and the
ROLLBACK when the connection goes back) and sit "idle in transaction" in between. Every
operation here is a single statement, which PostgreSQL makes atomic on its own, so every
one runs in autocommit mode: one round trip. An operation of several statements that must
succeed together is the exception that needs a transaction (`with conn:` with autocommit
off).
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions

from ..db.psycopg2_pool import FAILURES, Psycopg2Pool
from .schemas import Item, ItemIn, ItemPage

INSERT = """
    INSERT INTO items (name, price) VALUES (%s, %s)
    RETURNING id, name, price, created_at
"""
SELECT_ONE = """
    SELECT id, name, price, created_at FROM items WHERE id = %s
"""
# One row more than the page: whether a next page exists, without a count(*) round trip.
SELECT_PAGE = """
    SELECT id, name, price, created_at FROM items ORDER BY id LIMIT %s OFFSET %s
"""
UPDATE = """
    UPDATE items SET name = %s, price = %s WHERE id = %s
    RETURNING id, name, price, created_at
"""
DELETE = """
    DELETE FROM items WHERE id = %s
"""


@contextmanager
def autocommit_cursor(pool: Psycopg2Pool) -> Iterator[psycopg2.extensions.cursor]:
    """A cursor on a borrowed connection in autocommit mode (see the module docstring).

    The connection goes back to the pool on every path; a broken one is closed, not
    returned, and the pool never hands out one whose server already hung up (Psycopg2Pool).
    Failures that mean the database cannot serve us become DatabaseUnavailable (503);
    anything else is a bug and stays a 500.
    """
    conn: psycopg2.extensions.connection | None = None
    try:
        with pool.connection() as conn:
            # A client-side switch: no round trip.
            conn.autocommit = True
            try:
                with conn.cursor() as cursor:
                    yield cursor
            finally:
                if not conn.closed:
                    conn.autocommit = False  # back in psycopg2's default mode for the next user
    except Exception as exc:
        # Before we hold a connection, every failure is about getting one: none came free
        # within PSYCOPG2_ACQUIRE_TIMEOUT, or connecting failed.
        if conn is None or FAILURES.unavailable(exc) or conn.closed:
            raise FAILURES.as_503(exc) from exc
        raise


def to_item(row: Sequence[Any]) -> Item:
    item_id, name, price, created_at = row
    return Item(id=item_id, name=name, price=price, created_at=created_at)


def insert_item(pool: Psycopg2Pool, new: ItemIn) -> Item:
    with autocommit_cursor(pool) as cursor:
        cursor.execute(INSERT, (new.name, new.price))
        row = cursor.fetchone()
    assert row is not None  # INSERT ... RETURNING always returns the row
    return to_item(row)


def get_item(pool: Psycopg2Pool, item_id: int) -> Item | None:
    with autocommit_cursor(pool) as cursor:
        cursor.execute(SELECT_ONE, (item_id,))
        row = cursor.fetchone()
    return None if row is None else to_item(row)


def list_items(pool: Psycopg2Pool, limit: int, offset: int) -> ItemPage:
    with autocommit_cursor(pool) as cursor:
        cursor.execute(SELECT_PAGE, (limit + 1, offset))
        rows = cursor.fetchall()
    return ItemPage(
        items=[to_item(row) for row in rows[:limit]],
        next_offset=offset + limit if len(rows) > limit else None,
    )


def replace_item(pool: Psycopg2Pool, item_id: int, new: ItemIn) -> Item | None:
    with autocommit_cursor(pool) as cursor:
        cursor.execute(UPDATE, (new.name, new.price, item_id))
        row = cursor.fetchone()
    return None if row is None else to_item(row)


def delete_item(pool: Psycopg2Pool, item_id: int) -> bool:
    with autocommit_cursor(pool) as cursor:
        cursor.execute(DELETE, (item_id,))
        return cursor.rowcount == 1
