"""Traces over OTLP/HTTP: off unless OTEL_EXPORTER_OTLP_ENDPOINT (or its traces-only variant)
is set.

Off, OpenTelemetry does nothing here: FastAPI's built-in telemetry is switched off outright (it
would otherwise look for a configured provider on every request), no exporter and no thread
start, no driver or client is instrumented, and log lines carry `-` for the trace.

On, each process that serves or works (the server, each of WORKERS, each CPU worker process)
has one TracerProvider, whose BatchSpanProcessor sends spans in batches from a thread of its
own: never on the loop, never in a request's time. FastAPI's built-in telemetry makes the
request span (continuing an incoming W3C `traceparent`) and its `fastapi.dependencies`,
`fastapi.endpoint` and `fastapi.serialization` children; the instrumentations of the drivers
and of the shared outbound client add a child span per statement and per call, and the
client sends `traceparent` on, so the upstream continues the trace. The provider is handed
to FastAPI and to each instrumentation, never made OpenTelemetry's global one: FastAPI's
telemetry traces every app of a process that has a global provider, so any other FastAPI
app in it (the development stub, a test's, a benchmark's bare one) would start tracing too.

The current span lives in a context variable, so it follows a request where the request id
does (request_id.py): awaits, AnyIO's worker threads and asyncio.to_thread copy the context;
loop.run_in_executor needs `contextvars.copy_context().run`; another process gets none, so
the context crosses as an argument: `trace_carrier()` here, `run_with_trace_context` there.

The probes and the scrape (`UNTRACED_PATHS`) make no traces: every few seconds each, they
would bury the requests. Metrics stay on /metrics (OTLP metrics would count every request a
second time) and log lines on stderr, with their trace ids (log_config.py). The SDK reads its
other variables from the process environment as it defines them: OTEL_TRACES_SAMPLER(_ARG),
OTEL_BSP_* (batch delay and sizes), OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, _TIMEOUT and
_COMPRESSION, OTEL_RESOURCE_ATTRIBUTES, OTEL_PROPAGATORS, OTEL_SDK_DISABLED.
"""

import functools
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from fastapi.telemetry import TelemetryConfig
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from starlette.types import ASGIApp, Receive, Scope, Send

from ..settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True, slots=True)
class Export:
    """Where this process sends its spans, and under which service name. Picklable: the CPU
    worker processes get it as an argument and export their own spans."""

    endpoint: str
    service_name: str


def export_of(settings: Settings) -> Export | None:
    """None while neither endpoint is set: tracing off. The traces endpoint is used as given;
    the general one gets /v1/traces appended, as the SDK does with its variables."""
    if settings.otel_exporter_otlp_traces_endpoint is not None:
        endpoint = str(settings.otel_exporter_otlp_traces_endpoint)
    elif settings.otel_exporter_otlp_endpoint is not None:
        endpoint = f"{str(settings.otel_exporter_otlp_endpoint).rstrip('/')}/v1/traces"
    else:
        return None
    return Export(endpoint, settings.otel_service_name)


def untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in UNTRACED_PATHS


def telemetry_config(export: Export | None) -> TelemetryConfig:
    """FastAPI's built-in telemetry, for `FastAPI(telemetry=...)`."""
    return {
        # Off (no endpoint): FastAPI's per-request check stops here, at its own settings.
        "tracing": export is not None,
        "tracer_provider": None if export is None else provider_of(export),
        "metrics": False,
        "logs": False,
        # This module sets the SDK up; FASTAPI_OTEL_AUTO_CONFIGURE must not add an exporter.
        "auto_configure": False,
        "exclude": untraced,
    }


# The provider this process exports with, once start_exporting has run.
_exporting: list[TracerProvider] = []
NO_TRACER = trace.NoOpTracer()


@functools.cache
def provider_of(export: Export) -> TracerProvider:
    """This process's provider (cached: one per process). Spans it records go nowhere until
    `start_exporting`; app.py hands it to FastAPI before the lifespan starts that."""
    return TracerProvider(resource=Resource.create({SERVICE_NAME: export.service_name}))


@functools.cache
def start_exporting(export: Export) -> TracerProvider:
    """Once per process (cached): the exporter and its thread. Blocking (the exporter opens
    an HTTP session): the lifespan runs it in a thread. The SDK shuts the provider down when
    the process exits, sending what is left."""
    # Imported here: the exporter and its protobuf encoders cost about 0.1 s of CPU at every
    # process start, and most processes (tracing off) never export.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

    provider = provider_of(export)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=export.endpoint)))
    _exporting.append(provider)
    return provider


def tracer(name: str) -> trace.Tracer:
    """A tracer of this process's provider, for spans of our own; a no-op one (its spans
    record nothing) while this process exports nothing."""
    return _exporting[0].get_tracer(name) if _exporting else NO_TRACER


def flush(timeout: float) -> None:
    """Send what the spans ended so far, waiting at most `timeout` s. Blocking: a thread."""
    for provider in _exporting:
        provider.force_flush(int(timeout * 1000))


class UntracedPaths:
    """Pure ASGI: the statements a probe makes (readiness asks every pool) make no spans
    either; without a request span above them, each would be a trace of its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and untraced(scope):
            with suppress_instrumentation():
                await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send)


def trace_carrier() -> dict[str, str]:
    """The current trace context as W3C headers (`traceparent`, `tracestate`): for another
    process, where no context variable of this one exists. Empty while tracing is off."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def run_with_trace_context(
    carrier: Mapping[str, str], function: Callable[P, R], *args: P.args, **kwargs: P.kwargs
) -> R:
    """Run `function` in the trace context `carrier` holds (spans it starts are children of
    the span that made the carrier). Detached afterwards: the process serves others next."""
    token = otel_context.attach(propagate.extract(carrier))
    try:
        return function(*args, **kwargs)
    finally:
        otel_context.detach(token)
