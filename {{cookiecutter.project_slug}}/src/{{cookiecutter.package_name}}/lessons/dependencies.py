"""The lesson for dependencies: FastAPI gives a dependency the home a route would get.

A `def` dependency runs in a worker thread and holds a thread token while it runs, even under
an `async def` route; an `async def` one runs on the loop and must only await. A `yield`
dependency's teardown runs in the same home as its setup, after the response is sent.
The wrong version (blocking inside an `async def` dependency) is in antipatterns.py.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from .waiting import Delay, current_thread

router = APIRouter(prefix="/lesson/depends", tags=["lesson"])


class Opened(BaseModel):
    """Where a dependency opened its resource, and where the route then ran."""

    dependency: Literal["async def", "def"]
    opened_in: str
    route_ran_in: str = ""


async def open_async_connection(delay: Delay) -> AsyncIterator[Opened]:
    # `async def`: opening and closing only await, so both stay on the loop: no thread hop,
    # no thread token. The service's own providers (dependencies.py) are `async def` too.
    await asyncio.sleep(delay)
    yield Opened(dependency="async def", opened_in=current_thread())
    await asyncio.sleep(delay)  # the teardown, after the response is sent


def open_blocking_connection(delay: Delay) -> Iterator[Opened]:
    # `def`, because opening and closing block (a sync driver's connect and close): FastAPI
    # runs the setup in a worker thread holding a thread token, and the teardown in a worker
    # thread as well (outside the token budget, so a teardown never queues for a token).
    time.sleep(delay)
    yield Opened(dependency="def", opened_in=current_thread())
    time.sleep(delay)


@router.get("/async")
async def depends_async(
    opened: Annotated[Opened, Depends(open_async_connection)],
) -> Opened:
    """An `async def` dependency: opened and closed on the loop, no thread."""
    return opened.model_copy(update={"route_ran_in": current_thread()})


@router.get("/sync")
async def depends_sync(
    opened: Annotated[Opened, Depends(open_blocking_connection)],
) -> Opened:
    """A `def` dependency: opened and closed in worker threads, under an `async def` route."""
    # The route is `async def` and runs on the loop; only its `def` dependency took a thread.
    return opened.model_copy(update={"route_ran_in": current_thread()})
