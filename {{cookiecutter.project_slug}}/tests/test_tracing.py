"""Traces: off without an endpoint; with OTEL_EXPORTER_OTLP_ENDPOINT set, a trace per request
that continues the caller's `traceparent`, a child span per statement, the ids on the log
lines, nothing for the probes.

The traced service runs for real (`python -m`, the one variable set) and exports over OTLP to a
receiver on a local port (tests/support/otlp.py), which decodes what arrives as a collector
would; nothing is read from the SDK in-process. That the trace follows a request into every
kind of thread and into a worker process is the lesson route's proof
(tests/lessons/test_tracing.py); that outbound calls carry it on, the fan-out's
(tests/outbound/test_tracing.py).
"""

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from opentelemetry import trace

from {{ cookiecutter.package_name }}.settings import Settings

from .support.harness import running_app
from .support.otlp import Receiver, Span, ancestors, otlp_receiver, traced
from .support.parts import ITEM_PREFIXES, ITEM_READ_PREFIXES
from .support.processes import json_lines, logged_run

PROBES = ("/healthz", "/readyz", "/metrics")


@dataclass(frozen=True)
class Parent:
    """A caller's span, as its `traceparent` header names it."""

    trace_id: str
    span_id: str

    @property
    def header(self) -> dict[str, str]:
        return {"traceparent": f"00-{self.trace_id}-{self.span_id}-01"}


def a_caller() -> Parent:
    return Parent(secrets.token_hex(16), secrets.token_hex(8))


@dataclass
class Traced:
    receiver: Receiver
    reads: dict[str, Parent]  # the caller of each read, by route prefix
    records: list[dict[str, Any]]


def server_span(trace: list[Span]) -> Span:
    servers = [span for span in trace if span.kind == "SERVER"]
    assert len(servers) == 1, servers
    return servers[0]


@pytest.fixture(scope="module")
def traced_service(make_database: Callable[[], str]) -> Traced:
    reads = {prefix: a_caller() for prefix in ITEM_READ_PREFIXES}

    def send(client: httpx.Client) -> None:
        item_id = None
        for prefix in ITEM_PREFIXES:
            created = client.post(prefix, json={"name": "traced", "price": "1.50"})
            assert created.status_code == 201, created.text
            item_id = created.json()["id"]
        for prefix, caller in reads.items():
            assert client.get(f"{prefix}/{item_id}", headers=caller.header).status_code == 200
        for probe in PROBES:
            client.get(probe)

        def every_read_traced() -> bool:
            return all(
                any(span.kind == "SERVER" for span in receiver.trace(caller.trace_id))
                for caller in reads.values()
            )

        receiver.until(every_read_traced, "a request span for every read")

    with otlp_receiver() as receiver:
        _, output = logged_run({"DATABASE_URL": make_database(), **traced(receiver)}, send)
    return Traced(receiver, reads, json_lines(output))


async def test_without_an_endpoint_nothing_is_traced_and_no_exporter_runs(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    probe = APIRouter()

    @probe.get("/test/current-span")
    async def current_span() -> dict[str, bool]:
        return {"valid": trace.get_current_span().get_span_context().is_valid}

    settings = make_settings(database_url=database_url)
    async with running_app(settings, test_routers=[probe]) as client:
        caller = a_caller()
        answer = await client.get("/test/current-span", headers=caller.header)
        threads = [thread.name for thread in threading.enumerate()]
    assert answer.json() == {"valid": False}, "a span was current with tracing off"
    assert not [name for name in threads if name.startswith("OtelBatch")], threads
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"


@pytest.mark.parametrize("prefix", ITEM_READ_PREFIXES)
def test_a_read_continues_the_callers_trace_with_a_child_span_per_statement(
    traced_service: Traced, prefix: str
) -> None:
    caller = traced_service.reads[prefix]
    trace_of_read = traced_service.receiver.trace(caller.trace_id)
    server = server_span(trace_of_read)
    assert server.parent_id == caller.span_id, "the incoming traceparent was not continued"
    assert server.name == f"GET {prefix}/" + "{item_id}"  # the route's template
    assert server.service == "{{ cookiecutter.project_slug }}"
    statements = [span for span in trace_of_read if span.kind == "CLIENT"]
    assert statements, f"no statement span under {server.name}"
    for statement in statements:
        assert statement.attributes.get("db.system", statement.attributes.get("db.system.name"))
        assert server in ancestors(statement, trace_of_read)
    names = {span.name for span in trace_of_read}
    assert {"fastapi.dependencies", "fastapi.endpoint"} <= names


def test_log_lines_carry_the_trace_and_span_of_their_request(traced_service: Traced) -> None:
    for prefix, caller in traced_service.reads.items():
        span_ids = {span.span_id for span in traced_service.receiver.trace(caller.trace_id)}
        access = [
            record
            for record in traced_service.records
            if record["logger"] == "uvicorn.access" and record["trace_id"] == caller.trace_id
        ]
        assert len(access) == 1, f"the access line of {prefix} lacks its trace id"
        assert access[0]["span_id"] in span_ids
    outside = [r for r in traced_service.records if r["logger"] != "uvicorn.access"]
    assert outside
    assert all(r["trace_id"] == "-" for r in outside if r["request_id"] == "-")


def test_probes_make_no_traces_and_no_statement_is_a_trace_of_its_own(
    traced_service: Traced,
) -> None:
    spans = traced_service.receiver.spans
    for span in spans:
        assert not any(probe in span.name for probe in PROBES), span
        # Every span belongs to a request's trace: no statement (readiness, the pools'
        # own) starts a trace alone.
        trace_of_span = traced_service.receiver.trace(span.trace_id)
        assert any(other.kind == "SERVER" for other in trace_of_span), span
