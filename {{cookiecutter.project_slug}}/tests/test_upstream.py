import httpx

from {{ cookiecutter.package_name }}.upstream import app


async def test_upstream_stub_answers_after_the_delay_it_was_asked_for() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://upstream.test") as client:
        answered = await client.get("/delay/0.01")
        refused = await client.get("/delay/11")
    assert answered.status_code == 200
    assert answered.json() == {"delay": 0.01}
    assert refused.status_code == 422
