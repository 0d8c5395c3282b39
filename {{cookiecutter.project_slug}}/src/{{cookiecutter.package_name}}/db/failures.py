"""What "the database cannot serve us now" means, once, whichever driver met it.

Readiness and the repositories classify through the same `DriverFailures`, so a failure that
makes a data route answer 503 is the same failure that makes `/readyz` answer 503. Anything
else is a bug in this service and stays a 500. Each driver module says only how its errors
carry the facts (its `FAILURES`); the rules are here.
"""

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import DatabaseUnavailable

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
# A statement the driver prepared on its connection is missing (26000), or another one has
# its name (42P05): the server connection is not the one it prepared on. This service never
# names statements itself; a driver that does meets this only behind a pooler that gives
# each transaction any server connection (PgBouncer < 1.21 in transaction mode). A
# deployment fault a setting fixes, not a bug in the request: a 503, and the fix in the log.
STATEMENT_LOST_SQLSTATES = frozenset({"26000", "42P05"})

logger = logging.getLogger(__name__)


@functools.cache
def log_once(message: str) -> None:
    """Once per process per message: the fix is read at start-up, so the fault lasts until a
    restart, and one line per request would bury it (`http_requests_total` counts the 503s)."""
    logger.error(message)


@dataclass(frozen=True, slots=True)
class DriverFailures:
    """How one driver reports a failure: its SQLSTATE, if the server sent one, and the
    exception types it raises for failures below SQL (no SQLSTATE)."""

    sqlstate: Callable[[BaseException], str | None]
    # Refused, reset, timed out, closed: the database (or a connection to it) is missing.
    unavailable_types: tuple[type[BaseException], ...]
    # The connection died under a statement (not a timeout): a read may run again.
    broken_types: tuple[type[BaseException], ...]
    # The setting that stops the driver's prepared statements from going missing behind a
    # transaction-mode pooler; None for a driver that prepares nothing (then the SQLSTATEs
    # are a bug of ours: a 500).
    statements_lost_fix: str | None = None

    def statements_lost(self, exc: BaseException) -> bool:
        return self.statements_lost_fix is not None and (
            self.sqlstate(exc) in STATEMENT_LOST_SQLSTATES
        )

    def log_the_fix(self, exc: BaseException) -> None:
        """The operator's fix for a lost statement, once per process (`log_once`)."""
        if self.statements_lost(exc):
            log_once(
                "prepared statements go missing between server connections"
                f" ({type(exc).__name__}): a pooler in transaction mode (PgBouncer < 1.21)"
                f" is in front of PostgreSQL. Set {self.statements_lost_fix}"
                " (docs/deployment.md); until then the requests that meet this answer 503."
                " Logged once per process."
            )

    def schema_behind(self, exc: BaseException) -> bool:
        return self.sqlstate(exc) in SCHEMA_BEHIND_SQLSTATES

    def unavailable(self, exc: BaseException) -> bool:
        """True when the database (or a free connection to it) is missing, not our code."""
        code = self.sqlstate(exc)
        if code is not None:
            return (
                code[:2] in UNAVAILABLE_SQLSTATE_CLASSES
                or code in SCHEMA_BEHIND_SQLSTATES
                or self.statements_lost(exc)
            )
        return isinstance(exc, self.unavailable_types)

    def connection_broken(self, exc: BaseException) -> bool:
        """The connection died under the statement (not a timeout, not a server-side error
        of the statement itself): an idempotent read may run again on a fresh connection."""
        code = self.sqlstate(exc)
        if code is not None:
            return code in SESSION_ENDED_SQLSTATES or code[:2] == "08"
        return isinstance(exc, self.broken_types)

    def as_503(self, cause: BaseException) -> DatabaseUnavailable:
        """The 503 for a failure `unavailable` accepted: a schema that is behind says so
        (the operator's fix differs); the rest is one message, the cause goes to the log."""
        self.log_the_fix(cause)
        if self.schema_behind(cause):
            return DatabaseUnavailable("database schema is not up to date (run migrate)")
        return DatabaseUnavailable("database unavailable")
