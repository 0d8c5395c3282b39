"""Outbound calls carry the trace on: each call of a fan-out is a client span of the request's
trace, and the upstream received its `traceparent`.

The service runs for real with OTEL_EXPORTER_OTLP_ENDPOINT set, calling the stub served by the
tests (UPSTREAM_URL); the stub answers with the trace headers it received (httpbin's "headers"),
and the spans come from the receiver on a local port (tests/support/otlp.py).
"""

import secrets
from collections.abc import Callable

import httpx

from ..support.otlp import ancestors, otlp_receiver, traced
from ..support.processes import logged_run
from .stub import Stub

CALLS = 5
CALLER_TRACE = secrets.token_hex(16)
TRACEPARENT = f"00-{CALLER_TRACE}-{secrets.token_hex(8)}-01"


def test_every_call_of_a_fanout_is_a_span_of_the_request_and_carries_its_traceparent(
    make_database: Callable[[], str], stub: Stub
) -> None:
    with otlp_receiver() as receiver:

        def send(client: httpx.Client) -> httpx.Response:
            answer = client.get(
                "/async/upstream/fanout",
                params={"n": CALLS, "delay": 0},
                headers={"traceparent": TRACEPARENT},
            )

            def every_call_exported() -> bool:
                spans = receiver.trace(CALLER_TRACE)
                return len([span for span in spans if span.kind == "CLIENT"]) >= CALLS

            # Only once every call carried a header (which the assertions below check first):
            # a call without one was never traced, and its span would never come.
            if answer.is_success and all(
                result["body"]["headers"].get("traceparent") for result in answer.json()["results"]
            ):
                receiver.until(every_call_exported, f"{CALLS} client spans")
            return answer

        environment = {"DATABASE_URL": make_database(), "UPSTREAM_URL": stub.url}
        answer, _ = logged_run({**environment, **traced(receiver)}, send)

    assert answer.status_code == 200, answer.text
    # What the stub received: a traceparent on every call, naming that call's span.
    received = [result["body"]["headers"].get("traceparent") for result in answer.json()["results"]]
    assert None not in received, f"calls without a traceparent: {received}"
    one_trace = receiver.trace(CALLER_TRACE)
    request = next(span for span in one_trace if span.kind == "SERVER")
    calls = {span.span_id: span for span in one_trace if span.kind == "CLIENT"}
    assert len(calls) == CALLS
    for call in calls.values():
        assert request in ancestors(call, one_trace)
    _, trace_ids, parents, _ = zip(*(header.split("-") for header in received), strict=True)
    assert set(trace_ids) == {CALLER_TRACE}
    assert set(parents) == set(calls), "the header names no span of the call that sent it"
