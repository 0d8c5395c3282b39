"""/lesson/request-id: one request, its id on the log line of every place its work runs, and
(tracing on) one trace with a span from each place.

Each place logs one line with its name in `place` and makes a span of that name; none of them
passes the id or the span to anything: the logging filter and the tracer find them in the
context, except in another process, which is handed both explicitly.
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
from ..observability.tracing import run_with_trace_context, trace_carrier, tracer
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
    """Module-level, so a process pool can pickle it by reference. The span's parent is
    whatever span is current here: the request's, if its context made it across."""
    thread = threading.current_thread().name
    attributes: dict[str, str | int] = {"thread.name": thread, "process.pid": os.getpid()}
    # This process's tracer, taken when the span starts: in a CPU worker process, the one its
    # initializer started; while tracing is off, one whose spans record nothing.
    with tracer(__name__).start_as_current_span(place, attributes=attributes):
        logger.info("request passed through %s", place, extra={"place": place})
    return Place(place=place, pid=os.getpid(), thread=thread)


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
    # Context variables do not cross processes: the id travels as an argument, and so does
    # the trace context, as W3C headers (`traceparent`).
    places.append(
        await processes.run(
            run_with_request_id,
            current_request_id(),
            run_with_trace_context,
            trace_carrier(),
            log_from,
            "process pool",
        )
    )
    return Trace(request_id=current_request_id(), places=places)


@router.get("/sync")
def trace_def_route() -> Trace:
    """The request id on the log line of a `def` route."""
    # A `def` route runs in an AnyIO worker thread, in a copy of the request's context.
    return Trace(request_id=current_request_id(), places=[log_from("def route")])
