"""One request, one trace, whatever runs it: the loop, a `def` dependency and route (AnyIO's
worker threads), asyncio.to_thread, loop.run_in_executor and a CPU worker process.

The service runs for real with OTEL_EXPORTER_OTLP_ENDPOINT set; every process exports its own
spans (the worker process too, with its own exporter) to a receiver on a local port
(tests/support/otlp.py). The proof reads the trace as a collector got it: every place's span
carries the request's trace id and hangs, through its parents, from the request span, and
each place's log line names its span.
"""

import secrets
from collections.abc import Callable

import httpx

from ..support.otlp import ancestors, otlp_receiver, traced, tree
from ..support.processes import json_lines, logged_run
from .test_request_id import PLACES_OF_ONE_REQUEST

CALLER_TRACE = secrets.token_hex(16)
CALLER_SPAN = secrets.token_hex(8)
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
DEF_ROUTE_TRACE = secrets.token_hex(16)


def test_one_request_through_every_boundary_is_one_trace(
    make_database: Callable[[], str],
) -> None:
    with otlp_receiver() as receiver:

        def send(client: httpx.Client) -> tuple[httpx.Response, httpx.Response]:
            every_place = client.get("/lesson/request-id", headers={"traceparent": TRACEPARENT})
            def_route = client.get(
                "/lesson/request-id/sync",
                headers={"traceparent": f"00-{DEF_ROUTE_TRACE}-{CALLER_SPAN}-01"},
            )
            # Each place's span, wherever it ended: the worker process exports its own.
            every_name = {*PLACES_OF_ONE_REQUEST, "def route"}
            receiver.until(
                lambda: every_name <= {span.name for span in receiver.spans},
                f"a span from each of {sorted(every_name)}",
            )
            return every_place, def_route

        environment = {"DATABASE_URL": make_database(), "CPU_WORKERS": "1", **traced(receiver)}
        (every_place, def_route), output = logged_run(environment, send)

    assert every_place.status_code == 200
    assert def_route.status_code == 200
    one_trace = receiver.trace(CALLER_TRACE)
    print(f"\nthe trace of GET /lesson/request-id:\n{tree(one_trace)}")
    request = [span for span in one_trace if span.kind == "SERVER"]
    assert len(request) == 1
    assert request[0].parent_id == CALLER_SPAN
    places = {span.name: span for span in one_trace if span.name in PLACES_OF_ONE_REQUEST}
    lost = PLACES_OF_ONE_REQUEST - set(places)
    assert not lost, f"spans that left the request's trace: {sorted(lost)}\n{tree(receiver.spans)}"
    for span in places.values():
        assert request[0] in ancestors(span, one_trace), f"{span.name} is not under the request"
    # They really ran in other threads and in another process.
    assert places["def dependency"].attributes["thread.name"].startswith("AnyIO worker thread")
    assert places["asyncio.to_thread"].attributes["thread.name"].startswith("to_thread")
    assert places["loop.run_in_executor"].attributes["thread.name"].startswith("to_thread")
    assert places["process pool"].pid != places["async def route"].pid

    def_trace = receiver.trace(DEF_ROUTE_TRACE)
    in_def_route = [span for span in def_trace if span.name == "def route"]
    assert len(in_def_route) == 1
    assert in_def_route[0].attributes["thread.name"].startswith("AnyIO worker thread")
    assert any(span.kind == "SERVER" for span in ancestors(in_def_route[0], def_trace))

    # Each place's log line names the trace and the span it was written in.
    records = json_lines(output)
    logged = {r["place"]: r for r in records if r["trace_id"] == CALLER_TRACE and "place" in r}
    for name, span in places.items():
        assert logged[name]["span_id"] == span.span_id, name
