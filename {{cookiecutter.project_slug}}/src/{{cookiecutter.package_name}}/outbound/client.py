"""The one outbound HTTP client the service shares, and why aiohttp moves its bytes.

The routes see an `httpx2.AsyncClient` (httpx2 is Pydantic's maintained continuation of
httpx, whose last release was 0.28 in 2024; Starlette now prefers it): the httpx API, its
timeouts, its exceptions. Underneath, the transport is httpx-aiohttp's `AiohttpTransport`
for httpx2, chosen by measurement: httpx2's own pool, like httpx 0.28's (encode/httpx#3215),
is slower with many concurrent connections, and this transport answers 100 concurrent calls
within a few ms of aiohttp itself (the figures: docs/concurrency.md, "Outbound HTTP"). What
changes with aiohttp underneath, handled here:
- `limits` go on the transport: given a transport, httpx ignores the client's own limits.
  aiohttp has a connection limit and a keep-alive expiry, but no keep-alive count.
- timeouts still come from `httpx2.Timeout` on the client, per request: connect -> aiohttp
  sock_connect, read -> sock_read, pool -> aiohttp's connect (waiting for a pooled
  connection plus opening it). aiohttp has no write timeout.
- httpx-aiohttp 0.2.0 reports a refused connection as `ConnectTimeout` (it maps aiohttp's
  base ClientConnectionError first); `UpstreamTransport` restores httpx's own exceptions,
  so "refused" stays a 502 and only real timeouts become 504s.
With tracing on, OpenTelemetry's transport wraps it: a client span per call, and the call's
W3C `traceparent` header, so the upstream continues the request's trace.
"""

from dataclasses import dataclass

import aiohttp
import httpx2
from httpx_aiohttp.httpx2 import AiohttpTransport
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransportHttpx2
from opentelemetry.trace import TracerProvider

from ..settings import Settings


@dataclass(frozen=True, slots=True)
class Upstream:
    """The upstream's address and the one client every call to it shares."""

    url: str
    client: httpx2.AsyncClient


class UpstreamTransport(AiohttpTransport):
    """AiohttpTransport raising what httpx's own transport would raise."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await super().handle_async_request(request)
        except httpx2.ConnectTimeout as mapped:
            cause = mapped.__cause__
            if cause is None or isinstance(cause, aiohttp.ServerTimeoutError):
                raise  # a real timeout: connecting, or waiting for a pooled connection
            if isinstance(cause, aiohttp.ServerDisconnectedError):
                raise httpx2.RemoteProtocolError(str(cause), request=request) from cause
            raise httpx2.ConnectError(str(cause), request=request) from cause


def build_http_client(
    settings: Settings, tracer_provider: TracerProvider | None = None
) -> httpx2.AsyncClient:
    """Blocking (the SSL context reads the CA bundle from disk): the lifespan runs it in a
    thread. No connection opens here; aiohttp's session starts with the first request."""
    limits = httpx2.Limits(
        max_connections=settings.http_max_connections,
        keepalive_expiry=settings.http_keepalive_expiry,
    )
    transport: httpx2.AsyncBaseTransport = UpstreamTransport(limits=limits)
    if tracer_provider is not None:
        # Outermost, so the span covers the whole call and the header is on the request
        # before aiohttp sends it. (Its annotations name httpx's classes, whose API
        # httpx2's share.)
        transport = AsyncOpenTelemetryTransportHttpx2(
            transport,  # type: ignore[arg-type]
            tracer_provider=tracer_provider,
        )
    return httpx2.AsyncClient(
        transport=transport,
        timeout=httpx2.Timeout(
            connect=settings.http_connect_timeout,
            read=settings.http_read_timeout,
            write=None,  # aiohttp has none
            pool=settings.http_pool_timeout,
        ),
    )
