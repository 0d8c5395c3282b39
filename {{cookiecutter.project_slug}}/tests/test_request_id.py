"""The request id reaches every log line a request causes, from every place code runs.

The service runs for real (`python -m`, LOG_FORMAT=json, its own logging setup, uvicorn's
loggers, a spawned CPU worker process) and the tests read what it wrote: the worker
process's lines come through the stderr it inherits, so nothing is captured in-process and
nothing is mocked. One service serves every request of this module (each start costs a
database, pools and a process spawn); the tests then read its log.
"""

import io
import json
import logging
import logging.config
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_correlation_id import correlation_id

from {{ cookiecutter.package_name }}.log_config import UVICORN_LOGGERS, logging_config

from .harness import free_port
from .test_cli import SERVICE

PLACES_OF_ONE_REQUEST = {
    "def dependency",
    "async def route",
    "asyncio.to_thread",
    "loop.run_in_executor",
    "process pool",
}
BAD_REQUEST_IDS = {
    "too-long": "x" * 129,
    "json-injection": 'forged", "level": "CRITICAL',
    "control-character": "tab\tin-the-middle",
    "non-ascii": "ünïcode",
    "space": "two words",
}


@dataclass
class Logged:
    traced: httpx.Response
    in_def_route: httpx.Response
    bad: dict[str, httpx.Response]
    output: str
    records: list[dict[str, Any]]


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every line must be one JSON object: a plain-text line would break a log pipeline."""
    records = []
    for line in output.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        records.append(record)
    return records


def wait_until_answering(url: str, process: "subprocess.Popen[str]") -> None:
    deadline = time.monotonic() + 90
    while process.poll() is None and time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the service never answered:\n" + process.communicate()[0])


@pytest.fixture(scope="module")
def logged(make_database: Callable[[], str]) -> Logged:
    """Serve, send every request of this module, stop with SIGINT, and read the log."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "DATABASE_URL": make_database(),
        "PORT": str(port),
        "LOG_FORMAT": "json",
        # One worker process is all the proof needs; each costs a spawn.
        "CPU_WORKERS": "1",
        "ASYNCPG_POOL_MIN_SIZE": "1",
        "PSYCOPG2_POOL_MIN_SIZE": "1",
    }
    process = subprocess.Popen(
        SERVICE, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_until_answering(url, process)
        with httpx.Client(base_url=url, timeout=60) as client:
            traced = client.get("/lesson/request-id", headers={"X-Request-ID": "every-place-1"})
            in_def_route = client.get(
                "/lesson/request-id/sync", headers={"X-Request-ID": "def-route-2"}
            )
            bad = {
                name: client.get(
                    "/lesson/request-id/sync", headers=[(b"X-Request-ID", sent.encode())]
                )
                for name, sent in BAD_REQUEST_IDS.items()
            }
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    return Logged(traced, in_def_route, bad, output, json_lines(output))


def test_every_place_a_request_runs_logs_its_request_id(logged: Logged) -> None:
    assert logged.traced.status_code == 200
    assert logged.traced.headers["X-Request-ID"] == "every-place-1"
    assert logged.in_def_route.headers["X-Request-ID"] == "def-route-2"
    traced = [r for r in logged.records if r["request_id"] == "every-place-1"]
    places = {r["place"]: r for r in traced if "place" in r}
    assert set(places) >= {"async def route"}, "the route logged nothing with its id"
    assert set(places) == PLACES_OF_ONE_REQUEST
    in_def_route = {r.get("place") for r in logged.records if r["request_id"] == "def-route-2"}
    assert "def route" in in_def_route
    # The places really are other threads and another process.
    assert places["def dependency"]["thread"].startswith("AnyIO worker thread")
    assert places["asyncio.to_thread"]["thread"].startswith("to_thread")
    assert places["loop.run_in_executor"]["thread"].startswith("to_thread")
    assert places["process pool"]["process"] != places["async def route"]["process"]
    # uvicorn's own lines share the format, and its access line carries the id.
    access = {r["request_id"] for r in logged.records if r["logger"] == "uvicorn.access"}
    assert {"every-place-1", "def-route-2"} <= access
    assert any(r["logger"] == "uvicorn.error" for r in logged.records)


@pytest.mark.parametrize("name", BAD_REQUEST_IDS)
def test_a_bad_request_id_is_replaced_and_never_logged(logged: Logged, name: str) -> None:
    answer = logged.bad[name]
    assert answer.status_code == 200
    replacement = answer.headers["X-Request-ID"]
    assert len(replacement) == 32
    assert int(replacement, 16) >= 0
    assert answer.json()["request_id"] == replacement
    lines = [r for r in logged.records if r.get("place") == "def route"]
    assert replacement in {r["request_id"] for r in lines}
    sent = BAD_REQUEST_IDS[name]
    assert sent not in logged.output
    assert sent.encode().decode("latin-1") not in logged.output


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    """The console setup, writing to a buffer; the loggers it touches restored after."""
    touched = [logging.getLogger(name) for name in ("", *UVICORN_LOGGERS)]
    saved = [(logger.handlers[:], logger.level, logger.propagate) for logger in touched]
    config = logging_config("console", "info")
    stream = io.StringIO()
    config["handlers"]["stderr"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        for logger, (handlers, level, propagate) in zip(touched, saved, strict=True):
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)


def test_console_format_puts_the_request_id_on_uvicorns_lines_and_ours(
    console_log: io.StringIO,
) -> None:
    token = correlation_id.set("console-3")
    try:
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/", "1.1", 200
        )
        logging.getLogger("{{ cookiecutter.package_name }}.routes").info("in a route")
    finally:
        correlation_id.reset(token)
    logging.getLogger("{{ cookiecutter.package_name }}").info("outside a request")
    lines = console_log.getvalue().splitlines()

    assert len(lines) == 3
    assert '[console-3] uvicorn.access: 127.0.0.1:1 - "GET / HTTP/1.1" 200' in lines[0]
    assert "[console-3] {{ cookiecutter.package_name }}.routes: in a route" in lines[1]
    assert "[-] {{ cookiecutter.package_name }}: outside a request" in lines[2]
