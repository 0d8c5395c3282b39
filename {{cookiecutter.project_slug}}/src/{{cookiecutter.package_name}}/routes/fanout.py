"""Concurrent outbound calls on the one shared client: `GET /async/upstream/fanout`.

One call and its bounds are outbound/calls.py; the stub it calls in development and tests is
dev/upstream_stub.py.
"""

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from ..dependencies import SettingsDep, UpstreamDep
from ..errors import ServiceError
from ..outbound.calls import UpstreamCall, UpstreamTimedOut, call_upstream, delay_url

router = APIRouter(prefix="/async/upstream", tags=["upstream"])

MAX_CALLS = 50
# Bounded like every wait a client can ask for.
UpstreamDelay = Annotated[
    float, Query(ge=0, le=5, description="seconds each upstream call waits, 0 to 5")
]
Calls = Annotated[
    int,
    # Bounded so that one request can take at most half of the default pool of 100.
    Query(ge=1, le=MAX_CALLS, description=f"concurrent upstream calls, 1 to {MAX_CALLS}"),
]


class Fanout(BaseModel):
    n: int
    delay: float
    seconds: float
    results: list[UpstreamCall]


@router.get(
    "/fanout",
    responses={
        status.HTTP_502_BAD_GATEWAY: {
            "description": "upstream refused, hung up, failed or answered too much"
        },
        status.HTTP_504_GATEWAY_TIMEOUT: {"description": "upstream slower than the timeouts"},
    },
)
async def fanout(
    n: Calls, delay: UpstreamDelay, upstream: UpstreamDep, settings: SettingsDep
) -> Fanout:
    """Call the upstream `n` times at once on the shared client."""
    # `async def`: the work is n awaits on the shared client, so the n calls overlap on the
    # loop with no thread at all. A TaskGroup starts them at once and, if one fails, cancels
    # the rest: the request answers 502/504 at the first failure, and no call outlives it.
    # Each call is bounded on its own (outbound/calls.py), all of them by
    # HTTP_FANOUT_TIMEOUT.
    url = delay_url(upstream.url, delay)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(settings.http_fanout_timeout), asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(call_upstream(upstream.client, url, settings)) for _ in range(n)
            ]
    except TimeoutError as exc:
        # The TaskGroup was cancelled as a whole: every call has ended, none is left behind.
        raise UpstreamTimedOut(
            f"fan-out took longer than HTTP_FANOUT_TIMEOUT ({settings.http_fanout_timeout} s)"
        ) from exc
    except ExceptionGroup as failures:
        first, _ = failures.split(ServiceError)
        if first is None:
            raise
        error = first.exceptions[0]
        raise error from error.__cause__
    return Fanout(
        n=n,
        delay=delay,
        seconds=time.perf_counter() - started,
        results=[task.result() for task in tasks],
    )
