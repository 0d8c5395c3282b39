"""The lesson for a client that goes away mid-request.

Starlette cancels a streaming response when its client disconnects: it listens for
`http.disconnect` while it streams. Nothing cancels any other route: an `async def` route runs
to the end, and a `def` route or an `asyncio.to_thread` call keeps its thread until the
blocking call returns (Python cannot cancel a thread). That is why every lesson route is
bounded (delay <= 5 s). Work worth stopping early watches for the disconnect itself, as here.
"""

import asyncio
import time

import anyio
from fastapi import APIRouter, Request

from .waiting import Delay, Waited, current_thread

router = APIRouter(prefix="/lesson", tags=["lesson"])


async def wait_for_disconnect(request: Request) -> None:
    # After the (empty) body of a GET, the next ASGI message is http.disconnect: the server
    # sends it when the client closes its connection. Awaiting it costs nothing meanwhile.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def cancel_when_the_client_leaves(request: Request, work: anyio.CancelScope) -> None:
    await wait_for_disconnect(request)
    work.cancel()


@router.get("/cancellable")
async def lesson_cancellable(request: Request, delay: Delay) -> Waited:
    """Work that stops when its client goes away (it watches for the disconnect)."""
    started, timer = time.monotonic(), time.perf_counter()
    async with anyio.create_task_group() as group:
        # A sibling task watches the connection; when the client leaves it cancels the work
        # at its next await instead of finishing it for nobody.
        group.start_soon(cancel_when_the_client_leaves, request, group.cancel_scope)
        await asyncio.sleep(delay)  # the work: anything that awaits
        group.cancel_scope.cancel()  # done: stop watching
    return Waited(
        style="async def",
        waited=round(time.perf_counter() - timer, 3),
        thread=current_thread(),
        started=started,
    )
