"""The request id: taken from a sane X-Request-ID or made afresh, returned, and on the log
line of every place its request runs.

The service runs for real (`python -m`, LOG_FORMAT=json, its own logging setup, uvicorn's
loggers) and the tests read what it wrote; nothing is captured in-process and nothing is
mocked. One service serves every request of this module; the tests then read its log. That
the id follows a request into threads and processes is proven with the lesson route that
goes to each of them (tests/lessons/test_request_id.py).
"""

import io
import logging
import logging.config
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgi_correlation_id import correlation_id

from {{ cookiecutter.package_name }}.observability.log_config import UVICORN_LOGGERS, logging_config

from .support.processes import json_lines, logged_run

BAD_REQUEST_IDS = {
    "too-long": "x" * 129,
    "json-injection": 'forged", "level": "CRITICAL',
    "control-character": "tab\tin-the-middle",
    "non-ascii": "ünïcode",
    "space": "two words",
}


@dataclass
class Logged:
    good: httpx.Response
    bad: dict[str, httpx.Response]
    output: str
    records: list[dict[str, Any]]


def send(client: httpx.Client) -> tuple[httpx.Response, dict[str, httpx.Response]]:
    good = client.get("/healthz", headers={"X-Request-ID": "sane-id-1"})
    bad = {
        name: client.get("/healthz", headers=[(b"X-Request-ID", sent.encode())])
        for name, sent in BAD_REQUEST_IDS.items()
    }
    return good, bad


@pytest.fixture(scope="module")
def logged(make_database: Callable[[], str]) -> Logged:
    (good, bad), output = logged_run({"DATABASE_URL": make_database()}, send)
    return Logged(good, bad, output, json_lines(output))


def access_ids(logged: Logged) -> set[str]:
    return {r["request_id"] for r in logged.records if r["logger"] == "uvicorn.access"}


def test_a_sane_request_id_is_kept_returned_and_on_uvicorns_lines(logged: Logged) -> None:
    assert logged.good.headers["X-Request-ID"] == "sane-id-1"
    assert "sane-id-1" in access_ids(logged)
    assert any(r["logger"] == "uvicorn.error" for r in logged.records)


@pytest.mark.parametrize("name", BAD_REQUEST_IDS)
def test_a_bad_request_id_is_replaced_and_never_logged(logged: Logged, name: str) -> None:
    answer = logged.bad[name]
    assert answer.status_code == 200
    replacement = answer.headers["X-Request-ID"]
    assert len(replacement) == 32
    assert int(replacement, 16) >= 0
    assert replacement in access_ids(logged)
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
