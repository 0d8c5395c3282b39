"""GET /async/upstream/fanout against the real stub: overlap, one pooled client, real limits
and timeouts, and a JSON 502/504 for every way the upstream can fail.

The stub runs under uvicorn on a free local port and counts the requests inside it, so
overlap is counted where the calls land, not inferred from time.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import free_port, running_app
from ..support.proofs import Heartbeat, burst, timed
from .stub import Stub

DELAY = 0.3
StartService = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def fresh_stub(stub: Stub) -> Stub:
    return await stub.settled()


@pytest.fixture
def service_with(database_url: str, make_settings: Callable[..., Settings]) -> StartService:
    """An app of its own for a test that needs other client settings (cheap to start)."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = make_settings(database_url=database_url, **overrides)
        async with running_app(settings) as client:
            yield client

    return start


@pytest.fixture(scope="module")
async def service(
    stub: Stub, database_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url=database_url, upstream_url=stub.url)
    async with running_app(settings) as client:
        yield client


async def test_fanout_calls_overlap_at_the_stub_and_return_every_result(
    service: httpx.AsyncClient, fresh_stub: Stub
) -> None:
    n = 10
    async with Heartbeat() as heartbeat:
        response = await service.get(f"/async/upstream/fanout?n={n}&delay={DELAY}")
    assert response.status_code == 200
    fanout = response.json()
    assert fanout["n"] == n
    assert [call["body"] for call in fanout["results"]] == [{"delay": DELAY, "headers": {}}] * n
    assert all(call["status"] == 200 for call in fanout["results"])
    # All n calls were inside the stub at once (one after another, it would be 1)...
    assert fresh_stub.in_flight.peak == n
    assert fanout["seconds"] >= DELAY * 0.9
    # ...and awaiting them took no thread.
    assert heartbeat.peak_tokens_in_use == 0


async def test_one_shared_client_reuses_its_connections_across_requests(
    service_with: StartService, fresh_stub: Stub
) -> None:
    n, requests = 4, 6
    async with service_with(upstream_url=fresh_stub.url) as client:
        for _ in range(requests):
            response = await client.get(f"/async/upstream/fanout?n={n}&delay=0")
            assert response.status_code == 200
    assert fresh_stub.traffic.requests == n * requests
    # A client per request would have opened n new connections each time (24). The one
    # shared client keeps its pool from request to request.
    assert len(fresh_stub.traffic.connections) <= n


async def test_concurrent_fanouts_share_the_pool_and_all_overlap(
    service: httpx.AsyncClient, fresh_stub: Stub
) -> None:
    fanouts, n = 5, 4
    result = await burst(service, [f"/async/upstream/fanout?n={n}&delay={DELAY}"] * fanouts)
    assert result.statuses == [200] * fanouts
    assert fresh_stub.in_flight.peak == fanouts * n


async def test_the_call_beyond_the_pool_limit_waits_for_a_connection(
    service_with: StartService, fresh_stub: Stub
) -> None:
    limit = 4
    async with service_with(upstream_url=fresh_stub.url, http_max_connections=limit) as client:
        response = await client.get(f"/async/upstream/fanout?n={limit + 1}&delay={DELAY}")
    assert response.status_code == 200
    # Never more than `limit` calls at the stub: the transport enforces the limit...
    assert fresh_stub.in_flight.peak == limit
    # ...so the fifth call started only when one of the first four had finished.
    assert response.json()["seconds"] >= 2 * DELAY * 0.9


async def test_a_call_that_waits_longer_than_the_pool_timeout_is_a_504(
    service_with: StartService, fresh_stub: Stub
) -> None:
    slow, pool_timeout = 1.0, 0.3
    async with service_with(
        upstream_url=fresh_stub.url, http_max_connections=2, http_pool_timeout=pool_timeout
    ) as client:
        response, seconds = await timed(
            lambda: client.get(f"/async/upstream/fanout?n=3&delay={slow}")
        )
    assert response.status_code == 504
    assert "in time" in response.json()["detail"]
    # It gave up at the pool timeout, long before the other calls would have freed a
    # connection.
    assert pool_timeout * 0.9 <= seconds < slow


async def test_an_upstream_slower_than_the_read_timeout_is_a_504(
    service_with: StartService, fresh_stub: Stub
) -> None:
    slow, read_timeout = 1.0, 0.3
    async with service_with(upstream_url=fresh_stub.url, http_read_timeout=read_timeout) as client:
        response, seconds = await timed(
            lambda: client.get(f"/async/upstream/fanout?n=3&delay={slow}")
        )
    assert response.status_code == 504
    assert response.json() == {"detail": "upstream did not answer in time (ReadTimeout)"}
    assert read_timeout * 0.9 <= seconds < slow


async def test_an_upstream_that_refuses_connections_is_a_502(
    service_with: StartService,
) -> None:
    async with service_with(upstream_url=f"http://127.0.0.1:{free_port()}") as client:
        response = await client.get("/async/upstream/fanout?n=3&delay=0")
    assert response.status_code == 502
    assert response.json() == {"detail": "upstream unreachable (ConnectError)"}


async def test_an_upstream_that_hangs_up_is_a_502(service_with: StartService) -> None:
    def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, service_with(upstream_url=f"http://127.0.0.1:{port}") as client:
        response = await client.get("/async/upstream/fanout?n=2&delay=0")
    assert response.status_code == 502
    assert response.json()["detail"].startswith("upstream unreachable")


async def test_an_upstream_error_status_is_a_502(
    service_with: StartService, fresh_stub: Stub
) -> None:
    # The stub has no /missing/delay/... route: it answers 404.
    async with service_with(upstream_url=f"{fresh_stub.url}/missing") as client:
        response = await client.get("/async/upstream/fanout?n=2&delay=0")
    assert response.status_code == 502
    assert response.json() == {"detail": "upstream answered 404"}


@pytest.mark.parametrize(
    "query",
    [
        "n=0&delay=0",
        "n=51&delay=0",
        "n=ten&delay=0",
        "n=2.5&delay=0",
        "delay=0",
        "n=2&delay=-0.1",
        "n=2&delay=5.01",
        "n=2&delay=nan",
        "n=2&delay=inf",
    ],
)
async def test_out_of_range_fanout_parameters_are_refused_with_422(
    service: httpx.AsyncClient, fresh_stub: Stub, query: str
) -> None:
    assert (await service.get(f"/async/upstream/fanout?{query}")).status_code == 422
    assert fresh_stub.traffic.requests == 0  # nothing was sent upstream


# How a connection ends when the service lets go of the call; a name, as in file_store.py.
LET_GO = (ConnectionError, asyncio.IncompleteReadError)


class HostileUpstream:
    """A real HTTP server on 127.0.0.1 that answers every request with its headers and then
    a body that never ends: trickled (one byte every `interval`, a new read before any read
    timeout) or flooded (as fast as the socket takes it). It counts the connections still
    open and the bytes it sent, so a test sees the service let go of every call."""

    def __init__(self, *, trickle: bool, interval: float = 0.2) -> None:
        self.trickle = trickle
        self.interval = interval
        self.open_connections = 0
        self.connections = 0
        self.bytes_sent = 0
        self.url = ""
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> "HostileUpstream":
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        # Calls a broken service never let go of (Server.close_clients() is 3.13+).
        for handler in self._handlers:
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_connections += 1
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            await reader.readuntil(b"\r\n\r\n")
            if self.trickle:
                head = b"Content-Length: 1000000\r\n"
            else:
                head = b"Transfer-Encoding: chunked\r\n"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + head + b"\r\n")
            await writer.drain()
            chunk = b"1\r\n \r\n" if not self.trickle else b" "
            flood = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
            while True:
                writer.write(chunk if self.trickle else flood)
                await writer.drain()
                self.bytes_sent += 1 if self.trickle else 0x4000
                if self.trickle:
                    await asyncio.sleep(self.interval)
        except LET_GO:
            pass  # the service let go of the call
        finally:
            self.open_connections -= 1
            self._handlers.discard(handler)
            writer.close()

    async def all_released(self, patience: float = 5) -> bool:
        async with asyncio.timeout(patience):
            # Counted on this loop, but by the server's handlers: poll rather than wire an
            # event through them.
            while self.open_connections:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        return True


# Today's code held a trickled fan-out ~90 s, until the client gave up; a hang here is
# bounded by this, so the test fails instead of waiting for ever.
PATIENCE = 15


async def test_a_trickling_upstream_is_cut_off_at_the_call_timeout_with_a_504(
    service_with: StartService,
) -> None:
    # Every read gets a byte well inside HTTP_READ_TIMEOUT, so only a deadline on the whole
    # call can end it.
    call_timeout, n = 1.0, 3
    async with (
        HostileUpstream(trickle=True, interval=0.2) as upstream,
        service_with(
            upstream_url=upstream.url, http_read_timeout=0.5, http_call_timeout=call_timeout
        ) as client,
    ):
        async with asyncio.timeout(PATIENCE):
            response, seconds = await timed(
                lambda: client.get(f"/async/upstream/fanout?n={n}&delay=0")
            )
        assert response.status_code == 504
        assert "HTTP_CALL_TIMEOUT" in response.json()["detail"]
        assert upstream.connections == n
        assert upstream.bytes_sent >= n  # the body did start to trickle in
        # Every call was let go: no connection to the upstream is left open.
        assert await upstream.all_released()
    assert seconds >= call_timeout * 0.9


async def test_the_whole_fanout_is_cut_off_at_the_fanout_timeout_with_a_504(
    service_with: StartService,
) -> None:
    fanout_timeout, n = 1.0, 4
    async with (
        HostileUpstream(trickle=True, interval=0.2) as upstream,
        service_with(
            upstream_url=upstream.url,
            http_read_timeout=0.5,
            http_call_timeout=PATIENCE * 2,
            http_fanout_timeout=fanout_timeout,
        ) as client,
    ):
        async with asyncio.timeout(PATIENCE):
            response, seconds = await timed(
                lambda: client.get(f"/async/upstream/fanout?n={n}&delay=0")
            )
        assert response.status_code == 504
        assert "HTTP_FANOUT_TIMEOUT" in response.json()["detail"]
        assert upstream.connections == n
        # All the siblings were cancelled with it.
        assert await upstream.all_released()
    assert seconds >= fanout_timeout * 0.9


async def test_an_endless_upstream_body_is_cut_off_at_the_size_cap_with_a_502(
    service_with: StartService,
) -> None:
    cap = 256 * 1024
    async with (
        HostileUpstream(trickle=False) as upstream,
        service_with(upstream_url=upstream.url, http_response_max_bytes=cap) as client,
    ):
        async with asyncio.timeout(PATIENCE):
            response = await client.get("/async/upstream/fanout?n=2&delay=0")
        assert response.status_code == 502
        assert response.json() == {"detail": f"upstream answer larger than {cap} bytes"}
        assert await upstream.all_released()
    # The service stopped reading soon after the cap: what the server managed to send is
    # the cap plus what the sockets' buffers hold (a few MiB on loopback), not more.
    assert upstream.bytes_sent < 2 * (cap + 16 * 1024 * 1024)


async def test_a_declared_oversize_upstream_body_is_refused_before_it_is_read(
    service_with: StartService, fresh_stub: Stub
) -> None:
    # The stub's JSON is a few bytes more than this cap; its Content-Length says so.
    async with service_with(upstream_url=fresh_stub.url, http_response_max_bytes=4) as client:
        response = await client.get("/async/upstream/fanout?n=2&delay=0")
    assert response.status_code == 502
    assert response.json() == {"detail": "upstream answer larger than 4 bytes"}
