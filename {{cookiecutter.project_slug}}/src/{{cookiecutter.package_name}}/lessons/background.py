"""The lesson for background tasks: they run after the response is sent, in the home their
style gives them: a `def` task in a worker thread, an `async def` task on the loop.

The client has its answer before the task starts, so a task that blocks the loop is invisible
to the client's own timer; the next requests and the loop-lag metric see it. The wrong version
is in antipatterns.py.
"""

import asyncio
import time
from typing import Literal

from fastapi import APIRouter, BackgroundTasks
from pydantic import BaseModel

from .waiting import Delay

router = APIRouter(prefix="/lesson/background", tags=["lesson"])


class Scheduled(BaseModel):
    task: Literal["async def", "def"]
    runs_for: float


def send_receipt_blocking(delay: float) -> None:
    # `def`: a blocking client (smtplib, a sync SDK) belongs here. Starlette runs a `def`
    # task in AnyIO's thread pool, holding a thread token until it returns.
    time.sleep(delay)


async def send_receipt_async(delay: float) -> None:
    # `async def`: an awaiting task runs on the loop after the response, no thread at all.
    await asyncio.sleep(delay)


@router.get("/sync")
async def background_sync(delay: Delay, tasks: BackgroundTasks) -> Scheduled:
    """A `def` background task: a worker thread, after the client has its answer."""
    tasks.add_task(send_receipt_blocking, delay)
    return Scheduled(task="def", runs_for=delay)


@router.get("/async")
async def background_async(delay: Delay, tasks: BackgroundTasks) -> Scheduled:
    """An `async def` background task: on the loop, after the client has its answer."""
    tasks.add_task(send_receipt_async, delay)
    return Scheduled(task="async def", runs_for=delay)
