"""Deliberately wrong routes, mounted only when ENABLE_ANTIPATTERNS=true.

They exist to be measured: tests/test_lesson.py shows blockbuster catching each one, and what
each does to every other request when nothing catches it.
"""

import time

from fastapi import APIRouter

from .lesson import Delay, Waited, current_thread

router = APIRouter(prefix="/lesson", tags=["anti-patterns"])


@router.get("/blocking")
async def lesson_blocking(delay: Delay) -> Waited:
    # WRONG on purpose: time.sleep inside `async def` stops the event loop, so every other
    # request of this worker, /healthz included, waits until it returns. ruff's ASYNC251
    # flags it (silenced here only because this route exists to show the harm); use
    # `await asyncio.sleep`, a `def` route, or `await asyncio.to_thread(...)`.
    time.sleep(delay)  # noqa: ASYNC251
    return Waited(style="async def", waited=delay, thread=current_thread())
