"""/sync/items: items on psycopg2, in plain `def` routes.

psycopg2 blocks its thread until PostgreSQL answers, so these routes are `def`: FastAPI runs
each in a worker thread (one of ANYIO_THREAD_TOKENS) and the loop stays free. Each statement
runs in autocommit mode (items/sync_repository.py says why), and each route waits for a
connection, on the loop, before it gets its thread (the router's dependency:
dependencies.wait_for_a_psycopg2_connection says why). The models are items/schemas.py.
"""

from fastapi import APIRouter, Response, status

from ..auth.tokens import REQUIRE_TOKEN, TOKEN_REFUSED
from ..dependencies import WAIT_FOR_A_PSYCOPG2_CONNECTION, Psycopg2PoolDep
from ..items import sync_repository as repository
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

# The writes' token check (auth/tokens.py) runs after this router's wait for a connection
# place: FastAPI runs a router's dependencies first. A refused write gives its place back at
# once.
router = APIRouter(
    prefix="/sync/items",
    tags=["items: psycopg2"],
    responses=UNAVAILABLE,
    dependencies=[WAIT_FOR_A_PSYCOPG2_CONNECTION],
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={**UNPARSABLE, **TOO_LARGE, **TOKEN_REFUSED},
    dependencies=[REQUIRE_TOKEN],
)
def create_sync_item(new: ItemIn, pool: Psycopg2PoolDep, response: Response) -> Item:
    """Create an item (psycopg2)."""
    item = repository.insert_item(pool, new)
    response.headers["Location"] = f"{router.prefix}/{item.id}"
    return item


@router.get("")
def list_sync_items(
    pool: Psycopg2PoolDep, limit: PageSize = 20, offset: PageOffset = 0
) -> ItemPage:
    """List items, a page at a time (psycopg2)."""
    return repository.list_items(pool, limit, offset)


@router.get("/{item_id}", responses=NOT_FOUND)
def read_sync_item(item_id: ItemId, pool: Psycopg2PoolDep) -> Item:
    """Read one item (psycopg2)."""
    return found(repository.get_item(pool, item_id))


@router.put(
    "/{item_id}",
    responses={**NOT_FOUND, **UNPARSABLE, **TOO_LARGE, **TOKEN_REFUSED},
    dependencies=[REQUIRE_TOKEN],
)
def replace_sync_item(item_id: ItemId, new: ItemIn, pool: Psycopg2PoolDep) -> Item:
    """Replace an item's name and price (psycopg2)."""
    # A single UPDATE ... RETURNING: atomic without a transaction block.
    return found(repository.replace_item(pool, item_id, new))


@router.delete(
    "/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**NOT_FOUND, **TOKEN_REFUSED},
    dependencies=[REQUIRE_TOKEN],
)
def delete_sync_item(item_id: ItemId, pool: Psycopg2PoolDep) -> None:
    """Delete an item (psycopg2)."""
    # The connection is back before the 404 is raised.
    deleted(repository.delete_item(pool, item_id))
