"""The baseline `scripts/bench.py compare` measures the service against: bare FastAPI.

A hello route and the service's asyncpg primary-key read, with nothing else: no middleware,
dependencies, response model, timeouts or retries. Served by uvicorn with the service's
settings (`python -m uvicorn bare_fastapi:app`), on the same interpreter and database.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypedDict

import asyncpg
from fastapi import FastAPI, HTTPException, Request

SELECT_ONE = "SELECT id, name, price, created_at FROM items WHERE id = $1"


class State(TypedDict):
    pool: "asyncpg.Pool[asyncpg.Record]"


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[State]:
    # The service's default pool: ten connections, opened at start-up.
    size = int(os.environ.get("ASYNCPG_POOL_MAX_SIZE", "10"))
    async with asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=size, max_size=size
    ) as pool:
        yield {"pool": pool}


app = FastAPI(lifespan=lifespan)


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"message": "hello"}


@app.get("/items/{item_id}")
async def read_item(item_id: int, request: Request) -> dict[str, Any]:
    async with request.state.pool.acquire() as conn:
        row = await conn.fetchrow(SELECT_ONE, item_id)
    if row is None:
        raise HTTPException(404, "item not found")
    return dict(row)
