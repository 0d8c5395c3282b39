"""The upstream this service calls, shipped with it: `python -m {{ cookiecutter.package_name }}.upstream`.

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
def serve_in_background(host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the stub on a free port of `host` in a daemon thread; yield its base URL.

    For development only (`python -m` with nothing configured), so the fan-out has something
    to call; the stub's own event loop runs in that thread, away from the service's.
    """
    listener = socket.socket()
    listener.bind((host, 0))
    port = listener.getsockname()[1]
    # log_config=None: the process's logging is already set up; warning: no access lines.
    config = uvicorn.Config(app, log_config=None, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="upstream-stub", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the upstream stub did not start")
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
