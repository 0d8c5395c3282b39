"""psycopg2 connection pool for `def` routes and `asyncio.to_thread` bridges (threads only),
and what the service asks of it: failures classified, readiness, gauges.

Why not psycopg2's own pool: ThreadedConnectionPool raises PoolError the moment it is empty
(a burst becomes 500s), opens new connections while holding its pool-wide lock (connects run
one at a time, and a thread giving a connection back queues behind a connect that may hang
for PSYCOPG2_CONNECT_TIMEOUT), closes connections above its minimum on return, and hands out
idle connections without looking at them. psycopg_pool fixes all of that, for psycopg 3
only; SQLAlchemy's QueuePool bounds the wait for a slot but not the connect after it. So
this small pool, whose rules are:

- `PSYCOPG2_ACQUIRE_TIMEOUT` bounds the whole wait, for a free connection and for opening a
  new one. Connects run in a thread of their own, outside the lock: a caller that gives up
  leaves the connect running, and its connection joins the pool when it arrives.
- The lock is held for bookkeeping only, so giving a connection back never waits.
- Before a connection is handed out, one non-blocking poll of its socket (no round trip):
  an idle connection has nothing to read, so a readable socket means the server said
  goodbye (pg_terminate_backend, a restart) and the connection is replaced, not used.
  Not for one given back less than RECHECK_AFTER ago (see there).
- Connections live at most `max_lifetime` (PSYCOPG2_MAX_LIFETIME, minus up to 10 % so they
  do not all expire together), then are replaced in the background.
- `close(grace)` waits `grace` seconds for borrowed connections, then cancels what still
  runs (PQcancel) and closes everything: shutdown is bounded by the grace, not by
  PSYCOPG2_STATEMENT_TIMEOUT.

The statement timeout travels with every statement (`SET LOCAL statement_timeout` in the
same query string, so the same round trip), not as the `options` startup parameter:
PgBouncer refuses `options`, and in transaction pooling a plain `SET` would stay behind on a
server connection other clients share.
"""

import asyncio
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager, suppress
from typing import Any

import psycopg2
import psycopg2.extensions
from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor
from opentelemetry.trace import TracerProvider
from prometheus_client.core import GaugeMetricFamily
from psycopg2.sql import Composable

from ..settings import Settings
from .failures import DriverFailures
from .migrate import SchemaRevisions
from .readiness import BUSY, SCHEMA_REVISION, failure, verdict
from .sockets import socket_readable

logger = logging.getLogger(__name__)

# After the grace period and the cancel, how long cancelled statements get to come back.
CANCEL_MARGIN = 1.0
LIFETIME_JITTER = 0.1
# A connection given back less than this long ago is handed out without the socket poll.
# Under load connections go round in microseconds, and the poll, a system call, lets another
# thread take the GIL and then waits to get it back: it cost /bridge 7 to 13 % of its rate
# at saturation (scripts/bench.py items). The price: the server ending a connection in the
# RECHECK_AFTER after its return, and a request borrowing it within that time, fails that
# request (the poll itself leaves the same race, microseconds wide). After a restart
# nothing is trusted: it takes longer than this.
RECHECK_AFTER = 0.01


class PoolTimeoutError(Exception):
    """Every connection stayed borrowed for the whole acquire timeout: the pool is busy."""


class ConnectTimeoutError(Exception):
    """Opening a connection took longer than the acquire timeout: the database is slow to
    accept or unreachable."""


class PoolClosedError(Exception):
    """The pool is shutting down."""


class TimeoutCursor(psycopg2.extensions.cursor):
    """Sends `SET LOCAL statement_timeout` in the same query string as each statement.

    Several statements in one simple query run as one transaction, so SET LOCAL holds for
    the statement after it and ends with it: nothing stays behind on the connection (or on
    a PgBouncer server connection). Works for execute and executemany with `%s` parameters.
    """

    connection: "PooledConnection"

    def execute(self, query: str | bytes | Composable, vars: Any = None) -> None:
        super().execute(self.connection.with_timeout(query, self), vars)

    def executemany(self, query: str | bytes | Composable, vars_list: Iterable[Any]) -> None:
        super().executemany(self.connection.with_timeout(query, self), vars_list)


class PooledConnection(psycopg2.extensions.connection):
    # Set by the pool right after connecting.
    expires_at: float = 0.0
    returned_at: float = 0.0
    timeout_prefix: str = ""

    def with_timeout(self, query: str | bytes | Composable, cursor: TimeoutCursor) -> str | bytes:
        if isinstance(query, Composable):
            query = query.as_string(cursor)
        if isinstance(query, bytes):
            return self.timeout_prefix.encode() + query
        return self.timeout_prefix + query


def looks_alive(conn: psycopg2.extensions.connection) -> bool:
    return not conn.closed and not socket_readable(conn.fileno())


def fit_to_hand_out(conn: PooledConnection) -> bool:
    now = time.monotonic()
    if conn.expires_at <= now:
        return False
    if now - conn.returned_at < RECHECK_AFTER:
        return not conn.closed
    return looks_alive(conn)


class Psycopg2Pool:
    # Keyword-only settings, one per knob, as psycopg_pool's ConnectionPool takes them.
    def __init__(  # noqa: PLR0913
        self,
        dsn: str,
        *,
        min_size: int,
        max_size: int,
        acquire_timeout: float,
        max_lifetime: float = 3600.0,
        statement_timeout: float | None = None,
        tracer_provider: TracerProvider | None = None,
        **connect_kwargs: Any,
    ) -> None:
        """`connect_kwargs` go to every psycopg2.connect (libpq parameters such as
        connect_timeout and application_name). Opens `min_size` connections now (blocking:
        the lifespan calls this in a thread)."""
        self.max_size = max_size
        self._dsn = dsn
        self._connect_kwargs = connect_kwargs
        self._acquire_timeout = acquire_timeout
        self._max_lifetime = max_lifetime
        self._tracer_provider = tracer_provider
        self._timeout_prefix = (
            ""
            if statement_timeout is None
            else f"SET LOCAL statement_timeout = {round(statement_timeout * 1000)}; "
        )
        self._changed = threading.Condition()
        self._idle: deque[PooledConnection] = deque()
        self._borrowed: set[PooledConnection] = set()
        self._open = 0  # idle + borrowed + being opened: never above max_size
        self._connecting = 0
        # Connects whose caller gave up: their connection joins the pool when it arrives.
        self._orphans: set[Future[PooledConnection]] = set()
        self._closing = False
        # One connect per missing connection at most, each in its own thread.
        self._connector = ThreadPoolExecutor(max_size, thread_name_prefix="psycopg2-connect")
        try:
            for _ in range(min_size):
                self._idle.append(self._connect())
                self._open += 1
        except BaseException:
            self._close_all(self._idle)
            self._connector.shutdown()
            raise

    @property
    def in_use(self) -> int:
        return len(self._borrowed)

    @property
    def busy(self) -> bool:
        """Every connection is borrowed: a request now would wait for one."""
        return len(self._borrowed) >= self.max_size

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """Borrow a connection; it goes back on every path, or is closed if broken."""
        conn = self._acquire()
        try:
            yield conn
        finally:
            self._release(conn)

    def _connect(self) -> PooledConnection:
        conn = psycopg2.connect(
            self._dsn, connection_factory=PooledConnection, **self._connect_kwargs
        )
        assert isinstance(conn, PooledConnection)
        conn.cursor_factory = TimeoutCursor
        if self._tracer_provider is not None:
            # A span per statement (tracing on): the instrumentation wraps this connection's
            # cursors around TimeoutCursor, so each span shows the statement as the code
            # wrote it, without the SET LOCAL in front. Per connection, not psycopg2.connect
            # patched for the process: that would put its cursors in place of TimeoutCursor.
            Psycopg2Instrumentor.instrument_connection(conn, self._tracer_provider)
        conn.timeout_prefix = self._timeout_prefix
        conn.expires_at = time.monotonic() + self._max_lifetime * (
            1 - LIFETIME_JITTER * random.random()  # noqa: S311 (spreading, not security)
        )
        return conn

    def _acquire(self) -> PooledConnection:
        deadline = time.monotonic() + self._acquire_timeout
        stale: list[PooledConnection] = []
        try:
            with self._changed:
                while True:
                    if self._closing:
                        raise PoolClosedError("the psycopg2 pool is closing")
                    while self._idle:
                        conn = self._idle.pop()  # the most recently used: warm, and alive
                        if fit_to_hand_out(conn):
                            self._borrowed.add(conn)
                            return conn
                        stale.append(conn)
                        self._open -= 1
                    if self._open < self.max_size:
                        self._open += 1
                        self._connecting += 1
                        opening = self._connector.submit(self._connect)
                        opening.add_done_callback(self._connect_done)
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        if self._connecting:
                            raise ConnectTimeoutError(
                                f"no psycopg2 connection opened within {self._acquire_timeout} s"
                            )
                        raise PoolTimeoutError(
                            f"no psycopg2 connection free within {self._acquire_timeout} s"
                        )
                    self._changed.wait(remaining)
        finally:
            self._close_all(stale)
        return self._wait_for(opening, deadline)

    def _wait_for(self, opening: "Future[PooledConnection]", deadline: float) -> PooledConnection:
        # Outside the lock: other threads take and give back connections meanwhile.
        try:
            try:
                conn = opening.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                # Nobody waits for it any more: _connect_done pools it when it arrives.
                with self._changed:
                    if not opening.done():
                        self._orphans.add(opening)
                        raise ConnectTimeoutError(
                            f"no psycopg2 connection opened within {self._acquire_timeout} s"
                        ) from None
                conn = opening.result()
        except CancelledError:
            raise PoolClosedError("the psycopg2 pool is closing") from None
        with self._changed:
            if self._closing:
                self._open -= 1
                conn.close()
                raise PoolClosedError("the psycopg2 pool is closing")
            self._borrowed.add(conn)
        return conn

    def _connect_done(self, opening: "Future[PooledConnection]") -> None:
        with self._changed:
            self._connecting -= 1
            if opening.cancelled() or opening.exception() is not None:
                self._open -= 1  # the caller gets the error; the slot is free again
            elif opening in self._orphans:
                conn = opening.result()
                if self._closing:
                    self._open -= 1
                    conn.close()
                else:
                    self._idle.append(conn)
            self._orphans.discard(opening)
            self._changed.notify()

    def _release(self, conn: PooledConnection) -> None:
        expired = conn.expires_at <= time.monotonic()
        keep = not conn.closed and not self._closing and not expired and self._reset(conn)
        with self._changed:
            self._borrowed.discard(conn)
            if keep:
                conn.returned_at = time.monotonic()
                self._idle.append(conn)
            else:
                self._open -= 1
            self._changed.notify()
        if not keep:
            conn.close()
            if expired:
                self._replenish()

    @staticmethod
    def _reset(conn: PooledConnection) -> bool:
        """Back to idle, outside any transaction; False if that failed (discard it)."""
        status = conn.info.transaction_status
        if status == psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            return True
        if status == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN:
            return False
        try:
            conn.rollback()
        except psycopg2.Error:
            return False
        return True

    def _replenish(self) -> None:
        """Open a replacement in the background (an expired connection was retired)."""
        with self._changed:
            if self._closing or self._open >= self.max_size:
                return
            self._open += 1
            self._connecting += 1
            opening = self._connector.submit(self._connect)
            self._orphans.add(opening)
        opening.add_done_callback(self._connect_done)

    def close(self, grace: float = 0.0) -> None:
        """Close every connection. Borrowed ones get `grace` seconds to come back; then
        their statements are cancelled and they get CANCEL_MARGIN more; any left after that
        are closed under their users (the process is stopping anyway)."""
        with self._changed:
            self._closing = True
            idle = list(self._idle)
            self._idle.clear()
            self._open -= len(idle)
            self._changed.notify_all()
        self._close_all(idle)
        self._connector.shutdown(wait=False, cancel_futures=True)
        if not self._wait_until_returned(grace):
            with self._changed:
                running = list(self._borrowed)
            logger.warning("cancelling %d running psycopg2 statements", len(running))
            for conn in running:
                # Closed meanwhile, or the server is gone: the close below still follows.
                with suppress(psycopg2.Error):
                    conn.cancel()
            if not self._wait_until_returned(CANCEL_MARGIN):
                with self._changed:
                    left = list(self._borrowed)
                logger.warning("closing %d psycopg2 connections still borrowed", len(left))
                self._close_all(left)

    def _wait_until_returned(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._borrowed, timeout)

    @staticmethod
    def _close_all(connections: Iterable[psycopg2.extensions.connection]) -> None:
        for conn in connections:
            conn.close()


def open_psycopg2_pool(
    settings: Settings, database_url: str, tracer_provider: TracerProvider | None = None
) -> Psycopg2Pool:
    """Blocking (it opens the minimum of connections): the lifespan calls it in a thread."""
    pool = Psycopg2Pool(
        database_url,
        min_size=settings.psycopg2_pool_min_size,
        max_size=settings.psycopg2_pool_max_size,
        acquire_timeout=settings.psycopg2_acquire_timeout,
        max_lifetime=settings.psycopg2_max_lifetime,
        # Sent with each statement (SET LOCAL), not as the `options` startup parameter,
        # which PgBouncer refuses: see TimeoutCursor.
        statement_timeout=settings.psycopg2_statement_timeout,
        tracer_provider=tracer_provider,
        connect_timeout=settings.psycopg2_connect_timeout,
        application_name=f"{settings.database_application_name}/psycopg2",
    )
    logger.info(
        "psycopg2 pool open: %d-%d connections",
        settings.psycopg2_pool_min_size,
        settings.psycopg2_pool_max_size,
    )
    return pool


FAILURES = DriverFailures(
    sqlstate=lambda exc: exc.pgcode if isinstance(exc, psycopg2.Error) else None,
    # TimeoutError, OSError: refused, reset; psycopg2's own: a closed or broken connection;
    # the pool's: busy, cannot connect in time, shutting down.
    unavailable_types=(
        TimeoutError,
        OSError,
        psycopg2.OperationalError,
        psycopg2.InterfaceError,
        PoolTimeoutError,
        ConnectTimeoutError,
        PoolClosedError,
    ),
    broken_types=(ConnectionError,),
)


def schema_revision(pool: Psycopg2Pool) -> str | None:
    """Blocking: runs in a thread. One round trip (autocommit: no BEGIN, no ROLLBACK)."""
    with pool.connection() as conn:
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(SCHEMA_REVISION)
                row = cursor.fetchone()
        finally:
            if not conn.closed:
                conn.autocommit = False
    return None if row is None else str(row[0])


async def psycopg2_readiness(pool: Psycopg2Pool, schema: SchemaRevisions) -> str:
    if pool.busy:
        return BUSY
    try:
        # psycopg2 blocks; bridge it to a thread so the loop keeps serving. The pool bounds
        # the wait (PSYCOPG2_ACQUIRE_TIMEOUT, connecting included).
        revision = await asyncio.to_thread(schema_revision, pool)
    except PoolTimeoutError:
        return BUSY  # every connection borrowed for the whole wait
    except Exception as exc:
        return failure(exc, FAILURES)
    return verdict(revision, schema)


def psycopg2_gauges(pool: Psycopg2Pool) -> Iterator[GaugeMetricFamily]:
    yield GaugeMetricFamily(
        "psycopg2_pool_connections_in_use", "psycopg2 connections borrowed right now.", pool.in_use
    )
