"""/sync/files: blocking file I/O in `def` routes, hostile names, size limits, streaming.

FILES_DIR lives in a sandbox next to an `outside/` folder with a secret in it. Every hostile
request is checked against a snapshot of the whole sandbox: refused with a 4xx, and not a
byte, a name or a timestamp changed, outside FILES_DIR or inside it.
"""

import asyncio
import hashlib
import os
import secrets
import shutil
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from blockbuster import BlockingError
from fastapi import FastAPI, Response
from starlette.types import ASGIApp, Message

from {{ cookiecutter.package_name }}.files.store import CHUNK_SIZE, FileStore, read_chunks
from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import request_scope, running_app, started_app
from ..support.proofs import Heartbeat, burst

LIMIT = 16 * 1024 * 1024
DELAY = 0.3  # the loop's heartbeat must stay far below this


@dataclass
class FileService:
    client: httpx.AsyncClient
    app: ASGIApp  # for requests httpx would normalise (a literal "..") and raw streaming
    sandbox: Path
    files_dir: Path


def make_sandbox(sandbox: Path) -> Path:
    files_dir = sandbox / "files"
    files_dir.mkdir()
    (sandbox / "outside").mkdir()
    (sandbox / "outside" / "secret.txt").write_bytes(b"must never be read or written")
    return files_dir


@pytest.fixture(scope="module")
async def service(
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str,
    make_settings: Callable[..., Settings],
) -> AsyncIterator[FileService]:
    sandbox = tmp_path_factory.mktemp("sandbox")
    files_dir = await asyncio.to_thread(make_sandbox, sandbox)
    settings = make_settings(database_url=database_url, files_dir=files_dir, upload_max_bytes=LIMIT)
    async with started_app(settings) as (app, client):
        yield FileService(client, app, sandbox, files_dir)


def empty(directory: Path) -> None:
    shutil.rmtree(directory)
    directory.mkdir()


@pytest.fixture
async def files(service: FileService) -> FileService:
    await asyncio.to_thread(empty, service.files_dir)
    return service


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under `root`: kind, size, content hash and mtime, or a link's target."""
    seen = {}
    for folder, directories, names in os.walk(root):
        for name in directories + names:
            path = Path(folder) / name
            info = path.lstat()
            if path.is_symlink():
                seen[str(path)] = f"link to {os.readlink(path)}"
            elif path.is_dir():
                seen[str(path)] = "directory"
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                seen[str(path)] = f"{info.st_size} {digest} {info.st_mtime_ns}"
    return seen


async def raw_request(
    app: ASGIApp,
    method: str,
    raw_path: bytes,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, bytes]:
    """One request exactly as uvicorn would pass it on: the path percent-decoded, nothing
    normalised (httpx would resolve a literal '..' before sending)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode("ascii")),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"service.test"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("service.test", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0
    answer = bytearray()

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            answer.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, bytes(answer)


# ---- what the routes do ------------------------------------------------------------------


async def test_files_round_trip_byte_for_byte_and_a_second_put_replaces(
    files: FileService,
) -> None:
    first = secrets.token_bytes(3 * 1024 * 1024 + 17)  # not a whole number of chunks
    created = await files.client.put("/sync/files/data.bin", content=first)
    assert created.status_code == 201
    assert created.json() == {"name": "data.bin", "size": len(first)}

    download = await files.client.get("/sync/files/data.bin")
    assert download.status_code == 200
    assert download.content == first
    assert download.headers["content-length"] == str(len(first))
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["x-content-type-options"] == "nosniff"

    second = b"shorter"
    replaced = await files.client.put("/sync/files/data.bin", content=second)
    assert replaced.status_code == 200
    assert (await files.client.get("/sync/files/data.bin")).content == second
    on_disk = await asyncio.to_thread((files.files_dir / "data.bin").read_bytes)
    assert on_disk == second


async def test_an_empty_upload_makes_an_empty_file(files: FileService) -> None:
    assert (await files.client.put("/sync/files/empty", content=b"")).status_code == 201
    download = await files.client.get("/sync/files/empty")
    assert (download.status_code, download.content) == (200, b"")


def add_clutter(files_dir: Path) -> None:
    (files_dir / ".hidden").write_bytes(b"not listed")
    (files_dir / ".upload-abandoned").write_bytes(b"an upload in progress")
    (files_dir / "folder").mkdir()


async def test_the_list_shows_plain_files_by_name_and_hides_everything_else(
    files: FileService,
) -> None:
    await asyncio.to_thread(add_clutter, files.files_dir)
    for name, content in [("b.txt", b"bb"), ("a.txt", b"a"), ("C-3.log", b"ccc")]:
        assert (await files.client.put(f"/sync/files/{name}", content=content)).is_success
    listing = await files.client.get("/sync/files")
    assert listing.status_code == 200
    assert listing.json() == [
        {"name": "C-3.log", "size": 3},
        {"name": "a.txt", "size": 1},
        {"name": "b.txt", "size": 2},
    ]


async def test_the_list_of_a_files_dir_not_yet_created_is_empty(
    tmp_path: Path, database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=database_url, files_dir=tmp_path / "not-yet")
    async with running_app(settings) as client:
        assert (await client.get("/sync/files")).json() == []
        assert (await client.put("/sync/files/first", content=b"1")).status_code == 201
    assert await asyncio.to_thread((tmp_path / "not-yet" / "first").read_bytes) == b"1"


async def test_delete_removes_the_file_and_a_second_delete_is_a_404(files: FileService) -> None:
    await files.client.put("/sync/files/gone.txt", content=b"soon gone")
    assert (await files.client.delete("/sync/files/gone.txt")).status_code == 204
    assert (await files.client.get("/sync/files/gone.txt")).status_code == 404
    again = await files.client.delete("/sync/files/gone.txt")
    assert again.status_code == 404
    assert again.json() == {"detail": "no file named 'gone.txt'"}
    assert (await files.client.get("/sync/files")).json() == []


async def test_a_directory_is_neither_served_nor_replaced_nor_deleted(
    files: FileService,
) -> None:
    await asyncio.to_thread((files.files_dir / "folder").mkdir)
    before = await asyncio.to_thread(snapshot, files.sandbox)
    assert (await files.client.get("/sync/files/folder")).status_code == 404
    assert (await files.client.put("/sync/files/folder", content=b"x")).status_code == 409
    assert (await files.client.delete("/sync/files/folder")).status_code == 404
    assert await asyncio.to_thread(snapshot, files.sandbox) == before


# ---- hostile names -----------------------------------------------------------------------

HOSTILE_NAMES = {
    "dot-dot": b"..",
    "dot": b".",
    "encoded-dot-dot": b"%2e%2e",
    "encoded-traversal": b"%2E%2E%2Foutside%2Fsecret.txt",
    "mixed-traversal": b"..%2F..%2Foutside%2Fsecret.txt",
    "literal-traversal": b"../outside/secret.txt",
    "double-encoded": b"%252e%252e%252foutside",
    "absolute": b"%2Fetc%2Fpasswd",
    "backslashes": b"..%5Coutside%5Csecret.txt",
    "nul": b"%00",
    "nul-suffix": b"notes.txt%00.png",
    "newline": b"line%0Abreak",
    "space": b"two%20words",
    "non-ascii": b"caf%C3%A9",
    "hidden": b".hidden",
    "temporary-upload": b".upload-abc123",
    "leading-dash": b"-rf",
    "one-too-long": b"x" * 129,
    "very-long": b"y" * 5000,
}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("raw_name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
async def test_hostile_names_are_refused_and_change_nothing(
    files: FileService, method: str, raw_name: bytes
) -> None:
    await asyncio.to_thread((files.files_dir / "keep.txt").write_bytes, b"keep")
    before = await asyncio.to_thread(snapshot, files.sandbox)
    status, _ = await raw_request(
        files.app, method, b"/sync/files/" + raw_name, body=b"overwritten!"
    )
    assert 400 <= status < 500
    assert await asyncio.to_thread(snapshot, files.sandbox) == before


def plant_links(files_dir: Path) -> None:
    (files_dir / "keep.txt").write_bytes(b"keep")
    (files_dir / "link-out").symlink_to(files_dir.parent / "outside" / "secret.txt")
    (files_dir / "link-in").symlink_to(files_dir / "keep.txt")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("name", ["link-out", "link-in"])
async def test_symlinks_inside_files_dir_are_refused_not_followed(
    files: FileService, method: str, name: str
) -> None:
    await asyncio.to_thread(plant_links, files.files_dir)
    before = await asyncio.to_thread(snapshot, files.sandbox)
    response = await files.client.request(method, f"/sync/files/{name}", content=b"evil")
    assert response.status_code == 400
    assert "link" in response.json()["detail"]
    assert await asyncio.to_thread(snapshot, files.sandbox) == before
    assert name not in [file["name"] for file in (await files.client.get("/sync/files")).json()]


# ---- sizes -------------------------------------------------------------------------------


async def test_a_declared_oversize_upload_is_refused_before_a_byte_is_read(
    files: FileService,
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(LIMIT // CHUNK_SIZE + 1):
            pulled += 1
            yield bytes(CHUNK_SIZE)

    before = await asyncio.to_thread(snapshot, files.sandbox)
    response = await files.client.put(
        "/sync/files/big.bin", content=body(), headers={"content-length": str(LIMIT + 1)}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": f"uploads are limited to {LIMIT} bytes"}
    assert pulled == 0
    assert await asyncio.to_thread(snapshot, files.sandbox) == before


async def test_an_undeclared_oversize_upload_stops_at_the_limit_and_leaves_nothing(
    files: FileService,
) -> None:
    await asyncio.to_thread((files.files_dir / "keep.txt").write_bytes, b"keep")
    chunk = bytes(CHUNK_SIZE)
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield chunk

    before = await asyncio.to_thread(snapshot, files.sandbox)
    # No Content-Length: the body is chunked, so only counting can stop it. Neither the new
    # name nor the existing file it would replace may change.
    for name in ("big.bin", "keep.txt"):
        response = await files.client.put(f"/sync/files/{name}", content=endless())
        assert response.status_code == 413
    assert await asyncio.to_thread(snapshot, files.sandbox) == before
    # It read one chunk past the limit, then stopped: the body was never read to its end.
    assert pulled <= 2 * (LIMIT // CHUNK_SIZE + 2)


async def test_an_upload_of_exactly_the_limit_is_accepted(files: FileService) -> None:
    response = await files.client.put("/sync/files/limit.bin", content=bytes(LIMIT))
    assert response.status_code == 201
    assert response.json()["size"] == LIMIT


@pytest.mark.parametrize("value", [b"12abc", b"-1", b"\xc2\xb2"])
async def test_a_malformed_content_length_is_a_400(files: FileService, value: bytes) -> None:
    before = await asyncio.to_thread(snapshot, files.sandbox)
    status, _ = await raw_request(
        files.app, "PUT", b"/sync/files/x.bin", body=b"x", headers=[(b"content-length", value)]
    )
    assert status == 400
    assert await asyncio.to_thread(snapshot, files.sandbox) == before


# ---- streaming, and the loop -------------------------------------------------------------


async def test_a_download_streams_in_chunks_without_loading_the_file(files: FileService) -> None:
    size = 8 * 1024 * 1024
    await asyncio.to_thread((files.files_dir / "big.bin").write_bytes, bytes(size))
    bodies: list[int] = []
    headers: dict[bytes, bytes] = {}

    async def receive() -> Message:
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers.update(message["headers"])
        elif message["type"] == "http.response.body":
            bodies.append(len(message.get("body", b"")))  # counted, then dropped

    peak = await peak_memory_while(
        files.app(request_scope("GET", "/sync/files/big.bin"), receive, send)
    )
    assert headers[b"content-length"] == str(size).encode()
    assert sum(bodies) == size
    # 64 KiB at a time, stated here (CHUNK_SIZE is what the proof checks, not its source).
    assert max(bodies) <= 64 * 1024
    assert peak < size / 4  # never the whole file in memory


async def test_an_upload_streams_to_disk_without_buffering_the_body(files: FileService) -> None:
    size = 8 * 1024 * 1024
    chunk = bytes(CHUNK_SIZE)
    remaining = size // CHUNK_SIZE
    answer: list[Message] = []

    async def receive() -> Message:
        nonlocal remaining
        remaining -= 1
        return {"type": "http.request", "body": chunk, "more_body": remaining > 0}

    async def send(message: Message) -> None:
        answer.append(message)

    peak = await peak_memory_while(
        files.app(request_scope("PUT", "/sync/files/upload.bin"), receive, send)
    )
    assert answer[0]["status"] == 201
    assert await asyncio.to_thread(lambda: (files.files_dir / "upload.bin").stat().st_size) == size
    assert peak < size / 4  # never the whole body in memory


async def peak_memory_while(work: Awaitable[None]) -> int:
    """The most memory Python allocated while `work` ran, in bytes."""
    tracemalloc.start()
    try:
        await work
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


async def test_large_file_transfers_in_def_routes_keep_the_loop_free(files: FileService) -> None:
    size = 32 * 1024 * 1024
    await asyncio.to_thread((files.files_dir / "large.bin").write_bytes, bytes(size))
    async with Heartbeat() as heartbeat, asyncio.TaskGroup() as group:
        download = group.create_task(files.client.get("/sync/files/large.bin"))
        upload = group.create_task(files.client.put("/sync/files/copy.bin", content=bytes(LIMIT)))
        health = await burst(files.client, ["/healthz"] * 20)
        # Answered while the download still streamed: the loop was free to serve them.
        answered_meanwhile = not download.done()
    assert download.result().status_code == 200
    assert len(download.result().content) == size
    assert upload.result().status_code == 201
    assert health.statuses == [200] * 20
    assert answered_meanwhile
    # The disk work ran in worker threads (thread tokens in use).
    assert heartbeat.peak_tokens_in_use >= 1


async def test_the_same_read_inside_async_def_is_caught_by_blockbuster(
    files: FileService,
) -> None:
    """Negative control: the download's own store calls, moved into an `async def` route."""
    await asyncio.to_thread((files.files_dir / "large.bin").write_bytes, bytes(1024 * 1024))
    store = FileStore(files.files_dir, LIMIT)
    wrong = FastAPI()

    @wrong.get("/files/{name}")
    async def download_on_the_loop(name: str) -> Response:
        file, _ = store.open_for_reading(name)  # blocking, on the loop
        return Response(b"".join(read_chunks(file)))

    transport = httpx.ASGITransport(app=wrong)
    async with httpx.AsyncClient(transport=transport, base_url="http://wrong.test") as client:
        with pytest.raises(BlockingError):
            await client.get("/files/large.bin")
