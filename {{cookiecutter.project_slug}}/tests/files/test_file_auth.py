"""Bearer tokens on the file routes: with API_TOKENS set, an upload or a delete without a
valid token answers 401 and leaves FILES_DIR as it was; with one, it is served. The listing
and the downloads stay open unless API_TOKENS_FOR_READS closes them."""

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import running_app

TOKEN = secrets.token_urlsafe(32)
REFUSED = {
    "no-token": ({}, "Bearer"),
    "wrong-token": (
        {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"},
        'Bearer error="invalid_token"',
    ),
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def contents(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.iterdir()}


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guarded-files")


@pytest.fixture(scope="module")
async def api(
    files_root: Path, database_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url=database_url, files_dir=files_root, api_tokens=TOKEN)
    async with running_app(settings) as client:
        kept = await client.put("/sync/files/kept.txt", content=b"kept", headers=bearer(TOKEN))
        assert kept.status_code == 201, kept.text
        yield client


@pytest.mark.parametrize("refusal", REFUSED)
@pytest.mark.parametrize(
    ("method", "name"), [("PUT", "new.txt"), ("PUT", "kept.txt"), ("DELETE", "kept.txt")]
)
async def test_a_file_write_without_a_valid_token_is_refused_and_changes_nothing(
    api: httpx.AsyncClient, files_root: Path, method: str, name: str, refusal: str
) -> None:
    headers, challenge = REFUSED[refusal]
    before = await asyncio.to_thread(contents, files_root)
    response = await api.request(
        method,
        f"/sync/files/{name}",
        content=b"x" * 1000 if method == "PUT" else None,
        headers=headers,
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert set(response.json()) == {"detail"}
    assert await asyncio.to_thread(contents, files_root) == before


async def test_file_writes_with_a_token_are_served_and_reads_stay_open(
    api: httpx.AsyncClient,
) -> None:
    stored = await api.put("/sync/files/served.txt", content=b"served", headers=bearer(TOKEN))
    assert stored.status_code == 201, stored.text
    assert (await api.get("/sync/files/served.txt")).content == b"served"
    assert "served.txt" in {file["name"] for file in (await api.get("/sync/files")).json()}
    assert (await api.delete("/sync/files/served.txt", headers=bearer(TOKEN))).status_code == 204


async def test_api_tokens_for_reads_closes_the_listing_and_the_downloads(
    files_root: Path, database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        database_url=database_url, files_dir=files_root, api_tokens=TOKEN, api_tokens_for_reads=True
    )
    async with running_app(settings) as client:
        for path in ("/sync/files", "/sync/files/kept.txt"):
            assert (await client.get(path)).status_code == 401, path
            assert (await client.get(path, headers=bearer(TOKEN))).status_code == 200, path
