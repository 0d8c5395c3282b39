"""Concurrent outbound calls on the one shared client: `GET /async/upstream/fanout`.

(`upstream_stub.py` at the package level is the stub this route calls, not this route.)
"""

import asyncio
import json
import time
from typing import Annotated

import httpx
from fastapi import APIRouter, Query, status
from pydantic import BaseModel, HttpUrl, JsonValue

from ..dependencies import HttpClient, SettingsDep
from ..errors import ServiceError, UpstreamFailed, UpstreamTimedOut
from ..settings import Settings
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


async def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, read as it streams in, abandoned as soon as it exceeds `max_bytes`: a huge
    or endless body costs at most `max_bytes` of memory, never more."""
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise UpstreamFailed(f"upstream answer larger than {max_bytes} bytes")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise UpstreamFailed(f"upstream answer larger than {max_bytes} bytes")
    return bytes(body)


async def call_upstream(client: httpx.AsyncClient, url: str, settings: Settings) -> UpstreamCall:
    started = time.perf_counter()
    try:
        # One deadline for the whole call. The client's timeouts bound each wait (a pooled
        # connection, connecting, each read), but an upstream trickling a byte per read
        # timeout passes every one of them for ever. Streaming, not client.get(): the body
        # is counted as it arrives, so the size cap holds before it is in memory. Leaving
        # the block early closes the connection: nothing of the answer is kept.
        async with (
            asyncio.timeout(settings.http_call_timeout),
            client.stream("GET", url) as response,
        ):
            response.raise_for_status()
            content = await read_capped(response, settings.http_response_max_bytes)
        body: JsonValue = json.loads(content)
    except TimeoutError as exc:
        raise UpstreamTimedOut(
            f"upstream call took longer than HTTP_CALL_TIMEOUT ({settings.http_call_timeout} s)"
        ) from exc
    except httpx.TimeoutException as exc:
        raise UpstreamTimedOut(f"upstream did not answer in time ({type(exc).__name__})") from exc
    except httpx.HTTPStatusError as exc:
        raise UpstreamFailed(f"upstream answered {exc.response.status_code}") from exc
    except httpx.RequestError as exc:  # refused, hung up, garbled
        raise UpstreamFailed(f"upstream unreachable ({type(exc).__name__})") from exc
    except ValueError as exc:  # the body was not JSON (or not UTF-8)
        raise UpstreamFailed("upstream answered something other than JSON") from exc
    return UpstreamCall(
        status=response.status_code, seconds=time.perf_counter() - started, body=body
    )


@router.get(
    "/fanout",
    responses={
        status.HTTP_502_BAD_GATEWAY: {
            "description": "upstream refused, hung up, failed or answered too much"
        },
        status.HTTP_504_GATEWAY_TIMEOUT: {"description": "upstream slower than the timeouts"},
    },
)
async def fanout(n: Calls, delay: Delay, client: HttpClient, settings: SettingsDep) -> Fanout:
    # `async def`: the work is n awaits on the shared client, so the n calls overlap on the
    # loop with no thread at all. A TaskGroup starts them at once and, if one fails,
    # cancels the rest: the request answers 502/504 at the first failure, and no call
    # outlives it. The shared client's pool (HTTP_MAX_CONNECTIONS) caps them across all
    # requests. Every wait has a bound: the client's timeouts (a free connection,
    # connecting, each read), HTTP_CALL_TIMEOUT per call from start to last byte, and
    # HTTP_FANOUT_TIMEOUT for all of them together, so a stalled or trickling upstream
    # cannot hang the route.
    url = delay_url(settings.upstream_url, delay)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(settings.http_fanout_timeout), asyncio.TaskGroup() as group:
            tasks = [group.create_task(call_upstream(client, url, settings)) for _ in range(n)]
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
