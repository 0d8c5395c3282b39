"""Deliberately wrong routes, mounted only when ENABLE_ANTIPATTERNS=true.

They exist to be measured: the tests show blockbuster catching each one, and what each does
to every other request when nothing catches it. Each blocks inside `async def`, where ruff's
ASYNC251 flags it (silenced here only because these routes exist to show the harm); the
right version of each is the route named in its comment.
"""

import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends
from fastapi.responses import StreamingResponse

from .background import Scheduled
from .cross_origin import READ_BY_THE_PAGE
from .dependencies import Opened
from .streaming import STREAMED, ChunkDelay, Chunks
from .waiting import Delay, Waited, current_thread

router = APIRouter(prefix="/lesson", tags=["anti-patterns"])


@router.get("/blocking", dependencies=[READ_BY_THE_PAGE])
async def lesson_blocking(delay: Delay) -> Waited:
    """THE ANTI-PATTERN: time.sleep in `async def` stops every request of this worker."""
    # WRONG on purpose: time.sleep inside `async def` stops the event loop, so every other
    # request of this worker, /healthz included, waits until it returns. Use
    # `await asyncio.sleep`, a `def` route, or `await asyncio.to_thread(...)`.
    started = time.monotonic()
    time.sleep(delay)  # noqa: ASYNC251
    return Waited(style="async def", waited=delay, thread=current_thread(), started=started)


async def open_blocking_connection_on_the_loop(delay: Delay) -> AsyncIterator[Opened]:
    # WRONG on purpose: a blocking connect and close in an `async def` dependency stall the
    # loop twice, the close after the response has gone. Right: /lesson/depends/sync.
    # stands for a blocking connect (psycopg2.connect, say):
    time.sleep(delay)  # noqa: ASYNC251
    yield Opened(dependency="async def", opened_in=current_thread())
    # and a blocking close:
    time.sleep(delay)  # noqa: ASYNC251


@router.get("/depends/blocking")
async def depends_blocking(
    opened: Annotated[Opened, Depends(open_blocking_connection_on_the_loop)],
) -> Opened:
    """Anti-pattern: an `async def` dependency that blocks, at setup and at teardown."""
    return opened.model_copy(update={"route_ran_in": current_thread()})


async def send_receipt_on_the_loop(delay: float) -> None:
    # WRONG on purpose: the client already has its answer, so its own timer sees nothing;
    # every later request of this worker waits. Right: /lesson/background/sync.
    # stands for a blocking send (smtplib, say):
    time.sleep(delay)  # noqa: ASYNC251


@router.get("/background/blocking")
async def background_blocking(delay: Delay, tasks: BackgroundTasks) -> Scheduled:
    """Anti-pattern: an `async def` background task that blocks the loop after the answer."""
    tasks.add_task(send_receipt_on_the_loop, delay)
    return Scheduled(task="async def", runs_for=delay)


async def blocking_chunks_on_the_loop(chunks: int, delay: float) -> AsyncIterator[str]:
    # WRONG on purpose: an async generator runs on the loop, so this stalls it once per
    # chunk. Right: a sync iterator, /lesson/stream/sync.
    for _ in range(chunks):
        # stands for a blocking read of each chunk:
        time.sleep(delay)  # noqa: ASYNC251
        yield f"{current_thread()}\n"


@router.get("/stream/blocking", response_class=StreamingResponse, responses=STREAMED)
async def stream_blocking(chunks: Chunks, delay: ChunkDelay) -> StreamingResponse:
    """Anti-pattern: an async generator that blocks the loop at every chunk."""
    return StreamingResponse(blocking_chunks_on_the_loop(chunks, delay), media_type="text/plain")
