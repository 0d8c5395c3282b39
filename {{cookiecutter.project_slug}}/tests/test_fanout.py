"""GET /async/upstream/fanout against the real stub: overlap, one pooled client, real limits
and timeouts, and a JSON 502/504 for every way the upstream can fail.

The stub runs under uvicorn on a free local port and counts the requests inside it, so
overlap is counted where the calls land, not inferred from time.
"""

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .harness import running_app
from .proofs import Heartbeat, burst, timed
from .stub import Stub, running_stub

DELAY = 0.3
StartService = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    with running_stub() as served:
        yield served


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
        response, seconds = await timed(
            lambda: service.get(f"/async/upstream/fanout?n={n}&delay={DELAY}")
        )
    assert response.status_code == 200
    fanout = response.json()
    assert fanout["n"] == n
    assert [call["body"] for call in fanout["results"]] == [{"delay": DELAY}] * n
    assert all(call["status"] == 200 for call in fanout["results"])
    # All n calls were inside the stub at once...
    assert fresh_stub.in_flight.peak == n
    # ...so the whole fan-out took about one delay, not n of them (3 s).
    assert DELAY * 0.9 <= fanout["seconds"] <= seconds < n * DELAY / 2
    # Awaiting the calls took no thread and never held up the loop.
    assert heartbeat.peak_tokens_in_use == 0
    assert heartbeat.max_gap < DELAY / 2


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
    assert result.seconds < fanouts * DELAY / 2


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


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_an_upstream_that_refuses_connections_is_a_502(
    service_with: StartService,
) -> None:
    async with service_with(upstream_url=f"http://127.0.0.1:{unused_port()}") as client:
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
