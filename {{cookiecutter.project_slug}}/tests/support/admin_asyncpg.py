"""One admin connection to the test server, over asyncpg (this bake has no psycopg2).

Each connection is driven on an event loop of its own, in a thread of its own, so its sync
callers (fixtures, threads; never the service's loop) simply wait for each call. SQL takes
`%s` placeholders, as over psycopg2.
"""

import asyncio
import re
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg

Error = asyncpg.PostgresError
T = TypeVar("T")
PLACEHOLDER = re.compile(r"%s")


def numbered(statement: str) -> str:
    """`%s` placeholders as asyncpg's `$1`, `$2`, ..."""
    count = iter(range(1, statement.count("%s") + 1))
    return PLACEHOLDER.sub(lambda _: f"${next(count)}", statement)


class Admin:
    """One connection; autocommit unless told otherwise (then `rollback()` ends the work)."""

    def __init__(self, url: str, *, autocommit: bool = True) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="admin", daemon=True)
        self._thread.start()
        self._conn: asyncpg.Connection[asyncpg.Record] = self._run(asyncpg.connect(url))
        self._transaction = None if autocommit else self._conn.transaction()
        if self._transaction is not None:
            self._run(self._transaction.start())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def execute(self, statement: str, *args: Any) -> None:
        self._run(self._conn.execute(numbered(statement), *args))

    def fetch(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._run(self._conn.fetch(numbered(statement), *args))]

    def fetchval(self, statement: str, *args: Any) -> Any:
        rows = self.fetch(statement, *args)
        return rows[0][0] if rows else None

    @property
    def backend_pid(self) -> int:
        return self._conn.get_server_pid()

    def rollback(self) -> None:
        assert self._transaction is not None, "an autocommit connection has nothing to roll back"
        self._run(self._transaction.rollback())

    def close(self) -> None:
        try:
            self._run(self._conn.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
