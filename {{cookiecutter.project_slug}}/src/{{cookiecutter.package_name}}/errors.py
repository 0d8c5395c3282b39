"""Errors a client can cause or the service can meet, each answered as JSON with its status.

Code raises a `ServiceError` subclass where it knows what went wrong (the errors of a part
live with the part); one handler turns it into `{"detail": ...}`, the same shape
FastAPI uses for its own errors. Nothing a client can send ends in a 500.
"""

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class ServiceError(Exception):
    status_code: int = status.HTTP_500_INTERNAL_SERVER_ERROR
    # Headers the answer carries (a 401's WWW-Authenticate).
    headers: ClassVar[Mapping[str, str] | None] = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class DatabaseUnavailable(ServiceError):
    """PostgreSQL is down, refused or dropped the connection, or no pooled connection came
    free within the acquire timeout: the client may retry; the service recovers by itself."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


class UploadTooLarge(ServiceError):
    status_code = status.HTTP_413_CONTENT_TOO_LARGE


class BadContentLength(ServiceError):
    status_code = status.HTTP_400_BAD_REQUEST


async def service_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    # `async def`: building a small JSON answer needs no thread.
    assert isinstance(exc, ServiceError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def json_safe(value: Any) -> Any:
    """NaN and Infinity as strings, lone surrogates as U+FFFD: JSON can hold neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {json_safe(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


async def request_validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own 422 handler echoes the refused input back, and a JSON body can carry
    # NaN, Infinity (Python's json accepts them) or a lone surrogate ("\ud800"): rendering
    # those raises, and the client gets a 500 instead of the 422. Same body, made safe.
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        {"detail": json_safe(jsonable_encoder(exc.errors()))},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, service_error_handler)
    app.add_exception_handler(RequestValidationError, request_validation_error_handler)
