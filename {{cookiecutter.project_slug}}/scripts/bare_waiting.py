"""Bare FastAPI (scripts/bare_fastapi.py) with the lesson's two waits and nothing more: the
baseline the `concurrency` scenario of scripts/bench_lessons.py holds thousands of
connections on (`python -m uvicorn bare_waiting:app`)."""

import asyncio
import time
from typing import Annotated

from bare_fastapi import app  # scripts/ is the app directory uvicorn imports from
from fastapi import Query

__all__ = ["app"]

# The lesson's bound (lessons/waiting.py's Delay), as a bare app would declare it.
Delay = Annotated[float, Query(ge=0, le=5, description="seconds to wait, 0 to 5")]


@app.get("/slow")
async def slow(delay: Delay) -> dict[str, float]:
    await asyncio.sleep(delay)
    return {"waited": delay}


@app.get("/sync-slow")
def sync_slow(delay: Delay) -> dict[str, float]:
    # `def`: FastAPI runs it in AnyIO's thread pool, 40 tokens (AnyIO's default) at once.
    time.sleep(delay)
    return {"waited": delay}
