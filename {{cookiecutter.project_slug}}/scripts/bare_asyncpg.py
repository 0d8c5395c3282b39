"""bare FastAPI's read on asyncpg (scripts/bare_fastapi.py): a primary-key read in an
`async def` route, on a pool of the service's default size, and nothing else."""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypedDict

import asyncpg
from fastapi import HTTPException, Request

PATH = "/asyncpg/items/{item_id}"
SELECT_ONE = "SELECT id, name, price, created_at FROM items WHERE id = $1"


class State(TypedDict):
    asyncpg_pool: "asyncpg.Pool[asyncpg.Record]"


@asynccontextmanager
async def pool() -> AsyncIterator[State]:
    # The service's default pool: ten connections, opened at start-up.
    size = int(os.environ.get("ASYNCPG_POOL_MAX_SIZE", "10"))
    async with asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=size, max_size=size
    ) as opened:
        yield {"asyncpg_pool": opened}


async def read_item(item_id: int, request: Request) -> dict[str, Any]:
    async with request.state.asyncpg_pool.acquire() as conn:
        row = await conn.fetchrow(SELECT_ONE, item_id)
    if row is None:
        raise HTTPException(404, "item not found")
    return dict(row)
