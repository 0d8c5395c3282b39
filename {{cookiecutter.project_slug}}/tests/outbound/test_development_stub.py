"""With UPSTREAM_URL unset (development), the service calls the stub it serves itself."""

from collections.abc import Callable

from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import running_app


async def test_without_an_upstream_url_the_fanout_calls_the_stub_the_lifespan_serves(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=database_url)
    assert settings.upstream_url is None
    async with running_app(settings) as client:
        fanout = await client.get("/async/upstream/fanout?n=3&delay=0")
    assert fanout.status_code == 200, fanout.text
    assert [call["status"] for call in fanout.json()["results"]] == [200, 200, 200]
