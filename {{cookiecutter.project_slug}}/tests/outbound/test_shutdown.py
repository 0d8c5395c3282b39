"""SIGTERM while a fan-out waits on the upstream: it completes within the grace."""

import asyncio
import signal
import time
from pathlib import Path

import httpx

from ..support.processes import CLOSE_MARGIN, serving, until_refused


async def test_sigterm_completes_a_fanout_in_flight_within_the_grace(
    service_database: str, tmp_path: Path
) -> None:
    grace = 8.0
    # No UPSTREAM_URL: the service serves its own stub (development), which stops only after
    # every request has been answered.
    async with serving(service_database, tmp_path, grace) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            task = asyncio.create_task(client.get("/async/upstream/fanout?n=5&delay=2"))
            await server.until_in_progress(client, 1)
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            await until_refused(server.port, patience=grace)
            response = await task
        await server.exited()
        exit_seconds = time.monotonic() - signalled
    assert response.status_code == 200, server.log
    assert len(response.json()["results"]) == 5
    assert server.process.returncode == -signal.SIGTERM, server.log
    assert exit_seconds < grace + CLOSE_MARGIN
    assert "Traceback" not in server.log, server.log
