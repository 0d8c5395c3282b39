"""The request id on the log line of every place one request runs: the loop, AnyIO's worker
threads, asyncio.to_thread, loop.run_in_executor and a worker process (its lines come through
the stderr it inherits)."""

from collections.abc import Callable

import httpx

from ..support.processes import json_lines, logged_run

PLACES_OF_ONE_REQUEST = {
    "def dependency",
    "async def route",
    "asyncio.to_thread",
    "loop.run_in_executor",
    "process pool",
}


def send(client: httpx.Client) -> tuple[httpx.Response, httpx.Response]:
    traced = client.get("/lesson/request-id", headers={"X-Request-ID": "every-place-1"})
    in_def_route = client.get("/lesson/request-id/sync", headers={"X-Request-ID": "def-route-2"})
    return traced, in_def_route


def test_every_place_a_request_runs_logs_its_request_id(make_database: Callable[[], str]) -> None:
    # One worker process is all the proof needs; each costs a spawn.
    environment = {"DATABASE_URL": make_database(), "CPU_WORKERS": "1"}
    (traced, in_def_route), output = logged_run(environment, send)
    records = json_lines(output)
    assert traced.status_code == 200
    assert traced.headers["X-Request-ID"] == "every-place-1"
    assert traced.json()["request_id"] == "every-place-1"
    assert in_def_route.headers["X-Request-ID"] == "def-route-2"
    places = {r["place"]: r for r in records if r["request_id"] == "every-place-1" and "place" in r}
    assert set(places) >= {"async def route"}, "the route logged nothing with its id"
    assert set(places) == PLACES_OF_ONE_REQUEST
    in_def = {r.get("place") for r in records if r["request_id"] == "def-route-2"}
    assert "def route" in in_def
    # The places really are other threads and another process.
    assert places["def dependency"]["thread"].startswith("AnyIO worker thread")
    assert places["asyncio.to_thread"]["thread"].startswith("to_thread")
    assert places["loop.run_in_executor"]["thread"].startswith("to_thread")
    assert places["process pool"]["process"] != places["async def route"]["process"]
