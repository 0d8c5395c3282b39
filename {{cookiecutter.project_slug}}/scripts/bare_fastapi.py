"""The baseline `scripts/bench.py compare` measures the service against: bare FastAPI.

A hello route and, for each database driver this service has (`settings.DRIVERS`), the same
read by primary key on that driver (scripts/bare_<driver>.py), with nothing else: no
middleware, dependencies, response model, timeouts or retries. Served by uvicorn with the
service's settings (`python -m uvicorn bare_fastapi:app`), on the same interpreter and
database.
"""

import importlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from {{ cookiecutter.package_name }}.settings import DRIVERS

# Each driver's read is a file of its own, which a bake without that driver does not have (nor
# the driver it imports): loaded by name, so this file names no driver.
READS = [importlib.import_module(f"bare_{driver}") for driver in DRIVERS]


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    # Every driver's pool, opened at start-up, in one state as the service's lifespan does.
    async with AsyncExitStack() as stack:
        state: dict[str, Any] = {}
        for read in READS:
            state |= await stack.enter_async_context(read.pool())
        yield state


app = FastAPI(lifespan=lifespan)


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"message": "hello"}


# Declared on the app itself, as a bare app does: FastAPI dispatches through each included
# APIRouter (bench_layers.py measures what that costs the service).
for read in READS:
    app.add_api_route(read.PATH, read.read_item)
