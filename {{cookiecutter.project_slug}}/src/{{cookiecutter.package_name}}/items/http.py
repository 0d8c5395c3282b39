"""What the item routes of both drivers share on the HTTP side: parameters, 404, OpenAPI."""

from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, status

from .schemas import BIGINT_MAX, ErrorDetail, Item

MAX_PAGE_SIZE = 100

# Bounded to bigint: a larger id can match no row, and would be a driver error, not a 422.
ItemId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="the item's id")]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")]
PageOffset = Annotated[int, Query(ge=0, le=BIGINT_MAX, description="items to skip")]

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorDetail, "description": "no item with this id"}
}
# FastAPI answers 400 (not 422) when the body cannot even be decoded (not UTF-8, say).
UNPARSABLE: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: {"model": ErrorDetail, "description": "the body is not JSON text"}
}
# FastAPI's body limit on the item routers (app.py), answered as JSON (errors.py).
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    status.HTTP_413_CONTENT_TOO_LARGE: {
        "model": ErrorDetail,
        "description": "the body is over MAX_JSON_BODY_BYTES; nothing is written",
    }
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorDetail,
        "description": "the database is down, or no connection came free in time",
    }
}


def found(item: Item | None) -> Item:
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "item not found")
    return item


def deleted(existed: bool) -> None:
    if not existed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "item not found")
