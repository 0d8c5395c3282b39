"""Blocking file I/O where it belongs: plain `def` routes over `open()` under FILES_DIR.

FastAPI runs each of these in a worker thread (one of ANYIO_THREAD_TOKENS), so a slow disk
or a large file holds a thread, never the event loop. The two places where the network and
the disk meet are spelled out at the routes: the upload pulls the body from the loop chunk
by chunk, the download hands Starlette an open file to read chunk by chunk in threads.
Neither ever holds a whole file in memory.
"""

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import StreamingResponse

from ..dependencies import SettingsDep
from ..errors import BadContentLength, UploadTooLarge
from ..file_store import NAME_MAX_LENGTH, NAME_PATTERN, FileStore, StoredFile, read_chunks

router = APIRouter(prefix="/sync/files", tags=["files"])

FileName = Annotated[
    str,
    Path(
        pattern=NAME_PATTERN,
        max_length=NAME_MAX_LENGTH,
        description="letters, digits, '.', '-', '_'; not starting with '.'; up to 128",
    ),
]


async def get_file_store(settings: SettingsDep) -> FileStore:
    # `async def`: building a small object needs no thread.
    return FileStore(settings.files_dir, settings.upload_max_bytes)


Files = Annotated[FileStore, Depends(get_file_store)]

Responses = dict[int | str, dict[str, Any]]
REFUSED: Responses = {status.HTTP_400_BAD_REQUEST: {"description": "the name is a symlink"}}
MISSING: Responses = {status.HTTP_404_NOT_FOUND: {"description": "no such file"}}


async def refuse_declared_oversize(request: Request, settings: SettingsDep) -> None:
    """413 before a byte of the body is read, when Content-Length already says too much.

    `async def`, on the loop: reading a header needs no thread, so an oversize upload is
    turned away without taking a thread token. A body without Content-Length (chunked) is
    counted while it is written instead.
    """
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not (declared.isascii() and declared.isdigit()):
        raise BadContentLength("Content-Length must be a number of bytes")
    if len(declared) > 18 or int(declared) > settings.upload_max_bytes:
        raise UploadTooLarge(f"uploads are limited to {settings.upload_max_bytes} bytes")


async def _next_chunk(stream: AsyncIterator[bytes]) -> bytes | None:
    return await anext(stream, None)


@contextlib.contextmanager
def request_body(request: Request) -> Iterator[Iterator[bytes]]:
    """The request body as it arrives, for a `def` route: each chunk is awaited on the loop
    (anyio.from_thread.run) and handed to the worker thread. Nothing is buffered; leaving
    early closes the stream, so the rest of the body is never read."""
    stream = request.stream()

    def chunks() -> Iterator[bytes]:
        while (chunk := anyio.from_thread.run(_next_chunk, stream)) is not None:
            if chunk:
                yield chunk

    try:
        yield chunks()
    finally:
        anyio.from_thread.run(stream.aclose)


@router.get("")
def list_files(files: Files) -> list[StoredFile]:
    # `def`: scandir and stat block; a worker thread waits for the disk, the loop does not.
    return files.list_files()


@router.get(
    "/{name}",
    response_class=StreamingResponse,
    responses={
        status.HTTP_200_OK: {"content": {"application/octet-stream": {}}},
        **REFUSED,
        **MISSING,
    },
)
def download_file(name: FileName, files: Files) -> StreamingResponse:
    # `def`: open() and fstat block. The file is opened here, in the worker thread, so the
    # download streams this version even if a PUT replaces it or a DELETE removes it
    # meanwhile. Starlette reads the sync iterator one 64 KiB chunk per worker-thread hop,
    # as FileResponse's anyio file would; the whole file is never in memory.
    file, size = files.open_for_reading(name)
    return StreamingResponse(
        read_chunks(file),
        media_type="application/octet-stream",
        headers={
            "content-length": str(size),
            "content-disposition": f'attachment; filename="{name}"',
            # Stored bytes are never rendered as a page, whatever they contain.
            "x-content-type-options": "nosniff",
        },
    )


@router.put(
    "/{name}",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(refuse_declared_oversize)],
    responses={
        status.HTTP_200_OK: {"model": StoredFile, "description": "replaced"},
        **REFUSED,
        status.HTTP_409_CONFLICT: {"description": "a directory has that name"},
        status.HTTP_413_CONTENT_TOO_LARGE: {"description": "over UPLOAD_MAX_BYTES"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
def upload_file(name: FileName, request: Request, files: Files, response: Response) -> StoredFile:
    # `def`: every write blocks, so the whole route runs in a worker thread. The body is
    # not a `bytes` parameter (FastAPI would read all of it into memory first): the route
    # pulls it from the loop chunk by chunk, counting, into a temporary file renamed into
    # place when complete. Past UPLOAD_MAX_BYTES it stops reading: 413, nothing left.
    with request_body(request) as chunks:
        stored, created = files.write(name, chunks)
    if not created:
        response.status_code = status.HTTP_200_OK
    return stored


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses={**REFUSED, **MISSING})
def delete_file(name: FileName, files: Files) -> None:
    # `def`: unlink blocks (briefly, but on a network disk not briefly at all).
    files.delete(name)
