"""The lesson, as routes: the same wait written each way.

Each route says why it is written the way it is; tests/lessons/test_waiting.py proves each
claim and docs/concurrency.md maps one to the other.
"""

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from .cross_origin import READ_BY_THE_PAGE

router = APIRouter(prefix="/lesson", tags=["lesson"])

# Bounded so that no request can hold a worker (or the loop, for the anti-pattern) for long.
MAX_DELAY = 5
Delay = Annotated[float, Query(ge=0, le=MAX_DELAY, description="seconds to wait, 0 to 5")]


def current_thread() -> str:
    # AnyIO names all its workers alike; the ident tells them apart.
    thread = threading.current_thread()
    return f"{thread.name} ({thread.ident})"


class Waited(BaseModel):
    style: Literal["async def", "def"]
    waited: float
    thread: str  # the thread that did the waiting
    # time.monotonic() when the wait began: one clock for every process of the machine (the
    # lesson page places the wait on its timeline with it, and with /lesson/status's `now`).
    started: float


@router.get("/async")
async def lesson_async() -> Waited:
    """`async def` with nothing to wait for: runs on the loop, no thread hop."""
    # No blocking work: `async def` runs on the loop with no thread hop at all.
    return Waited(style="async def", waited=0, thread=current_thread(), started=time.monotonic())


@router.get("/sync")
def lesson_sync() -> Waited:
    """Plain `def` with nothing to do: still a thread hop and a thread token."""
    # A plain `def` route: FastAPI runs it in AnyIO's thread pool, so it costs a thread hop
    # (about 0.2 ms) and a thread token even when it does nothing.
    return Waited(style="def", waited=0, thread=current_thread(), started=time.monotonic())


@router.get("/slow", dependencies=[READ_BY_THE_PAGE])
async def lesson_slow(delay: Delay) -> Waited:
    """`async def` + `await asyncio.sleep`: waits on the loop; requests overlap."""
    # await hands the loop to other requests while this one waits: thousands can wait at
    # once on one thread.
    started = time.monotonic()
    await asyncio.sleep(delay)
    return Waited(style="async def", waited=delay, thread=current_thread(), started=started)


@router.get("/sync-slow", dependencies=[READ_BY_THE_PAGE])
def lesson_sync_slow(delay: Delay) -> Waited:
    """`def` + `time.sleep`: blocks a worker thread; overlap capped by the thread tokens."""
    # Blocking is fine in `def`: it blocks a worker thread, not the loop. But each waiting
    # request holds one of ANYIO_THREAD_TOKENS; the next one queues for a token.
    started = time.monotonic()
    time.sleep(delay)
    return Waited(style="def", waited=delay, thread=current_thread(), started=started)


# At most this many requests use the scarce resource at once.
SCARCE_PLACES = 2


async def use_the_scarce_resource() -> AsyncIterator[None]:
    # A stand-in for anything with few places (a licence, a small pool, a partner's rate
    # limit): the place is held from here until the route has returned.
    yield


# One shared Depends object = one shared limit (per event loop) for every route using it.
ScarceResourceDep = Annotated[
    None, Depends(use_the_scarce_resource, max_concurrency=SCARCE_PLACES, scope="function")
]


@router.get("/limited")
def lesson_limited(delay: Delay, _place: ScarceResourceDep) -> Waited:
    """A scarce resource: requests beyond its places wait on the loop, holding no thread."""
    # Blocking work on a resource with SCARCE_PLACES places. Depends(max_concurrency=...)
    # makes the requests beyond them wait on the loop, before FastAPI gives the route a
    # thread, so they hold no thread token: the other `def` routes keep theirs. Limiting
    # inside the route (a threading.Semaphore) would park each waiting request in a thread,
    # ANYIO_THREAD_TOKENS of them freezing every `def` route.
    started = time.monotonic()
    time.sleep(delay)
    return Waited(style="def", waited=delay, thread=current_thread(), started=started)


def blocking_wait(delay: float) -> tuple[str, float]:
    """Stands for any blocking library call; says which thread it blocked, and from when."""
    started = time.monotonic()
    time.sleep(delay)
    return current_thread(), started


@router.get("/offload", dependencies=[READ_BY_THE_PAGE])
async def lesson_offload(delay: Delay) -> Waited:
    """`async def` + `asyncio.to_thread`: a blocking call bridged to a thread and awaited."""
    # The bridge: a blocking call that async code cannot avoid goes to a thread and is
    # awaited. asyncio.to_thread uses the loop's default executor (TO_THREAD_MAX_WORKERS
    # threads, set in the lifespan), not AnyIO's thread tokens.
    thread, started = await asyncio.to_thread(blocking_wait, delay)
    return Waited(style="async def", waited=delay, thread=thread, started=started)
