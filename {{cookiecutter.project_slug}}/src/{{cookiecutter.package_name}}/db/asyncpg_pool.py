"""The asyncpg pool: opened and closed for the lifespan, lent out live, checked for /readyz.

asyncpg replaces a connection once the event loop has read the server's goodbye on its
socket. Between the goodbye's arrival and that read (a loop busy with other requests, or a
request arriving in the same instant), the pool can still hand the connection out, and the
statement fails. So, as for psycopg2, one non-blocking poll of the socket before use: no
round trip, no cost in the steady state. asyncpg keeps the socket private
(`Connection._transport`); this module is the one place the service reaches for it.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.trace import TracerProvider
from prometheus_client.core import GaugeMetricFamily

from ..settings import Settings
from .failures import DriverFailures
from .migrate import SchemaRevisions
from .readiness import BUSY, SCHEMA_REVISION, failure, verdict
from .sockets import socket_readable

if TYPE_CHECKING:
    AsyncpgPool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Connection: TypeAlias = PoolConnectionProxy[asyncpg.Record]
else:
    # Generic only in asyncpg's type stubs; FastAPI evaluates route annotations at run time.
    AsyncpgPool = asyncpg.Pool
    Connection = PoolConnectionProxy

logger = logging.getLogger(__name__)

FAILURES = DriverFailures(
    sqlstate=lambda exc: str(exc.sqlstate) if isinstance(exc, asyncpg.PostgresError) else None,
    # TimeoutError: the acquire or command timeout; OSError: refused, reset; the others: a
    # closed or broken connection.
    unavailable_types=(TimeoutError, OSError, asyncpg.InterfaceError, asyncpg.InternalClientError),
    broken_types=(
        asyncpg.ConnectionDoesNotExistError,
        ConnectionError,
        asyncpg.InternalClientError,
    ),
    # Its statement cache names statements per connection (settings.py).
    statements_lost_fix="ASYNCPG_STATEMENT_CACHE_SIZE=0",
)


async def open_asyncpg_pool(settings: Settings, database_url: str) -> AsyncpgPool:
    pool = await asyncpg.create_pool(
        database_url,
        min_size=settings.asyncpg_pool_min_size,
        max_size=settings.asyncpg_pool_max_size,
        command_timeout=settings.asyncpg_command_timeout,
        statement_cache_size=settings.asyncpg_statement_cache_size,
        # A startup parameter PgBouncer passes on: every connection names its service.
        server_settings={"application_name": f"{settings.database_application_name}/asyncpg"},
    )
    logger.info("asyncpg pool open: %d-%d connections", pool.get_min_size(), pool.get_max_size())
    return pool


@contextmanager
def traced_asyncpg_statements(tracer_provider: TracerProvider) -> Iterator[None]:
    """A span per statement (tracing on), until the lifespan ends. The instrumentation wraps
    asyncpg's connection classes, so it covers every asyncpg connection of the process."""
    # The instrumentation (a beta release) has no annotations on its constructor.
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        yield
    finally:
        instrumentor.uninstrument()


async def close_asyncpg_pool(pool: AsyncpgPool, grace_seconds: float) -> None:
    # close() waits for every borrowed connection; a stuck request must not hang shutdown.
    try:
        await asyncio.wait_for(pool.close(), grace_seconds)
    except TimeoutError:
        logger.warning("asyncpg pool did not close within %s s; terminating it", grace_seconds)
        pool.terminate()


def server_said_goodbye(conn: Connection) -> bool:
    transport = getattr(getattr(conn, "_con", None), "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    # Without a socket to look at (a future asyncpg), trust asyncpg's own check.
    return sock is not None and socket_readable(sock.fileno())


async def acquire_live(pool: AsyncpgPool) -> Connection:
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
async def live_connection(pool: AsyncpgPool) -> AsyncIterator[Connection]:
    conn = await acquire_live(pool)
    try:
        yield conn
    finally:
        # pool.release shields itself from cancellation: the connection always goes back.
        await pool.release(conn)


def asyncpg_busy(pool: AsyncpgPool) -> bool:
    return pool.get_idle_size() == 0 and pool.get_size() >= pool.get_max_size()


async def asyncpg_readiness(
    pool: AsyncpgPool, acquire_timeout: float, schema: SchemaRevisions
) -> str:
    # Busy is answered without queueing for a connection: a probe that waited would time
    # out under exactly the load the pod is there for.
    if asyncpg_busy(pool):
        return BUSY
    try:
        async with asyncio.timeout(acquire_timeout), live_connection(pool) as conn:
            revision = await conn.fetchval(SCHEMA_REVISION)
    except TimeoutError:
        # The pool filled up while this probe waited: busy, not down.
        return BUSY if asyncpg_busy(pool) else failure(TimeoutError(), FAILURES)
    except Exception as exc:
        return failure(exc, FAILURES)
    return verdict(revision, schema)


def asyncpg_gauges(pool: AsyncpgPool) -> Iterator[GaugeMetricFamily]:
    yield GaugeMetricFamily(
        "asyncpg_pool_connections", "Connections open in the asyncpg pool.", pool.get_size()
    )
    yield GaugeMetricFamily(
        "asyncpg_pool_connections_in_use",
        "asyncpg connections borrowed right now.",
        pool.get_size() - pool.get_idle_size(),
    )
