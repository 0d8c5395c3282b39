"""What "the database cannot serve us now" means, once, for both drivers.

Readiness and both repositories use these functions, so a failure that makes a data route
answer 503 is the same failure that makes `/readyz` answer 503. Anything else is a bug in
this service and stays a 500.
"""

import asyncpg
import psycopg2

from .errors import DatabaseUnavailable
from .sync_db import ConnectTimeoutError, PoolClosedError, PoolTimeoutError

# SQLSTATE classes that mean "the database cannot serve us now", not "this query is wrong":
# connection exception, transaction rollback (serialisation, deadlock), insufficient
# resources, object not in prerequisite state (lock timeout), operator intervention
# (shutdown, cancel, statement timeout), system error.
UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})
# A table, column or function this code expects is missing: `migrate` has not run yet
# against this database. The database is up but cannot serve this release: a 503 too.
SCHEMA_BEHIND_SQLSTATES = frozenset({"42P01", "42703", "42883"})
# The server ended the session (terminated, shutting down, crashed, not accepting yet):
# the statement did not run to completion, and a fresh connection may well work.
SESSION_ENDED_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def sqlstate(exc: BaseException) -> str | None:
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate)
    if isinstance(exc, psycopg2.Error):
        return exc.pgcode
    return None


def schema_behind(exc: BaseException) -> bool:
    return sqlstate(exc) in SCHEMA_BEHIND_SQLSTATES


def unavailable(exc: BaseException) -> bool:
    """True when the database (or a free connection to it) is missing, not our code."""
    code = sqlstate(exc)
    if code is not None:
        return code[:2] in UNAVAILABLE_SQLSTATE_CLASSES or code in SCHEMA_BEHIND_SQLSTATES
    return isinstance(
        exc,
        # TimeoutError: asyncpg's acquire or command timeout; OSError: refused, reset.
        TimeoutError
        | OSError
        # Connection-level failures with no SQLSTATE: a closed or broken connection.
        | asyncpg.InterfaceError
        | asyncpg.InternalClientError
        | psycopg2.OperationalError
        | psycopg2.InterfaceError
        # The psycopg2 pool: busy, cannot connect in time, shutting down.
        | PoolTimeoutError
        | ConnectTimeoutError
        | PoolClosedError,
    )


def connection_broken(exc: BaseException) -> bool:
    """The connection died under the statement (not a timeout, not a server-side error of
    the statement itself): an idempotent read may run again on a fresh connection."""
    code = sqlstate(exc)
    if code is not None:
        return code in SESSION_ENDED_SQLSTATES or code[:2] == "08"
    return isinstance(
        exc,
        asyncpg.ConnectionDoesNotExistError | ConnectionError | asyncpg.InternalClientError,
    )


def database_unavailable(cause: BaseException) -> DatabaseUnavailable:
    """The 503 for a failure `unavailable` accepted: a schema that is behind says so (the
    operator's fix differs); the rest is one message, the cause goes to the log."""
    if schema_behind(cause):
        return DatabaseUnavailable("database schema is not up to date (run migrate)")
    return DatabaseUnavailable("database unavailable")
