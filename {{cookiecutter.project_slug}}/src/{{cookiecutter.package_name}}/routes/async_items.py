"""/async/items: items on asyncpg, in `async def` routes.

Every route awaits PostgreSQL, so while it waits the request holds a pooled connection but no
thread, and the loop serves everyone else. The SQL is in items/async_repository.py, the models
in items/schemas.py.
"""

from fastapi import APIRouter, Response, status

from ..auth.tokens import REQUIRE_TOKEN, TOKEN_REFUSED
from ..dependencies import AsyncpgPoolDep, SettingsDep
from ..items import async_repository as repository
from ..items.http import (
    NOT_FOUND,
    TOO_LARGE,
    UNAVAILABLE,
    UNPARSABLE,
    ItemId,
    PageOffset,
    PageSize,
    deleted,
    found,
)
from ..items.schemas import Item, ItemIn, ItemPage

router = APIRouter(prefix="/async/items", tags=["items: asyncpg"], responses=UNAVAILABLE)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={**UNPARSABLE, **TOO_LARGE, **TOKEN_REFUSED},
    dependencies=[REQUIRE_TOKEN],
)
async def create_async_item(
    new: ItemIn, pool: AsyncpgPoolDep, settings: SettingsDep, response: Response
) -> Item:
    """Create an item (asyncpg)."""
    # `async def` because asyncpg only awaits: no thread hop, and the acquire waits at most
    # ASYNCPG_ACQUIRE_TIMEOUT (then 503) instead of queueing for ever behind a busy pool.
    async with repository.connection(pool, settings.asyncpg_acquire_timeout) as conn:
        item = await repository.insert_item(conn, new)
    response.headers["Location"] = f"{router.prefix}/{item.id}"
    return item


@router.get("")
async def list_async_items(
    pool: AsyncpgPoolDep, settings: SettingsDep, limit: PageSize = 20, offset: PageOffset = 0
) -> ItemPage:
    """List items, a page at a time (asyncpg)."""
    # `async def`: one awaited SELECT. The connection goes back to the pool before the
    # response is serialised, so a slow client never holds it.
    # A read: retried once on a fresh connection if its connection turns out dead.
    return await repository.read(
        pool,
        settings.asyncpg_acquire_timeout,
        lambda conn: repository.list_items(conn, limit, offset),
    )


@router.get("/{item_id}", responses=NOT_FOUND)
async def read_async_item(item_id: ItemId, pool: AsyncpgPoolDep, settings: SettingsDep) -> Item:
    """Read one item (asyncpg)."""
    # `async def`: while PostgreSQL answers, this request costs the loop nothing; a
    # thousand of them wait at once on one thread (up to the pool size in the database).
    item = await repository.read(
        pool, settings.asyncpg_acquire_timeout, lambda conn: repository.get_item(conn, item_id)
    )
    return found(item)


@router.put(
    "/{item_id}",
    responses={**NOT_FOUND, **UNPARSABLE, **TOO_LARGE, **TOKEN_REFUSED},
    dependencies=[REQUIRE_TOKEN],
)
async def replace_async_item(
    item_id: ItemId, new: ItemIn, pool: AsyncpgPoolDep, settings: SettingsDep
) -> Item:
    """Replace an item's name and price (asyncpg)."""
    # `async def`: a single awaited UPDATE ... RETURNING, atomic on its own, so no
    # transaction block and no extra round trip.
    async with repository.connection(pool, settings.asyncpg_acquire_timeout) as conn:
        return found(await repository.replace_item(conn, item_id, new))


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**NOT_FOUND, **TOKEN_REFUSED},
    dependencies=[REQUIRE_TOKEN],
)
async def delete_async_item(item_id: ItemId, pool: AsyncpgPoolDep, settings: SettingsDep) -> None:
    """Delete an item (asyncpg)."""
    # `async def`: one awaited DELETE; the 404 is raised after the connection is back.
    async with repository.connection(pool, settings.asyncpg_acquire_timeout) as conn:
        existed = await repository.delete_item(conn, item_id)
    deleted(existed)
