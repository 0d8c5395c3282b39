"""Prometheus metrics for the concurrency model: is the loop free, are the threads busy?

Each app gets its own registry, so several apps in one process (tests) never collide.
With WORKERS > 1 (workers.py), each worker process writes its counters, histograms and
in-progress gauge to files in PROMETHEUS_MULTIPROC_DIR, and /metrics, whichever worker
answers it, adds up the files of all of them.
"""

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio.to_thread
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Often enough to catch a 50 ms stall, rarely enough to cost nothing.
LAG_PROBE_INTERVAL = 0.05
# Label values must be a small fixed set: each new value is a new series in Prometheus, and
# the method is whatever the client typed (h11 accepts any token). Anything else is "other".
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
OTHER_METHOD = "other"
# One value for every path no route matched (404s): the raw path would be a label per URL.
UNMATCHED_ROUTE = "unmatched"
# prometheus_client's own variable: set, every metric of the process lives in files there.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else OTHER_METHOD


def route_label(scope: Scope) -> str:
    # The route template, not the raw path: /async/items/{item_id}, not one per id.
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        directory = os.environ.get(MULTIPROCESS_DIR)
        self.multiprocess_dir = Path(directory) if directory else None
        owner: CollectorRegistry | None = self.registry
        if self.multiprocess_dir is not None:
            forget_dead_processes(self.multiprocess_dir)
            # prometheus_client's multiprocess module has no annotations.
            MultiProcessCollector(self.registry, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
            # The collector reads this process's figures from its files too: registering the
            # metrics as well would export them twice.
            owner = None
        self.loop_lag = Histogram(
            "event_loop_lag_seconds",
            "How late the loop woke a sleeping probe: time something blocked the loop.",
            buckets=LAG_BUCKETS,
            registry=owner,
        )
        self.requests = Counter(
            "http_requests",
            "Requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=owner,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from request to the end of the response, by route template.",
            ["method", "route"],
            registry=owner,
        )
        # What a draining server still owes: watched during a rollout, it should reach 0
        # within SHUTDOWN_TIMEOUT. livesum: across workers, the live processes' sum (one
        # process: ignored).
        self.in_progress = Gauge(
            "http_requests_in_progress",
            "Requests received and not yet answered.",
            registry=owner,
            multiprocess_mode="livesum",
        )

    def watch(self, gauges: Callable[[], Iterator[GaugeMetricFamily]]) -> None:
        """Export gauges read at scrape time (pool sizes, thread tokens).

        They read this process's objects, so with several workers they describe the worker
        that answers the scrape only, labelled with its pid (prometheus_client cannot add
        them up across processes)."""
        pid = str(os.getpid()) if self.multiprocess_dir is not None else None
        self.registry.register(_ScrapeTimeGauges(gauges, pid))

    def forget_this_process(self) -> None:
        """At a worker's exit: its in-progress gauge leaves the sum (counters stay in it)."""
        if self.multiprocess_dir is not None:
            _mark_process_dead(os.getpid(), self.multiprocess_dir)


def forget_dead_processes(directory: Path) -> None:
    """A worker that crashed never forgot itself: its in-progress count would stay in the sum
    for ever. Each new worker (uvicorn replaces dead ones) drops the gauges of dead pids."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            _mark_process_dead(pid, directory)
        except PermissionError:
            pass  # alive, someone else's


def _mark_process_dead(pid: int, directory: Path) -> None:
    mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


class _ScrapeTimeGauges(Collector):
    def __init__(self, gauges: Callable[[], Iterator[GaugeMetricFamily]], pid: str | None) -> None:
        self._gauges = gauges
        self._pid = pid

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for family in self._gauges():
            if self._pid is not None:
                family.samples = [
                    sample._replace(labels={**sample.labels, "pid": self._pid})
                    for sample in family.samples
                ]
            yield family


def thread_token_gauges() -> Iterator[GaugeMetricFamily]:
    """AnyIO's limiter: thread-pool saturation is the sync side's version of loop lag."""
    stats = anyio.to_thread.current_default_thread_limiter().statistics()
    # Not "_total": that suffix means a counter to Prometheus (promtool rejects a gauge so named).
    yield GaugeMetricFamily(
        "anyio_thread_tokens", "Thread tokens `def` routes share.", stats.total_tokens
    )
    yield GaugeMetricFamily(
        "anyio_thread_tokens_in_use", "Thread tokens held right now.", stats.borrowed_tokens
    )
    yield GaugeMetricFamily(
        "anyio_thread_tokens_waiting", "Tasks queued for a thread token.", stats.tasks_waiting
    )


async def monitor_loop_lag(metrics: Metrics) -> None:
    """Sleep a fixed interval, record how late we woke up. Runs as a lifespan task."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(LAG_PROBE_INTERVAL)
        metrics.loop_lag.observe(max(0.0, loop.time() - started - LAG_PROBE_INTERVAL))


class RequestMetricsMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware): it adds no task and no copy of the body."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # Each request's labelled series, looked up once and kept: `.labels()` validates and
        # locks on every call (a few us per request). The labels are bounded (see above), so
        # these stay small.
        self._counted: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            self.metrics.in_progress.dec()
            method, route = method_label(scope["method"]), route_label(scope)
            self._series_counted(method, route, status).inc()
            self._series_timed(method, route).observe(time.perf_counter() - started)

        async def send_recorded(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Recorded before the last byte leaves, not after: a client that has its
                # answer and scrapes next (another worker, perhaps) finds it counted and no
                # longer in progress. After the write, this process could be descheduled
                # first, and the scrape would see an answered request still running.
                record()
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_recorded)
        finally:
            if not recorded:  # no complete response: an error, or the client went away
                record()

    def _series_counted(self, method: str, route: str, status: int) -> Counter:
        key = (method, route, status)
        if (series := self._counted.get(key)) is None:
            series = self._counted[key] = self.metrics.requests.labels(method, route, str(status))
        return series

    def _series_timed(self, method: str, route: str) -> Histogram:
        key = (method, route)
        if (series := self._timed.get(key)) is None:
            series = self._timed[key] = self.metrics.latency.labels(method, route)
        return series
