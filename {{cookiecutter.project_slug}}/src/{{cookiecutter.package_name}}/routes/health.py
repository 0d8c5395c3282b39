"""Liveness and readiness probes."""

import asyncio
from typing import Literal

import asyncpg
import psycopg2
from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from ..dependencies import ResourcesDep
from ..sync_db import PoolTimeoutError

router = APIRouter(tags=["health"])

# Errors that mean "the database cannot serve us right now", as opposed to bugs.
ASYNCPG_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    # what asyncpg raises on a connection whose server ended it mid-protocol
    asyncpg.InternalClientError,
)
PSYCOPG2_UNAVAILABLE = (OSError, TimeoutError, psycopg2.Error, PoolTimeoutError)


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]


@router.get("/healthz")
async def healthz() -> Liveness:
    # `async def` with no I/O runs on the event loop, never waits for a worker thread:
    # the probe answers even while every thread token is taken by slow `def` routes.
    return Liveness()


@router.get(
    "/readyz",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness}},
)
async def readyz(resources: ResourcesDep, response: Response) -> Readiness:
    timeout = resources.settings.asyncpg_acquire_timeout

    async def asyncpg_check() -> str:
        try:
            async with asyncio.timeout(timeout):
                await resources.asyncpg_pool.fetchval("SELECT 1")
        except ASYNCPG_UNAVAILABLE as exc:
            return f"unavailable: {type(exc).__name__}"
        return "ok"

    async def psycopg2_check() -> str:
        try:
            # psycopg2 blocks; bridge it to a thread so the loop keeps serving.
            async with asyncio.timeout(timeout):
                await asyncio.to_thread(resources.psycopg2_pool.ping)
        except PSYCOPG2_UNAVAILABLE as exc:
            return f"unavailable: {type(exc).__name__}"
        return "ok"

    # Both drivers are checked at the same time: the probe costs one round trip, not two.
    async with asyncio.TaskGroup() as group:
        checks = {
            "asyncpg": group.create_task(asyncpg_check()),
            "psycopg2": group.create_task(psycopg2_check()),
        }
    results = {name: task.result() for name, task in checks.items()}
    if all(result == "ok" for result in results.values()):
        return Readiness(status="ready", checks=results)
    response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(status="unavailable", checks=results)
