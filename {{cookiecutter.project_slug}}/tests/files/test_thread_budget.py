"""The thread budget against slow clients: more slow uploaders, or slow downloaders, than
thread tokens, and the `def` routes still answer, because a transfer waiting for the network
holds no token.

Uploads come from an in-process client whose body is an async generator: the app's
`receive()` really waits for it (httpx's ASGITransport pulls the body lazily), exactly as
it waits for a slow socket under uvicorn. Downloads are driven at the ASGI level with a
`send()` that waits, as uvicorn's does when the client's socket stops draining (httpx's
ASGITransport would buffer the whole answer instead).
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio.to_thread
import pytest
from starlette.types import Message

from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import request_scope, running_app, started_app

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
            # ...so a `def` route (the listing, scandir in a worker thread) answers at once.
            async with asyncio.timeout(PATIENCE):
                listing = await client.get("/sync/files")
            assert listing.status_code == 200
        finally:
            quiet.set()
    assert [upload.result().status_code for upload in uploads] == [201] * uploaders
    stored = await asyncio.to_thread(lambda: sorted(p.read_bytes() for p in tmp_path.iterdir()))
    assert stored == [b"first chunk and the rest"] * uploaders


@pytest.mark.asyncio(loop_scope="function")  # the thread settings differ from the session's
async def test_slow_downloaders_beyond_the_thread_tokens_leave_the_def_routes_answering(
    tmp_path: Path, database_url: str, make_settings: Callable[..., Settings]
) -> None:
    downloaders = 3 * TOKENS
    await asyncio.to_thread((tmp_path / "big.bin").write_bytes, bytes(1024 * 1024))
    settings = make_settings(
        database_url=database_url, files_dir=tmp_path, anyio_thread_tokens=TOKENS
    )
    first_chunk_sent = 0
    reading = asyncio.Event()  # the clients take nothing more until this is set

    async def receive() -> Message:
        await asyncio.Event().wait()  # the client never hangs up
        raise AssertionError

    async def slow_client_send(message: Message) -> None:
        # The socket of a client that stopped reading: the send waits.
        nonlocal first_chunk_sent
        if message["type"] == "http.response.body" and message.get("body"):
            first_chunk_sent += 1
            await reading.wait()

    async with started_app(settings) as (app, client), asyncio.TaskGroup() as group:
        scope = request_scope("GET", "/sync/files/big.bin")

        async def download() -> None:
            await app(dict(scope), receive, slow_client_send)

        for _ in range(downloaders):
            group.create_task(download())
        try:
            async with asyncio.timeout(PATIENCE):
                while first_chunk_sent < downloaders:  # noqa: ASYNC110 (counted in the app)
                    await asyncio.sleep(0.01)
            limiter = anyio.to_thread.current_default_thread_limiter()
            assert limiter.borrowed_tokens == 0
            async with asyncio.timeout(PATIENCE):
                listing = await client.get("/sync/files")
            assert listing.status_code == 200
        finally:
            reading.set()
