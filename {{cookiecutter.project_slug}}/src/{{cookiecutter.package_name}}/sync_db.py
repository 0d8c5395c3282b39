"""psycopg2 connection pool for `def` routes (they run in worker threads).

psycopg2's ThreadedConnectionPool raises PoolError the moment it is empty; it never waits.
FastAPI runs up to ANYIO_THREAD_TOKENS `def` routes at once, and `asyncio.to_thread` bridges
add more callers, so a bare pool turns a burst into 500s. This pool makes callers wait for a
free connection (bounded by a timeout) with a semaphore sized to the pool. The price: a
waiting caller holds its thread (and, for a `def` route, its thread token) meanwhile, so
at most min(ANYIO_THREAD_TOKENS, PSYCOPG2_POOL_MAX_SIZE) `def` routes talk to PostgreSQL at
once, and a request that waits longer than PSYCOPG2_ACQUIRE_TIMEOUT gets a 503.
(FastAPI >= 0.165's `Depends(..., max_concurrency=n)` would wait without a thread, but only
for routes, not for `asyncio.to_thread` callers, and this template supports older FastAPI.)

psycopg2 also hands out idle connections without checking them, so after a database restart
every pooled connection would fail one request. When one connection turns out dead, the pool
retires all connections opened before that moment (as SQLAlchemy's pool does): one failed
request per outage, not one per pooled connection.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.pool


class PoolTimeoutError(Exception):
    """No connection became free within the acquire timeout."""


class Psycopg2Pool:
    def __init__(
        self,
        dsn: str,
        *,
        min_size: int,
        max_size: int,
        acquire_timeout: float,
        **connect_kwargs: Any,
    ) -> None:
        """`connect_kwargs` go to every psycopg2.connect (libpq parameters), as in
        psycopg2's own pools."""
        self._slots = threading.BoundedSemaphore(max_size)
        self._acquire_timeout = acquire_timeout
        self.max_size = max_size
        # Bumped at every detected disconnect: older connections are not to be trusted.
        self._generation = 0
        self._lock = threading.Lock()
        self.in_use = 0
        pool = self

        class PooledConnection(psycopg2.extensions.connection):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.generation = pool._generation

        # Opens min_size connections now (blocking): the lifespan calls this in a thread.
        self._pool = psycopg2.pool.ThreadedConnectionPool(
            min_size,
            max_size,
            dsn,
            connection_factory=PooledConnection,
            **connect_kwargs,
        )
        # psycopg2's pool closes every returned connection once `minconn` sit idle, so above
        # PSYCOPG2_POOL_MIN_SIZE each request would open a fresh connection. min_size
        # connections are open now; from here on, keep every connection opened, up to max.
        self._pool.minconn = max_size

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """Borrow a connection; it goes back on every path, or is discarded if broken."""
        if not self._slots.acquire(timeout=self._acquire_timeout):
            raise PoolTimeoutError(f"no psycopg2 connection free within {self._acquire_timeout} s")
        try:
            conn = self._checkout()
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self.in_use += 1
        try:
            yield conn
        finally:
            with self._lock:
                self.in_use -= 1
            try:
                # putconn rolls back an unfinished transaction, which can itself fail on a
                # dying connection; the slot must come back even then.
                self._checkin(conn)
            finally:
                self._slots.release()

    def _checkout(self) -> psycopg2.extensions.connection:
        while True:
            conn = self._pool.getconn()
            if getattr(conn, "generation", None) == self._generation:
                return conn
            self._pool.putconn(conn, close=True)

    def _checkin(self, conn: psycopg2.extensions.connection) -> None:
        if conn.closed:
            # Its server went away; so, probably, did the server of its idle siblings.
            with self._lock:
                self._generation += 1
            self._pool.putconn(conn, close=True)
        else:
            self._pool.putconn(conn)

    def ping(self) -> None:
        with self.connection() as conn:
            try:
                with conn.cursor() as cursor:
                    cursor.execute("SELECT 1")
            finally:
                conn.rollback()

    def close(self) -> None:
        self._pool.closeall()
