"""Benchmarks over real HTTP: the service under uvicorn, beside bare FastAPI.

    uv run python scripts/bench.py              # every scenario
    uv run python scripts/bench.py compare      # one of them

Figures, not assertions: the tests prove the behaviour; this script reports how fast it is
on this machine, every comparison taken side by side in one run. `compare` measures the
service against bare FastAPI (scripts/bare_fastapi.py: the same interpreter, uvicorn settings
and database) and writes docs/benchmark.md, docs/benchmark.png and the table in README.md;
`items` loads each item read this service has. Both cover every database driver the service
has (`settings.DRIVERS`). The harness here (serving, load, parsing, reports) also runs the
scenarios of the service's optional parts, each in a script of its own that a service
without the part does not have (scripts/bench_*.py).

Fixed-concurrency load comes from wrk (`apt-get install wrk`, `brew install wrk`) when it is
on PATH: a C client that needs far less CPU than the server it loads. Without it, from
aiohttp, which saturates one core near the service's own rate, so every figure is then lower
and the ratios closer to 1 (the report says which one ran). Bursts and fixed-rate load come
from aiohttp (an httpx client is itself the bottleneck here: encode/httpx#3215).

Both servers use DATABASE_URL if set (migrated first), else one embedded PostgreSQL in a
temporary directory; the rest of the environment reaches the service as it is.
"""

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from {{ cookiecutter.package_name }}.settings import DRIVERS

# The project root, for the tests' helpers (free ports; the item routes of each driver):
# scripts/ alone is on sys.path when a script in it runs.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.harness import free_port
from tests.support.parts import ITEM_READ_PREFIXES, ITEM_ROUTES

PACKAGE = "{{ cookiecutter.package_name }}"
PROJECT = Path(__file__).resolve().parent.parent
DOCS = PROJECT / "docs"
README_START, README_END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"
# docs/benchmark.md's section that scripts/bench_lessons.py's `concurrency` writes: `compare`,
# which writes the rest of the file, keeps it.
CONCURRENCY_START, CONCURRENCY_END = "<!-- concurrency:start -->", "<!-- concurrency:end -->"


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


@contextmanager
def server(
    arguments: Sequence[str],
    ready_path: str,
    environment: Mapping[str, str],
    preexec_fn: Callable[[], object] | None = None,
) -> Iterator[Server]:
    """Run `python <arguments>` on a free port (PORT, and `{port}` in the arguments) with
    `environment` added; yield its URL and process; stop it. `preexec_fn` runs in the child
    before the interpreter starts (to set its resource limits)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and modules)
            [sys.executable, *(argument.format(port=port) for argument in arguments)],
            cwd=workdir,
            env={**os.environ, "PORT": str(port), "LOG_LEVEL": "warning", **environment},
            # Unsafe beside threads, which the bench has none of while it starts a server.
            preexec_fn=preexec_fn,  # noqa: PLW1509
        )
        base = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(wait_until_ready(f"{base}{ready_path}"))
            yield Server(base, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=60)


@contextmanager
def serving(arguments: Sequence[str], ready_path: str, **environment: str) -> Iterator[str]:
    """`server`'s URL alone."""
    with server(arguments, ready_path, environment) as served:
        yield served.url


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


# The service, as `python -m {{ cookiecutter.package_name }}` serves it, and the path that
# answers once it is ready.
SERVICE = (["-m", PACKAGE], "/readyz")


def bare(app: str = "bare_fastapi:app") -> tuple[list[str], str]:
    """bare FastAPI (scripts/bare_fastapi.py, or a script that adds to it) under uvicorn, and
    the path that answers once it is ready."""
    arguments = ["-m", "uvicorn", app, "--app-dir", str(PROJECT / "scripts")]
    arguments += ["--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning"]
    return [*arguments, "--no-access-log"], "/hello"


def serving_service(database_url: str, **environment: str) -> AbstractContextManager[str]:
    """The service on `database_url`."""
    return serving(*SERVICE, DATABASE_URL=database_url, **environment)


def serving_bare(database_url: str) -> AbstractContextManager[str]:
    """bare FastAPI on `database_url`."""
    return serving(*bare(), DATABASE_URL=database_url)


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


# What each driver's item read is called in the reports.
READS = {"asyncpg": "asyncpg read by id", "psycopg2": "psycopg2 `def` read by id"}
TRIVIAL = "`async def`, no I/O"


def compare_run(database_url: str, rounds: int, seconds: float) -> Comparison:
    rows: list[Row] = []
    lag: list[tuple[str, float, float, int]] = []
    with serving_service(database_url) as service, serving_bare(database_url) as bare:
        item = asyncio.run(create_item(service))
        print(f"{'route':<58} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")

        def pair(name: str, ours: str, theirs: str, connections: int = 64) -> Row:
            mine, base = alternate([ours, theirs], rounds, connections, seconds)
            row = Row(name, mine, base)
            report(f"{name}: service", mine)
            report(f"{name}: bare FastAPI", base, f"ratio {row.ratio:.2f}")
            return row

        trivial = pair(f"{TRIVIAL}: /healthz", f"{service}/healthz", f"{bare}/hello")
        # Each driver's read against bare FastAPI's read on the same driver.
        reads = {
            driver: pair(
                READS[driver],
                f"{service}{ITEM_ROUTES[driver]}/{item}",
                f"{bare}/{driver}/items/{item}",
            )
            for driver in DRIVERS
        }
        rows += [trivial, *reads.values()]
        if "asyncpg" in reads and "psycopg2" in reads:
            # The two drivers side by side: a `def` route holds a thread per request, which
            # 128 connections (more than the 40 thread tokens) make visible.
            for connections in (64, 128):
                name = f"psycopg2 `def` read by id, {connections} connections"
                sync_read, async_read = alternate(
                    [
                        f"{service}{ITEM_ROUTES['psycopg2']}/{item}",
                        f"{service}{ITEM_ROUTES['asyncpg']}/{item}",
                    ],
                    rounds,
                    connections,
                    seconds,
                )
                row = Row(name, sync_read, async_read, "the service's asyncpg read")
                report(name, sync_read, f"{row.ratio:.2f} of asyncpg")
                rows.append(row)
        if "psycopg2" in reads:
            # The same psycopg2 read, from `async def` through the loop's executor instead of
            # from a `def` route through AnyIO's thread pool.
            (bridge,) = alternate([f"{service}/bridge/items/{item}"], rounds, 64, seconds)
            rows.append(
                Row(
                    "psycopg2 through `asyncio.to_thread`",
                    bridge,
                    reads["psycopg2"].service,
                    "the service's psycopg2 `def` read",
                )
            )
            report("psycopg2 through asyncio.to_thread", bridge)

        # The loop-lag figure: a fixed rate of half the measured maximum, where a healthy
        # service is not queueing, so any lag left is the loop's own.
        measured = [
            (TRIVIAL, "/healthz", trivial),
            *((READS[d], f"{ITEM_ROUTES[d]}/{item}", reads[d]) for d in DRIVERS),
        ]
        for name, path, row in measured:
            rate = row.service.requests_per_second / 2
            before = asyncio.run(lag_buckets(service))
            achieved, errors = asyncio.run(fixed_rate(f"{service}{path}", rate, seconds))
            p99 = lag_p99(before, asyncio.run(lag_buckets(service)))
            lag.append((name, achieved, p99, errors))
            print(
                f"  loop lag p99 at {achieved:,.0f} req/s on {path}: <= {p99 * 1000:g} ms, errors {errors}"
            )

    with serving_service(database_url, WORKERS="2") as two_workers:
        for _, path, one in measured:
            (load,) = alternate([f"{two_workers}{path}"], rounds, 64, seconds)
            row = Row(f"{one.route}, 2 workers", load, one.service, "1 worker")
            report(row.route, load, f"{row.ratio:.2f}x of 1 worker")
            rows.append(row)

    conditions = (
        f"{datetime.now(UTC):%Y-%m-%d}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load from {LOAD_GENERATOR}: 64 connections unless stated, {seconds:g} s after a 1 s "
        f"warm-up, median of {rounds} rounds taken in turn with the other side"
    )
    return Comparison(rows, lag, conditions)


async def create_item(base: str) -> int:
    """One item to read, written through the first driver's routes: every driver reads it."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base}{ITEM_ROUTES[DRIVERS[0]]}", json={"name": "benchmark", "price": "9.99"}
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


def section_of(text: str, start: str, end: str) -> str | None:
    """What lies between the markers `start` and `end` in `text`; None without them."""
    first = text.find(start)
    last = text.find(end, first + len(start)) if first >= 0 else -1
    return text[first + len(start) : last] if last >= 0 else None


def with_section(text: str, start: str, end: str, section: str) -> str:
    """`text` with `section` between the markers `start` and `end`: in place of what was
    there, or with the markers at the end of `text` if it has none."""
    first = text.find(start)
    last = text.find(end, first + len(start)) if first >= 0 else -1
    if last < 0:
        return f"{text.rstrip()}\n\n{start}{section}{end}\n"
    return text[: first + len(start)] + section + text[last:]


def write_reports(comparison: Comparison) -> None:
    table = markdown(comparison)
    report = DOCS / "benchmark.md"
    text = (
        "# Benchmark: the service beside bare FastAPI\n\n"
        "Written by `uv run python scripts/bench.py compare`; docs/performance.md explains the "
        "figures.\n\n" + table + "\n![requests per second](benchmark.png)\n"
    )
    # The section another script writes stays, after this one's.
    old = report.read_text() if report.exists() else ""
    if (kept := section_of(old, CONCURRENCY_START, CONCURRENCY_END)) is not None:
        text = with_section(text, CONCURRENCY_START, CONCURRENCY_END, kept)
    report.write_text(text)
    chart(comparison, DOCS / "benchmark.png")
    readme = PROJECT / "README.md"
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if 0 <= start < end:
        text = text[: start + len(README_START)] + "\n" + table + text[end:]
        readme.write_text(text)
    print(f"\nwrote {DOCS / 'benchmark.md'}, {DOCS / 'benchmark.png'} and the table in {readme}")


# ---- scenarios: one service, figures for each ---------------------------------------


def row(name: str, figure: str, expectation: str) -> None:
    print(f"{name:<66} {figure:<26} {expectation}")


def closed_loop_row(name: str, url: str, seconds: float) -> None:
    load = measure(url, seconds=seconds)
    row(
        name,
        f"{load.requests_per_second:,.0f} req/s p99 {load.p99_ms:.1f} ms",
        f"errors {load.errors}",
    )


@dataclass
class Bench:
    database_url: str
    service: str
    rounds: int
    seconds: float
    # Every option parsed, the script's own (run_scenarios' `parents`) among them.
    options: argparse.Namespace = field(default_factory=argparse.Namespace)


Scenario = Callable[[Bench], None]
# What a script's service needs besides the database, ready while the scenarios run.
Environment = Callable[[], AbstractContextManager[Mapping[str, str]]]

# How `items` names each route that reads one item by id.
ITEM_READS = {
    ITEM_ROUTES["asyncpg"]: "asyncpg, async def",
    ITEM_ROUTES["psycopg2"]: "psycopg2, def",
    "/bridge/items": "psycopg2 via to_thread",
}


def items(bench: Bench) -> None:
    item = asyncio.run(create_item(bench.service))
    closed_loop_row(
        "/healthz (async def, no I/O: the ceiling), 64 connections",
        f"{bench.service}/healthz",
        bench.seconds,
    )
    for prefix in ITEM_READ_PREFIXES:
        closed_loop_row(
            f"{prefix}/{item} ({ITEM_READS[prefix]}), 64 connections",
            f"{bench.service}{prefix}/{item}",
            bench.seconds,
        )


def compare(bench: Bench) -> None:
    write_reports(compare_run(bench.database_url, bench.rounds, bench.seconds))


def run_scenarios(
    description: str,
    scenarios: Mapping[str, Scenario],
    *,
    environment: Environment = lambda: nullcontext({}),
    argv: Sequence[str] | None = None,
    parents: Sequence[argparse.ArgumentParser] = (),
) -> None:
    """The command line of a benchmark script: its scenarios by name (all by default), run
    on one migrated database against one service, served with `environment` added.
    `parents`: parsers (add_help=False) of the script's own flags, which reach the scenarios
    in `Bench.options`."""
    parser = argparse.ArgumentParser(
        description=description.split("\n\n", maxsplit=1)[0], parents=list(parents)
    )
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"{', '.join(scenarios)} (default: all)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per side of each comparison (3)"
    )
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="each load run (5; whole seconds with wrk)"
    )
    options = parser.parse_args(argv)
    chosen = options.scenarios or list(scenarios)
    if unknown := sorted(set(chosen) - set(scenarios)):
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(scenarios)}")
    if options.rounds < 1 or options.seconds <= 0:
        parser.error("--rounds must be at least 1 and --seconds positive")
    if WRK and not options.seconds.is_integer():
        # wrk reads whole seconds only ("-d0.5s" is a usage error): rounding would measure for
        # longer than the report says.
        parser.error(f"--seconds must be a whole number with wrk ({WRK}), not {options.seconds:g}")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load from {LOAD_GENERATOR}")
    with (
        migrated_database() as database_url,
        environment() as extra,
        serving_service(database_url, **extra) as service,
    ):
        bench = Bench(database_url, service, options.rounds, options.seconds, options)
        for name in chosen:
            print(f"\n== {name}")
            scenarios[name](bench)


SCENARIOS: dict[str, Scenario] = {"compare": compare, "items": items}


if __name__ == "__main__":
    run_scenarios(__doc__ or "", SCENARIOS)
