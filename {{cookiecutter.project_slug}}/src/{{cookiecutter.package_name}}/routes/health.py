"""Liveness and readiness probes.

Readiness answers one question: can this pod serve its data routes? Down, unreachable or a
schema behind this release: no (503, the pod leaves the Service until it recovers). Busy:
yes. Every connection being borrowed means the database answers; a 503 then would take every
replica out of the Service at once, under exactly the load they exist for, so busy is 200
with the fact in the body, and the probe does not queue for a connection.
"""

import asyncio
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from ..db.readiness import BUSY, OK
from ..dependencies import ResourcesDep

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    # Per pool: "ok", "busy" (every connection borrowed: still ready), "unavailable: ..."
    # or "schema behind: ...".
    checks: dict[str, str]


@router.get("/healthz")
async def healthz() -> Liveness:
    """Liveness: answers while every worker thread is busy."""
    # `async def` with no I/O runs on the event loop, never waits for a worker thread:
    # the probe answers even while every thread token is taken by slow `def` routes.
    return Liveness()


@router.get(
    "/readyz",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness}},
)
async def readyz(resources: ResourcesDep, response: Response) -> Readiness:
    """Readiness: 200 while every pool can reach a migrated database (busy included)."""
    # Every pool is checked at the same time: the probe costs one round trip, not one each.
    async with asyncio.TaskGroup() as group:
        checks = {name: group.create_task(check()) for name, check in resources.readiness.items()}
    results = {name: task.result() for name, task in checks.items()}
    if all(result in {OK, BUSY} for result in results.values()):
        return Readiness(status="ready", checks=results)
    response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(status="unavailable", checks=results)
