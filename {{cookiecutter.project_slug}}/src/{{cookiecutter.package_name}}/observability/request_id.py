"""X-Request-ID: taken from the client when it is a sane value, made otherwise, returned in
the response and put on every log line the request causes.

asgi-correlation-id does the carrying: a pure ASGI middleware (no BaseHTTPMiddleware, so no
extra task and no context lost between middleware and route) stores the id in a context
variable, and its logging filter (log_config.py) copies it onto each record. A context
variable follows the request wherever Python copies the context: awaits, AnyIO's worker
threads (`def` routes and dependencies) and asyncio.to_thread. It does not follow
loop.run_in_executor, which needs `contextvars.copy_context().run`, nor another process,
which needs the id as an argument: `run_with_request_id`.
"""

import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from fastapi import FastAPI

HEADER = "X-Request-ID"
# Bounded and plain: a client's value lands in every log line, so anything that could forge
# a line or a JSON field (newlines, quotes, control characters) or flood the logs is refused
# and replaced by a fresh id; the refused value itself is never logged.
ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")

P = ParamSpec("P")
R = TypeVar("R")


def is_acceptable(request_id: str) -> bool:
    return ACCEPTED.fullmatch(request_id) is not None


def add_request_id_middleware(app: FastAPI) -> None:
    # Added last, so it is the outermost middleware: everything inside sees the id.
    app.add_middleware(CorrelationIdMiddleware, header_name=HEADER, validator=is_acceptable)


def current_request_id() -> str | None:
    return correlation_id.get()


def run_with_request_id(
    request_id: str | None, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs
) -> R:
    """Run `function` with `request_id` as the current id: for a worker process, where no
    context variable of the parent exists. Reset afterwards, since the process serves other
    requests next."""
    token = correlation_id.set(request_id)
    try:
        return function(*args, **kwargs)
    finally:
        correlation_id.reset(token)
