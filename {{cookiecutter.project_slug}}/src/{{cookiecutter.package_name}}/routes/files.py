"""Blocking file I/O where it belongs: in worker threads, over `open()` under FILES_DIR.

Listing and deleting are plain `def` routes: FastAPI runs each in a worker thread (one of
ANYIO_THREAD_TOKENS), so a slow disk holds a thread, never the event loop. Where the network
and the disk meet, no thread waits for the network: the upload is `async def` and hops to a
thread for each write only; the download opens the file in a `def` route and Starlette reads
it one chunk per thread hop, sending each on the loop. Neither ever holds a whole file in
memory.
"""

from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import StreamingResponse

from ..auth.tokens import REQUIRE_TOKEN, TOKEN_REFUSED
from ..dependencies import SettingsDep
from ..errors import BadContentLength, UploadTooLarge
from ..files.store import NAME_MAX_LENGTH, NAME_PATTERN, FileStore, StoredFile, read_chunks

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
    return FileStore(settings.files_dir, settings.upload_max_bytes, settings.files_min_free_bytes)


FileStoreDep = Annotated[FileStore, Depends(get_file_store)]

Responses = dict[int | str, dict[str, Any]]
REFUSED: Responses = {status.HTTP_400_BAD_REQUEST: {"description": "the name is a symlink"}}
MISSING: Responses = {status.HTTP_404_NOT_FOUND: {"description": "no such file"}}


async def refuse_declared_oversize(request: Request, settings: SettingsDep) -> int | None:
    """413 before a byte of the body is read, when Content-Length already says too much.

    `async def`, on the loop: reading a header needs no thread, so an oversize upload is
    turned away without taking a thread token. A body without Content-Length (chunked) is
    counted while it is written instead.
    """
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not (declared.isascii() and declared.isdigit()):
        raise BadContentLength("Content-Length must be a number of bytes")
    if len(declared) > 18 or int(declared) > settings.upload_max_bytes:
        raise UploadTooLarge(f"uploads are limited to {settings.upload_max_bytes} bytes")
    return int(declared)


DeclaredSizeDep = Annotated[int | None, Depends(refuse_declared_oversize)]


@router.get("")
def list_files(files: FileStoreDep) -> list[StoredFile]:
    """List the stored files."""
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
def download_file(name: FileName, files: FileStoreDep) -> StreamingResponse:
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
    responses={
        status.HTTP_200_OK: {"model": StoredFile, "description": "replaced"},
        **REFUSED,
        status.HTTP_409_CONFLICT: {"description": "a directory has that name"},
        status.HTTP_413_CONTENT_TOO_LARGE: {"description": "over UPLOAD_MAX_BYTES"},
        status.HTTP_507_INSUFFICIENT_STORAGE: {
            "description": "it would leave less than FILES_MIN_FREE_BYTES free"
        },
        **TOKEN_REFUSED,
    },
    # First of its dependencies: a client without a token learns nothing of the limits.
    dependencies=[REQUIRE_TOKEN],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def upload_file(
    name: FileName,
    request: Request,
    files: FileStoreDep,
    declared: DeclaredSizeDep,
    response: Response,
) -> StoredFile:
    # `async def`, and why: an upload spends most of its life waiting for the client's next
    # bytes, which is the loop's job and costs no thread. A `def` route would hold a thread
    # token for the whole upload, so ANYIO_THREAD_TOKENS slow clients would freeze every
    # `def` route. Here each blocking step (open, each write, fsync and rename) is one short
    # thread hop: a token is held only while the disk works. The steps stay plain blocking
    # code in files/store.py (counting, free-space margin, clean-up in one place) rather than
    # anyio's AsyncFile, which would make the same hop per write but scatter that logic.
    # The body is never a `bytes` parameter (FastAPI would read all of it into memory
    # first); past UPLOAD_MAX_BYTES it stops reading: 413, nothing left.
    upload = await anyio.to_thread.run_sync(files.start_upload, name, declared)
    try:
        async for chunk in request.stream():
            if chunk:
                await anyio.to_thread.run_sync(upload.write, chunk)
        stored, created = await anyio.to_thread.run_sync(upload.finish)
    except BaseException:
        # Also when the client hangs up (the request is cancelled): the clean-up must run.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(upload.discard)
        raise
    if not created:
        response.status_code = status.HTTP_200_OK
    return stored


@router.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**REFUSED, **MISSING, **TOKEN_REFUSED},
    dependencies=[REQUIRE_TOKEN],
)
def delete_file(name: FileName, files: FileStoreDep) -> None:
    """Delete a file."""
    # `def`: unlink blocks (briefly, but on a network disk not briefly at all).
    files.delete(name)
