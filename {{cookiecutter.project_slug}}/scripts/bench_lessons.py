"""Benchmarks of the lessons: the /lesson routes under uvicorn, over real HTTP.

    uv run python scripts/bench_lessons.py              # every scenario
    uv run python scripts/bench_lessons.py lesson       # one of them

Figures, not assertions: the tests in tests/lessons/ prove the behaviour; this script shows
it at full size on this machine, each figure beside what the lesson expects. `lesson`: waits
that overlap and waits that do not, the anti-pattern stalling /healthz, and the thread hop of
a `def` route; `cpu`: threads sharing the GIL against the process pool; `route-order`: what a
route costs for coming after the service's own (FastAPI tries them one by one), beside /healthz
and bare FastAPI; `concurrency`: the lesson's headline claim, one worker holding thousands of
requests that wait (1,000, 5,000 and 10,000 connections at once, `--connections`, each on
/lesson/slow for `--delay` s), then where a `def` route stops (the thread tokens, not the
loop), each beside bare FastAPI on the same waits; it writes its section of docs/benchmark.md
and docs/concurrency.png. The service runs with ENABLE_LESSONS and ENABLE_ANTIPATTERNS on.

    uv run python scripts/bench_lessons.py concurrency --connections 200,500 --delay 1

The harness is scripts/bench.py's: the same load, flags and database (DATABASE_URL if set,
else an embedded PostgreSQL in a temporary directory).
"""

import argparse
import asyncio
import bisect
import json
import math
import os
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psutil
from bench import (  # scripts/ is on sys.path when a script in it runs
    CONCURRENCY_END,
    CONCURRENCY_START,
    DOCS,
    SERVICE,
    TRIVIAL,
    Bench,
    Burst,
    Scenario,
    Server,
    alternate,
    bare,
    burst,
    closed_loop_row,
    lag_buckets,
    lag_p99,
    report,
    row,
    run_scenarios,
    server,
    serving_bare,
    with_section,
)

from {{ cookiecutter.package_name }}.lessons.waiting import MAX_DELAY

# The lessons, and the deliberately wrong route `lesson` measures too.
LESSONS_ON = {"ENABLE_LESSONS": "true", "ENABLE_ANTIPATTERNS": "true"}


async def slowest_healthz_during(
    session: aiohttp.ClientSession, base: str, work: Awaitable[Burst]
) -> tuple[Burst, float]:
    """Probe /healthz back to back while `work` runs; return the work and the slowest probe."""
    task = asyncio.ensure_future(work)
    slowest = 0.0
    while not task.done():
        started = time.perf_counter()
        async with session.get(f"{base}/healthz") as response:
            await response.read()
        slowest = max(slowest, time.perf_counter() - started)
    return await task, slowest


async def lesson_bursts(base: str) -> None:
    connector = aiohttp.TCPConnector(limit=0)  # no client-side cap: the server is measured
    async with aiohttp.ClientSession(connector=connector) as session:
        for name, url, n, expectation in [
            ("100 x /lesson/slow?delay=0.3 (async def, asyncio.sleep)", "slow", 100, "< 0.9 s"),
            (
                "60 x /lesson/sync-slow?delay=0.3 (def, 40 tokens)",
                "sync-slow",
                60,
                "2 waves: ~0.6 s",
            ),
            ("20 x /lesson/offload?delay=0.3 (asyncio.to_thread)", "offload", 20, "< 0.75 s"),
        ]:
            result = await burst(session, [f"{base}/lesson/{url}?delay=0.3"] * n)
            row(name, f"{result.seconds:.3f} s {result.statuses}", expectation)

        blocking = burst(session, [f"{base}/lesson/blocking?delay=0.25"] * 5)
        result, slowest = await slowest_healthz_during(session, base, blocking)
        row(
            "5 x /lesson/blocking?delay=0.25 (time.sleep in async def)",
            f"{result.seconds:.3f} s {result.statuses}",
            ">= 1.1 s: serialised",
        )
        row("  slowest /healthz meanwhile", f"{slowest * 1000:.0f} ms", ">= 150 ms")

        calm = burst(session, [f"{base}/lesson/slow?delay=0.25"] * 5)
        _, slowest = await slowest_healthz_during(session, base, calm)
        row("  same with /lesson/slow: slowest /healthz", f"{slowest * 1000:.0f} ms", "small")


def lesson(bench: Bench) -> None:
    asyncio.run(lesson_bursts(bench.service))
    for name, url in [
        ("/lesson/async, 64 connections (no thread hop)", "async"),
        ("/lesson/sync, 64 connections (a thread hop each)", "sync"),
    ]:
        closed_loop_row(name, f"{bench.service}/lesson/{url}", bench.seconds)


async def cpu_bursts(base: str) -> None:
    steps = 10_000_000  # about 0.3 s of CPU here
    async with aiohttp.ClientSession() as session:
        for route, note in [("cpu", "threads share the GIL: ~2x"), ("cpu-offload", "2 cores: ~1x")]:
            url = f"{base}/lesson/{route}?steps={steps}"
            one = await burst(session, [url])
            two = await burst(session, [url] * 2)
            row(
                f"2 x /lesson/{route} at once vs 1 alone",
                f"{two.seconds:.3f} s / {one.seconds:.3f} s = {two.seconds / one.seconds:.2f}",
                note,
            )


def cpu(bench: Bench) -> None:
    asyncio.run(cpu_bursts(bench.service))


def route_order(bench: Bench) -> None:
    # FastAPI tries the routes one by one, in the order app.py includes them: /healthz is
    # among the first, /lesson/async comes after the service's own routes. Both do nothing
    # else, so what separates them is the routes passed over; bare FastAPI's hello is the
    # floor. The three take turns, `--rounds` times.
    with serving_bare(bench.database_url) as bare:
        first, late, floor = alternate(
            [f"{bench.service}/healthz", f"{bench.service}/lesson/async", f"{bare}/hello"],
            bench.rounds,
            64,
            bench.seconds,
        )
    print(f"{'route':<58} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")
    report(f"{TRIVIAL}: /healthz (first)", first)
    late_share = late.requests_per_second / first.requests_per_second
    report(f"{TRIVIAL}: /lesson/async (late)", late, f"{late_share:.2f} of /healthz")
    report("bare FastAPI: /hello", floor)


# ---- concurrency: one worker, thousands of requests that wait ---------------------------

BURST_CLIENT = Path(__file__).resolve().parent / "burst_client.py"
CONNECTIONS = (1_000, 5_000, 10_000)
DELAY = 5.0
# The `def` route's bursts: as many connections as thread tokens, twice and ten times that,
# each waiting SYNC_DELAY: a burst takes ceil(connections / tokens) waits, whatever the loop.
SYNC_MULTIPLES = (1, 2, 10)
SYNC_DELAY = 1.0
# AnyIO's own default: bare FastAPI's thread tokens (the service's are ANYIO_THREAD_TOKENS).
ANYIO_TOKENS = 40
# The soft open-file limit many hosts start a process with; the service raises its own.
HOST_SOFT_LIMIT = 1024
# Open files a server needs besides its connections: its listening socket, pools, logs.
SPARE_FILES = 100
# Probed as a kubelet probes, but more often: every 100 ms, each on a new connection.
PROBE_PERIOD = 0.1
PROBE_ERRORS = (aiohttp.ClientError, TimeoutError)
# The manifest's liveness probe (deploy/kubernetes/deployment.yaml): a probe slower than
# LIVENESS_TIMEOUT fails, and LIVENESS_FAILURES failures in a row, LIVENESS_PERIOD apart,
# restart the pod.
LIVENESS_PERIOD, LIVENESS_TIMEOUT, LIVENESS_FAILURES = 10.0, 10.0, 3
# Longer than the liveness timeout, so a probe's slowness is measured, not cut at the timeout.
PROBE_TIMEOUT = LIVENESS_TIMEOUT + 5
# The sustained run: the largest burst's connections asking again as soon as answered.
SUSTAIN = 60.0
# The control: a loop that is stuck, not busy. The anti-pattern (time.sleep in async def) at
# its longest, this many at once: they hold the loop one after another past the time in which
# a kubelet at any phase fails its probes in a row (their periods, a timeout, a period's
# phase), and one more.
STUCK_REQUESTS = math.ceil((LIVENESS_FAILURES * LIVENESS_PERIOD + LIVENESS_TIMEOUT) / MAX_DELAY) + 1
RSS_PERIOD = 0.05
# The load generator's CPU seconds over its wall seconds past which it, not the server, is
# what a burst measures.
SATURATED = 0.8


def connection_counts(text: str) -> tuple[int, ...]:
    """--connections: comma-separated counts, each at least 1 and within the open files the
    hard limit here lets one process have."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not comma-separated whole numbers (such as 1000,5000,10000)"
        ) from None
    if min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: each count must be at least 1")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and max(counts) > hard - SPARE_FILES:
        raise argparse.ArgumentTypeError(
            f"{max(counts)} connections: the hard open-file limit here is {hard} (ulimit -Hn), "
            f"which leaves room for at most {hard - SPARE_FILES}"
        )
    return counts


def seconds_of(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None


def delay_seconds(text: str) -> float:
    """--delay: seconds, within the lesson routes' bound (more than 0: wall / delay)."""
    delay = seconds_of(text)
    if not 0 < delay <= MAX_DELAY:
        raise argparse.ArgumentTypeError(
            f"{text}: more than 0 and at most {MAX_DELAY} s (the routes' bound)"
        )
    return delay


def sustain_seconds(text: str) -> float:
    """--sustain: seconds, 0 (no sustained run) to an hour."""
    seconds = seconds_of(text)
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{text}: 0 (none) to 3600 s")
    return seconds


def concurrency_options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("the concurrency scenario")
    group.add_argument(
        "--connections",
        type=connection_counts,
        default=CONNECTIONS,
        metavar="N[,N...]",
        help="connections opened at once, one burst per count (1000,5000,10000)",
    )
    group.add_argument(
        "--delay",
        type=delay_seconds,
        default=DELAY,
        help=f"seconds each request waits on the `async def` route ({DELAY:g}, at most {MAX_DELAY})",
    )
    group.add_argument(
        "--sustain",
        type=sustain_seconds,
        default=SUSTAIN,
        help=f"seconds the largest burst's connections keep asking, once answered ({SUSTAIN:g}; 0: none)",
    )
    return parser


def open_files(soft: int | None) -> Callable[[], None]:
    """A preexec_fn: the child starts with this soft open-file limit (None: the hard one)."""

    def set_limit() -> None:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft is not None and (hard == resource.RLIM_INFINITY or soft < hard):
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        else:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    return set_limit


def soft_open_files(pid: int) -> int | None:
    """The soft open-file limit a process runs with (psutil reads another's on Linux only)."""
    if sys.platform != "linux":
        return None
    soft, _ = psutil.Process(pid).rlimit(psutil.RLIMIT_NOFILE)
    return int(soft)


def service_under_host_limit(database_url: str) -> AbstractContextManager[Server]:
    # One worker: the claim is one thread's, and psutil watches this one process.
    environment = {"DATABASE_URL": database_url, "WORKERS": "1", **LESSONS_ON}
    return server(*SERVICE, environment, open_files(HOST_SOFT_LIMIT))


def bare_with_raised_limit(database_url: str) -> AbstractContextManager[Server]:
    # Plain uvicorn keeps the soft limit it starts with: raised here, or it would drop
    # connections past 1,024 and measure the host's default instead of FastAPI.
    return server(*bare("bare_waiting:app"), {"DATABASE_URL": database_url}, open_files(None))


@dataclass
class Wait:
    """A burst: `connections` requests at once to `path`, each waiting `delay` s; `expected`
    is its wall time over the delay, were the waits the only limit."""

    path: str
    connections: int
    delay: float
    expected: float
    seconds: float = 0.0  # each connection asks again once answered, this long (0: once)


@dataclass
class Probe:
    started: float  # time.perf_counter()
    seconds: float
    ok: bool  # answered 200


@dataclass
class Run:
    connections: int
    delay: float
    expected: float  # as Wait.expected
    statuses: dict[str, int]  # answers by status code
    errors: dict[str, int]  # connections with no answer, by kind
    wall: float  # first connect to last answer, s
    sent: float  # first connect to the last request written, s
    client_cpu: float  # the load generator's CPU seconds over the burst
    client_elapsed: float  # and its wall seconds, to the last outcome
    seconds: float  # as Wait.seconds
    probes: list[Probe]  # /healthz (bare FastAPI: /hello)
    lag: float | None  # the loop-lag p99 bucket, s; None: no such metric
    rss_before: int
    rss_peak: int

    @property
    def answered(self) -> int:
        return self.statuses.get("200", 0)

    @property
    def failures(self) -> dict[str, int]:
        other = {f"HTTP {status}": n for status, n in self.statuses.items() if status != "200"}
        return other | self.errors

    def probe_ms(self, percentile: int) -> float:
        latencies = [probe.seconds for probe in self.probes]
        if len(latencies) < 2:  # statistics.quantiles needs two
            return latencies[0] * 1000 if latencies else math.nan
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        return cuts[percentile - 1] * 1000

    @property
    def longest_outage(self) -> float:
        return longest_outage(self.probes)

    @property
    def kubelet_failures(self) -> list[int]:
        return kubelet_failures(self.probes)

    @property
    def rate(self) -> float:
        """Answers per second over the run."""
        return self.answered / self.client_elapsed

    @property
    def kib_per_request(self) -> float:
        return (self.rss_peak - self.rss_before) / self.connections / 1024

    @property
    def client_load(self) -> float:
        """CPU seconds over wall seconds: near 1, the load generator saturated a core."""
        return self.client_cpu / self.client_elapsed


def failed_liveness(probe: Probe) -> bool:
    return not probe.ok or probe.seconds > LIVENESS_TIMEOUT


def longest_outage(probes: list[Probe]) -> float:
    """The longest time /healthz failed the liveness probe without a break (not 200, or
    slower than LIVENESS_TIMEOUT), from the first such probe's start to the last one's end."""
    longest, first = 0.0, None
    for probe in sorted(probes, key=lambda probe: probe.started):
        if not failed_liveness(probe):
            first = None
            continue
        first = probe.started if first is None else first
        end = probe.started + min(probe.seconds, LIVENESS_TIMEOUT)
        longest = max(longest, end - first)
    return longest


def kubelet_failures(probes: list[Probe]) -> list[int]:
    """For each phase a kubelet may probe at (PROBE_PERIOD apart, over one LIVENESS_PERIOD),
    the most liveness failures in a row it would have seen: each of its probes read as the
    probe here that started nearest its time. Not the longest outage: a kubelet does not see
    a recovery between two of its probes."""
    ordered = sorted(probes, key=lambda probe: probe.started)
    starts = [probe.started for probe in ordered]
    by_phase = []
    for step in range(round(LIVENESS_PERIOD / PROBE_PERIOD) if starts else 0):
        at, in_a_row, most = starts[0] + step * PROBE_PERIOD, 0, 0
        while at <= starts[-1]:
            after = bisect.bisect_left(starts, at)
            candidates = [i for i in (after - 1, after) if 0 <= i < len(starts)]
            nearest = min(candidates, key=lambda i: abs(starts[i] - at))
            in_a_row = in_a_row + 1 if failed_liveness(ordered[nearest]) else 0
            most = max(most, in_a_row)
            at += LIVENESS_PERIOD
        by_phase.append(most)
    return by_phase


def liveness_text(run: Run) -> str:
    """The liveness failures in a row at the kubelet's luckiest and unluckiest phase."""
    by_phase = run.kubelet_failures  # computed on each access: read once
    fewest, most = min(by_phase, default=0), max(by_phase, default=0)
    return f"{most}" if fewest == most else f"{fewest}-{most}"


def client_verdict(load: float) -> str:
    return "it saturated a core: the limit" if load > SATURATED else "not the limit"


async def measure(served: Server, wait: Wait, probe_path: str, *, lag: bool) -> Run:
    """One burst from burst_client.py (a process of its own), `probe_path` probed and the
    server's memory sampled meanwhile; the loop lag read before and after if `lag`."""
    process = psutil.Process(served.pid)
    async with aiohttp.ClientSession() as session:  # warm-up: the route's first requests
        await burst(session, [f"{served.url}{wait.path}?delay=0"] * 10)
    before = await lag_buckets(served.url) if lag else {}
    rss_before = peak = process.memory_info().rss
    patience = wait.expected * wait.delay * 2 + 30  # per request, to its answer
    client = await asyncio.create_subprocess_exec(
        *(sys.executable, str(BURST_CLIENT), f"{served.url}{wait.path}?delay={wait.delay:g}"),
        *("--connections", str(wait.connections), "--timeout", f"{patience:g}"),
        *("--seconds", f"{wait.seconds:g}"),
        stdout=asyncio.subprocess.PIPE,
    )
    finished = asyncio.ensure_future(client.communicate())
    probes: list[Probe] = []

    async def watch_memory() -> None:
        nonlocal peak
        while not finished.done():
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(RSS_PERIOD)

    async def probe_once(session: aiohttp.ClientSession) -> None:
        started = time.perf_counter()
        try:
            async with session.get(f"{served.url}{probe_path}") as response:
                await response.read()
                ok = response.status == 200
        except PROBE_ERRORS:
            ok = False
        probes.append(Probe(started, time.perf_counter() - started, ok))

    async def probe() -> None:
        # A new connection per probe, as a kubelet's: it queues for accept with the burst's.
        # One started every PROBE_PERIOD whether or not the last was answered, as a kubelet
        # starts each on its period: a stuck loop shows as every probe failing.
        connector = aiohttp.TCPConnector(force_close=True, limit=0)
        timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            asyncio.TaskGroup() as probing,
        ):
            while not finished.done():
                probing.create_task(probe_once(session))
                await asyncio.sleep(PROBE_PERIOD)

    await asyncio.gather(watch_memory(), probe())
    output, _ = await finished
    if client.returncode != 0:
        raise RuntimeError(f"{BURST_CLIENT.name} exited with {client.returncode}")
    burst_report = json.loads(output.decode().splitlines()[-1])
    p99 = lag_p99(before, await lag_buckets(served.url)) if lag else None
    return Run(
        wait.connections,
        wait.delay,
        wait.expected,
        burst_report["statuses"],
        burst_report["errors"],
        burst_report["wall_seconds"],
        burst_report["sent_seconds"],
        burst_report["cpu_seconds"],
        burst_report["elapsed_seconds"],
        wait.seconds,
        probes,
        p99,
        rss_before,
        peak,
    )


def lag_text(lag: float | None) -> str:
    """The loop-lag p99 bucket; None: the server has no such metric."""
    if lag is None:
        return "n/a"
    return "over the largest bucket" if math.isinf(lag) else f"<= {lag * 1000:g} ms"


def pace(run: Run) -> str:
    """A burst's wall time in waits (and what the waits alone would take); a sustained run's
    answers per second."""
    if run.seconds:
        return f"{run.rate:,.0f}/s for {run.seconds:g} s"
    return f"{run.wall / run.delay:.2f} (~{run.expected:g})"


def print_run(name: str, run: Run) -> None:
    failures = ", ".join(f"{n} {kind}" for kind, n in run.failures.items()) or "none failed"
    row(name, f"{run.answered:,} answered, {pace(run)}", f"{failures}")
    row(
        "  /healthz (bare FastAPI: /hello) meanwhile: p50 / p99",
        f"{run.probe_ms(50):.1f} / {run.probe_ms(99):.1f} ms",
        f"longest outage {run.longest_outage:.1f} s; liveness failures in a row "
        f"{liveness_text(run)} (a restart: {LIVENESS_FAILURES})",
    )
    lag = lag_text(run.lag)
    row("  loop lag p99; memory per waiting request", f"{lag}; {run.kib_per_request:.1f} KiB", "")
    row(
        "  load generator: CPU / wall",
        f"{run.client_cpu:.2f} / {run.client_elapsed:.2f} s = {run.client_load:.2f}",
        f"all sent after {run.sent:.2f} s; {client_verdict(run.client_load)}",
    )


@dataclass
class Pair:
    style: str  # "async def" or "def"
    route: str  # the table's words for it
    service: Run
    bare: Run
    service_files: int | None  # the soft open-file limit each ran with
    bare_files: int | None


def side_by_side(  # noqa: PLR0913 (one burst's every figure)
    database_url: str,
    style: str,
    connections: int,
    delay: float,
    tokens: int,
    *,
    seconds: float = 0.0,
) -> Pair:
    """The same burst on a fresh service and a fresh bare FastAPI, one after the other (fresh:
    the memory before is the server's at rest, not what an earlier burst left). `style`:
    "async def" (the slow route) or "def" (sync-slow, `tokens` at once on the service);
    `seconds`: sustained that long (each connection asks again once answered)."""
    if style == "async def":
        path, waiting, ours_expected, theirs_expected = "slow", "await asyncio.sleep", 1, 1
    else:
        path, waiting = "sync-slow", "time.sleep"
        ours_expected = math.ceil(connections / tokens)
        theirs_expected = math.ceil(connections / ANYIO_TOKENS)
    with service_under_host_limit(database_url) as service:
        wait = Wait(f"/lesson/{path}", connections, delay, ours_expected, seconds)
        ours = asyncio.run(measure(service, wait, "/healthz", lag=True))
        service_files = soft_open_files(service.pid)
    print_run(f"{connections:,} x /lesson/{path}?delay={delay:g}: service", ours)
    with bare_with_raised_limit(database_url) as bare:
        wait = Wait(f"/{path}", connections, delay, theirs_expected, seconds)
        # Its /healthz: the hello route, as `compare` pairs them.
        theirs = asyncio.run(measure(bare, wait, "/hello", lag=False))
        bare_files = soft_open_files(bare.pid)
    print_run(f"{connections:,} x the same wait: bare FastAPI", theirs)
    route = f"`{style}`, {waiting}({delay:g})" + (", sustained" if seconds else "")
    return Pair(style, route, ours, theirs, service_files, bare_files)


def concurrency_markdown(pairs: list[Pair]) -> str:
    """One row per burst; each cell the service's figure, then bare FastAPI's."""
    header = [
        "connections",
        "route",
        "answered",
        "errors",
        "wall / delay (expected); sustained: answers per second",
        "/healthz p50 ms",
        "/healthz p99 ms",
        "longest /healthz outage, s",
        f"liveness failures in a row by the kubelet's phase ({LIVENESS_FAILURES} restart)",
        "loop lag p99 (service)",
        "KiB per waiting request",
        "client CPU / wall",
    ]
    lines = [
        "Each cell: the service / bare FastAPI.\n",
        f"| {' | '.join(header)} |",
        f"|{'|'.join(['--:', '---', *['--:'] * (len(header) - 2)])}|",
    ]
    for pair in pairs:
        ours, theirs = pair.service, pair.bare

        def both(figure: Callable[[Run], str]) -> str:
            return f"{figure(ours)} / {figure(theirs)}"  # noqa: B023 (used at once)

        cells = [
            f"{ours.connections:,}",
            pair.route,
            both(lambda run: f"{run.answered:,}"),
            both(lambda run: ", ".join(f"{n:,} {k}" for k, n in run.failures.items()) or "0"),
            both(pace),
            both(lambda run: f"{run.probe_ms(50):.1f}"),
            both(lambda run: f"{run.probe_ms(99):.1f}"),
            both(lambda run: f"{run.longest_outage:.1f}"),
            both(liveness_text),
            lag_text(ours.lag),
            both(lambda run: f"{run.kib_per_request:.1f}"),
            both(lambda run: f"{run.client_load:.2f}"),
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def concurrency_chart(pairs: list[Pair], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 (only this report needs it)

    matplotlib.use("Agg")  # files only: no display
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib import ticker  # noqa: PLC0415

    figure, (probes, waits) = plt.subplots(1, 2, figsize=(11, 4.2))
    for style in ("async def", "def"):
        chosen = [pair for pair in pairs if pair.style == style and not pair.service.seconds]
        sizes = [pair.service.connections for pair in chosen]
        for side, marker in (("service", "o"), ("bare FastAPI", "s")):
            runs = [pair.service if side == "service" else pair.bare for pair in chosen]
            label = f"{side}, {style}"
            probes.plot(sizes, [run.probe_ms(99) for run in runs], marker=marker, label=label)
            waits.plot(sizes, [run.wall / run.delay for run in runs], marker=marker, label=label)
    probes.set(xscale="log", yscale="log", xlabel="connections at once", ylabel="ms")
    probes.set_title("/healthz p99 during the burst (bare FastAPI: /hello)", fontsize=10)
    waits.set(xscale="log", yscale="log", xlabel="connections at once", ylabel="wall / delay")
    waits.set_title("the burst's wall time, in waits", fontsize=10)
    waits.legend(fontsize=8)
    sizes = sorted({pair.service.connections for pair in pairs})
    for axes in (probes, waits):  # plain figures, not powers of ten
        axes.set_xticks(sizes, [f"{size:,}" for size in sizes], rotation=45, fontsize=8)
        axes.xaxis.set_minor_locator(ticker.NullLocator())
        axes.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def stuck_loop(database_url: str) -> Run:
    """STUCK_REQUESTS of the anti-pattern at its longest, at once, probed like the rest."""
    with service_under_host_limit(database_url) as service:
        wait = Wait("/lesson/blocking", STUCK_REQUESTS, MAX_DELAY, STUCK_REQUESTS)
        stuck = asyncio.run(measure(service, wait, "/healthz", lag=True))
    print_run(f"control: {STUCK_REQUESTS} x /lesson/blocking?delay={MAX_DELAY:g}", stuck)
    return stuck


def liveness_verdict(pairs: list[Pair], stuck: Run) -> str:
    """Whether the manifest's liveness probe restarts the service: it must for the stuck
    loop and must not for any burst."""
    # Busy: restarted if a kubelet at any phase would; stuck: only if one at every phase would.
    busy = max(max(pair.service.kubelet_failures, default=0) for pair in pairs)
    stuck_fewest = min(stuck.kubelet_failures, default=0)
    busy_restarted, stuck_restarted = busy >= LIVENESS_FAILURES, stuck_fewest >= LIVENESS_FAILURES
    held = "holds" if stuck_restarted and not busy_restarted else "does NOT hold"
    return (
        f"Liveness (period {LIVENESS_PERIOD:g} s, timeout {LIVENESS_TIMEOUT:g} s, "
        f"{LIVENESS_FAILURES} failures in a row restart the pod): during the service's runs "
        f"above a kubelet would have seen at most {busy} failures in a row, at whatever phase "
        f"it probes ({'restarted' if busy_restarted else 'not restarted'}). The control, a "
        f"loop stuck rather than busy ({STUCK_REQUESTS} requests to the anti-pattern "
        f"`/lesson/blocking?delay={MAX_DELAY:g}` at once, `time.sleep` in `async def`, holding "
        f"the loop one after another): /healthz failed the probe for "
        f"{stuck.longest_outage:.1f} s without a break, {liveness_text(stuck)} failures in a "
        f"row by phase ({'restarted' if stuck_restarted else 'not restarted'} at every phase). "
        f"The manifest's promise, a busy pod is not restarted and a stuck one is, {held}."
    )


def concurrency_section(pairs: list[Pair], tokens: int, stuck: Run) -> str:
    first = pairs[0]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    service_files = f"{first.service_files:,}" if first.service_files else "(not read here)"
    bare_files = f"{first.bare_files:,}" if first.bare_files else "(not read here)"
    delays = sorted({pair.service.delay for pair in pairs if pair.style == "async def"})
    busiest = max(run.client_load for pair in pairs for run in (pair.service, pair.bare))
    conditions = (
        f"{datetime.now(UTC):%Y-%m-%d}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"one worker each, the `async def` waits {', '.join(f'{d:g}' for d in delays)} s, the "
        f"`def` ones {SYNC_DELAY:g} s; thread tokens: the service's {tokens}, bare FastAPI's "
        f"{ANYIO_TOKENS} (AnyIO's default). The service started under a soft open-file limit "
        f"of {HOST_SOFT_LIMIT:,} (hard {hard:,}) and ran with {service_files}, raised itself; "
        f"bare FastAPI (plain uvicorn, which does not raise it) was started with "
        f"{bare_files} by the bench. The load generator used at most {busiest:.2f} of a core "
        f"over a burst: {client_verdict(busiest)}"
    )
    return (
        "\n## One worker, thousands of waiting requests\n\n"
        + CONCURRENCY_INTRO
        + f"\n_{conditions}._\n\n"
        + concurrency_markdown(pairs)
        + f"\n{liveness_verdict(pairs, stuck)}\n"
        + "\n![/healthz p99 and wall time per burst size](concurrency.png)\n"
    )


# The section's first paragraph, as the template's docs/benchmark.md has it too.
CONCURRENCY_INTRO = """\
Written by `uv run python scripts/bench_lessons.py concurrency`; `bench.py compare` keeps it.
The lesson's claim: one thread handles thousands of concurrent requests as long as each mostly
waits. Every connection opens at once and sends one request that waits (/lesson/slow, and the
same `async def` route on bare FastAPI), from scripts/burst_client.py, a process of its own;
meanwhile /healthz (bare FastAPI's hello route) is probed every 100 ms on a new connection, as
a kubelet probes. The longest outage is how long it failed the manifest's liveness probe
(not 200, or slower than its timeout) without a break. A kubelet asks every 10 s, not every
100 ms, and restarts the pod at three failures in a row; it does not see a recovery between two
of its probes, so the liveness column reads the probes as a kubelet at each phase (100 ms
apart) would have seen them and gives the fewest and the most failures in a row over those
phases. The sustained row keeps the largest burst's connections asking again as soon as they
are answered. Then the same with the `def` route (/lesson/sync-slow), which waits in a thread:
it stops at the thread tokens (ANYIO_THREAD_TOKENS), not at the loop, so a burst takes one
wait per token's worth of requests. Memory per waiting request: the server's peak RSS
during the burst less its RSS before, over the connections. Client CPU / wall near 1 would say
the load generator saturated a core and was the limit; beside it, when its last request was
written.
"""


async def thread_tokens(base: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/lesson/status") as answer:
        tokens: int = (await answer.json())["thread_tokens"]
        return tokens


def concurrency(bench: Bench) -> None:
    sizes: tuple[int, ...] = bench.options.connections
    delay: float = bench.options.delay
    tokens = asyncio.run(thread_tokens(bench.service))
    pairs = [side_by_side(bench.database_url, "async def", n, delay, tokens) for n in sizes]
    if sustain := bench.options.sustain:
        pairs.append(
            side_by_side(
                bench.database_url, "async def", max(sizes), delay, tokens, seconds=sustain
            )
        )
    pairs += [
        side_by_side(bench.database_url, "def", m * tokens, SYNC_DELAY, tokens)
        for m in SYNC_MULTIPLES
    ]
    stuck = stuck_loop(bench.database_url)
    section = concurrency_section(pairs, tokens, stuck)
    print(f"\n{concurrency_markdown(pairs)}\n{liveness_verdict(pairs, stuck)}")
    report_path = DOCS / "benchmark.md"
    text = report_path.read_text() if report_path.exists() else ""
    report_path.write_text(with_section(text, CONCURRENCY_START, CONCURRENCY_END, section))
    concurrency_chart(pairs, DOCS / "concurrency.png")
    print(f"wrote its section of {report_path} and {DOCS / 'concurrency.png'}")


SCENARIOS: dict[str, Scenario] = {
    "lesson": lesson,
    "cpu": cpu,
    "route-order": route_order,
    "concurrency": concurrency,
}


if __name__ == "__main__":
    run_scenarios(
        __doc__ or "",
        SCENARIOS,
        environment=lambda: nullcontext(LESSONS_ON),
        parents=[concurrency_options()],
    )
