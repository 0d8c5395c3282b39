"""/bridge: async code that has to call a sync-only library (here, the psycopg2 repository)."""

import asyncio

from fastapi import APIRouter

from ..dependencies import Psycopg2PoolDep
from ..items import sync_repository
from ..items.http import NOT_FOUND, UNAVAILABLE, ItemId, found
from ..items.schemas import Item

router = APIRouter(prefix="/bridge", tags=["bridge"], responses=UNAVAILABLE)


@router.get("/items/{item_id}", responses=NOT_FOUND)
async def read_bridged_item(item_id: ItemId, pool: Psycopg2PoolDep) -> Item:
    # An `async def` route (say it also awaits other things) that must use a blocking
    # library: asyncio.to_thread runs the whole psycopg2 call, waiting for a connection
    # included, in the loop's default executor (TO_THREAD_MAX_WORKERS threads, no AnyIO
    # token) and awaits it, so the loop keeps serving. Calling it directly would freeze
    # every request of this worker. If the client goes away the thread still finishes and
    # returns its connection.
    return found(await asyncio.to_thread(sync_repository.get_item, pool, item_id))
