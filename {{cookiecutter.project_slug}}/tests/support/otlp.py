"""An OTLP/HTTP receiver: what a collector is to the service, on a free 127.0.0.1 port.

It accepts `POST /v1/traces` as a collector does (protobuf `ExportTraceServiceRequest`,
gzip or not), decodes every span and keeps it; the tests read the spans as the collector
got them, after the service's real exporter sent them over a real socket. Served by uvicorn
in a thread of the test process (its own loop); the spans list is appended to from there.

scripts/bench_layers.py serves one in a process of its own (`standalone_receiver`, which counts
the spans and keeps none), so that decoding them costs the measured process nothing.
"""

import asyncio
import gzip
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanMessage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from {{ cookiecutter.package_name }}.dev.threaded_server import serve_in_background

PROTOBUF = "application/x-protobuf"


def plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind is not None else None


@dataclass(frozen=True)
class Span:
    trace_id: str  # 32 hex digits, as in traceparent
    span_id: str  # 16 hex digits
    parent_id: str  # "" for a root span
    name: str
    kind: str  # SERVER, CLIENT, INTERNAL...
    attributes: dict[str, Any]
    service: str  # the resource's service.name
    pid: int | None  # process.pid, where the span (or its resource) says it


@dataclass
class Receiver:
    url: str  # the base URL: what OTEL_EXPORTER_OTLP_ENDPOINT names
    spans: list[Span] = field(default_factory=list)
    requests: int = 0
    received: int = 0  # spans, kept or not
    keep: bool = True

    def trace(self, trace_id: str) -> list[Span]:
        return [span for span in self.spans if span.trace_id == trace_id]

    def named(self, name: str) -> list[Span]:
        return [span for span in self.spans if span.name == name]

    def until(self, condition: Callable[[], bool], what: str, patience: float = 30) -> None:
        """Wait (polling: the spans arrive from another thread) until `condition()`; the
        exporters send in batches, OTEL_BSP_SCHEDULE_DELAY after a span ends. A bound on
        patience, never a measurement."""
        deadline = time.monotonic() + patience
        while not condition():
            assert time.monotonic() < deadline, f"the receiver never got {what}"
            time.sleep(0.05)


def spans_of(request: ExportTraceServiceRequest) -> Iterator[Span]:
    for resource_spans in request.resource_spans:
        resource = {a.key: plain(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {a.key: plain(a.value) for a in span.attributes}
                yield Span(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_id=span.parent_span_id.hex(),
                    name=span.name,
                    kind=SpanMessage.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                    attributes=attributes,
                    service=str(resource.get("service.name", "")),
                    pid=attributes.get("process.pid", resource.get("process.pid")),
                )


def receiver_app(receiver: Receiver) -> Starlette:
    async def traces(request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = await asyncio.to_thread(gzip.decompress, body)
        if request.headers.get("content-type") != PROTOBUF:
            return Response(status_code=415)
        export = ExportTraceServiceRequest.FromString(body)
        receiver.requests += 1
        spans = list(spans_of(export))
        receiver.received += len(spans)
        if receiver.keep:
            receiver.spans.extend(spans)
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=PROTOBUF)

    async def counts(_request: Request) -> Response:
        return Response(f"{receiver.requests} requests, {receiver.received} spans\n")

    return Starlette(
        routes=[Route("/v1/traces", traces, methods=["POST"]), Route("/", counts, methods=["GET"])]
    )


def standalone_receiver() -> Starlette:
    """For `uvicorn --factory`: a receiver that counts what it gets and keeps nothing."""
    return receiver_app(Receiver(url="", keep=False))


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    """Serve a receiver; yield it once it listens. Call it where no event loop runs."""
    receiver = Receiver(url="")
    with serve_in_background(receiver_app(receiver)) as url:
        receiver.url = url
        yield receiver


def ancestors(span: Span, spans: list[Span]) -> list[Span]:
    """The span's parent, its parent's parent... as far as `spans` holds them."""
    by_id = {other.span_id: other for other in spans}
    chain = []
    while (parent := by_id.get(span.parent_id)) is not None:
        chain.append(parent)
        span = parent
    return chain


def traced(receiver: Receiver) -> dict[str, str]:
    """The service's environment for exporting to `receiver`: the one variable that turns
    tracing on, and a batch delay short enough for a test to wait for (the SDK's own
    variable; its default is 5 s)."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}


def tree(spans: list[Span]) -> str:
    """The trace as a tree, one span a line: name, where it ran (process, thread), indented
    under its parent. For a failing assertion's message, and for a person reading it."""
    children: dict[str, list[Span]] = {}
    ids = {span.span_id for span in spans}
    for span in spans:
        children.setdefault(span.parent_id if span.parent_id in ids else "", []).append(span)
    lines: list[str] = []

    def draw(parent: str, depth: int) -> None:
        for span in children.get(parent, []):
            where = span.service if span.pid is None else f"pid {span.pid}"
            if thread := span.attributes.get("thread.name"):
                where += f", {thread}"
            lines.append(f"{'  ' * depth}{span.name}  [{where}; span {span.span_id}]")
            draw(span.span_id, depth + 1)

    draw("", 0)
    return "\n".join(lines)
