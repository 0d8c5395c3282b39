"""What each layer of the service costs per request: CPU time, rung by rung from bare FastAPI.

    uv run python scripts/bench_layers.py
    uv run python scripts/bench_layers.py --calls 1000 --rounds 3

In process, without sockets: each rung is called through its ASGI interface by 16 concurrent
callers, and the figure is this process's CPU time per request (median over `--rounds`,
the rungs taking turns in every round, so a busy machine slows them alike). Over HTTP
(scripts/bench.py compare), uvicorn's parsing and the socket writes add the same to both
sides; what differs is measured here. Figures, not assertions; docs/performance.md explains
them. Uses DATABASE_URL if set, else an embedded PostgreSQL in a temporary directory.

Each ladder goes from scripts/bare_fastapi.py's route to the service's, one layer added at a
time. The lower rungs are routes that exist in this script only, declared on the service's
app itself (as bare FastAPI declares its routes) and matched first, so they run inside the
service's own lifespan and pool. The service's routes live in one APIRouter per concern,
included into the app; the rung "reached through its included router" measures what that
costs, against the same endpoint function declared on the app.

The /healthz ladder is here, in every service: it touches no database, and its rungs (the
included router, the X-Request-ID and metrics middleware) are what every route of every
service pays, whichever drivers it has, so it explains `compare`'s /healthz ratio
everywhere. A driver's read ladder needs that driver's code and is a file of its own
(scripts/layers_<driver>.py, which a service without the driver does not have): asyncpg's.
psycopg2's `def` read has none yet: its rungs would be other ones (the wait for a connection
on the loop, the thread hop), a ladder still to be written.

The service's rungs run with tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT), as a service runs by
default. A read ladder may add a last rung with it on: a second copy of the service, built with
the endpoint set, exporting to an OTLP receiver in a process of its own (tests/support/otlp.py,
which counts and keeps nothing), with the SDK's default batching. Its exporter thread's CPU time
is this process's, so it is in the figure.
"""

import argparse
import asyncio
import functools
import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvloop
from asgi_correlation_id import CorrelationIdMiddleware
from asgi_lifespan import LifespanManager
from bare_fastapi import app as bare_app  # the baseline bench.py compares with
from bench import PROJECT, migrated_database, serving  # scripts/ is on sys.path
from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.observability.tracing import export_of, provider_of
from {{ cookiecutter.package_name }}.routes import health
from {{ cookiecutter.package_name }}.settings import DRIVERS, Settings

# The project root, for the scope the tests call the app with (one definition of "a request as
# uvicorn passes it"): scripts/ alone is on sys.path when a script in it runs.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.harness import request_scope

CALLERS = 16
# The drivers with a read ladder, and its module (scripts/<module>.py).
READ_LADDERS = {"asyncpg": "layers_asyncpg"}

# Which ASGI stack a rung calls: bare FastAPI, or the service's app with none, only the
# X-Request-ID, or all of its middleware; the app itself, as uvicorn calls it ("entry":
# FastAPI's own __call__, where its telemetry decides whether to trace, is outside the
# middleware stack); or, "traced", the service built with tracing on.
Stack = Literal["bare", "no middleware", "request id", "full", "entry", "traced"]
# A rung: its name, its stack, the path it asks for.
Step = tuple[str, Stack, str]

rungs = APIRouter(prefix="/rung")
# The service's own endpoint function, declared on the app instead of in its router.
rungs.add_api_route("/healthz", health.healthz)

HEALTHZ_LADDER: list[Step] = [
    ("bare FastAPI: GET /hello", "bare", "/hello"),
    ("the service's /healthz declared on the app, no middleware", "no middleware", "/rung/healthz"),
    ("  + reached through its included router: GET /healthz", "no middleware", "/healthz"),
    ("  + X-Request-ID middleware", "request id", "/healthz"),
    ("  + request metrics middleware", "full", "/healthz"),
    ("  + FastAPI's entry, tracing off: the service", "entry", "/healthz"),
]


def middleware_stack(app: FastAPI, keep: Callable[[type], bool]) -> ASGIApp:
    """The app's ASGI stack with only the middleware `keep` accepts (FastAPI's own stays)."""
    every = app.user_middleware
    app.user_middleware = [entry for entry in every if keep(entry.cls)]  # type: ignore[arg-type]
    try:
        return app.build_middleware_stack()
    finally:
        app.user_middleware = every


async def cpu_us_per_request(app: ASGIApp, path: str, state: dict[str, Any], calls: int) -> float:
    async def call() -> None:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        await app({**request_scope("GET", path), "state": state.copy()}, receive, send)
        if sent[0]["status"] != 200:
            raise RuntimeError(f"{path} answered {sent[0]['status']}")

    async def caller(count: int) -> None:
        for _ in range(count):
            await call()

    started = time.process_time()
    await asyncio.gather(*(caller(calls // CALLERS) for _ in range(CALLERS)))
    return (time.process_time() - started) / (calls // CALLERS * CALLERS) * 1e6


@dataclass
class Stacks:
    """Each stack a rung may call, with the lifespan state its requests carry."""

    apps: Mapping[Stack, ASGIApp]
    states: Mapping[Stack, dict[str, Any]]
    # What a stack's rungs run inside (the traced one: the drivers' instrumentation, which
    # patches the driver for the whole process and so is on for that rung only).
    during: dict[Stack, Callable[[], AbstractContextManager[None]]] = field(default_factory=dict)

    def measured(self, stack: Stack) -> AbstractContextManager[None]:
        return self.during.get(stack, nullcontext)()


async def measure(stacks: Stacks, ladder: list[Step], calls: int, rounds: int) -> None:
    figures: dict[str, list[float]] = {name: [] for name, *_ in ladder}
    for _name, stack, path in ladder:  # warm-up: connections, statement caches
        with stacks.measured(stack):
            await cpu_us_per_request(stacks.apps[stack], path, stacks.states[stack], CALLERS * 20)
    for _ in range(rounds):
        for name, stack, path in ladder:
            with stacks.measured(stack):
                figure = await cpu_us_per_request(
                    stacks.apps[stack], path, stacks.states[stack], calls
                )
            figures[name].append(figure)
    previous: float | None = None
    for name, *_ in ladder:
        median = statistics.median(figures[name])
        step = "" if previous is None else f"{median - previous:+7.1f}"
        print(f"{name:<70} {median:7.1f} us {step}")
        previous = median


def serving_receiver() -> AbstractContextManager[str]:
    """An OTLP receiver in a process of its own; yields the URL for OTEL_EXPORTER_OTLP_ENDPOINT."""
    arguments = ["-m", "uvicorn", "tests.support.otlp:standalone_receiver", "--factory"]
    arguments += ["--app-dir", str(PROJECT), "--port", "{port}", "--log-level", "warning"]
    return serving([*arguments, "--no-access-log"], "/")


async def run(database_url: str, receiver: str, calls: int, rounds: int) -> None:
    os.environ["DATABASE_URL"] = database_url  # bare_fastapi.py reads it at start-up
    # Loaded by name: a driver's module is absent from a service without that driver.
    ladders = [READ_LADDERS[driver] for driver in DRIVERS if driver in READ_LADDERS]
    read_ladders = [importlib.import_module(name) for name in ladders]
    app = create_app(Settings(database_url=database_url))
    app.router.routes[:0] = [
        *rungs.routes,
        *(route for ladder in read_ladders for route in ladder.rungs.routes),
    ]
    traced_settings = Settings(database_url=database_url, otel_exporter_otlp_endpoint=receiver)
    traced_export = export_of(traced_settings)
    assert traced_export is not None
    traced = create_app(traced_settings)
    traced.router.routes[:0] = [route for ladder in read_ladders for route in ladder.rungs.routes]
    apps: dict[Stack, ASGIApp] = {
        "bare": bare_app,
        "no middleware": middleware_stack(app, lambda _cls: False),
        "request id": middleware_stack(app, lambda cls: cls is CorrelationIdMiddleware),
        "full": app.build_middleware_stack(),
        "entry": app,
        # The whole app, not its middleware stack: FastAPI's telemetry wraps the stack.
        "traced": traced,
    }
    # The tests' bounds (tests/support/harness.py): asgi-lifespan's default of 5 s is less than
    # the service's start-up can take on a busy machine.
    async with (
        LifespanManager(bare_app) as bare,
        LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as service,
        LifespanManager(traced, startup_timeout=30, shutdown_timeout=30) as traced_service,
    ):
        # What asgi-lifespan puts in each request's scope: the lifespans' resources.
        states: dict[Stack, dict[str, Any]] = {"bare": bare._state, "traced": traced_service._state}
        states |= dict.fromkeys(("no middleware", "request id", "full", "entry"), service._state)
        stacks = Stacks(apps, states)
        print(f"CPU per request: {CALLERS} callers, median of {rounds} rounds of {calls} calls")
        print("\ntrivial `async def`")
        await measure(stacks, HEALTHZ_LADDER, calls, rounds)
        for ladder in read_ladders:
            title, steps = await ladder.ladder(database_url)
            print(f"\n{title}")
            provider = provider_of(traced_export)
            stacks.during["traced"] = functools.partial(ladder.while_traced, provider)
            with ladder.untraced_between_rungs(provider):
                await measure(stacks, steps, calls, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000, help="requests per rung per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, rungs taking turns")
    options = parser.parse_args()
    if options.calls < CALLERS or options.rounds < 1:
        parser.error(f"--calls must be at least {CALLERS} (the callers) and --rounds at least 1")
    with migrated_database() as database_url, serving_receiver() as receiver:
        uvloop.run(run(database_url, receiver, options.calls, options.rounds))


if __name__ == "__main__":  # processes the service spawns import this module again
    main()
