"""The lesson for streaming responses: Starlette advances a sync iterator in a worker thread,
one thread hop (and one thread token) per chunk, and an async generator on the loop.

Each chunk is a line naming the thread that produced it. The wrong version (blocking inside
an async generator) is in antipatterns.py.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from .waiting import current_thread

router = APIRouter(prefix="/lesson/stream", tags=["lesson"])

# Bounded so one stream lasts at most 5 s: 10 chunks of at most 0.5 s.
Chunks = Annotated[int, Query(ge=1, le=10, description="chunks to send, 1 to 10")]
ChunkDelay = Annotated[float, Query(ge=0, le=0.5, description="seconds before each chunk")]

STREAMED: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {}}, "description": "one line per chunk"}
}


def blocking_chunks(chunks: int, delay: float) -> Iterator[str]:
    # A sync iterator (a file, a sync driver's cursor): Starlette calls next() in a worker
    # thread for every chunk, so the blocking wait never touches the loop.
    for _ in range(chunks):
        time.sleep(delay)
        yield f"{current_thread()}\n"


async def awaiting_chunks(chunks: int, delay: float) -> AsyncIterator[str]:
    # An async generator runs on the loop: every wait between chunks must be awaited.
    for _ in range(chunks):
        await asyncio.sleep(delay)
        yield f"{current_thread()}\n"


@router.get("/sync", response_class=StreamingResponse, responses=STREAMED)
async def stream_sync(chunks: Chunks, delay: ChunkDelay) -> StreamingResponse:
    """A sync iterator streamed: each chunk in a worker thread."""
    return StreamingResponse(blocking_chunks(chunks, delay), media_type="text/plain")


@router.get("/async", response_class=StreamingResponse, responses=STREAMED)
async def stream_async(chunks: Chunks, delay: ChunkDelay) -> StreamingResponse:
    """An async generator streamed: each chunk on the loop."""
    return StreamingResponse(awaiting_chunks(chunks, delay), media_type="text/plain")
