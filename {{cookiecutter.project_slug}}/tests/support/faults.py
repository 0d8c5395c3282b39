"""What the database fault tests share: an app on a database of its own with one item, and
one of each request a client can send."""

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from {{ cookiecutter.package_name }}.settings import Settings

from .harness import running_app
from .parts import ITEM_PREFIXES, ITEM_READ_PREFIXES


@dataclass
class App:
    client: httpx.AsyncClient
    url: str
    item_id: int
    application_name: str


async def start_app(settings: Settings) -> AsyncIterator[App]:
    async with running_app(settings) as client:
        created = await client.post(ITEM_PREFIXES[0], json={"name": "kettle", "price": "1"})
        assert created.status_code == 201, created.text
        yield App(
            client,
            str(settings.database_url),
            created.json()["id"],
            settings.database_application_name,
        )


def unique_name(label: str) -> str:
    return f"test-{label}-{secrets.token_hex(3)}"


async def every_kind_of_request(client: httpx.AsyncClient, item_id: int) -> dict[str, int]:
    """One of each item operation on every driver, one after the other."""
    statuses: dict[str, int] = {}
    for prefix in ITEM_PREFIXES:
        created = await client.post(prefix, json={"name": "after", "price": "2"})
        statuses[f"POST {prefix}"] = created.status_code
        new_id = created.json().get("id", item_id)
        for method, path, body in (
            ("GET", f"{prefix}/{item_id}", None),
            ("GET", prefix, None),
            ("PUT", f"{prefix}/{new_id}", {"name": "again", "price": "3"}),
            ("DELETE", f"{prefix}/{new_id}", None),
        ):
            response = await client.request(method, path, json=body)
            statuses[f"{method} {path.replace(str(new_id), '{new}')}"] = response.status_code
    for prefix in set(ITEM_READ_PREFIXES) - set(ITEM_PREFIXES):  # routes that only read
        statuses[f"GET {prefix}"] = (await client.get(f"{prefix}/{item_id}")).status_code
    return statuses


def all_succeeded(statuses: dict[str, int]) -> bool:
    return all(200 <= status < 300 for status in statuses.values())
