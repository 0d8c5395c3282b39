"""/bridge: async code that has to call a sync-only library (here, the psycopg2 repository)."""

import asyncio

from fastapi import APIRouter

from ..dependencies import WAIT_FOR_A_PSYCOPG2_CONNECTION, Psycopg2PoolDep
from ..items import sync_repository
from ..items.http import NOT_FOUND, UNAVAILABLE, ItemId, found
from ..items.schemas import Item

router = APIRouter(
    prefix="/bridge",
    tags=["bridge"],
    responses=UNAVAILABLE,
    # As for the `def` routes, the wait for a free connection happens on the loop, so an
    # executor thread is taken only once a connection is there for it. Threads queued in
    # the pool itself each need the GIL to take a connection handed back: p99 250 ms
    # instead of 65 ms at 64 connections (docs/performance.md).
    dependencies=[WAIT_FOR_A_PSYCOPG2_CONNECTION],
)


@router.get("/items/{item_id}", responses=NOT_FOUND)
async def read_bridged_item(item_id: ItemId, pool: Psycopg2PoolDep) -> Item:
    """Read one item through psycopg2, from `async def` via `asyncio.to_thread`."""
    # An `async def` route (say it also awaits other things) that must use a blocking
    # library: asyncio.to_thread runs the whole psycopg2 call in the loop's default
    # executor (TO_THREAD_MAX_WORKERS threads, no AnyIO token) and awaits it, so the loop
    # keeps serving. Calling it directly would freeze every request of this worker. If the
    # client goes away the thread still finishes and returns its connection.
    return found(await asyncio.to_thread(sync_repository.get_item, pool, item_id))
