"""/lesson/request-id: one request, its id on the log line of every place its work runs.

Each place logs one line with its name in `place`; none of them passes the id to the logger:
the logging filter finds it, except in another process, which is handed it explicitly.
"""

import asyncio
import contextvars
import logging
import os
import threading
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from ..observability.request_id import current_request_id, run_with_request_id
from .process_pool import CpuPoolDep

router = APIRouter(prefix="/lesson/request-id", tags=["lesson"])
logger = logging.getLogger(__name__)


class Place(BaseModel):
    place: str
    pid: int
    thread: str


class Trace(BaseModel):
    request_id: str | None
    places: list[Place]


def log_from(place: str) -> Place:
    """Module-level, so a process pool can pickle it by reference."""
    logger.info("request passed through %s", place, extra={"place": place})
    return Place(place=place, pid=os.getpid(), thread=threading.current_thread().name)


def def_dependency() -> Place:
    # `def`: FastAPI runs it in an AnyIO worker thread, and AnyIO runs it in a copy of
    # the request's context, so the id is there without help.
    return log_from("def dependency")


@router.get("")
async def trace_every_place(
    from_dependency: Annotated[Place, Depends(def_dependency)], processes: CpuPoolDep
) -> Trace:
    """One request through every place code runs, each logging its request id."""
    places = [from_dependency, log_from("async def route")]
    # asyncio.to_thread copies the context into the executor thread itself.
    places.append(await asyncio.to_thread(log_from, "asyncio.to_thread"))
    loop = asyncio.get_running_loop()
    # run_in_executor does not: the thread would log with whatever context it last had (none).
    # Running the call inside a copy of this context carries the id across.
    places.append(
        await loop.run_in_executor(
            None, contextvars.copy_context().run, log_from, "loop.run_in_executor"
        )
    )
    # Context variables do not cross processes: the id travels as an argument.
    places.append(
        await processes.run(run_with_request_id, current_request_id(), log_from, "process pool")
    )
    return Trace(request_id=current_request_id(), places=places)


@router.get("/sync")
def trace_def_route() -> Trace:
    """The request id on the log line of a `def` route."""
    # A `def` route runs in an AnyIO worker thread, in a copy of the request's context.
    return Trace(request_id=current_request_id(), places=[log_from("def route")])
