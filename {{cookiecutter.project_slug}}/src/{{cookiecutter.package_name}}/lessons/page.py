"""GET /lesson/: a page that runs the lesson's experiments from the browser and draws them.

One HTML file, one script, one stylesheet (page/), no build step. The page fires N requests
at once at a lesson route, pings /healthz beside them, and reads /lesson/status for the
thread tokens and the loop lag the service measured meanwhile (loop_watch.py); then it draws
one bar per request, coloured by the thread or process that did the work.

The files are read once, at import: the routes then serve bytes from memory, with no I/O,
so they are `async def` (as /healthz). The Content-Security-Policy allows this origin's own
script and styles only (no inline script, no inline style, no other site), plus the
`*.localhost` names the page spreads its requests over (cross_origin.py says why).
"""

import os
import time
from pathlib import Path
from typing import Annotated, Final

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from ..dependencies import ResourcesDep
from .cpu_work import MAX_STEPS
from .loop_watch import LoopWatch, get_loop_watch
from .waiting import MAX_DELAY

router = APIRouter(prefix="/lesson", tags=["lesson"])

PAGE_DIR = Path(__file__).parent / "page"
# The most requests the page fires at once: past the 40 default thread tokens, with room.
MAX_REQUESTS: Final = 100

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self' http://*.localhost:*",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # A development page: an edited file shows on the next reload.
    "Cache-Control": "no-cache",
}
ASSETS: Final = {
    "lesson.js": "text/javascript; charset=utf-8",
    "lesson.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}
PAGE: Final = (PAGE_DIR / "index.html").read_bytes()
ASSET_BYTES: Final = {name: (PAGE_DIR / name).read_bytes() for name in ASSETS}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def lesson_page() -> HTMLResponse:
    """The lesson page: runs the experiments from the browser and draws them."""
    return HTMLResponse(PAGE, headers=HEADERS)


@router.get("/assets/{name}", include_in_schema=False)
async def lesson_page_asset(name: str) -> Response:
    """The page's script, stylesheet and icon."""
    if name not in ASSETS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such asset")
    return Response(ASSET_BYTES[name], media_type=ASSETS[name], headers=HEADERS)


class LoopLag(BaseModel):
    probes: int  # lag probes since start, one every 50 ms while the loop is free
    seconds: float  # how late they woke, added up: the time the loop stood still
    # Each late wake-up after `since`: (woke at, seconds late), on the clock of `now`.
    late: list[tuple[float, float]]


class Bounds(BaseModel):
    """The routes' own bounds, so that the page asks only for what they accept."""

    max_delay: float = MAX_DELAY
    max_steps: int = MAX_STEPS
    max_requests: int = MAX_REQUESTS


class LessonStatus(BaseModel):
    pid: int  # with WORKERS > 1, each answer is one worker's
    # time.monotonic(), the clock of the lag above and of the lesson routes' `started`.
    now: float
    thread_tokens: int
    thread_tokens_in_use: int
    thread_tokens_waiting: int
    to_thread_workers: int
    cpu_workers: int
    cores: int  # the machine's: processes beyond them add no speed
    antipatterns: bool  # /lesson/blocking is mounted
    loop_lag: LoopLag
    bounds: Bounds


@router.get("/status")
async def lesson_status(
    resources: ResourcesDep,
    watch: Annotated[LoopWatch, Depends(get_loop_watch)],
    since: Annotated[float, Query(ge=0, description="late wake-ups after this time only")] = 0,
) -> LessonStatus:
    """What the page shows beside its experiments: thread tokens, the loop's lag."""
    # `async def`: it reads counters of this loop (AnyIO's limiter exists per loop).
    tokens = anyio.to_thread.current_default_thread_limiter().statistics()
    settings = resources.settings
    return LessonStatus(
        pid=os.getpid(),
        now=time.monotonic(),
        thread_tokens=int(tokens.total_tokens),
        thread_tokens_in_use=tokens.borrowed_tokens,
        thread_tokens_waiting=tokens.tasks_waiting,
        to_thread_workers=settings.to_thread_max_workers,
        cpu_workers=settings.cpu_workers,
        cores=os.cpu_count() or 1,
        antipatterns=settings.enable_antipatterns,
        loop_lag=LoopLag(probes=watch.probes, seconds=watch.late_seconds, late=watch.since(since)),
        bounds=Bounds(),
    )
