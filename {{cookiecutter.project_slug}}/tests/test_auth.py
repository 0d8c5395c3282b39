"""Bearer tokens on the item routes: API_TOKENS set, every write asks for one of them.

A refused write answers 401 JSON with WWW-Authenticate and changes nothing (the table is read
before and after); a token works plain or as the SHA-256 configured in its place; the reads
stay open unless API_TOKENS_FOR_READS closes them. The check is `async def`: it answers
while every thread token is held. The file routes: tests/files/test_file_auth.py.
"""

import asyncio
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
import httpx
import pytest

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import DRIVERS, Settings

from .support.database import fetch
from .support.harness import running_app
from .support.parts import ITEM_PREFIXES, ITEM_READ_PREFIXES

TOKEN = secrets.token_urlsafe(32)
# Configured by its hash only: the service never sees this one until a client sends it.
HASHED_ONLY = secrets.token_urlsafe(32)
HASH = "sha256:" + hashlib.sha256(HASHED_ONLY.encode()).hexdigest()
API_TOKENS = f"{TOKEN},{HASH}"
NEW_ITEM = {"name": "kettle", "price": "12.50"}
WRITES = [(prefix, method) for prefix in ITEM_PREFIXES for method in ("POST", "PUT", "DELETE")]
WRONG = {
    "another-token": f"Bearer {secrets.token_urlsafe(32)}",
    "the-hash-sent-as-the-token": f"Bearer {HASH}",
    "a-prefix-of-the-token": f"Bearer {TOKEN[:-1]}",
}
MISSING = {
    "no-header": None,
    "another-scheme": f"Basic {TOKEN}",
    "bearer-without-a-token": "Bearer",
}

# Our own loggers are named after the package (not uvicorn's, not a library's).
SERVICE_PACKAGE = "{{ cookiecutter.package_name }}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def items_url(make_database: Callable[[], str]) -> str:
    """A database of this module's own: the row counts see only the writes made here."""
    return await asyncio.to_thread(make_database)


@pytest.fixture(scope="module")
async def api(
    items_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(make_settings(database_url=items_url, api_tokens=API_TOKENS)) as client:
        yield client


async def table(url: str) -> list[tuple[Any, ...]]:
    return await asyncio.to_thread(fetch, url, "SELECT id, name, price FROM items ORDER BY id")


async def an_item(api: httpx.AsyncClient, prefix: str) -> int:
    created = await api.post(prefix, json=NEW_ITEM, headers=bearer(TOKEN))
    assert created.status_code == 201, created.text
    item_id: int = created.json()["id"]
    return item_id


async def write(
    api: httpx.AsyncClient, prefix: str, method: str, item_id: int, headers: dict[str, str]
) -> httpx.Response:
    if method == "POST":
        return await api.post(prefix, json=NEW_ITEM, headers=headers)
    body = {"name": "changed", "price": "1.00"} if method == "PUT" else None
    return await api.request(method, f"{prefix}/{item_id}", json=body, headers=headers)


@pytest.mark.parametrize("authorization", MISSING.values(), ids=MISSING.keys())
@pytest.mark.parametrize(("prefix", "method"), WRITES)
async def test_a_write_without_a_token_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, items_url: str, prefix: str, method: str, authorization: str | None
) -> None:
    item_id = await an_item(api, prefix)
    before = await table(items_url)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await write(api, prefix, method, item_id, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"detail": "this route needs Authorization: Bearer <token>"}
    assert await table(items_url) == before


@pytest.mark.parametrize("authorization", WRONG.values(), ids=WRONG.keys())
@pytest.mark.parametrize(("prefix", "method"), WRITES)
async def test_a_write_with_a_wrong_token_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, items_url: str, prefix: str, method: str, authorization: str
) -> None:
    item_id = await an_item(api, prefix)
    before = await table(items_url)
    response = await write(api, prefix, method, item_id, {"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.json() == {"detail": "the token is not one of API_TOKENS"}
    assert await table(items_url) == before


@pytest.mark.parametrize("token", [TOKEN, HASHED_ONLY], ids=["plain", "configured-as-its-hash"])
@pytest.mark.parametrize("prefix", ITEM_PREFIXES)
async def test_writes_with_a_token_plain_or_configured_as_its_hash_are_served(
    api: httpx.AsyncClient, items_url: str, prefix: str, token: str
) -> None:
    created = await api.post(prefix, json=NEW_ITEM, headers=bearer(token))
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    replaced = await api.put(
        location, json={"name": "teapot", "price": "3.00"}, headers=bearer(token)
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["name"] == "teapot"
    assert (await api.delete(location, headers=bearer(token))).status_code == 204
    assert created.json()["id"] not in {row[0] for row in await table(items_url)}


@pytest.mark.parametrize("prefix", ITEM_READ_PREFIXES)
async def test_reads_stay_open_without_a_token(api: httpx.AsyncClient, prefix: str) -> None:
    item_id = await an_item(api, ITEM_PREFIXES[0])
    assert (await api.get(f"{prefix}/{item_id}")).status_code == 200
    if prefix in ITEM_PREFIXES:
        assert (await api.get(prefix)).status_code == 200


async def test_api_tokens_for_reads_closes_the_reads_too_but_not_the_probes(
    items_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=items_url, api_tokens=TOKEN, api_tokens_for_reads=True)
    async with running_app(settings) as client:
        item_id = await an_item(client, ITEM_PREFIXES[0])
        for prefix in ITEM_READ_PREFIXES:
            refused = await client.get(f"{prefix}/{item_id}")
            assert refused.status_code == 401, prefix
            assert refused.headers["www-authenticate"] == "Bearer"
            assert (
                await client.get(f"{prefix}/{item_id}", headers=bearer(TOKEN))
            ).status_code == 200
        for prefix in ITEM_PREFIXES:
            assert (await client.get(prefix)).status_code == 401
            assert (await client.get(prefix, headers=bearer(TOKEN))).status_code == 200
        for probe in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(probe)).status_code == 200, probe


def operations(settings: Settings) -> dict[tuple[str, str], dict[str, Any]]:
    document = create_app(settings).openapi()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A token of API_TOKENS (the README says how to make and rotate one).",
    }
    return {
        (method.upper(), path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def test_openapi_declares_the_bearer_scheme_on_every_write_with_its_401(
    make_settings: Callable[..., Settings],
) -> None:
    for reads_closed in (False, True):
        settings = make_settings(api_tokens=TOKEN, api_tokens_for_reads=reads_closed)
        for (method, path), operation in operations(settings).items():
            data = path.startswith(("/async/items", "/sync/items", "/bridge/", "/sync/files"))
            guarded = data and (method != "GET" or reads_closed)
            assert ("security" in operation) == guarded, (method, path)
            assert ("401" in operation["responses"]) == guarded, (method, path)
            if guarded:
                assert operation["security"] == [{"bearer": []}]


async def test_without_tokens_writes_are_open_and_start_up_warns_once(
    items_url: str, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        async with running_app(make_settings(database_url=items_url)) as client:
            created = await client.post(ITEM_PREFIXES[-1], json=NEW_ITEM)
    assert created.status_code == 201
    ours = [r for r in caplog.records if r.name.split(".")[0] == SERVICE_PACKAGE]
    warnings = [r for r in ours if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "API_TOKENS is unset: anyone can write (ENVIRONMENT=development; "
        "production refuses to start without tokens)"
    ]


async def answered_without_a_thread_token(
    client: httpx.AsyncClient, limiter: anyio.CapacityLimiter, method: str, path: str, **kw: Any
) -> httpx.Response:
    """The answer to a request sent while the test holds every thread token; fails as soon
    as the request waits for one (it would wait for ever: the test never lets go)."""
    request = asyncio.create_task(client.request(method, path, **kw))
    try:
        async with asyncio.timeout(30):
            while not request.done():
                assert limiter.statistics().tasks_waiting == 0, f"{method} {path} waits for a token"
                await asyncio.sleep(0.001)
        return request.result()
    finally:
        request.cancel()


# Thread budgets belong to the event loop: a test that changes them gets a loop of its own.
@pytest.mark.asyncio(loop_scope="function")
async def test_the_token_check_answers_while_every_thread_token_is_held(
    items_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=items_url, api_tokens=TOKEN, anyio_thread_tokens=1)
    async with running_app(settings) as client:
        ids = {prefix: await an_item(client, prefix) for prefix in ITEM_PREFIXES}
        limiter = anyio.to_thread.current_default_thread_limiter()
        await limiter.acquire()
        try:
            assert limiter.statistics().borrowed_tokens == limiter.total_tokens == 1
            for prefix, method in WRITES:
                path = prefix if method == "POST" else f"{prefix}/{ids[prefix]}"
                refused = await answered_without_a_thread_token(
                    client, limiter, method, path, json=NEW_ITEM, headers=bearer("wrong" * 4)
                )
                assert refused.status_code == 401, (method, path)
            if "asyncpg" in DRIVERS:
                # An authenticated write on asyncpg needs no thread from start to end.
                created = await answered_without_a_thread_token(
                    client, limiter, "POST", "/async/items", json=NEW_ITEM, headers=bearer(TOKEN)
                )
                assert created.status_code == 201
        finally:
            limiter.release()
