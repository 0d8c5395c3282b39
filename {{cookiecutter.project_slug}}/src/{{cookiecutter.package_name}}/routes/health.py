"""Liveness and readiness probes.

Readiness answers one question: can this pod serve its data routes? Down, unreachable or a
schema behind this release: no (503, the pod leaves the Service until it recovers). Busy:
yes. Every connection being borrowed means the database answers; a 503 then would take every
replica out of the Service at once, under exactly the load they exist for, so busy is 200
with the fact in the body, and the probe does not queue for a connection.
"""

import asyncio
from typing import Literal

import asyncpg
from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from ..async_db import live_connection
from ..database_errors import schema_behind, unavailable
from ..dependencies import ResourcesDep
from ..migrate import SchemaRevisions
from ..sync_db import PoolTimeoutError, Psycopg2Pool

router = APIRouter(tags=["health"])

# Alembic's own table: one row, the revision the database is at.
SCHEMA_REVISION = "SELECT version_num FROM alembic_version"
OK = "ok"
BUSY = "busy"


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    # Per driver: "ok", "busy" (every connection borrowed: still ready), "unavailable: ..."
    # or "schema behind: ...".
    checks: dict[str, str]


@router.get("/healthz")
async def healthz() -> Liveness:
    # `async def` with no I/O runs on the event loop, never waits for a worker thread:
    # the probe answers even while every thread token is taken by slow `def` routes.
    return Liveness()


def verdict(revision: str | None, schema: SchemaRevisions) -> str:
    if schema.behind(revision):
        return f"schema behind: at {revision or 'nothing'}, this release needs {schema.head}"
    return OK


def failure(exc: Exception) -> str:
    if schema_behind(exc):
        return "schema behind: not migrated"
    if unavailable(exc):
        return f"unavailable: {type(exc).__name__}"
    raise exc  # a bug in this service: a 500, not a verdict on the database


def asyncpg_busy(pool: "asyncpg.Pool[asyncpg.Record]", max_size: int) -> bool:
    return pool.get_idle_size() == 0 and pool.get_size() >= max_size


def psycopg2_revision(pool: Psycopg2Pool) -> str | None:
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


@router.get(
    "/readyz",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness}},
)
async def readyz(resources: ResourcesDep, response: Response) -> Readiness:
    settings = resources.settings

    async def asyncpg_check() -> str:
        pool = resources.asyncpg_pool
        if asyncpg_busy(pool, settings.asyncpg_pool_max_size):
            return BUSY
        try:
            async with (
                asyncio.timeout(settings.asyncpg_acquire_timeout),
                live_connection(pool) as conn,
            ):
                revision = await conn.fetchval(SCHEMA_REVISION)
        except TimeoutError:
            # The pool filled up while this probe waited: busy, not down.
            return (
                BUSY
                if asyncpg_busy(pool, settings.asyncpg_pool_max_size)
                else failure(TimeoutError())
            )
        except Exception as exc:
            return failure(exc)
        return verdict(revision, resources.schema)

    async def psycopg2_check() -> str:
        pool = resources.psycopg2_pool
        if pool.busy:
            return BUSY
        try:
            # psycopg2 blocks; bridge it to a thread so the loop keeps serving. The pool
            # bounds the wait (PSYCOPG2_ACQUIRE_TIMEOUT, connecting included).
            revision = await asyncio.to_thread(psycopg2_revision, pool)
        except PoolTimeoutError:
            return BUSY  # every connection borrowed for the whole wait
        except Exception as exc:
            return failure(exc)
        return verdict(revision, resources.schema)

    # Both drivers are checked at the same time: the probe costs one round trip, not two.
    async with asyncio.TaskGroup() as group:
        checks = {
            "asyncpg": group.create_task(asyncpg_check()),
            "psycopg2": group.create_task(psycopg2_check()),
        }
    results = {name: task.result() for name, task in checks.items()}
    if all(result in {OK, BUSY} for result in results.values()):
        return Readiness(status="ready", checks=results)
    response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(status="unavailable", checks=results)
