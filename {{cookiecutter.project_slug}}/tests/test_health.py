import asyncio
import time
from collections.abc import Callable

import httpx

from {{ cookiecutter.package_name }}.settings import DRIVERS, Settings

from .support.harness import running_app


async def test_liveness_probe_answers_without_touching_anything(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_probe_checks_every_driver(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": dict.fromkeys(DRIVERS, "ok")}


async def ready_again(client: httpx.AsyncClient, within: float) -> httpx.Response:
    """Probe /readyz as an orchestrator does, repeatedly, until ready or out of time.

    A probe can still meet a connection broken during the outage (asyncpg's pool replaces it
    on release), so the claim is: ready again within seconds, with no restart.
    """
    deadline = time.monotonic() + within
    while True:
        response = await client.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.1)


async def test_readiness_fails_while_database_is_down_and_recovers_without_restart(
    make_database: Callable[[], str],
    make_settings: Callable[..., Settings],
    refuse_connections: Callable[[str, bool], None],
) -> None:
    url = await asyncio.to_thread(make_database)
    async with running_app(make_settings(database_url=url)) as client:
        assert (await client.get("/readyz")).status_code == 200

        await asyncio.to_thread(refuse_connections, url, True)
        down = await client.get("/readyz")
        # The process stays alive: liveness must not follow the database down.
        alive = await client.get("/healthz")

        await asyncio.to_thread(refuse_connections, url, False)
        back = await ready_again(client, within=10)

    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "unavailable"
    assert set(body["checks"]) == set(DRIVERS)
    assert all(check.startswith("unavailable") for check in body["checks"].values()), body
    assert alive.status_code == 200
    assert back.status_code == 200, back.json()
    assert back.json()["status"] == "ready"
