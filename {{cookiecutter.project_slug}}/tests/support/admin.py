"""One admin connection to the test server, over psycopg2: for sync callers (fixtures,
threads), never for the service's loop. SQL takes `%s` placeholders."""

from typing import Any

import psycopg2

Error = psycopg2.Error


class Admin:
    """One connection; autocommit unless told otherwise (then `rollback()` ends the work)."""

    def __init__(self, url: str, *, autocommit: bool = True) -> None:
        self._conn = psycopg2.connect(url)
        self._conn.autocommit = autocommit

    def execute(self, statement: str, *args: Any) -> None:
        with self._conn.cursor() as cursor:
            cursor.execute(statement, args or None)

    def fetch(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        with self._conn.cursor() as cursor:
            cursor.execute(statement, args or None)
            return list(cursor.fetchall())

    def fetchval(self, statement: str, *args: Any) -> Any:
        rows = self.fetch(statement, *args)
        return rows[0][0] if rows else None

    @property
    def backend_pid(self) -> int:
        return int(self._conn.info.backend_pid)

    def rollback(self) -> None:
        self._conn.rollback()

    def close(self) -> None:
        self._conn.close()
