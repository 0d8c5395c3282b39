"""The upstream this service calls, shipped with it: `python -m {{ cookiecutter.package_name }}.upstream_stub`.

It speaks the httpbin convention (`GET /delay/{seconds}` answers 200 JSON after that delay),
so a real httpbin can replace it. Compose runs it as a service; tests serve it on a free
local port, so outbound calls are proven against a real HTTP server.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

import uvicorn
from fastapi import FastAPI, Path
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import ASGIApp

from .log_config import LogFormat, configure_logging

app = FastAPI(title="upstream stub (httpbin convention)")


class UpstreamSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=1, le=65535)
    # "info" logs every request: readable in compose, but it slows a benchmark down.
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    log_format: LogFormat = "console"


@app.get("/delay/{seconds}")
async def delay(seconds: Annotated[float, Path(ge=0, le=10)]) -> dict[str, float]:
    # asyncio.sleep: the stub must serve many slow calls at once, like a real upstream.
    await asyncio.sleep(seconds)
    return {"delay": seconds}


@contextmanager
def serve_in_background(
    served: ASGIApp = app, *, host: str = "127.0.0.1", lifespan: Literal["on", "off"] = "off"
) -> Iterator[str]:
    """Serve `served` (this stub unless told) with uvicorn on a free port of `host`, in a
    daemon thread with its own event loop; yield its base URL.

    `python -m` serves the stub so in development when nothing is configured; the tests
    serve the stub and the service so (tests/harness.py), for real sockets and a loop apart.
    Call it where no event loop runs: it waits for the start-up by polling.
    """
    listener = socket.socket()
    listener.bind((host, 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        served,
        log_config=None,  # the process's logging is already set up
        log_level="warning",  # no access lines
        lifespan=lifespan,
        # Nothing here serves websockets, and older uvicorn releases import
        # websockets.legacy for them (a DeprecationWarning, an error in the tests).
        ws="none",
        timeout_graceful_shutdown=1,  # a client that never hangs up does not hold the exit
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="uvicorn-thread", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 60  # start-up may spawn processes: slow on a busy machine
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


if __name__ == "__main__":
    settings = UpstreamSettings()
    configure_logging(settings.log_format, settings.log_level)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=settings.log_level,
    )
