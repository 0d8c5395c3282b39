"""The upstream this service calls, shipped with it: `python -m {{ cookiecutter.package_name }}.dev.upstream_stub`.

It speaks the httpbin convention (`GET /delay/{seconds}` answers 200 JSON after that delay,
with the request's headers under "headers": here only the W3C trace headers, which show
whether the caller carried its trace on), so a real httpbin can replace it. Compose runs it as a service; tests serve it on a free
local port, so outbound calls are proven against a real HTTP server.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Literal

import uvicorn
from fastapi import FastAPI, Path, Request
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..observability.log_config import LogFormat, configure_logging
from .threaded_server import serve_in_background

app = FastAPI(title="upstream stub (httpbin convention)")


class UpstreamSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=1, le=65535)
    # "info" logs every request: readable in compose, but it slows a benchmark down.
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    log_format: LogFormat = "console"


TRACE_HEADERS = ("traceparent", "tracestate")


class Delayed(BaseModel):
    delay: float
    headers: dict[str, str]


@app.get("/delay/{seconds}")
async def delay(seconds: Annotated[float, Path(ge=0, le=10)], request: Request) -> Delayed:
    # asyncio.sleep: the stub must serve many slow calls at once, like a real upstream.
    await asyncio.sleep(seconds)
    received = {name: request.headers[name] for name in TRACE_HEADERS if name in request.headers}
    return Delayed(delay=seconds, headers=received)


@asynccontextmanager
async def stub_in_background() -> AsyncIterator[str]:
    """The stub for a service with no UPSTREAM_URL (development): served while the lifespan
    runs. Starting and stopping it wait, so both happen in a thread."""
    serving = serve_in_background(app, log_level=None)
    url = await asyncio.to_thread(serving.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(serving.__exit__, None, None, None)


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
