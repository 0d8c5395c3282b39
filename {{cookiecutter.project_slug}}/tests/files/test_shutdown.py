"""SIGTERM while uploads stream in: one that finishes within the grace is stored whole, one
cut at the grace leaves nothing behind (not even its temporary file)."""

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from ..support.processes import CLOSE_MARGIN, serving, until_refused


async def slow_body(chunks: int, pause: float) -> AsyncIterator[bytes]:
    for _ in range(chunks):
        yield b"x" * 16384
        await asyncio.sleep(pause)


def stored_files(files_dir: Path) -> list[str]:
    """Everything in FILES_DIR, a partial upload's temporary file included."""
    return sorted(path.name for path in files_dir.iterdir())


async def test_sigterm_completes_the_uploads_in_flight_and_stores_them_whole(
    service_database: str, files_dir: Path
) -> None:
    grace = 8.0
    environment = {"FILES_DIR": str(files_dir)}
    async with serving(service_database, files_dir.parent, grace, environment) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            # 8 chunks 0.25 s apart: the bodies are still arriving at the signal.
            tasks = [
                asyncio.create_task(
                    client.put(f"/sync/files/upload-{index}.bin", content=slow_body(8, 0.25))
                )
                for index in range(2)
            ]
            await server.until_in_progress(client, len(tasks))
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            await until_refused(server.port, patience=grace)
            statuses = [(await task).status_code for task in tasks]
        await server.exited()
        exit_seconds = time.monotonic() - signalled
    assert statuses == [201, 201], server.log
    assert server.process.returncode == -signal.SIGTERM, server.log
    assert exit_seconds < grace + CLOSE_MARGIN
    assert stored_files(files_dir) == ["upload-0.bin", "upload-1.bin"]
    assert "Traceback" not in server.log, server.log


async def test_an_upload_cut_at_a_sub_second_grace_leaves_nothing(
    service_database: str, files_dir: Path
) -> None:
    grace = 0.9
    environment = {"FILES_DIR": str(files_dir)}
    async with (
        serving(service_database, files_dir.parent, grace, environment) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as client,
    ):
        # 40 chunks 0.25 s apart: cut 1 s in, a partial file on disk.
        task = asyncio.create_task(client.put("/sync/files/cut.bin", content=slow_body(40, 0.25)))
        await server.until_in_progress(client, 1)
        server.process.send_signal(signal.SIGTERM)
        await server.exited()
        outcome = (await asyncio.gather(task, return_exceptions=True))[0]
    assert getattr(outcome, "status_code", None) != 201
    assert server.process.returncode == -signal.SIGTERM, server.log
    assert stored_files(files_dir) == []
