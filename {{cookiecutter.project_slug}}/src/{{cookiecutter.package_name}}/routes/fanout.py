"""Concurrent outbound calls on the one shared client: `GET /async/upstream/fanout`.

(`upstream.py` at the package level is the stub this route calls, not this route.)
"""

import asyncio
import time
from typing import Annotated

import httpx
from fastapi import APIRouter, Query, status
from pydantic import BaseModel, HttpUrl, JsonValue

from ..dependencies import HttpClient, SettingsDep
from ..errors import ServiceError, UpstreamFailed, UpstreamTimedOut
from .lesson import Delay

router = APIRouter(prefix="/async/upstream", tags=["upstream"])

MAX_CALLS = 50
Calls = Annotated[
    int,
    # Bounded so that one request can take at most half of the default pool of 100.
    Query(ge=1, le=MAX_CALLS, description=f"concurrent upstream calls, 1 to {MAX_CALLS}"),
]


class UpstreamCall(BaseModel):
    status: int
    seconds: float
    body: JsonValue


class Fanout(BaseModel):
    n: int
    delay: float
    seconds: float
    results: list[UpstreamCall]


def delay_url(upstream: HttpUrl, delay: float) -> str:
    # httpbin's convention, so a real httpbin can stand in for the stub.
    return f"{str(upstream).rstrip('/')}/delay/{delay}"


async def call_upstream(client: httpx.AsyncClient, url: str) -> UpstreamCall:
    started = time.perf_counter()
    try:
        response = await client.get(url)
        response.raise_for_status()
        body: JsonValue = response.json()
    except httpx.TimeoutException as exc:
        raise UpstreamTimedOut(f"upstream did not answer in time ({type(exc).__name__})") from exc
    except httpx.HTTPStatusError as exc:
        raise UpstreamFailed(f"upstream answered {exc.response.status_code}") from exc
    except httpx.RequestError as exc:  # refused, hung up, garbled
        raise UpstreamFailed(f"upstream unreachable ({type(exc).__name__})") from exc
    except ValueError as exc:  # the body was not JSON
        raise UpstreamFailed("upstream answered something other than JSON") from exc
    return UpstreamCall(
        status=response.status_code, seconds=time.perf_counter() - started, body=body
    )


@router.get(
    "/fanout",
    responses={
        status.HTTP_502_BAD_GATEWAY: {"description": "upstream refused, hung up or failed"},
        status.HTTP_504_GATEWAY_TIMEOUT: {"description": "upstream slower than the timeouts"},
    },
)
async def fanout(n: Calls, delay: Delay, client: HttpClient, settings: SettingsDep) -> Fanout:
    # `async def`: the work is n awaits on the shared client, so the n calls overlap on the
    # loop with no thread at all. A TaskGroup starts them at once and, if one fails,
    # cancels the rest: the request answers 502/504 at the first failure, and no call
    # outlives it. The shared client's pool (HTTP_MAX_CONNECTIONS) caps them across all
    # requests; its timeouts bound every wait (a free connection, connecting, each read),
    # so a dead or stalled upstream cannot hang the route.
    url = delay_url(settings.upstream_url, delay)
    started = time.perf_counter()
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call_upstream(client, url)) for _ in range(n)]
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
