"""A pytest server for the mutant runs: one interpreter per bake imports the bake's
third-party libraries once, then forks a child for each run.

Run by the bake's own interpreter (`.venv/bin/python tests/warm_pytest.py`), never imported
by the template's tests. A mutant run is a few proofs on a copy of a bake; in a new process
it spent about 2 s of its 5 s of CPU starting the interpreter, pytest and the libraries the
suite imports, 154 times a run. A forked child starts from those imports and from nothing
else: the bake's own package and tests are imported in the child, from the copy, so each run
sees its mutant and no other.

Protocol, one JSON object per line: the template's test writes
`{"cwd": ..., "env": {...}, "args": [...], "output": path}`; the server answers
`{"pid": n}` once the child runs and `{"returncode": n}` when it has exited. The child's
stdout and stderr both go to `output`. The server ends when its stdin closes.
"""

import importlib
import json
import os
import sys
import threading
import traceback
from typing import Any

import pytest

# What a generated suite's conftest and proofs import; a lean bake lacks some.
WARM = (
    "pytest",
    "_pytest.pytester",
    "xdist",
    "pytest_asyncio",
    "pytest_timeout",
    "anyio",
    "hypothesis",
    "schemathesis",
    "fastapi",
    "fastapi.testclient",
    "starlette",
    "pydantic",
    "pydantic_settings",
    "uvicorn",
    "asyncpg",
    "psycopg2",
    "httpx",
    "httpx_aiohttp",
    "asgi_lifespan",
    "alembic.command",
    "sqlalchemy",
    "prometheus_client",
    "psutil",
    "opentelemetry.sdk.trace",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.instrumentation.asgi",
    "blockbuster",
)


def warm() -> None:
    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    # fork() copies only the calling thread: a library thread started by an import would be
    # missing in every child, holding whatever lock it held.
    assert threading.active_count() == 1, threading.enumerate()


def child(request: dict[str, Any]) -> None:
    """In the forked child: become the run the request describes, and exit with its status."""
    os.setsid()  # its own process group, so that a timeout kills what it started too
    output = os.open(str(request["output"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.chdir(str(request["cwd"]))
    environment: dict[str, str] = request["env"]
    os.environ.clear()
    os.environ.update(environment)
    # As PYTHONPATH would at start-up: the copy's package ahead of the bake's editable one.
    sys.path[:0] = environment.get("PYTHONPATH", "").split(os.pathsep)
    try:
        # The plugins were imported before pytest could mark them for assertion rewriting;
        # their own asserts are not what a run checks, and the suite turns warnings to errors.
        status = int(
            pytest.main(["-W", "ignore::pytest.PytestAssertRewriteWarning", *request["args"]])
        )
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)


def serve() -> None:
    warm()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                child(request)  # ends the process with pytest's status
            except BaseException:
                # As the interpreter ends on an uncaught exception: its traceback, status 1
                # (pytest raises, for one, what its unraisable-exception hook collected at the
                # end of the session under filterwarnings = error).
                traceback.print_exc()
                sys.stderr.flush()
            os._exit(1)
        print(json.dumps({"pid": pid}), flush=True)
        _, wait_status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(wait_status)}), flush=True)


if __name__ == "__main__":
    serve()
