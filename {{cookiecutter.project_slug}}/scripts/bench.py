"""Benchmarks over real HTTP: the service under uvicorn, beside bare FastAPI.

    uv run python scripts/bench.py              # every scenario
    uv run python scripts/bench.py compare      # one group

Figures, not assertions: the tests prove the behaviour; this script reports how fast it is
on this machine, every comparison taken side by side in one run. `compare` measures the
service against bare FastAPI (scripts/bare_fastapi.py: the same interpreter, uvicorn settings
and database) and writes docs/benchmark.md, docs/benchmark.png and the table in README.md.

Fixed-concurrency load comes from wrk (`apt-get install wrk`, `brew install wrk`) when it is
on PATH: a C client that needs far less CPU than the server it loads. Without it, from
aiohttp, which saturates one core near the service's own rate, so every figure is then lower
and the ratios closer to 1 (the report says which one ran). Bursts and fixed-rate load come
from aiohttp (an httpx client is itself the bottleneck here: encode/httpx#3215).

Both servers use DATABASE_URL if set (migrated first), else one embedded PostgreSQL in a
temporary directory; the upstream is the stub the service ships.
"""

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

PACKAGE = "{{ cookiecutter.package_name }}"
PROJECT = Path(__file__).resolve().parent.parent
DOCS = PROJECT / "docs"
README_START, README_END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(arguments: Sequence[str], ready_path: str, **environment: str) -> Iterator[str]:
    """Run `python <arguments>` on a free port (PORT, and `{port}` in the arguments); yield
    its URL; stop it."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and modules)
            [sys.executable, *(argument.format(port=port) for argument in arguments)],
            cwd=workdir,
            env={**os.environ, "PORT": str(port), "LOG_LEVEL": "warning", **environment},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(wait_until_ready(f"{base}{ready_path}"))
            yield base
        finally:
            process.terminate()
            process.wait(timeout=60)


async def wait_until_ready(url: str, patience: float = 120) -> None:
    deadline = time.monotonic() + patience
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} never answered 200")


@contextmanager
def migrated_database() -> Iterator[str]:
    """DATABASE_URL, or an embedded server in a temporary directory; migrated either way."""
    with ExitStack() as stack:
        url = os.environ.get("DATABASE_URL")
        if url is None:
            from {{ cookiecutter.package_name }}.dev.embedded_postgres import embedded_postgres  # noqa: PLC0415

            pgdata = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-db-")))
            url = stack.enter_context(embedded_postgres(pgdata / "pgdata"))
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", PACKAGE, "migrate"],
            env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "warning"},
            check=True,
        )
        yield url


# ---- load ------------------------------------------------------------------------------


@dataclass
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


WRK = shutil.which("wrk")
LOAD_GENERATOR = "wrk (1 thread)" if WRK else "aiohttp (wrk not on PATH)"
TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> Load:
    def latency(percent: int) -> float:
        found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no {percent}% latency in wrk's output:\n{output}")
        return float(found[1]) * TO_MS[found[2]]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if rate is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx[1]) if non_2xx else 0
    errors += sum(int(n) for n in sockets.groups()) if sockets else 0
    return Load(float(rate[1]), latency(50), latency(99), errors)


def closed_loop(url: str, connections: int, seconds: float) -> Load:
    """`connections` clients, each sending its next request when the last one is answered."""
    if WRK:
        command = [WRK, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
        return parse_wrk(subprocess.run(command, capture_output=True, text=True, check=True).stdout)  # noqa: S603
    return asyncio.run(aiohttp_closed_loop(url, connections, seconds))


async def failed(session: aiohttp.ClientSession, url: str) -> bool:
    """One GET, its body read: whether it failed (an error status or no answer)."""
    try:
        async with session.get(url) as response:
            await response.read()
            return response.status >= 400
    except aiohttp.ClientError:
        return True


async def aiohttp_closed_loop(url: str, connections: int, seconds: float) -> Load:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            # Awaited first: `errors += await ...` would read `errors` before the await and
            # lose what the other clients added meanwhile.
            failure = await failed(session, url)
            errors += failure
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return Load(len(latencies) / elapsed, cuts[49] * 1000, cuts[98] * 1000, errors)


def measure(url: str, connections: int = 64, seconds: float = 5.0) -> Load:
    closed_loop(url, connections, 1.0)  # warm-up: connections, statement caches, JIT-free paths
    return closed_loop(url, connections, seconds)


def alternate(urls: Sequence[str], rounds: int, connections: int, seconds: float) -> list[Load]:
    """Each URL in turn, `rounds` times; per URL the median round. Alternating spreads any
    change of machine load over every side instead of charging it to one."""
    runs: list[list[Load]] = [[] for _ in urls]
    for _ in range(rounds):
        for url, loads in zip(urls, runs, strict=True):
            loads.append(measure(url, connections, seconds))
    return [
        sorted(loads, key=lambda load: load.requests_per_second)[len(loads) // 2] for loads in runs
    ]


@dataclass
class Burst:
    seconds: float
    statuses: dict[int, int]


async def burst(session: aiohttp.ClientSession, urls: list[str]) -> Burst:
    """All requests at once; wall time until the last answer."""

    async def fetch(url: str) -> int:
        async with session.get(url) as response:
            await response.read()
            return response.status

    started = time.perf_counter()
    statuses = await asyncio.gather(*(fetch(url) for url in urls))
    seconds = time.perf_counter() - started
    return Burst(seconds, {s: statuses.count(s) for s in set(statuses)})


async def fixed_rate(url: str, rate: float, seconds: float) -> tuple[float, int]:
    """Open loop: a request every 1/rate s whether or not earlier ones were answered.
    Returns the rate achieved and the errors."""
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512)) as session:
        tasks = []
        started = loop.time()
        for n in range(int(rate * seconds)):
            if (wait := started + n / rate - loop.time()) > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(failed(session, url)))
        outcomes = await asyncio.gather(*tasks)
        elapsed = loop.time() - started
    return len(tasks) / elapsed, sum(outcomes)


async def lag_buckets(base: str) -> dict[float, float]:
    """The service's loop-lag histogram: cumulative count per upper bound."""
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        text = await response.text()
    return {
        float(sample.labels["le"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "event_loop_lag_seconds"
        for sample in family.samples
        if sample.name.endswith("_bucket")
    }


def lag_p99(before: dict[float, float], after: dict[float, float]) -> float:
    """The upper bound of the bucket holding the 99th percentile of the probes in between."""
    grown = {bound: after[bound] - before.get(bound, 0.0) for bound in sorted(after)}
    total = grown[float("inf")]
    return next(bound for bound, count in grown.items() if count >= 0.99 * total)


# ---- compare: the service beside bare FastAPI -------------------------------------------


@dataclass
class Row:
    route: str
    service: Load
    baseline: Load | None = None
    baseline_name: str = "bare FastAPI"

    @property
    def ratio(self) -> float | None:
        if self.baseline is None:
            return None
        return self.service.requests_per_second / self.baseline.requests_per_second


@dataclass
class Comparison:
    rows: list[Row]
    lag: list[tuple[str, float, float, int]]  # route, achieved req/s, p99 bucket (s), errors
    conditions: str


def compare_run(database_url: str, upstream: str, rounds: int, seconds: float) -> Comparison:
    env = {"DATABASE_URL": database_url, "UPSTREAM_URL": upstream}
    service_args = ["-m", PACKAGE]
    bare_args = ["-m", "uvicorn", "bare_fastapi:app", "--app-dir", str(PROJECT / "scripts")]
    bare_args += [
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    rows: list[Row] = []
    lag: list[tuple[str, float, float, int]] = []
    with (
        serving(service_args, "/readyz", **env) as service,
        serving(bare_args, "/hello", **env) as bare,
    ):
        item = asyncio.run(create_item(service))
        print(f"{'route':<58} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")

        def pair(name: str, ours: str, theirs: str, connections: int = 64) -> Row:
            mine, base = alternate([ours, theirs], rounds, connections, seconds)
            row = Row(name, mine, base)
            report(f"{name}: service", mine)
            report(f"{name}: bare FastAPI", base, f"ratio {row.ratio:.2f}")
            return row

        # FastAPI tries the routes one by one, in the order app.py includes them: /healthz
        # is among the first, /lesson/async comes after the service's own routes.
        trivial = pair("`async def`, no I/O: /healthz", f"{service}/healthz", f"{bare}/hello")
        late = pair(
            "`async def`, no I/O: /lesson/async", f"{service}/lesson/async", f"{bare}/hello"
        )
        asyncpg_read = pair(
            "asyncpg read by id",
            f"{service}/async/items/{item}",
            f"{bare}/asyncpg/items/{item}",
        )
        rows += [trivial, late, asyncpg_read]
        for connections in (64, 128):
            name = f"psycopg2 `def` read by id, {connections} connections"
            sync_read, async_read = alternate(
                [f"{service}/sync/items/{item}", f"{service}/async/items/{item}"],
                rounds,
                connections,
                seconds,
            )
            row = Row(name, sync_read, async_read, "the service's asyncpg read")
            report(name, sync_read, f"{row.ratio:.2f} of asyncpg")
            rows.append(row)
        (bridge,) = alternate([f"{service}/bridge/items/{item}"], rounds, 64, seconds)
        rows.append(
            Row(
                "psycopg2 through `asyncio.to_thread`",
                bridge,
                asyncpg_read.service,
                "the service's asyncpg read",
            )
        )
        report("psycopg2 through asyncio.to_thread", bridge)

        # The loop-lag figure: a fixed rate of half the measured maximum, where a healthy
        # service is not queueing, so any lag left is the loop's own.
        for name, path, row in [
            ("`async def`, no I/O", "/healthz", trivial),
            ("asyncpg read by id", f"/async/items/{item}", asyncpg_read),
        ]:
            rate = row.service.requests_per_second / 2
            before = asyncio.run(lag_buckets(service))
            achieved, errors = asyncio.run(fixed_rate(f"{service}{path}", rate, seconds))
            p99 = lag_p99(before, asyncio.run(lag_buckets(service)))
            lag.append((name, achieved, p99, errors))
            print(
                f"  loop lag p99 at {achieved:,.0f} req/s on {path}: <= {p99 * 1000:g} ms, errors {errors}"
            )

    with serving(service_args, "/readyz", WORKERS="2", **env) as two_workers:
        for name, path, one in [
            ("`async def`, no I/O: /healthz", "/healthz", trivial),
            ("asyncpg read by id", f"/async/items/{item}", asyncpg_read),
        ]:
            (load,) = alternate([f"{two_workers}{path}"], rounds, 64, seconds)
            row = Row(f"{name}, 2 workers", load, one.service, "1 worker")
            report(row.route, load, f"{row.ratio:.2f}x of 1 worker")
            rows.append(row)

    conditions = (
        f"{datetime.now(UTC):%Y-%m-%d}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load from {LOAD_GENERATOR}: 64 connections unless stated, {seconds:g} s after a 1 s "
        f"warm-up, median of {rounds} rounds taken in turn with the other side"
    )
    return Comparison(rows, lag, conditions)


async def create_item(base: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base}/async/items", json={"name": "benchmark", "price": "9.99"}
        ) as response,
    ):
        assert response.status == 201, await response.text()
        item_id: int = (await response.json())["id"]
        return item_id


def report(name: str, load: Load, note: str = "") -> None:
    print(
        f"{name:<58} {load.requests_per_second:>9,.0f} {load.p50_ms:>7.1f} "
        f"{load.p99_ms:>7.1f} {load.errors:>6} {note}"
    )


def markdown(comparison: Comparison) -> str:
    lines = [
        f"_{comparison.conditions}._",
        "",
        "| route | service req/s | p50 / p99 ms | compared with | its req/s | p50 / p99 ms | ratio | errors |",
        "|---|--:|--:|---|--:|--:|--:|--:|",
    ]
    for row in comparison.rows:
        mine, base = row.service, row.baseline
        theirs = (
            f"{base.requests_per_second:,.0f} | {base.p50_ms:.1f} / {base.p99_ms:.1f}"
            if base
            else " | "
        )
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else ""
        errors = mine.errors + (base.errors if base else 0)
        lines.append(
            f"| {row.route} | {mine.requests_per_second:,.0f} | {mine.p50_ms:.1f} / "
            f"{mine.p99_ms:.1f} | {row.baseline_name} | {theirs} | {ratio} | {errors} |"
        )
    lines += [
        "",
        "| event-loop lag at half the maximum rate | req/s | lag p99 | errors |",
        "|---|--:|--:|--:|",
    ]
    for name, achieved, p99, errors in comparison.lag:
        lines.append(f"| {name} | {achieved:,.0f} | <= {p99 * 1000:g} ms | {errors} |")
    return "\n".join(lines) + "\n"


def chart(comparison: Comparison, path: Path) -> None:
    import matplotlib  # noqa: PLC0415 (only this report needs it)

    matplotlib.use("Agg")  # files only: no display
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows = comparison.rows
    figure, axes = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.4))
    y = range(len(rows))
    axes.barh(
        [n + 0.2 for n in y], [r.service.requests_per_second for r in rows], 0.4, label="service"
    )
    axes.barh(
        [n - 0.2 for n in y],
        [r.baseline.requests_per_second if r.baseline else 0 for r in rows],
        0.4,
        label="compared with",
    )
    axes.set_yticks(list(y), [f"{r.route}\nvs {r.baseline_name}".replace("`", "") for r in rows])
    axes.invert_yaxis()
    axes.set_xlabel("requests per second")
    axes.set_title(comparison.conditions, fontsize=7, wrap=True)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_reports(comparison: Comparison) -> None:
    table = markdown(comparison)
    (DOCS / "benchmark.md").write_text(
        "# Benchmark: the service beside bare FastAPI\n\n"
        "Written by `uv run python scripts/bench.py compare`; docs/performance.md explains the "
        "figures.\n\n" + table + "\n![requests per second](benchmark.png)\n"
    )
    chart(comparison, DOCS / "benchmark.png")
    readme = PROJECT / "README.md"
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if 0 <= start < end:
        text = text[: start + len(README_START)] + "\n" + table + text[end:]
        readme.write_text(text)
    print(f"\nwrote {DOCS / 'benchmark.md'}, {DOCS / 'benchmark.png'} and the table in {readme}")


# ---- the other scenarios: one service, figures for each lesson --------------------------


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


def row(name: str, figure: str, expectation: str) -> None:
    print(f"{name:<66} {figure:<26} {expectation}")


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


def lesson(bench: "Bench") -> None:
    asyncio.run(lesson_bursts(bench.service))
    for name, url in [
        ("/lesson/async, 64 connections (no thread hop)", "async"),
        ("/lesson/sync, 64 connections (a thread hop each)", "sync"),
    ]:
        load = measure(f"{bench.service}/lesson/{url}", seconds=bench.seconds)
        row(
            name,
            f"{load.requests_per_second:,.0f} req/s p99 {load.p99_ms:.1f} ms",
            f"errors {load.errors}",
        )


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


def cpu(bench: "Bench") -> None:
    asyncio.run(cpu_bursts(bench.service))


def items(bench: "Bench") -> None:
    item = asyncio.run(create_item(bench.service))
    for name, path in [
        ("/lesson/async (async def, no I/O: the ceiling)", "/lesson/async"),
        (f"/async/items/{item} (asyncpg, async def)", f"/async/items/{item}"),
        (f"/sync/items/{item} (psycopg2, def)", f"/sync/items/{item}"),
        (f"/bridge/items/{item} (psycopg2 via to_thread)", f"/bridge/items/{item}"),
    ]:
        load = measure(f"{bench.service}{path}", seconds=bench.seconds)
        row(
            f"{name}, 64 connections",
            f"{load.requests_per_second:,.0f} req/s p99 {load.p99_ms:.1f} ms",
            f"errors {load.errors}",
        )


async def fanout_bursts(base: str) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        url = f"{base}/async/upstream/fanout"
        await burst(session, [f"{url}?n=5&delay=0"])  # open the client's first connections
        result = await burst(session, [f"{url}?n=10&delay=0.3"])
        row(
            "1 fan-out of 10 upstream calls of 0.3 s",
            f"{result.seconds:.3f} s {result.statuses}",
            "< 0.75 s",
        )
        result = await burst(session, [f"{url}?n=5&delay=0.3"] * 20)
        row(
            "20 fan-outs of 5 calls of 0.3 s (100 upstream calls)",
            f"{result.seconds:.3f} s {result.statuses}",
            "< 0.75 s",
        )


def fanout(bench: "Bench") -> None:
    asyncio.run(fanout_bursts(bench.service))


def compare(bench: "Bench") -> None:
    comparison = compare_run(bench.database_url, bench.upstream, bench.rounds, bench.seconds)
    write_reports(comparison)


@dataclass
class Bench:
    database_url: str
    upstream: str
    service: str
    rounds: int
    seconds: float


SCENARIOS: dict[str, Callable[[Bench], None]] = {
    "compare": compare,
    "lesson": lesson,
    "cpu": cpu,
    "items": items,
    "fanout": fanout,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"{', '.join(SCENARIOS)} (default: all)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="compare: rounds per side (3)")
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="each load run (5; whole seconds with wrk)"
    )
    options = parser.parse_args()
    chosen = options.scenarios or list(SCENARIOS)
    if unknown := sorted(set(chosen) - set(SCENARIOS)):
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    if options.rounds < 1 or options.seconds <= 0:
        parser.error("--rounds must be at least 1 and --seconds positive")
    if WRK and not options.seconds.is_integer():
        # wrk reads whole seconds only ("-d0.5s" is a usage error): rounding would measure for
        # longer than the report says.
        parser.error(f"--seconds must be a whole number with wrk ({WRK}), not {options.seconds:g}")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load from {LOAD_GENERATOR}")
    with (
        migrated_database() as database_url,
        serving(["-m", f"{PACKAGE}.upstream_stub"], "/delay/0") as upstream,
        serving(
            ["-m", PACKAGE],
            "/readyz",
            DATABASE_URL=database_url,
            UPSTREAM_URL=upstream,
            ENABLE_ANTIPATTERNS="true",
        ) as service,
    ):
        bench = Bench(database_url, upstream, service, options.rounds, options.seconds)
        for name in chosen:
            print(f"\n== {name}")
            SCENARIOS[name](bench)


if __name__ == "__main__":
    main()
