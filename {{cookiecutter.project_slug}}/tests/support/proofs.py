"""Proof machinery: measure concurrency by counting, and loop health by heartbeat gaps.

Time is only ever a lower bound or a generous ratio in these proofs: a busy CI machine can
pause any process for tens of milliseconds (hundreds, rarely), but it cannot make work
finish early.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

import anyio.to_thread
import httpx
from starlette.types import ASGIApp, Receive, Scope, Send


class InFlight:
    """ASGI wrapper that counts requests inside the app, and the most at any moment."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None
        self.now = 0
        self.peak = 0

    def wrap(self, app: ASGIApp) -> ASGIApp:
        self.app = app
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Runs on the loop only, so plain integers are safe.
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await self.app(scope, receive, send)
        finally:
            self.now -= 1

    def reset(self) -> None:
        self.peak = self.now


@dataclass
class Heartbeat:
    """A task that wakes every `interval` and records the longest gap between wake-ups,
    plus the peak use of AnyIO's thread tokens and the to_thread threads alive."""

    interval: float = 0.005
    max_gap: float = 0.0
    peak_tokens_in_use: int = 0
    peak_tasks_waiting_for_token: int = 0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _last: float = 0.0

    async def __aenter__(self) -> "Heartbeat":
        self._last = time.perf_counter()
        self._task = asyncio.create_task(self._beat())
        await asyncio.sleep(0)
        return self

    async def _beat(self) -> None:
        limiter = anyio.to_thread.current_default_thread_limiter()
        while True:
            await asyncio.sleep(self.interval)
            self._tick(limiter.statistics())

    def _tick(self, stats: anyio.CapacityLimiterStatistics) -> None:
        now = time.perf_counter()
        self.max_gap = max(self.max_gap, now - self._last - self.interval)
        self._last = now
        self.peak_tokens_in_use = max(self.peak_tokens_in_use, stats.borrowed_tokens)
        self.peak_tasks_waiting_for_token = max(
            self.peak_tasks_waiting_for_token, stats.tasks_waiting
        )

    def stood_still_for(self, wait: float) -> bool:
        """The loop stood still for (nearly) all of `wait`: the harm of blocking it.

        Only ever asserted as harm. Its converse ("the loop stayed free") is not a proof:
        a healthy loop on cores crowded ten to one was seen to pause for 0.3 s, once for
        0.9 s, so the proofs show a free loop by what it did meanwhile instead (requests
        admitted and counted, answers in order).
        """
        return self.max_gap >= 0.9 * wait

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._task is not None
        # A stall that ends right before exit must count even though no beat followed it.
        self.max_gap = max(self.max_gap, time.perf_counter() - self._last - self.interval)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@dataclass
class Burst:
    statuses: list[int]
    seconds: float
    responses: list[httpx.Response]


async def burst(client: httpx.AsyncClient, urls: list[str]) -> Burst:
    """Send every request at once; a failure cancels the rest (no leak into the next test)."""
    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(client.get(url)) for url in urls]
    seconds = time.perf_counter() - started
    responses = [task.result() for task in tasks]
    return Burst([r.status_code for r in responses], seconds, responses)


async def timed(call: Callable[[], Awaitable[httpx.Response]]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await call()
    return response, time.perf_counter() - started
