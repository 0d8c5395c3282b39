"""What `/readyz` says of one pool: "ok", "busy" (still ready), or why it cannot serve.

Each driver module has its own check (it knows how to ask without queueing); the verdicts,
and what counts as down, are the same for all of them.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from .failures import DriverFailures
from .migrate import SchemaRevisions

# Alembic's own table: one row, the revision the database is at.
SCHEMA_REVISION = "SELECT version_num FROM alembic_version"
OK = "ok"
# Every connection is borrowed: the database answers, so the pod is still ready.
BUSY = "busy"

ReadinessCheck = Callable[[], Coroutine[Any, Any, str]]


def verdict(revision: str | None, schema: SchemaRevisions) -> str:
    if schema.behind(revision):
        return f"schema behind: at {revision or 'nothing'}, this release needs {schema.head}"
    return OK


def failure(exc: Exception, failures: DriverFailures) -> str:
    if failures.schema_behind(exc):
        return "schema behind: not migrated"
    if failures.unavailable(exc):
        failures.log_the_fix(exc)
        return f"unavailable: {type(exc).__name__}"
    raise exc  # a bug in this service: a 500, not a verdict on the database
