"""The one outbound HTTP client the service shares, and why aiohttp moves its bytes.

The routes see an `httpx.AsyncClient`: its API, its timeouts, its exceptions. Underneath,
the transport is httpx-aiohttp's `AiohttpTransport`, chosen by measurement: httpx 0.28's
own pool (httpcore) slows down sharply with many concurrent connections (encode/httpx#3215),
and this transport answers 100 concurrent calls within 10 ms of aiohttp itself while keeping
the httpx API (the figures: docs/concurrency.md, "Outbound HTTP"). What changes with aiohttp
underneath, handled here:
- `limits` go on the transport: given a transport, httpx ignores the client's own limits.
  aiohttp has a connection limit and a keep-alive expiry, but no keep-alive count.
- timeouts still come from `httpx.Timeout` on the client, per request: connect -> aiohttp
  sock_connect, read -> sock_read, pool -> aiohttp's connect (waiting for a pooled
  connection plus opening it). aiohttp has no write timeout.
- httpx-aiohttp 0.2.0 reports a refused connection as `ConnectTimeout` (it maps aiohttp's
  base ClientConnectionError first); `UpstreamTransport` restores httpx's own exceptions,
  so "refused" stays a 502 and only real timeouts become 504s.
"""

from dataclasses import dataclass

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from ..settings import Settings


@dataclass(frozen=True, slots=True)
class Upstream:
    """The upstream's address and the one client every call to it shares."""

    url: str
    client: httpx.AsyncClient


class UpstreamTransport(AiohttpTransport):
    """AiohttpTransport raising what httpx's own transport would raise."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as mapped:
            cause = mapped.__cause__
            if cause is None or isinstance(cause, aiohttp.ServerTimeoutError):
                raise  # a real timeout: connecting, or waiting for a pooled connection
            if isinstance(cause, aiohttp.ServerDisconnectedError):
                raise httpx.RemoteProtocolError(str(cause), request=request) from cause
            raise httpx.ConnectError(str(cause), request=request) from cause


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    """Blocking (the SSL context reads the CA bundle from disk): the lifespan runs it in a
    thread. No connection opens here; aiohttp's session starts with the first request."""
    limits = httpx.Limits(
        max_connections=settings.http_max_connections,
        keepalive_expiry=settings.http_keepalive_expiry,
    )
    return httpx.AsyncClient(
        transport=UpstreamTransport(limits=limits),
        timeout=httpx.Timeout(
            connect=settings.http_connect_timeout,
            read=settings.http_read_timeout,
            write=None,  # aiohttp has none
            pool=settings.http_pool_timeout,
        ),
    )
