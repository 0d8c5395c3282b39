"""Items behave the same on every driver: CRUD, pagination, errors, formats.

Every behaviour runs once per driver this bake has: /async/items (asyncpg, `async def`),
/sync/items (psycopg2, `def`). With both, each reads what the other wrote, byte for byte:
tests/test_items_both_drivers.py.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .support.harness import running_app
from .support.parts import ITEM_PREFIXES as PREFIXES
from .support.parts import ITEM_READ_PREFIXES

BIGINT_MAX = 2**63 - 1


@pytest.fixture(scope="module")
async def items_url(make_database: Callable[[], str]) -> str:
    """A database of this module's own: list assertions see only the rows made here."""
    return await asyncio.to_thread(make_database)


@pytest.fixture(scope="module")
async def api(
    items_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(make_settings(database_url=items_url)) as client:
        yield client


async def create(
    api: httpx.AsyncClient, prefix: str, name: str = "kettle", price: str = "12.50"
) -> dict[str, object]:
    response = await api.post(prefix, json={"name": name, "price": price})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_create_answers_201_with_the_stored_item_and_its_location(
    api: httpx.AsyncClient, prefix: str
) -> None:
    response = await api.post(prefix, json={"name": "kettle", "price": 12.5})
    assert response.status_code == 201
    item = response.json()
    assert set(item) == {"id", "name", "price", "created_at"}
    assert item["name"] == "kettle"
    assert item["price"] == "12.50"
    assert response.headers["location"] == f"{prefix}/{item['id']}"
    assert (await api.get(response.headers["location"])).json() == item


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_read_replace_delete_and_404_once_gone(api: httpx.AsyncClient, prefix: str) -> None:
    item = await create(api, prefix)
    url = f"{prefix}/{item['id']}"
    assert (await api.get(url)).json() == item

    replaced = await api.put(url, json={"name": "teapot", "price": "3"})
    assert replaced.status_code == 200
    assert replaced.json() == {**item, "name": "teapot", "price": "3.00"}
    assert (await api.get(url)).json() == replaced.json()

    gone = await api.delete(url)
    assert gone.status_code == 204
    assert gone.content == b""
    for response in (
        await api.get(url),
        await api.put(url, json={"name": "teapot", "price": "3"}),
        await api.delete(url),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "item not found"}


@pytest.mark.parametrize("prefix", ITEM_READ_PREFIXES)
async def test_the_largest_bigint_id_is_a_404_not_an_error(
    api: httpx.AsyncClient, prefix: str
) -> None:
    assert (await api.get(f"{prefix}/{BIGINT_MAX}")).status_code == 404


async def count_items(api: httpx.AsyncClient, prefix: str) -> int:
    count, offset = 0, 0
    while offset is not None:
        page = (await api.get(prefix, params={"limit": 100, "offset": offset})).json()
        count += len(page["items"])
        offset = page["next_offset"]
    return count


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_pages_walk_every_item_in_id_order(api: httpx.AsyncClient, prefix: str) -> None:
    before = await count_items(api, prefix)
    ids = [(await create(api, prefix, name=f"item {n}"))["id"] for n in range(5)]

    # New rows have the highest ids, so they are the last `len(ids)` rows in id order.
    seen: list[object] = []
    offset: int | None = before
    pages = 0
    while offset is not None:
        page = (await api.get(prefix, params={"limit": 2, "offset": offset})).json()
        seen += [item["id"] for item in page["items"]]
        offset = page["next_offset"]
        pages += 1
    assert seen == ids
    assert pages == 3

    exact = (await api.get(prefix, params={"limit": 5, "offset": before})).json()
    assert [item["id"] for item in exact["items"]] == ids
    assert exact["next_offset"] is None  # no empty page to fetch after the last item
    default = (await api.get(prefix)).json()
    assert len(default["items"]) == min(20, before + len(ids))
    past_the_end = await api.get(prefix, params={"offset": BIGINT_MAX})
    assert past_the_end.json() == {"items": [], "next_offset": None}


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    ("sent", "stored"),
    [(12.5, "12.50"), ("0", "0.00"), (0.1, "0.10"), ("1000", "1000.00"), ("7.5", "7.50")],
)
async def test_prices_come_back_as_strings_with_two_decimals(
    api: httpx.AsyncClient, prefix: str, sent: object, stored: str
) -> None:
    response = await api.post(prefix, json={"name": "priced", "price": sent})
    assert response.json()["price"] == stored


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_timestamps_come_back_in_utc_with_microseconds(
    api: httpx.AsyncClient, prefix: str
) -> None:
    item = await create(api, prefix)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", str(item["created_at"]))


INVALID_BODIES = {
    "malformed-json": '{"name": "kettle",',
    "not-json": "kettle",
    "empty": "",
    "a-list": "[]",
    "a-string": '"kettle"',
    "null": "null",
    "missing-name": '{"price": 1}',
    "missing-price": '{"name": "kettle"}',
    "empty-name": '{"name": "", "price": 1}',
    "name-201-chars": '{"name": "' + "x" * 201 + '", "price": 1}',
    "name-with-nul": '{"name": "ket\\u0000tle", "price": 1}',
    "name-lone-surrogate": '{"name": "\\ud800", "price": 1}',
    "name-a-number": '{"name": 42, "price": 1}',
    "name-null": '{"name": null, "price": 1}',
    "price-negative": '{"name": "kettle", "price": -0.01}',
    "price-three-decimals": '{"name": "kettle", "price": 12.345}',
    "price-eleven-whole-digits": '{"name": "kettle", "price": 99999999999}',
    "price-exponent-too-large": '{"name": "kettle", "price": "1e20"}',
    "price-nan": '{"name": "kettle", "price": NaN}',
    "price-infinity": '{"name": "kettle", "price": Infinity}',
    "price-minus-infinity": '{"name": "kettle", "price": -Infinity}',
    "price-nan-string": '{"name": "kettle", "price": "NaN"}',
    "price-overflows-float": '{"name": "kettle", "price": 1e400}',
    "price-bool": '{"name": "kettle", "price": true}',
    "price-text": '{"name": "kettle", "price": "cheap"}',
    "price-comma": '{"name": "kettle", "price": "12,50"}',
    # Text must look as the schema's pattern says: what Decimal alone would also read is not
    # describable in OpenAPI, so a client could not know it (schemathesis found the gap).
    "price-text-exponent": '{"name": "kettle", "price": "1E+3"}',
    "price-text-minus-zero": '{"name": "kettle", "price": "-0"}',
    "price-text-spaces": '{"name": "kettle", "price": " 12.50"}',
    "price-text-arabic-indic-digits": '{"name": "kettle", "price": "\u0661\u0662"}',
    "price-null": '{"name": "kettle", "price": null}',
    "unknown-field": '{"name": "kettle", "price": 1, "colour": "red"}',
    "sets-id": '{"name": "kettle", "price": 1, "id": 5}',
    "sets-created-at": '{"name": "kettle", "price": 1, "created_at": "2020-01-01T00:00:00Z"}',
}


@pytest.fixture(scope="module")
async def victims(api: httpx.AsyncClient) -> dict[str, dict[str, object]]:
    """One item per prefix for PUTs that must change nothing."""
    return {prefix: await create(api, prefix, name="untouched") for prefix in PREFIXES}


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("body", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
async def test_invalid_bodies_are_refused_with_422_and_change_nothing(
    api: httpx.AsyncClient, victims: dict[str, dict[str, object]], prefix: str, body: str
) -> None:
    victim = victims[prefix]
    headers = {"content-type": "application/json"}
    before = (await api.get(prefix, params={"limit": 100})).content
    for response in (
        await api.post(prefix, content=body, headers=headers),
        await api.put(f"{prefix}/{victim['id']}", content=body, headers=headers),
    ):
        assert response.status_code == 422, response.text
        assert isinstance(response.json()["detail"], list)
    assert (await api.get(prefix, params={"limit": 100})).content == before
    assert (await api.get(f"{prefix}/{victim['id']}")).json() == victim


INVALID_IDS = ["0", "-1", str(BIGINT_MAX + 1), "9" * 30, "1" * 5000, "1.5", "1e3", "abc", "%20"]


@pytest.mark.parametrize("prefix", ITEM_READ_PREFIXES)
@pytest.mark.parametrize("item_id", INVALID_IDS)
async def test_invalid_ids_are_refused_with_422(
    api: httpx.AsyncClient, prefix: str, item_id: str
) -> None:
    url = f"{prefix}/{item_id}"
    responses = [await api.get(url)]
    if prefix in PREFIXES:  # the bridge only reads
        responses += [
            await api.put(url, json={"name": "kettle", "price": 1}),
            await api.delete(url),
        ]
    assert [r.status_code for r in responses] == [422] * len(responses)


INVALID_PAGES = {
    "limit-zero": {"limit": "0"},
    "limit-huge": {"limit": "101"},
    "limit-beyond-int64": {"limit": "9" * 30},
    "limit-negative": {"limit": "-1"},
    "limit-text": {"limit": "all"},
    "offset-negative": {"offset": "-1"},
    "offset-beyond-bigint": {"offset": str(BIGINT_MAX + 1)},
    "offset-float": {"offset": "1.5"},
}


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("params", INVALID_PAGES.values(), ids=INVALID_PAGES.keys())
async def test_invalid_page_parameters_are_refused_with_422(
    api: httpx.AsyncClient, prefix: str, params: dict[str, str]
) -> None:
    assert (await api.get(prefix, params=params)).status_code == 422


async def test_the_openapi_document_renders(api: httpx.AsyncClient) -> None:
    # Schema generation runs on the first request for it: a model it cannot describe would
    # make this a 500.
    document = (await api.get("/openapi.json")).json()
    for prefix in PREFIXES:
        assert prefix + "/{item_id}" in document["paths"]


async def every_data_route(client: httpx.AsyncClient, item_id: object) -> list[httpx.Response]:
    responses = []
    for prefix in PREFIXES:
        url = f"{prefix}/{item_id}"
        responses += [
            await client.post(prefix, json={"name": "kettle", "price": 1}),
            await client.get(prefix),
            await client.get(url),
            await client.put(url, json={"name": "kettle", "price": 2}),
        ]
    return responses


async def test_data_routes_answer_503_json_while_the_database_is_down_and_recover(
    make_database: Callable[[], str],
    make_settings: Callable[..., Settings],
    refuse_connections: Callable[[str, bool], None],
) -> None:
    url = await asyncio.to_thread(make_database)
    async with running_app(make_settings(database_url=url)) as client:
        item = await create(client, PREFIXES[0])
        await asyncio.to_thread(refuse_connections, url, True)
        down = await every_data_route(client, item["id"])
        down += [await client.delete(f"{prefix}/{item['id']}") for prefix in PREFIXES]
        await asyncio.to_thread(refuse_connections, url, False)
        # No restart: the same app, the same pools.
        back = await every_data_route(client, item["id"])

    assert [r.status_code for r in down] == [503] * len(down)
    assert {r.headers["content-type"] for r in down} == {"application/json"}
    assert {r.json()["detail"] for r in down} == {"database unavailable"}
    assert [r.status_code for r in back] == [201, 200, 200, 200] * len(PREFIXES)
