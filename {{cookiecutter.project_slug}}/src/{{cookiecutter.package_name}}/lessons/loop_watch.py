"""The event loop's lag, wake-up by wake-up, for the lesson page.

The same probe as the service's event_loop_lag_seconds (observability/metrics.py): sleep a
fixed interval, note how late the loop woke. The histogram keeps totals, which is what a
dashboard needs; the page needs to know when the loop stood still, to draw it under the
requests that were waiting meanwhile, so this probe keeps each late wake-up with its time.
"""

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import cast

from fastapi import Request

from ..observability.metrics import LAG_PROBE_INTERVAL

# Later than this, a wake-up is kept: a shorter lag is not worth drawing.
LATE = 0.002
# A minute of wake-ups, were every one of them late.
KEPT = int(60 / LAG_PROBE_INTERVAL)


@dataclass
class LoopWatch:
    probes: int = 0
    late_seconds: float = 0.0  # how late every probe woke, added up
    # (woke at, seconds late), the time from time.monotonic().
    late: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=KEPT))

    def since(self, moment: float) -> list[tuple[float, float]]:
        return [wake_up for wake_up in self.late if wake_up[0] > moment]


async def watch_the_loop(watch: LoopWatch) -> None:
    """Runs as a task of the lessons' lifespan."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(LAG_PROBE_INTERVAL)
        lag = max(0.0, loop.time() - started - LAG_PROBE_INTERVAL)
        watch.probes += 1
        watch.late_seconds += lag
        if lag > LATE:
            # Stamped with time.monotonic(), as /lesson/status stamps its `now`: uvloop's
            # loop.time() is the time its iteration began, in whole ms, which can be earlier
            # than a `now` stamped before this ran, and the page would never ask for it.
            watch.late.append((time.monotonic(), lag))


async def get_loop_watch(request: Request) -> LoopWatch:
    # The lessons' lifespan put it there (lessons/router.py).
    return cast(LoopWatch, request.state.loop_watch)
