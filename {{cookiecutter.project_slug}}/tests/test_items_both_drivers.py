"""One table on two drivers: each reads and changes what the other wrote, and the same row
is the same bytes from every route (asyncpg's, psycopg2's and the bridge's)."""

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .support.harness import running_app

PREFIXES = ["/async/items", "/sync/items"]


@pytest.fixture(scope="module")
async def api(
    make_database: Callable[[], str], make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    url = await asyncio.to_thread(make_database)
    async with running_app(make_settings(database_url=url)) as client:
        yield client


async def create(
    api: httpx.AsyncClient, prefix: str, name: str = "kettle", price: str = "12.50"
) -> dict[str, object]:
    response = await api.post(prefix, json={"name": name, "price": price})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_the_same_row_is_the_same_bytes_from_every_route(api: httpx.AsyncClient) -> None:
    for writer in PREFIXES:
        item = await create(api, writer, name='naïve ☕ "quoted"', price="9999999999.99")
        reads = [await api.get(f"{p}/{item['id']}") for p in [*PREFIXES, "/bridge/items"]]
        assert len({r.content for r in reads}) == 1, [r.content for r in reads]
        assert {r.headers["content-type"] for r in reads} == {"application/json"}

        body = {"name": "kettle", "price": "0.1"}
        puts = [await api.put(f"{p}/{item['id']}", json=body) for p in PREFIXES]
        assert puts[0].content == puts[1].content

    pages = [await api.get(prefix, params={"limit": 3}) for prefix in PREFIXES]
    assert pages[0].content == pages[1].content


@pytest.mark.parametrize(("writer", "reader"), [PREFIXES, PREFIXES[::-1]])
async def test_each_driver_reads_and_changes_what_the_other_wrote(
    api: httpx.AsyncClient, writer: str, reader: str
) -> None:
    item = await create(api, writer)
    assert (await api.get(f"{reader}/{item['id']}")).json() == item
    changed = await api.put(f"{reader}/{item['id']}", json={"name": "moved", "price": "1"})
    assert (await api.get(f"{writer}/{item['id']}")).json() == changed.json()
    assert (await api.delete(f"{writer}/{item['id']}")).status_code == 204
    assert (await api.get(f"{reader}/{item['id']}")).status_code == 404
