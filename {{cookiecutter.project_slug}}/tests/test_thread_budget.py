"""The thread budget against slow clients: more slow uploaders than thread tokens, and the
`def` routes still answer, because an upload waiting for the network holds no token.

Uploads come from an in-process client whose body is an async generator: the app's
`receive()` really waits for it (httpx's ASGITransport pulls the body lazily), exactly as
it waits for a slow socket under uvicorn.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio.to_thread
import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .harness import running_app

TOKENS = 4
# Generous bounds on things that take milliseconds when right; when wrong they never happen.
PATIENCE = 10


@pytest.mark.asyncio(loop_scope="function")  # the thread settings differ from the session's
async def test_slow_uploaders_beyond_the_thread_tokens_leave_the_def_routes_answering(
    tmp_path: Path, database_url: str, make_settings: Callable[..., Settings]
) -> None:
    uploaders = 3 * TOKENS
    settings = make_settings(
        database_url=database_url, files_dir=tmp_path, anyio_thread_tokens=TOKENS
    )
    first_chunk_taken = 0
    quiet = asyncio.Event()  # the clients stay silent until this is set

    async def slow_body() -> AsyncIterator[bytes]:
        nonlocal first_chunk_taken
        yield b"first chunk "
        first_chunk_taken += 1
        await quiet.wait()
        yield b"and the rest"

    async with running_app(settings) as client, asyncio.TaskGroup() as group:
        uploads = [
            group.create_task(client.put(f"/sync/files/slow-{i}.txt", content=slow_body()))
            for i in range(uploaders)
        ]
        try:
            try:
                async with asyncio.timeout(PATIENCE):
                    # Poll: the counter moves inside the app's tasks, no event to wait on.
                    while first_chunk_taken < uploaders:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
            except TimeoutError:
                pytest.fail(
                    f"only {first_chunk_taken} of {uploaders} uploads are being read: "
                    "the others wait for a thread token held by a silent client"
                )
            # Every upload is now waiting for its client, and none holds a thread token...
            limiter = anyio.to_thread.current_default_thread_limiter()
            assert limiter.borrowed_tokens == 0
            # ...so a `def` route (psycopg2 in a worker thread) answers at once.
            async with asyncio.timeout(PATIENCE):
                items = await client.get("/sync/items")
            assert items.status_code == 200
        finally:
            quiet.set()
    assert [upload.result().status_code for upload in uploads] == [201] * uploaders
    stored = await asyncio.to_thread(lambda: sorted(p.read_bytes() for p in tmp_path.iterdir()))
    assert stored == [b"first chunk and the rest"] * uploaders
