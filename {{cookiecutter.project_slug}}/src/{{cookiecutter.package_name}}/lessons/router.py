"""The lessons' router: every lesson's routes, and the lifespan of what only they use.

Mounted by the app factory while ENABLE_LESSONS is on; the anti-patterns' routes only with
ENABLE_ANTIPATTERNS as well.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from ..settings import Settings
from . import (
    antipatterns,
    background,
    cpu,
    dependencies,
    disconnect,
    page,
    request_id,
    streaming,
    waiting,
)
from .loop_watch import LoopWatch, watch_the_loop
from .process_pool import CpuPool


def lessons_router(settings: Settings) -> APIRouter:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, CpuPool | LoopWatch]]:
        # Only the lessons do CPU work, so only they start processes; starting them blocks,
        # so in a thread. FastAPI runs this inside the app's own lifespan.
        cpu_pool = await asyncio.to_thread(CpuPool, settings)
        # For the lesson page: when the loop stood still (loop_watch.py).
        loop_watch = LoopWatch()
        watching = asyncio.create_task(watch_the_loop(loop_watch), name="lesson-loop-watch")
        try:
            # Starlette copies this state into every request: request.state.cpu_pool...
            yield {"cpu_pool": cpu_pool, "loop_watch": loop_watch}
        finally:
            watching.cancel()
            await asyncio.to_thread(cpu_pool.shutdown)

    router = APIRouter(lifespan=lifespan)
    for lesson in (
        waiting,
        cpu,
        dependencies,
        background,
        streaming,
        disconnect,
        request_id,
        page,
    ):
        router.include_router(lesson.router)
    if settings.enable_antipatterns:
        # Not mounted at all otherwise: the routes are 404s, not a disabled switch.
        router.include_router(antipatterns.router)
    return router
