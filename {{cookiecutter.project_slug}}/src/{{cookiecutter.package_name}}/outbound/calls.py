"""One call to an upstream through the shared client, every wait bounded, the answer capped.

The errors are the answers: an upstream that fails is a 502, one that is too slow a 504.
"""

import asyncio
import json
import time

import httpx2
from fastapi import status
from pydantic import BaseModel, JsonValue

from ..errors import ServiceError
from ..settings import Settings


class UpstreamFailed(ServiceError):
    """The upstream refused the connection, hung up, or answered with an error."""

    status_code = status.HTTP_502_BAD_GATEWAY


class UpstreamTimedOut(ServiceError):
    """The upstream, or a free connection to it, did not come within the timeout."""

    status_code = status.HTTP_504_GATEWAY_TIMEOUT


class UpstreamCall(BaseModel):
    status: int
    seconds: float
    body: JsonValue


def delay_url(upstream: str, delay: float) -> str:
    # httpbin's convention, so a real httpbin can stand in for the stub.
    return f"{upstream.rstrip('/')}/delay/{delay}"


async def read_capped(response: httpx2.Response, max_bytes: int) -> bytes:
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


async def call_upstream(client: httpx2.AsyncClient, url: str, settings: Settings) -> UpstreamCall:
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
    except httpx2.TimeoutException as exc:
        raise UpstreamTimedOut(f"upstream did not answer in time ({type(exc).__name__})") from exc
    except httpx2.HTTPStatusError as exc:
        raise UpstreamFailed(f"upstream answered {exc.response.status_code}") from exc
    except httpx2.RequestError as exc:  # refused, hung up, garbled
        raise UpstreamFailed(f"upstream unreachable ({type(exc).__name__})") from exc
    except ValueError as exc:  # the body was not JSON (or not UTF-8)
        raise UpstreamFailed("upstream answered something other than JSON") from exc
    return UpstreamCall(
        status=response.status_code, seconds=time.perf_counter() - started, body=body
    )
